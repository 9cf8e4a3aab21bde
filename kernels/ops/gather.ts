/**
 * Gathers: `embedding` (rows of a `[V, D]` table by token ids) and
 * `indexSelect` (entries along any axis by an array of indices).
 *
 * Index validation: a GPU kernel cannot throw, so ids that come from the CPU
 * (`Int32Array` or `number[]`) are checked before upload and an out-of-range
 * id is a RangeError naming its position; ids already on the GPU (an i32 or
 * u32 Tensor) are **clamped** to `[0, len − 1]` by the kernel, never read out
 * of bounds. Any dtype can be gathered.
 *
 * Gradients (for the gathered tensor; ids have none) are a deterministic
 * scatter-add in `gather_grad.ts`: repeated ids accumulate.
 *
 * Reference: `tests/reference/gather.ts`.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { embedding } from "./gather.ts";
 * await initGPU();
 * using table = Tensor.fromArray([[0, 0], [1, 1], [2, 2]]);
 * using e = embedding(table, [[2, 0]]);
 * console.log(e.shape, await e.data()); // [1, 2, 2] Float32Array [2, 2, 0, 0]
 * ```
 * @module
 */
import { dispatch, grid, linearIndex, Params } from "../runtime.ts";
import { Tensor } from "../tensor.ts";
import { ENTRY_BUILTINS, expectDType, header, normAxis } from "./wgsl.ts";
import { record, tracking } from "../autograd.ts";
import { indexSelectGrad } from "./gather_grad.ts";

const WG = 256;

/** Indices: on the GPU (clamped) or on the CPU (validated), possibly nested. */
export type Indices = Tensor | Int32Array | readonly number[] | readonly (readonly number[])[];

/** Uploads CPU ids after checking each is an integer in [0, len); `flat` are the CPU ids. */
function toIdsTensor(
  op: string,
  ids: Indices,
  len: number,
  what: string,
): { idx: Tensor; flat?: ArrayLike<number> } {
  if (ids instanceof Tensor) {
    expectDType(op, ids, "i32", "u32");
    return { idx: ids };
  }
  const nested = Array.isArray(ids) && ids.some((r) => Array.isArray(r));
  const flat: ArrayLike<number> = nested
    ? (ids as readonly (readonly number[])[]).flat()
    : ids as ArrayLike<number>;
  for (let k = 0; k < flat.length; k++) {
    const v = flat[k];
    if (!Number.isInteger(v) || v < 0 || v >= len) {
      throw new RangeError(
        `${op}: index ${v} at position ${k} is out of range for ${what}; expected an integer ` +
          `in [0, ${len - 1}]`,
      );
    }
  }
  if (nested) {
    return { idx: Tensor.fromArray(ids as unknown as number[][], undefined, "i32"), flat };
  }
  return { idx: Tensor.fromArray(Int32Array.from(flat), [flat.length], "i32"), flat };
}

/**
 * Takes entries of `t` along `axis` at `ids` (NumPy's `take`): the result's
 * shape is `t.shape[:axis] + ids.shape + t.shape[axis+1:]`, so 1-D ids give
 * PyTorch's `index_select`. CPU ids are range-checked; GPU ids are clamped.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { indexSelect } from "./gather.ts";
 * await initGPU();
 * using x = Tensor.fromArray([[1, 2, 3], [4, 5, 6]]);
 * using y = indexSelect(x, 1, [2, 2, 0]);
 * console.log(await y.toArray()); // [[3, 3, 1], [6, 6, 4]]
 * ```
 */
export function indexSelect(t: Tensor, axis: number, ids: Indices): Tensor {
  const op = "indexSelect";
  if (t.rank === 0) throw new RangeError(`${op}: ${t.toString()} is a scalar; it has no axis`);
  const a = normAxis(op, axis, t.rank);
  const len = t.shape[a];
  const what = `axis ${axis} of ${t.toString()}`;
  const { idx, flat } = toIdsTensor(op, ids, len, what);
  try {
    const inner = t.shape.slice(a + 1).reduce((p, d) => p * d, 1);
    const shape = [...t.shape.slice(0, a), ...idx.shape, ...t.shape.slice(a + 1)];
    const y = Tensor.empty(shape, t.dtype);
    if (y.size === 0) return y;
    if (len === 0) {
      y.dispose();
      throw new RangeError(`${op}: ${what} is empty; there is nothing to select`);
    }
    const T = t.dtype;
    const id = idx.dtype === "i32"
      ? "u32(clamp(I[k], 0, i32(P.len) - 1))"
      : "min(I[k], P.len - 1u)";
    const code = `${header(T)}
struct Params { n: u32, nids: u32, inner: u32, len: u32, }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> X: array<${T}>;
@group(0) @binding(2) var<storage, read> I: array<${idx.dtype}>;
@group(0) @binding(3) var<storage, read_write> Y: array<${T}>;
@compute @workgroup_size(${WG}) fn main(${ENTRY_BUILTINS}) {
  let g = ${linearIndex(WG)};
  if (g >= P.n) { return; }
  let per = P.nids * P.inner;
  let o = g / per;
  let r = g % per;
  let k = r / P.inner;
  let i = r % P.inner;
  Y[g] = X[(o * P.len + ${id}) * P.inner + i];
}`;
    const params = new Params().u(y.size, idx.size, inner, len);
    dispatch(op, code, [t.buffer, idx.buffer, y.buffer], params, grid(y.size, WG));
    if (!tracking(t)) return y;
    // Scatter-add backward; CPU ids are sorted on the CPU, GPU ids on the GPU.
    const cpuIds = flat ? Int32Array.from(flat) : undefined;
    const tShape = t.shape.slice();
    return record(
      op,
      [t],
      y,
      cpuIds ? [] : [idx],
      (g, saved) => [indexSelectGrad(g, saved[0], tShape, a, cpuIds)],
    );
  } finally {
    if (idx !== ids) idx.dispose();
  }
}

/**
 * Embedding lookup: rows of `table` (`[V, D]`, any dtype) at `ids` of any
 * shape, giving `[...ids.shape, D]`. CPU ids are range-checked (RangeError
 * naming the bad id); GPU ids (i32/u32 Tensor) are clamped to `[0, V − 1]`.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { embedding } from "./gather.ts";
 * await initGPU();
 * using table = Tensor.randn([10, 4], { seed: 0 });
 * using ids = Tensor.fromArray(new Int32Array([3, 1, 4, 1, 5, 9]), [2, 3]);
 * using x = embedding(table, ids);
 * console.log(x.shape); // [2, 3, 4]
 * ```
 */
export function embedding(table: Tensor, ids: Indices): Tensor {
  if (table.rank !== 2) {
    throw new RangeError(
      `embedding: table ${table.toString()} has rank ${table.rank}; expected [vocab, dim]`,
    );
  }
  return indexSelect(table, 0, ids);
}
