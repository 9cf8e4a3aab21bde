/**
 * Dense matrix products: `matmul` (2-D and batched, transposes as flags, f32
 * and f16 inputs accumulated in f32), `linear` (x·wᵀ + bias with PyTorch's
 * [out, in] weights — the op every model layer runs) and `gemm`, the strided
 * in-place form (C = α·op(A)·op(B) + β·C on sub-matrices) that linalg builds on.
 *
 * Kernels:
 * - **Tiled GEMM**: 256 threads (16×16) per workgroup compute a 128×128 (or
 *   64×64 for small problems) output tile; each thread holds an 8×8 (4×4)
 *   micro-tile in registers, split in 4-wide column/row groups 64 apart so
 *   workgroup-memory reads are conflict-free vec4s. K advances in steps of 16
 *   through workgroup memory (A and B stored k-major, in f32), and the next
 *   K-step's global loads are issued before the current one is computed
 *   (register prefetch). Loads are vec4 when the contiguous dimension, the
 *   leading dimension and the offsets are multiples of 4, else scalar with
 *   bounds checks; out-of-range elements load as 0 and are never stored.
 * - **GEMV** (`x·wᵀ` with at most 8 rows, the decode case): 64 threads reduce
 *   each output column over K with vec4 loads of the contiguous weight row,
 *   then sum their partials in workgroup memory. Memory bound by design: every
 *   weight element is read exactly once.
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
import { cast, F16_BITS } from "./elementwise.ts";
import { expectDType, header } from "./wgsl.ts";

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
  return run(batched ? [batch, M, N] : [M, N], outDType, {
    a: view(a, transA, a.rank === 3),
    b: view(b, transB, b.rank === 3),
    M,
    N,
    K: Ka,
    batch,
  });
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
  return run([...x.shape.slice(0, -1), outF], outDType, {
    a: { buffer: x.buffer, offset: 0, ld: inF, batchStride: 0, trans: false, dtype: x.dtype },
    b: { buffer: w.buffer, offset: 0, ld: inF, batchStride: 0, trans: true, dtype: w.dtype },
    M: rows,
    N: outF,
    K: inF,
    batch: 1,
    bias: bias?.buffer,
  });
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
  const gemv = !ta && tb && M <= 8 && batch === 1 && !accumulate && !lowerOnly && !alias &&
    a.ld === K;
  const params = new Params().u(M, N, K, a.ld, b.ld, c.ld, a.offset, b.offset, c.offset, sA, sB, sC)
    .f(alpha);
  const bindings: GPUBuffer[] = [];
  if (!aliasA) bindings.push(a.buffer);
  if (!aliasB) bindings.push(b.buffer);
  if (args.bias) bindings.push(args.bias);
  bindings.push(c.buffer);
  if (gemv) {
    const vec = vecA && vecB;
    const cpt = M <= 2 ? 1 : 2;
    const cfg = { T, out, M, cpt, vec, bias: !!args.bias, vecC };
    const cols = GEMV_SLOTS * cpt;
    dispatch(`gemv M=${M}`, gemvCode(cfg), bindings, params, [Math.ceil(N / cols)]);
    return;
  }
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

interface TileConfig {
  T: DType;
  out: DType;
  ta: boolean;
  tb: boolean;
  vecA: boolean;
  vecB: boolean;
  vecC: boolean;
  tm: number;
  tn: number;
  bk: number;
  bias: boolean;
  accumulate: boolean;
  lowerOnly: boolean;
  aliasA: boolean;
  aliasB: boolean;
  rowsFirst: boolean;
}

/**
 * Tile parameters of the tiled GEMM, exposed for benchmarks: micro-tile rows ×
 * columns per thread (4 or 8; the workgroup tile is 16× that), the K step, the
 * number of 128×128 tiles from which the big configuration is used, and the
 * thread→element mapping of K-contiguous loads (`rowsFirst`: consecutive
 * threads take consecutive rows, so workgroup-memory stores don't conflict).
 *
 * @example
 * ```ts
 * import { gemmTuning } from "./matmul.ts";
 * console.log(gemmTuning.big.tm * 16); // 128: rows of the big tile
 * ```
 */
export const gemmTuning = {
  big: { tm: 8, tn: 8, bk: 16 },
  small: { tm: 4, tn: 4, bk: 16 },
  bigTiles: 256,
  rowsFirst: false,
};

const PARAMS_STRUCT = `struct P {
  M: u32, N: u32, K: u32, lda: u32, ldb: u32, ldc: u32,
  offA: u32, offB: u32, offC: u32, sA: u32, sB: u32, sC: u32, alpha: f32,
}
@group(0) @binding(0) var<uniform> p: P;`;

