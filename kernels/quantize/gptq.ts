/**
 * The GPU half of GPTQ's column loop (`quant/methods/gptq.ts`): one kernel
 * that quantizes a run of columns of a block for every row and propagates
 * each column's scaled error into the rest of the block, and the small
 * diagonal helpers the method needs. The trailing "lazy batch" update of the
 * columns after a block is a strided GEMM (`gemm` in `matmul.ts`).
 *
 * {@link gptqColumns} runs one invocation per weight row; each keeps its
 * row's slice of the block in private memory and walks the columns in order:
 *   q_j = Q(w_j)  (the format's decision table, or affine integers — the same
 *                  f32 expressions as `tableQuantize` / `affineQuantize`)
 *   e_j = (w_j − q_j) / U_jj
 *   w_k −= e_j · U_jk   for the block's later columns k
 * Every invocation reads the same U_jk at the same time (a broadcast load).
 *
 * Reference: `tests/reference/gptq.ts` (`gptqColumnsRef`).
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { gptqColumns } from "./gptq.ts";
 * await initGPU();
 * // one row [0.4, 0.4], U = I: each column rounds to the integer grid on its own
 * using w = Tensor.fromArray([[0.4, 0.4]]);
 * using u = Tensor.fromArray([[1, 0], [0, 1]]);
 * using scale = Tensor.fromArray([1]);
 * using zero = Tensor.fromArray([0]);
 * using groupOf = Tensor.fromArray([0, 0], [2], "u32");
 * const out = gptqColumns({ w, u, groupOf, block: [0, 2], columns: [0, 2],
 *   quant: { kind: "affine", qmin: -8, qmax: 7, bits: 4, scale, zero } });
 * console.log(await out.dequantized.data(), await out.err.data()); // [0, 0] [0.4, 0.4]
 * out.codes.dispose(); out.dequantized.dispose(); out.err.dispose();
 * ```
 * @module
 */
import { dispatch, grid, linearIndex, Params } from "../runtime.ts";
import { Tensor } from "../tensor.ts";
import type { DecisionTable } from "./decision_table.ts";
import { ENTRY_BUILTINS, expectDType, expectRank } from "../ops/wgsl.ts";

/** How a column value is rounded: a decision table with per-(group,row) scales, or affine ints. */
export type GptqColumnQuant =
  | {
    kind: "table";
    table: DecisionTable;
    /** Per (group, row) encode scale, group-major `[groups · rows]`: v = x / enc or x · enc. */
    encode: Tensor;
    /** "div" (integer and scaled-float formats) or "mul" (MX, NVFP4 multipliers). */
    mode: "div" | "mul";
    /** Per (group, row) decode multiplier, group-major: x̂ = value · dec · decode2. */
    decode: Tensor;
    /** A second decode multiplier for all groups (NVFP4's tensor scale). Default 1. */
    decode2?: number;
  }
  | {
    kind: "affine";
    qmin: number;
    qmax: number;
    bits: number;
    /** Per (group, row) scale, group-major. */
    scale: Tensor;
    /** Per (group, row) integer zero point (f32), group-major. */
    zero: Tensor;
  };

/** Arguments of {@link gptqColumns}. */
export interface GptqColumnsArgs {
  /** The working weight `[rows, n]` (f32), updated in place in columns [columns[1], block[1]). */
  w: Tensor;
  /** Upper Cholesky factor of H⁻¹, `[n, n]` (f32). */
  u: Tensor;
  /** Group index of every column, `[n]` u32 (scales are looked up at `group · rows + row`). */
  groupOf: Tensor;
  /** The block [s, e) whose later columns receive the in-block updates. */
  block: [number, number];
  /** The columns [a, b) ⊆ [s, e) quantized by this call. */
  columns: [number, number];
  /** The rounding rule. */
  quant: GptqColumnQuant;
  /** Where to write; each is created (`[rows, n]`: u32 codes, f32 values and errors) when absent. */
  out?: { codes: Tensor; dequantized: Tensor; err: Tensor };
}

/** Codes, dequantized values and scaled errors written by {@link gptqColumns}. */
export interface GptqColumnsOut {
  /** `[rows, n]` u32: the codes of the columns processed. */
  codes: Tensor;
  /** `[rows, n]` f32: their dequantized values. */
  dequantized: Tensor;
  /** `[rows, n]` f32: the scaled errors e_j = (w_j − q_j) / U_jj of the columns processed. */
  err: Tensor;
}

