/**
 * Dense matrix products: `matmul` (2-D and batched, transposes as flags, f32
 * and f16 inputs accumulated in f32), `linear` (x·wᵀ + bias with PyTorch's
 * [out, in] weights — the op every model layer runs) and `gemm`, the strided
 * in-place form (C = α·op(A)·op(B) + β·C on sub-matrices) that linalg builds on.
 *
 * Kernels (both from the one matmul generator in `kernels/gemm/`, shared
 * with the low-bit matmul; a dense matrix is its identity weight loader):
 * - **Tiled GEMM** (`kernels/gemm/tiled.ts`): 128×128 (or 64×64) output tiles
 *   of 8×8 (4×4) register micro-tiles, K steps of 16 through workgroup
 *   memory with register prefetch, vec4 loads where the layout allows.
 * - **GEMV** (`x·wᵀ` with at most 8 rows, the decode case, in `linear` and
 *   `matmul(a, b, { transB: true })` of 2-D operands): the low-bit kernels'
 *   GEMV (`kernels/gemm/plan.ts`) with the dense weight as its source — the
 *   paired GEMV for f16 weights whose rows are a multiple of 8, else the
 *   generic one. Memory bound by design: every weight element is read once.
 *
 * f16 results are rounded exactly (nearest even, ±Inf beyond the range, NaN
 * kept) on the bits, two halves per u32 store, when the output row length is
 * a multiple of 4; otherwise through an f32 intermediate and `cast`.
 *
 * Reference: `tests/reference/matmul.ts`.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { linear, matmul } from "./matmul.ts";
 * await initGPU();
 * using a = Tensor.fromArray([[1, 2], [3, 4]]);
 * using b = Tensor.fromArray([[5, 6], [7, 8]]);
 * using c = matmul(a, b);
 * console.log(await c.data()); // Float32Array [19, 22, 43, 50]
 * using y = linear(a, b); // a · bᵀ
 * console.log(await y.data()); // Float32Array [17, 23, 39, 53]
 * ```
 * @module
 */
import type { DType } from "../dtype.ts";
import { dispatch, Params } from "../runtime.ts";
import { Tensor } from "../tensor.ts";
import { planMatmul, run as runPlan } from "../gemm/plan.ts";
import { gemmCode, gemmTuning, type TileConfig } from "../gemm/tiled.ts";
import { cast } from "./elementwise.ts";
import { expectDType } from "./wgsl.ts";
import { record } from "../autograd.ts";
import { linearGrad, matmulGrad } from "./matmul_grad.ts";

export { gemmTuning } from "../gemm/tiled.ts";

/** Options of {@link matmul}. */
export interface MatmulOptions {
  /** Use Aᵀ: `a` is stored [K, M] (or [B, K, M]). Default false. */
  transA?: boolean;
  /** Use Bᵀ: `b` is stored [N, K] (or [B, N, K]). Default false. */
  transB?: boolean;
  /** Output dtype; default the inputs' dtype. f16 inputs always accumulate in f32. */
  outDType?: "f32" | "f16";
}

/**
 * Matrix product op(a)·op(b) of 2-D [M,K]×[K,N] or batched [B,M,K]×[B,K,N]
 * operands; a 2-D operand broadcasts over the other's batch. Transposes are
 * flags read by the kernel (nothing is materialised). f32 or f16 inputs (both
 * the same dtype), accumulated in f32.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { matmul } from "./matmul.ts";
 * await initGPU();
 * using a = Tensor.fromArray([[1, 2, 3]]);            // [1, 3]
 * using b = Tensor.fromArray([[1, 0, 2], [0, 1, 3]]); // [2, 3], used transposed
 * using c = matmul(a, b, { transB: true });           // [1, 2]
 * console.log(c.shape, await c.data()); // [1, 2] Float32Array [7, 11]
 * ```
 */