function loadTile(
  op: "A" | "B",
  src: string,
  vec: boolean,
  kContig: boolean,
  outer: number,
  bk: number,
  outerLimit: string,
  outerStart: string,
  ld: string,
  base: string,
  T: DType,
  rowsFirst: boolean,
): { decl: string; load: string; store: string } {
  // Loads one [outer × bk] tile (outer = M or N) into registers and stores it
  // k-major into workgroup memory (S[k * outer/4 + o/4][o % 4]).
  const S = op === "A" ? "As" : "Bs";
  const cvt = (x: string) => vec4f(T, x);
  const q4 = outer / 4;
  const lines: string[] = [];
  const stores: string[] = [];
  const decl: string[] = [];
  if (vec) {
    const n = (outer * bk) / 4 / 256;
    for (let q = 0; q < n; q++) {
      const r = `r${op}${q}`;
      decl.push(`var ${r} = vec4<f32>(0.0);`);
      const e = `(lid + ${q * 256}u)`;
      if (kContig) {
        // 4 consecutive k of one row o
        const ok = rowsFirst
          ? `let o = ${e} % ${outer}u; let k = (${e} / ${outer}u) * 4u;`
          : `let o = ${e} / ${bk / 4}u; let k = (${e} % ${bk / 4}u) * 4u;`;
        lines.push(`{ ${ok}
      let go = ${outerStart} + o; let gk = k0 + k;
      ${r} = vec4<f32>(0.0);
      if (go < ${outerLimit} && gk < p.K) { ${r} = ${
          cvt(`${src}[(${base} + go * ${ld} + gk) / 4u]`)
        }; } }`);
        stores.push(`{ ${ok}
      ${S}[k * ${q4}u + o / 4u][o % 4u] = ${r}.x;
      ${S}[(k + 1u) * ${q4}u + o / 4u][o % 4u] = ${r}.y;
      ${S}[(k + 2u) * ${q4}u + o / 4u][o % 4u] = ${r}.z;
      ${S}[(k + 3u) * ${q4}u + o / 4u][o % 4u] = ${r}.w; }`);
      } else {
        // 4 consecutive o of one k
        lines.push(`{ let k = ${e} / ${q4}u; let o = (${e} % ${q4}u) * 4u;
      let go = ${outerStart} + o; let gk = k0 + k;
      ${r} = vec4<f32>(0.0);
      if (go < ${outerLimit} && gk < p.K) { ${r} = ${
          cvt(`${src}[(${base} + gk * ${ld} + go) / 4u]`)
        }; } }`);
        stores.push(`${S}[${e}] = ${r};`);
      }
    }
  } else {
    const n = (outer * bk) / 256;
    for (let q = 0; q < n; q++) {
      const r = `r${op}${q}`;
      decl.push(`var ${r} = 0.0;`);
      const e = `(lid + ${q * 256}u)`;
      const idx = kContig
        ? `let o = ${e} / ${bk}u; let k = ${e} % ${bk}u;`
        : `let k = ${e} / ${outer}u; let o = ${e} % ${outer}u;`;
      const at = kContig ? `${base} + go * ${ld} + gk` : `${base} + gk * ${ld} + go`;
      lines.push(`{ ${idx} let go = ${outerStart} + o; let gk = k0 + k;
      ${r} = 0.0;
      if (go < ${outerLimit} && gk < p.K) { ${r} = f32(${src}[${at}]); } }`);
      stores.push(`{ ${idx} ${S}[k * ${q4}u + o / 4u][o % 4u] = ${r}; }`);
    }
  }
  return { decl: decl.join("\n  "), load: lines.join("\n    "), store: stores.join("\n    ") };
}