/**
 * Quantizes columns [a, b) of block [s, e) of `w` for every row, GPTQ style:
 * after column j is rounded, its error divided by U_jj is subtracted, times
 * U_jk, from the row's columns k in (j, e). Writes the codes, dequantized
 * values and errors, and the updated columns [b, e) back into `w`. A NaN in a
 * row stays in that row (it rounds like `tableQuantize` does and poisons the
 * row's later columns); other rows are unaffected.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { gptqColumns } from "./gptq.ts";
 * await initGPU();
 * // U couples column 0 to column 1: column 0's rounding error 0.4 moves into column 1
 * using w = Tensor.fromArray([[0.4, 0.4]]);
 * using u = Tensor.fromArray([[1, 1], [0, 1]]);
 * using scale = Tensor.fromArray([1]);
 * using zero = Tensor.fromArray([0]);
 * using groupOf = Tensor.fromArray([0, 0], [2], "u32");
 * const out = gptqColumns({ w, u, groupOf, block: [0, 2], columns: [0, 2],
 *   quant: { kind: "affine", qmin: -8, qmax: 7, bits: 4, scale, zero } });
 * console.log(await out.dequantized.data()); // Float32Array [0, 0] (0.4 − 0.4 = 0)
 * out.codes.dispose(); out.dequantized.dispose(); out.err.dispose();
 * ```
 */
export function gptqColumns(args: GptqColumnsArgs): GptqColumnsOut {
  const { w, u, groupOf, quant } = args;
  const [s, e] = args.block;
  const [a, b] = args.columns;
  expectDType("gptqColumns w", w, "f32");
  expectRank("gptqColumns w", w, 2);
  expectDType("gptqColumns u", u, "f32");
  expectDType("gptqColumns groupOf", groupOf, "u32");
  const [rows, n] = w.shape;
  if (u.rank !== 2 || u.shape[0] !== n || u.shape[1] !== n) {
    throw new RangeError(`gptqColumns: U ${u} must be [${n}, ${n}] for the weight ${w}`);
  }
  if (groupOf.size !== n) {
    throw new RangeError(`gptqColumns: groupOf has ${groupOf.size} entries; ${n} columns`);
  }
  if (!(0 <= s && s <= a && a <= b && b <= e && e <= n) || ![s, e, a, b].every(Number.isInteger)) {
    throw new RangeError(
      `gptqColumns: need integers 0 ≤ s ≤ a ≤ b ≤ e ≤ ${n}; got block [${s}, ${e}), ` +
        `columns [${a}, ${b})`,
    );
  }
  const bs = e - s;
  const out = args.out ?? {
    codes: Tensor.empty([rows, n], "u32"),
    dequantized: Tensor.empty([rows, n], "f32"),
    err: Tensor.empty([rows, n], "f32"),
  };
  if ([out.codes, out.dequantized, out.err].some((t) => t.size !== rows * n)) {
    throw new RangeError(`gptqColumns: output tensors must be [${rows}, ${n}]`);
  }
  if (rows === 0 || a === b) return out;
  const scales = quant.kind === "table" ? [quant.encode, quant.decode] : [quant.scale, quant.zero];
  for (const t of scales) expectDType("gptqColumns scales", t, "f32");
  const groups = Math.max(...scales.map((t) => t.size)) / rows;
  if (!scales.every((t) => t.size % rows === 0 && t.size / rows === groups)) {
    throw new RangeError(`gptqColumns: scale tensors must hold groups × ${rows} entries`);
  }
  const WG = 64;
  // the row's private copy of the block: at least 1 element, a compile-time size
  const cap = Math.max(1, bs);
  const round = quant.kind === "table" ? tableRound(quant) : affineRound();
  const code = `
struct P { rows: u32, n: u32, s: u32, e: u32, a: u32, b: u32, decode2: f32,
  qmin: f32, qmax: f32, mask: u32, }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> W: array<f32>;
@group(0) @binding(2) var<storage, read> U: array<f32>;
@group(0) @binding(3) var<storage, read> G: array<u32>;
@group(0) @binding(4) var<storage, read> S0: array<f32>;
@group(0) @binding(5) var<storage, read> S1: array<f32>;
@group(0) @binding(6) var<storage, read> TBL: array<f32>;
@group(0) @binding(7) var<storage, read_write> C: array<u32>;
@group(0) @binding(8) var<storage, read_write> Q: array<f32>;
@group(0) @binding(9) var<storage, read_write> E: array<f32>;
${round}
@compute @workgroup_size(${WG}) fn main(${ENTRY_BUILTINS}) {
  let r = ${linearIndex(WG)};
  if (r >= p.rows) { return; }
  let row = r * p.n;
  var w: array<f32, ${cap}>;
  for (var k = p.a; k < p.e; k++) { w[k - p.s] = W[row + k]; }
  for (var j = p.a; j < p.b; j++) {
    let x = w[j - p.s];
    let at = G[j] * p.rows + r;
    let q = quantize(x, at);
    C[row + j] = q.code;
    Q[row + j] = q.value;
    let err = (x - q.value) / U[j * p.n + j];
    E[row + j] = err;
    let urow = j * p.n;
    for (var k = j + 1u; k < p.e; k++) { w[k - p.s] -= err * U[urow + k]; }
  }
  for (var k = p.b; k < p.e; k++) { W[row + k] = w[k - p.s]; }
}`;
  const tbl = quant.kind === "table"
    ? Tensor.fromArray(
      new Float32Array([
        ...quant.table.values,
        ...quant.table.thresholds,
        ...new Float32Array(quant.table.codes.buffer),
      ]),
    )
    : Tensor.zeros([1]);
  const params = new Params().u(rows, n, s, e, a, b)
    .f(quant.kind === "table" ? quant.decode2 ?? 1 : 1)
    .f(quant.kind === "affine" ? quant.qmin : 0, quant.kind === "affine" ? quant.qmax : 0)
    .u(quant.kind === "affine" ? (1 << quant.bits) - 1 : 0);
  dispatch(
    `gptqColumns ${rows}×[${a}, ${b}) of [${s}, ${e})`,
    code,
    [
      w.buffer,
      u.buffer,
      groupOf.buffer,
      scales[0].buffer,
      scales[1].buffer,
      tbl.buffer,
      out.codes.buffer,
      out.dequantized.buffer,
      out.err.buffer,
    ],
    params,
    grid(rows, WG),
  );
  tbl.dispose();
  return out;
}