export function matmul(a: Tensor, b: Tensor, opts: MatmulOptions = {}): Tensor {
  const { transA = false, transB = false } = opts;
  expectDType("matmul", a, "f32", "f16");
  expectDType("matmul", b, "f32", "f16");
  if (a.dtype !== b.dtype) {
    throw new TypeError(
      `matmul: dtypes differ (${a} vs ${b}); cast one operand so both are f32 or both f16`,
    );
  }
  for (const [t, name] of [[a, "a"], [b, "b"]] as const) {
    if (t.rank !== 2 && t.rank !== 3) {
      throw new RangeError(
        `matmul: ${name} = ${t} has rank ${t.rank}; expected a 2-D [rows, cols] or batched ` +
          `3-D [batch, rows, cols] matrix`,
      );
    }
  }
  const outDType = opts.outDType ?? a.dtype;
  checkOutDType("matmul", outDType);
  const [ar, ac] = a.shape.slice(-2);
  const [br, bc] = b.shape.slice(-2);
  const [M, Ka] = transA ? [ac, ar] : [ar, ac];
  const [Kb, N] = transB ? [bc, br] : [br, bc];
  if (Ka !== Kb) {
    throw new RangeError(
      `matmul: inner dimensions differ: op(a) is [${M}, ${Ka}] (a = ${a}${
        transA ? ", transposed" : ""
      }) but op(b) is [${Kb}, ${N}] (b = ${b}${transB ? ", transposed" : ""})`,
    );
  }
  const ba = a.rank === 3 ? a.shape[0] : 1;
  const bb = b.rank === 3 ? b.shape[0] : 1;
  if (a.rank === 3 && b.rank === 3 && ba !== bb) {
    throw new RangeError(`matmul: batch sizes differ (${a} vs ${b})`);
  }
  const batch = Math.max(ba, bb);
  const batched = a.rank === 3 || b.rank === 3;
  const c = !batched && !transA && transB && decodeRows(M, N, Ka)
    ? runPlan(planMatmul(a, b, { outDtype: outDType as "f32" | "f16", kernel: "gemv" }))
    : run(batched ? [batch, M, N] : [M, N], outDType, {
      a: view(a, transA, a.rank === 3),
      b: view(b, transB, b.rank === 3),
      M,
      N,
      K: Ka,
      batch,
    });
  return record("matmul", [a, b], c, [a, b], (g, [a, b]) => matmulGrad(g, a, b, transA, transB));
}

/**
 * The linear layer y = x·wᵀ + bias with `w` stored [out, in] as PyTorch
 * stores it; x is [..., in] and y [..., out]. At most 8 rows use the
 * memory-bound GEMV kernel (decode), more rows the tiled kernel with Bᵀ
 * read in place. `x`, `w` and `bias` share one dtype (f32 or f16).
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { linear } from "./matmul.ts";
 * await initGPU();
 * using x = Tensor.fromArray([[1, 1, 1], [1, 2, 3]]); // [2 tokens, in 3]
 * using w = Tensor.fromArray([[1, 0, 0], [0, 1, 1]]); // [out 2, in 3]
 * using bias = Tensor.fromArray([10, 20]);
 * using y = linear(x, w, bias);
 * console.log(y.shape, await y.data()); // [2, 2] Float32Array [11, 22, 11, 25]
 * ```
 */
export function linear(
  x: Tensor,
  w: Tensor,
  bias?: Tensor,
  opts: { outDType?: "f32" | "f16" } = {},
): Tensor {
  expectDType("linear", x, "f32", "f16");
  expectDType("linear", w, "f32", "f16");
  if (w.rank !== 2) {
    throw new RangeError(`linear: weight ${w} must be 2-D [out, in]`);
  }
  if (x.rank < 1) throw new RangeError(`linear: input ${x} must have at least one dimension`);
  const [outF, inF] = w.shape;
  if (x.shape[x.rank - 1] !== inF) {
    throw new RangeError(
      `linear: input ${x} has ${x.shape[x.rank - 1]} features but the weight ${w} ` +
        `([out, in]) expects ${inF}`,
    );
  }
  if (x.dtype !== w.dtype) {
    throw new TypeError(`linear: dtypes differ (input ${x} vs weight ${w}); cast one first`);
  }
  if (bias) {
    if (bias.dtype !== x.dtype) {
      throw new TypeError(`linear: bias ${bias} must have the input's dtype ${x.dtype}`);
    }
    if (bias.size !== outF || bias.rank !== 1) {
      throw new RangeError(`linear: bias ${bias} must be 1-D with ${outF} elements`);
    }
  }
  const outDType = opts.outDType ?? x.dtype;
  checkOutDType("linear", outDType);
  const rows = x.size / inF;
  const y = decodeRows(rows, outF, inF)
    ? runPlan(planMatmul(x, w, { bias, outDtype: outDType as "f32" | "f16", kernel: "gemv" }))
    : run([...x.shape.slice(0, -1), outF], outDType, {
      a: { buffer: x.buffer, offset: 0, ld: inF, batchStride: 0, trans: false, dtype: x.dtype },
      b: { buffer: w.buffer, offset: 0, ld: inF, batchStride: 0, trans: true, dtype: w.dtype },
      M: rows,
      N: outF,
      K: inF,
      batch: 1,
      bias: bias?.buffer,
    });
  return record("linear", [x, w, bias], y, [x, w], (g, [x, w]) => linearGrad(g, x, w, !!bias));
}