function gemmCode(c: TileConfig): string {
  const { T, tm, tn, bk } = c;
  const bm = 16 * tm, bn = 16 * tn;
  const inA = c.vecA ? vecType(T) : T;
  const inB = c.vecB ? vecType(T) : T;
  const cT = c.out === "f16" ? "u32" : c.vecC ? "vec4<f32>" : "f32";
  let binding = 1;
  const dl: string[] = [];
  const A = c.aliasA ? "C" : "A", B = c.aliasB ? "C" : "B", C = "C";
  if (!c.aliasA) dl.push(`@group(0) @binding(${binding++}) var<storage, read> A: array<${inA}>;`);
  if (!c.aliasB) dl.push(`@group(0) @binding(${binding++}) var<storage, read> B: array<${inB}>;`);
  if (c.bias) dl.push(`@group(0) @binding(${binding++}) var<storage, read> Bias: array<${T}>;`);
  dl.push(`@group(0) @binding(${binding++}) var<storage, read_write> C: array<${cT}>;`);
  const la = loadTile("A", A, c.vecA, !c.ta, bm, bk, "p.M", "m0", "p.lda", "aBase", T, c.rowsFirst);
  const lb = loadTile("B", B, c.vecB, c.tb, bn, bk, "p.N", "n0", "p.ldb", "bBase", T, c.rowsFirst);
  const accDecl: string[] = [];
  const fmas: string[] = [];
  const frag: string[] = [];
  for (let g = 0; g < tm / 4; g++) frag.push(`let a${g} = As[kk * ${bm / 4}u + ${g * 16}u + ty];`);
  for (let g = 0; g < tn / 4; g++) frag.push(`let b${g} = Bs[kk * ${bn / 4}u + ${g * 16}u + tx];`);
  for (let i = 0; i < tm; i++) {
    for (let g = 0; g < tn / 4; g++) {
      accDecl.push(`var c${i}_${g} = vec4<f32>(0.0);`);
      fmas.push(
        `c${i}_${g} = fma(vec4<f32>(a${i >> 2}.${"xyzw"[i & 3]}), b${g}, c${i}_${g});`,
      );
    }
  }
  const stores: string[] = [];
  for (let i = 0; i < tm; i++) {
    const row = `m0 + ${(i >> 2) * 64 + (i & 3)}u + ty * 4u`;
    for (let g = 0; g < tn / 4; g++) {
      const col = `n0 + ${g * 64}u + tx * 4u`;
      const biasAdd = c.bias
        ? `v += vec4<f32>(f32(Bias[min(col, p.N - 1u)]), f32(Bias[min(col + 1u, p.N - 1u)]), ` +
          `f32(Bias[min(col + 2u, p.N - 1u)]), f32(Bias[min(col + 3u, p.N - 1u)]));`
        : "";
      let st: string;
      if (c.vecC && c.out === "f16") {
        st = `if (row < p.M && col < p.N) {
        let w = (cBase + row * p.ldc + col) / 2u;
        ${C}[w] = f16_bits(v.x) | (f16_bits(v.y) << 16u);
        ${C}[w + 1u] = f16_bits(v.z) | (f16_bits(v.w) << 16u);
      }`;
      } else if (c.vecC) {
        const acc = c.accumulate ? `${C}[ci] + ` : "";
        st =
          `if (row < p.M && col < p.N) { let ci = (cBase + row * p.ldc + col) / 4u; ${C}[ci] = ${acc}v; }`;
      } else {
        const parts = [0, 1, 2, 3].map((j) => {
          const acc = c.accumulate ? `${C}[ci] + ` : "";
          return `if (col + ${j}u < p.N) { let ci = cBase + row * p.ldc + col + ${j}u; ${C}[ci] = ${acc}v.${
            "xyzw"[j]
          }; }`;
        });
        st = `if (row < p.M) { ${parts.join("\n        ")} }`;
      }
      stores.push(`{ let row = ${row}; let col = ${col};
      var v = c${i}_${g} * p.alpha;
      ${biasAdd}
      ${st} }`);
    }
  }
  const skip = c.lowerOnly ? `if (m0 + ${bm}u <= n0) { return; }` : "";
  return `${header(T)}
${PARAMS_STRUCT}
${dl.join("\n")}
${T === "f16" ? UNPACK4H : ""}
var<workgroup> As: array<vec4<f32>, ${(bk * bm) / 4}>;
var<workgroup> Bs: array<vec4<f32>, ${(bk * bn) / 4}>;
${c.out === "f16" ? F16_BITS : ""}
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let tx = lid % 16u;
  let ty = lid / 16u;
  let m0 = wg.y * ${bm}u;
  let n0 = wg.x * ${bn}u;
  ${skip}
  let aBase = p.offA + wg.z * p.sA;
  let bBase = p.offB + wg.z * p.sB;
  let cBase = p.offC + wg.z * p.sC;
  ${accDecl.join("\n  ")}
  ${la.decl}
  ${lb.decl}
  var k0 = 0u;
  ${la.load}
  ${lb.load}
  while (k0 < p.K) {
    ${la.store}
    ${lb.store}
    workgroupBarrier();
    k0 += ${bk}u;
    if (k0 < p.K) {
    ${la.load}
    ${lb.load}
    }
    for (var kk = 0u; kk < ${bk}u; kk++) {
      ${frag.join("\n      ")}
      ${fmas.join("\n      ")}
    }
    workgroupBarrier();
  }
  ${stores.join("\n  ")}
}`;
}

/** Four consecutive elements as one load: vec4<f32>, or f16 as two u32 words (unpacked exactly). */
function vecType(T: DType): string {
  return T === "f16" ? "vec2<u32>" : "vec4<f32>";
}

/** WGSL converting one {@link vecType} load to vec4<f32>. */
function vec4f(T: DType, load: string): string {
  return T === "f16" ? `unpack4h(${load})` : `${load}`;
}

const UNPACK4H = `
fn unpack4h(u: vec2<u32>) -> vec4<f32> { return vec4<f32>(unpack2x16float(u.x), unpack2x16float(u.y)); }`;

