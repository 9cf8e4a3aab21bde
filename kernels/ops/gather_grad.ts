/**
 * Backward rule of the gathers (`gather.ts` records it): the gradient of
 * `y = indexSelect(t, axis, ids)` is a scatter-add of `g` into a zero tensor
 * of t's shape, where repeated ids accumulate:
 *
 * ```text
 * dt[o, l, i] = Σ_{k : ids[k] = l} g[o, k, i]      (o: axes before, i: axes after)
 * ```
 *
 * WGSL has no f32 atomics, and the order of a float sum must not depend on
 * scheduling (same seed, same bits), so the ids are first sorted stably by
 * value into `keys` with their positions `perm` (a comparison sort on the CPU
 * for CPU ids; on the GPU for GPU ids, one invocation per id counting the ids
 * that sort before it, O(n²) comparisons). Then one invocation per element
 * of dt finds its id's run in `keys` by binary search and sums g over that
 * run in increasing position order, in f32, rounded once. GPU ids are clamped
 * as the forward clamps them.
 *
 * Reference: `tests/kernels/autograd/gather_grad_test.ts` (f64 finite differences).
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { indexSelectGrad } from "./gather_grad.ts";
 * await initGPU();
 * using g = Tensor.fromArray([[1, 2], [10, 20], [100, 200]]); // rows for ids [2, 0, 2]
 * using ids = Tensor.fromArray(new Int32Array([2, 0, 2]), [3]);
 * using dt = indexSelectGrad(g, ids, [4, 2], 0);
 * console.log(await dt.data()); // Float32Array [10, 20, 0, 0, 101, 202, 0, 0]
 * ```
 * @module
 */
import { dispatch, grid, linearIndex, Params } from "../runtime.ts";
import { Tensor } from "../tensor.ts";
import { ENTRY_BUILTINS, header } from "./wgsl.ts";

const WG = 256;

/** The clamped id at position `k` of `I`, as the forward reads it. */
function idExpr(dtype: string, k: string): string {
  return dtype === "i32" ? `u32(clamp(I[${k}], 0, i32(P.len) - 1))` : `min(I[${k}], P.len - 1u)`;
}

/**
 * Stable sort of CPU ids by value (O(n log n), independent of the axis
 * length): `keys` the sorted ids, `perm[p]` the position the p-th came from.
 */
function sortOnCpu(ids: Int32Array): { keys: Int32Array; perm: Int32Array } {
  const perm = Int32Array.from({ length: ids.length }, (_, k) => k);
  perm.sort((a, b) => ids[a] - ids[b] || a - b);
  return { keys: perm.map((k) => ids[k]), perm };
}

/** The same stable sort of GPU ids, one invocation per id. */
function sortOnGpu(idx: Tensor, len: number): { keys: Tensor; perm: Tensor } {
  const n = idx.size;
  const keys = Tensor.empty([n], "u32"), perm = Tensor.empty([n], "u32");
  const code = `
struct Params { n: u32, len: u32, }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> I: array<${idx.dtype}>;
@group(0) @binding(2) var<storage, read_write> K: array<u32>;
@group(0) @binding(3) var<storage, read_write> Q: array<u32>;
@compute @workgroup_size(${WG}) fn main(${ENTRY_BUILTINS}) {
  let k = ${linearIndex(WG)};
  if (k >= P.n) { return; }
  let v = ${idExpr(idx.dtype, "k")};
  var before = 0u;
  for (var q = 0u; q < P.n; q++) {
    let w = ${idExpr(idx.dtype, "q")};
    before += select(0u, 1u, w < v || (w == v && q < k));
  }
  K[before] = v;
  Q[before] = k;
}`;
  dispatch(
    "indexSelect backward sort",
    code,
    [idx.buffer, keys.buffer, perm.buffer],
    new Params().u(n, len),
    grid(n, WG),
  );
  return { keys, perm };
}

/**
 * The gradient of `y = indexSelect(t, axis, ids)` (axis normalised) given
 * the output gradient `g`: a new tensor of `tShape` in g's dtype, owned by
 * the caller. `ids` are the GPU ids the forward read; pass `cpuIds` (the
 * same ids, flat, already range-checked) to sort them on the CPU instead.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { indexSelectGrad } from "./gather_grad.ts";
 * await initGPU();
 * using g = Tensor.fromArray([[1, 1, 1]]); // y = x[:, [1, 1, 0]] of x [1, 2]
 * using dt = indexSelectGrad(g, undefined, [1, 2], 1, new Int32Array([1, 1, 0]));
 * console.log(await dt.data()); // Float32Array [1, 2]
 * ```
 */
export function indexSelectGrad(
  g: Tensor,
  ids: Tensor | undefined,
  tShape: readonly number[],
  axis: number,
  cpuIds?: Int32Array,
): Tensor {
  const len = tShape[axis];
  const inner = tShape.slice(axis + 1).reduce((p, d) => p * d, 1);
  const T = g.dtype;
  const dt = Tensor.empty(tShape, T);
  const n = cpuIds ? cpuIds.length : ids!.size;
  if (dt.size === 0) return dt;
  if (n === 0) {
    dt.dispose();
    return Tensor.zeros(tShape, T);
  }
  let sorted: { keys: Tensor; perm: Tensor };
  if (cpuIds) {
    const s = sortOnCpu(cpuIds);
    sorted = {
      keys: Tensor.fromArray(new Uint32Array(s.keys.buffer), [n], "u32"),
      perm: Tensor.fromArray(new Uint32Array(s.perm.buffer), [n], "u32"),
    };
  } else sorted = sortOnGpu(ids!, len);
  using keys = sorted.keys, perm = sorted.perm;
  const code = `${header(T)}
struct Params { total: u32, n: u32, len: u32, inner: u32, }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> G: array<${T}>;
@group(0) @binding(2) var<storage, read> K: array<u32>;
@group(0) @binding(3) var<storage, read> Q: array<u32>;
@group(0) @binding(4) var<storage, read_write> D: array<${T}>;
// First position p with K[p] >= v (K sorted ascending).
fn lower(v: u32) -> u32 {
  var lo = 0u;
  var hi = P.n;
  while (lo < hi) {
    let mid = (lo + hi) / 2u;
    if (K[mid] < v) { lo = mid + 1u; } else { hi = mid; }
  }
  return lo;
}
@compute @workgroup_size(${WG}) fn main(${ENTRY_BUILTINS}) {
  let e = ${linearIndex(WG)};
  if (e >= P.total) { return; }
  let i = e % P.inner;
  let l = (e / P.inner) % P.len;
  let o = e / (P.inner * P.len);
  var s = 0.0;
  for (var p = lower(l); p < P.n && K[p] == l; p++) {
    s += f32(G[(o * P.n + Q[p]) * P.inner + i]);
  }
  D[e] = ${T}(s);
}`;
  dispatch(
    "indexSelect backward",
    code,
    [g.buffer, keys.buffer, perm.buffer, dt.buffer],
    new Params().u(dt.size, n, len, inner),
    grid(dt.size, WG),
  );
  return dt;
}