/** x·wᵀ with this many rows takes the GEMV (decode): 1–8 rows, a non-empty weight. */
function decodeRows(rows: number, N: number, K: number): boolean {
  return rows >= 1 && rows <= 8 && N > 0 && K > 0;
}

function checkOutDType(op: string, d: string): void {
  if (d !== "f32" && d !== "f16") {
    throw new TypeError(`${op}: outDType "${d}" is not supported; use "f32" or "f16"`);
  }
}

function view(t: Tensor, trans: boolean, batched: boolean): MatrixView {
  const [r, c] = t.shape.slice(-2);
  return {
    buffer: t.buffer,
    offset: 0,
    ld: c,
    batchStride: batched ? r * c : 0,
    trans,
    dtype: t.dtype,
  };
}

/**
 * A matrix inside a buffer: element (i, j) of the stored matrix is at
 * `offset + batch·batchStride + i·ld + j` (in elements); `trans` uses its
 * transpose as the operand.
 */
export interface MatrixView {
  /** The buffer holding the matrix. */
  buffer: GPUBuffer;
  /** Offset of element (0, 0) in elements. */
  offset: number;
  /** Leading dimension: elements between rows of the stored matrix. */
  ld: number;
  /** Elements between consecutive batch entries (0 broadcasts). Default 0. */
  batchStride?: number;
  /** Use the transpose of the stored matrix. Default false. */
  trans?: boolean;
  /** Element type; default f32. */
  dtype?: DType;
}

/** Arguments of {@link gemm}. */
export interface GemmArgs {
  /** Left operand op(A), [M, K]. */
  a: MatrixView;
  /** Right operand op(B), [K, N]. */
  b: MatrixView;
  /** Output C, [M, N], row-major with leading dimension `ld` (never transposed). */
  c: MatrixView;
  /** Rows of op(A) and C. */
  M: number;
  /** Columns of op(B) and C. */
  N: number;
  /** Columns of op(A) = rows of op(B). */
  K: number;
  /** Batch count (default 1). */
  batch?: number;
  /** Scales the product (default 1). */
  alpha?: number;
  /** Adds the product to C instead of overwriting it (β = 1; f32 C only). Default false. */
  accumulate?: boolean;
  /** Only tiles touching the lower triangle (i ≥ j) are computed (for symmetric updates). */
  lowerOnly?: boolean;
  /** Per-column bias added to the output ([N], the inputs' dtype). */
  bias?: GPUBuffer;
}

/**
 * The strided, in-place GEMM: C = α·op(A)·op(B) (+ C when `accumulate`) on
 * matrices anywhere inside buffers — the building block of blocked linear
 * algebra. A, B and C may share one buffer (their regions must not overlap
 * C's). Inputs f32 or f16, C f32 or f16 (accumulate: f32).
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { gemm } from "./matmul.ts";
 * await initGPU();
 * // C (2×2, stored in the last 4 elements) -= A·Aᵀ with A = the first row [1, 2] as 1×2
 * using buf = Tensor.fromArray([1, 2, 0, 0, 10, 10, 10, 10]);
 * gemm({
 *   a: { buffer: buf.buffer, offset: 0, ld: 2 },
 *   b: { buffer: buf.buffer, offset: 0, ld: 2, trans: true },
 *   c: { buffer: buf.buffer, offset: 4, ld: 2 },
 *   M: 1, N: 1, K: 2, alpha: -1, accumulate: true,
 * });
 * console.log((await buf.data())[4]); // 5
 * ```
 */