// Same f32 expressions as tableQuantize: v = x / enc (or x · enc), idx = #thresholds ≤ v,
// x̂ = (value · dec) · decode2.
function tableRound(q: { table: DecisionTable; mode: "div" | "mul" }): string {
  const n = q.table.values.length;
  if (n < 2 || q.table.thresholds.length !== n - 1 || q.table.codes.length !== n) {
    throw new RangeError(
      "gptqColumns: a decision table needs n ≥ 2 values, n codes, n−1 thresholds",
    );
  }
  return `
struct Rounded { code: u32, value: f32, }
fn quantize(x: f32, at: u32) -> Rounded {
  let v = ${q.mode === "div" ? "x / S0[at]" : "x * S0[at]"};
  var lo = 0u;
  var hi = ${n - 1}u;
  while (lo < hi) {
    let mid = (lo + hi) / 2u;
    if (TBL[${n}u + mid] <= v) { lo = mid + 1u; } else { hi = mid; }
  }
  return Rounded(bitcast<u32>(TBL[${2 * n - 1}u + lo]), (TBL[lo] * S1[at]) * p.decode2);
}`;
}

// Same f32 expressions as affineQuantize: q = clamp(round(x / s) + z), x̂ = (q − z) · s.
function affineRound(): string {
  return `
struct Rounded { code: u32, value: f32, }
fn quantize(x: f32, at: u32) -> Rounded {
  _ = TBL[0]; // unused by affine rounding, but bound
  let v = x / S0[at];
  let q = clamp(round(v) + S1[at], p.qmin, p.qmax);
  return Rounded(bitcast<u32>(i32(q)) & p.mask, (q - S1[at]) * S0[at]);
}`;
}

/**
 * The diagonal of a square matrix `[n, n]` as a new `[n]` tensor.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { diagonal } from "./gptq.ts";
 * await initGPU();
 * using h = Tensor.fromArray([[1, 2], [3, 4]]);
 * using d = diagonal(h);
 * console.log(await d.data()); // Float32Array [1, 4]
 * ```
 */
export function diagonal(h: Tensor): Tensor {
  expectDType("diagonal", h, "f32");
  expectRank("diagonal", h, 2);
  const n = h.shape[0];
  if (h.shape[1] !== n) throw new RangeError(`diagonal: ${h} is not square`);
  const d = Tensor.empty([n]);
  if (n === 0) return d;
  const code = `
struct P { n: u32, }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> H: array<f32>;
@group(0) @binding(2) var<storage, read_write> D: array<f32>;
@compute @workgroup_size(64) fn main(${ENTRY_BUILTINS}) {
  let i = ${linearIndex(64)};
  if (i < p.n) { D[i] = H[i * p.n + i]; }
}`;
  dispatch("diagonal", code, [h.buffer, d.buffer], new Params().u(n), grid(n, 64));
  return d;
}

/**
 * Sets the diagonal of a square f32 matrix in place: H_ii = d_i (the caller
 * computes the new diagonal, e.g. damped, on the CPU).
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { setDiagonal } from "./gptq.ts";
 * await initGPU();
 * using h = Tensor.fromArray([[1, 2], [3, 4]]);
 * setDiagonal(h, Float32Array.of(5, 6));
 * console.log(await h.data()); // Float32Array [5, 2, 3, 6]
 * ```
 */
export function setDiagonal(h: Tensor, d: Float32Array): void {
  expectDType("setDiagonal", h, "f32");
  expectRank("setDiagonal", h, 2);
  const n = h.shape[0];
  if (h.shape[1] !== n || d.length !== n) {
    throw new RangeError(`setDiagonal: ${h} must be square with ${d.length} rows`);
  }
  if (n === 0) return;
  using dt = Tensor.fromArray(d);
  const code = `
struct P { n: u32, }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> H: array<f32>;
@group(0) @binding(2) var<storage, read> D: array<f32>;
@compute @workgroup_size(64) fn main(${ENTRY_BUILTINS}) {
  let i = ${linearIndex(64)};
  if (i < p.n) { H[i * p.n + i] = D[i]; }
}`;
  dispatch("setDiagonal", code, [h.buffer, dt.buffer], new Params().u(n), grid(n, 64));
}