const GEMV_LANES = 64;
const GEMV_SLOTS = 4;

interface GemvConfig {
  T: DType;
  out: DType;
  M: number;
  cpt: number;
  vec: boolean;
  bias: boolean;
  vecC: boolean;
}

function gemvCode(c: GemvConfig): string {
  const { T, M, cpt, vec } = c;
  const inT = vec ? vecType(T) : T;
  const cT = c.out === "f16" ? "u32" : "f32";
  let binding = 1;
  const dl = [
    `@group(0) @binding(${binding++}) var<storage, read> A: array<${inT}>;`,
    `@group(0) @binding(${binding++}) var<storage, read> B: array<${inT}>;`,
  ];
  if (c.bias) dl.push(`@group(0) @binding(${binding++}) var<storage, read> Bias: array<${T}>;`);
  dl.push(`@group(0) @binding(${binding++}) var<storage, read_write> C: array<${cT}>;`);
  const ld = (x: string) => (vec ? vec4f(T, x) : `f32(${x})`);
  const acc: string[] = [];
  const body: string[] = [];
  const red: string[] = [];
  for (let j = 0; j < cpt; j++) {
    body.push(
      `let w${j} = ${ld(`B[(bBase + col${j} * p.ldb) / ${vec ? 4 : 1}u + k]`)};`,
    );
  }
  for (let r = 0; r < M; r++) {
    body.push(`let x${r} = ${ld(`A[(aBase + ${r}u * p.lda) / ${vec ? 4 : 1}u + k]`)};`);
    for (let j = 0; j < cpt; j++) {
      acc.push(`var s${r}_${j} = 0.0;`);
      body.push(
        vec ? `s${r}_${j} += dot(x${r}, w${j});` : `s${r}_${j} = fma(x${r}, w${j}, s${r}_${j});`,
      );
      red.push(
        `red[${
          (r * cpt + j) * GEMV_SLOTS
        }u * ${GEMV_LANES}u + slot * ${GEMV_LANES}u + lane] = s${r}_${j};`,
      );
    }
  }
  const cols = GEMV_SLOTS * cpt;
  const nOut = M * cols;
  // Finishing: thread t sums the 64 partials of output (r, column) and stores it.
  const store = c.out === "f16"
    ? `if (t < ${nOut / 2}u) {
    let r = t / ${cols / 2}u;
    let cc = (t % ${cols / 2}u) * 2u;
    let n = n0 + cc;
    if (n < p.N) {
      let v0 = total(r, cc) * p.alpha + bias_at(n);
      let v1 = total(r, cc + 1u) * p.alpha + bias_at(n + 1u);
      C[(p.offC + r * p.ldc + n) / 2u] = f16_bits(v0) | (f16_bits(v1) << 16u);
    }
  }`
    : `if (t < ${nOut}u) {
    let r = t / ${cols}u;
    let cc = t % ${cols}u;
    let n = n0 + cc;
    if (n < p.N) { C[p.offC + r * p.ldc + n] = total(r, cc) * p.alpha + bias_at(n); }
  }`;
  return `${header(T)}
${PARAMS_STRUCT}
${dl.join("\n")}
var<workgroup> red: array<f32, ${nOut * GEMV_LANES}>;
${T === "f16" ? UNPACK4H : ""}
${c.out === "f16" ? F16_BITS : ""}
fn bias_at(n: u32) -> f32 { ${c.bias ? "return f32(Bias[min(n, p.N - 1u)]);" : "return 0.0;"} }
// column cc of the workgroup = slot * cpt + j (slot = cc / cpt)
fn total(r: u32, cc: u32) -> f32 {
  let slot = cc / ${cpt}u;
  let j = cc % ${cpt}u;
  let base = (r * ${cpt}u + j) * ${GEMV_SLOTS * GEMV_LANES}u + slot * ${GEMV_LANES}u;
  var s = 0.0;
  for (var l = 0u; l < ${GEMV_LANES}u; l++) { s += red[base + l]; }
  return s;
}
@compute @workgroup_size(${GEMV_LANES * GEMV_SLOTS})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) t: u32) {
  let lane = t % ${GEMV_LANES}u;
  let slot = t / ${GEMV_LANES}u;
  let n0 = wg.x * ${cols}u;
  let aBase = p.offA;
  let bBase = p.offB;
  ${
    Array.from({ length: cpt }, (_, j) =>
      `let col${j} = min(n0 + slot * ${cpt}u + ${j}u, p.N - 1u);`).join("\n  ")
  }
  ${acc.join("\n  ")}
  let kEnd = ${vec ? "p.K / 4u" : "p.K"};
  for (var k = lane; k < kEnd; k += ${GEMV_LANES}u) {
    ${body.join("\n    ")}
  }
  ${red.join("\n  ")}
  workgroupBarrier();
  ${store}
}`;
}