export function gemm(args: GemmArgs): void {
  const { a, b, c, M, N, K, batch = 1, alpha = 1, accumulate = false, lowerOnly = false } = args;
  const T = a.dtype ?? "f32";
  const out = c.dtype ?? "f32";
  if ((b.dtype ?? "f32") !== T) throw new TypeError(`gemm: A is ${T} but B is ${b.dtype}`);
  if (accumulate && out !== "f32") throw new TypeError("gemm: accumulate needs an f32 C");
  if (c.trans) throw new RangeError("gemm: C cannot be transposed; swap and transpose A and B");
  if (M === 0 || N === 0 || batch === 0) return;
  const sA = a.batchStride ?? 0, sB = b.batchStride ?? 0, sC = c.batchStride ?? 0;
  const ta = a.trans ?? false, tb = b.trans ?? false;
  const vecOk = (v: MatrixView, s: number, contig: number) =>
    v.ld % 4 === 0 && v.offset % 4 === 0 && s % 4 === 0 && contig % 4 === 0;
  // The contiguous dimension of each stored operand: A is [M,K] (or [K,M]), B [K,N] (or [N,K]).
  let vecA = vecOk(a, sA, ta ? M : K);
  let vecB = vecOk(b, sB, tb ? K : N);
  let vecC = vecOk(c, sC, N);
  // An operand in C's buffer is read through C's (read_write) binding: WebGPU forbids
  // binding one buffer as both read-only and writable storage in a dispatch.
  const aliasA = a.buffer === c.buffer, aliasB = b.buffer === c.buffer;
  const alias = aliasA || aliasB;
  if (alias) {
    if (T !== "f32" || out !== "f32") throw new TypeError("gemm: aliased operands must be f32");
    const v = (!aliasA || vecA) && (!aliasB || vecB) && vecC;
    if (aliasA) vecA = v;
    if (aliasB) vecB = v;
    vecC = v;
  }
  if (out === "f16" && !vecC) throw new RangeError("gemm: an f16 C needs N, ld, offset % 4 == 0");
  const params = new Params().u(M, N, K, a.ld, b.ld, c.ld, a.offset, b.offset, c.offset, sA, sB, sC)
    .f(alpha);
  const bindings: GPUBuffer[] = [];
  if (!aliasA) bindings.push(a.buffer);
  if (!aliasB) bindings.push(b.buffer);
  if (args.bias) bindings.push(args.bias);
  bindings.push(c.buffer);
  const big = Math.ceil(M / 128) * Math.ceil(N / 128) * batch >= gemmTuning.bigTiles;
  const t = big ? gemmTuning.big : gemmTuning.small;
  const cfg: TileConfig = {
    T,
    out,
    ta,
    tb,
    vecA,
    vecB,
    vecC,
    tm: t.tm,
    tn: t.tn,
    bk: t.bk,
    rowsFirst: gemmTuning.rowsFirst,
    bias: !!args.bias,
    accumulate,
    lowerOnly,
    aliasA,
    aliasB,
  };
  const bm = 16 * cfg.tm, bn = 16 * cfg.tn;
  dispatch(`gemm ${M}×${N}×${K}`, gemmCode(cfg), bindings, params, [
    Math.ceil(N / bn),
    Math.ceil(M / bm),
    batch,
  ]);
}

interface RunArgs {
  a: MatrixView;
  b: MatrixView;
  M: number;
  N: number;
  K: number;
  batch: number;
  bias?: GPUBuffer;
}

/**
 * Runs the product into a new [.., M, N] tensor; an f16 result whose rows can't be
 * stored in aligned pairs goes through an f32 intermediate and the exact `cast`.
 */
function run(shape: number[], dtype: DType, r: RunArgs): Tensor {
  const c = (t: Tensor): MatrixView => ({
    buffer: t.buffer,
    offset: 0,
    ld: r.N,
    batchStride: r.M * r.N,
    dtype: t.dtype,
  });
  if (dtype === "f32" || r.N % 4 === 0) {
    const out = Tensor.empty(shape, dtype);
    if (out.size) gemm({ ...r, c: c(out) });
    return out;
  }
  using tmp = Tensor.empty(shape, "f32");
  if (tmp.size) gemm({ ...r, c: c(tmp) });
  return cast(tmp, "f16");
}
