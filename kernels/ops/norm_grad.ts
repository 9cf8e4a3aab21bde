/**
 * Backward rules of the normalisations (`norm.ts` records them). Each norm
 * has one fused row kernel on the row-reduction skeleton (`row_reduce.ts`)
 * that recomputes the row statistics, reduces the two sums the input
 * gradient needs and writes it, plus one column reduction over the rows for
 * the weight (and bias) gradients, in a fixed order (same inputs, same bits).
 *
 * ```text
 * RMSNorm   n = x·r, r = 1/√(mean(x²) + eps), y = w·n,   ĝ = g·w
 *   dx = r·ĝ − x · r³ · Σ(ĝ·x) / D        dw = Σ_rows g·n
 * LayerNorm x̂ = (x − μ)·r, r = 1/√(var + eps), y = w·x̂ + b,   ĝ = g·w
 *   dx = r · (ĝ − Σĝ/D − x̂ · Σ(ĝ·x̂)/D)    dw = Σ_rows g·x̂    db = Σ_rows g
 * ```
 *
 * Σ(ĝ·x̂) is accumulated around the row's first element K (Σĝ·(x − K), then
 * shifted to the mean) so a large mean does not cancel it away. Sums are in
 * f32 for f16 inputs and each gradient is rounded once; the f16 RMSNorm's
 * rounding of n before × w is passed straight through (its derivative is
 * taken as 1), while dw uses the rounded n the forward multiplied by. A NaN
 * in a row gives NaN gradients for that row (and for the weight); with
 * eps = 0 an all-zero row is NaN forward and backward.
 *
 * Reference: `tests/kernels/autograd/norm_grad_test.ts` (f64 finite differences).
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { rmsNormGrad } from "./norm_grad.ts";
 * await initGPU();
 * using x = Tensor.fromArray([[3, 4]]);
 * using w = Tensor.fromArray([1, 1]);
 * using g = Tensor.fromArray([[1, 0]]);
 * const [dx, dw] = rmsNormGrad(g, x, w, 0);
 * console.log(await dx.data(), await dw.data()); // Float32Array [0.18101934, -0.13576451] Float32Array [0.84852815, 0]
 * dx.dispose();
 * dw.dispose();
 * ```
 * @module
 */
import type { DType } from "../dtype.ts";
import { dispatch, grid, Params } from "../runtime.ts";
import { Tensor } from "../tensor.ts";
import { rowLayout, rowReduceCode } from "./row_reduce.ts";
import { header } from "./wgsl.ts";

/** Rows and row length of a `[..., D]` input. */
function dims(x: Tensor): { rows: number; D: number } {
  const D = x.shape[x.rank - 1];
  return { rows: D === 0 ? 0 : x.size / D, D };
}

/**
 * Column sums over the rows: `dw[c] = Σ_r g·n̂`, `db[c] = Σ_r g`, where `nhat`
 * is a WGSL expression of `x` (f32), the row `r` and the statistics `R`.
 */
function columnGrads(
  label: string,
  g: Tensor,
  x: Tensor,
  stats: Tensor,
  nhat: string,
  wantW: boolean,
  wantB: boolean,
): [Tensor | undefined, Tensor | undefined] {
  const { rows, D } = dims(x);
  const T = x.dtype;
  const dw = wantW ? Tensor.empty([D], T) : undefined;
  const db = wantB ? Tensor.empty([D], T) : undefined;
  if (!dw && !db) return [undefined, undefined];
  const outs = [dw, db].filter((t): t is Tensor => !!t);
  const { tx, ty } = rowLayout(rows, D);
  const decl = (name: string, k: number) =>
    `@group(0) @binding(${k}) var<storage, read_write> ${name}: array<${T}>;`;
  const writes: string[] = [];
  if (dw) writes.push(`DW[j] = ${T}(st.x);`);
  if (db) writes.push(`${dw ? "DB" : "DW"}[j] = ${T}(st.y);`);
  const code = rowReduceCode({
    decls: `${header(T)}
struct Params { rows: u32, d: u32, tx: u32, ty: u32, }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> X: array<${T}>;
@group(0) @binding(2) var<storage, read> G: array<${T}>;
@group(0) @binding(3) var<storage, read> R: array<f32>;
${decl("DW", 4)}
${outs.length === 2 ? decl("DB", 5) : ""}
alias S = vec2f;
fn s_init() -> S { return vec2f(0.0); }
fn s_comb(a: S, b: S) -> S { return a + b; }`,
    accumulate: `let live = j < P.d;
  if (live) {
    for (var r = ly; r < P.rows; r += P.ty) {
      let i = r * P.d + j;
      let x = f32(X[i]);
      let g = f32(G[i]);
      st += vec2f(g * (${nhat}), g);
    }
  }`,
    finish: `if (live && ly == 0u) {
    st = sh[lx];
    ${writes.join("\n    ")}
  }`,
  });
  const bufs = [x.buffer, g.buffer, stats.buffer, ...outs.map((t) => t.buffer)];
  dispatch(
    `${label} weight`,
    code,
    bufs,
    new Params().u(rows, D, tx, ty),
    grid(Math.ceil(D / tx), 1),
  );
  return [dw, db];
}

/** The fused input-gradient row kernel: writes `dx` and the row statistics. */
function rowGrad(
  label: string,
  g: Tensor,
  x: Tensor,
  w: Tensor | undefined,
  eps: number,
  nStats: number,
  state: string,
  accumulate: string,
  finish: string,
): { dx: Tensor; stats: Tensor } {
  const { rows, D } = dims(x);
  const T: DType = x.dtype;
  const dx = Tensor.empty(x.shape, T);
  const stats = Tensor.empty([Math.max(1, rows * nStats)], "f32");
  if (rows === 0) return { dx, stats };
  const { tx, ty } = rowLayout(D);
  const gw = w ? "f32(G[base + c]) * f32(W[c])" : "f32(G[base + c])";
  const code = rowReduceCode({
    decls: `${header(T)}
struct Params { rows: u32, d: u32, tx: u32, ty: u32, eps: f32, }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> X: array<${T}>;
@group(0) @binding(2) var<storage, read> G: array<${T}>;
@group(0) @binding(3) var<storage, read_write> DX: array<${T}>;
@group(0) @binding(4) var<storage, read_write> R: array<f32>;
${w ? `@group(0) @binding(5) var<storage, read> W: array<${T}>;` : ""}
${state}`,
    accumulate: `let live = j < P.rows;
  let base = j * P.d;
  let K = select(0.0, f32(X[min(base, arrayLength(&X) - 1u)]), live);
  if (live) {
    for (var c = ly; c < P.d; c += P.ty) {
      let x = f32(X[base + c]);
      let gw = ${gw};
      ${accumulate}
    }
  }`,
    finish: `st = sh[lx];
  if (live) {
    let n = f32(P.d);
    ${finish.split("\n").join("\n    ")}
  }`,
  });
  const bufs = [x.buffer, g.buffer, dx.buffer, stats.buffer, ...(w ? [w.buffer] : [])];
  dispatch(
    label,
    code,
    bufs,
    new Params().u(rows, D, tx, ty).f(eps),
    grid(Math.ceil(rows / tx), 1),
  );
  return { dx, stats };
}

/**
 * Gradients of `y = rmsNorm(x, weight, eps)` given the output gradient `g`:
 * `[dx, dweight]`, both new tensors owned by the caller (x's dtype).
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { rmsNormGrad } from "./norm_grad.ts";
 * await initGPU();
 * using x = Tensor.fromArray([[1, -1]]);
 * using w = Tensor.fromArray([2, 2]);
 * using g = Tensor.fromArray([[1, 1]]);
 * const [dx, dw] = rmsNormGrad(g, x, w, 0);
 * console.log(await dx.data(), await dw.data()); // Float32Array [2, 2] Float32Array [1, -1]
 * dx.dispose();
 * dw.dispose();
 * ```
 */
export function rmsNormGrad(g: Tensor, x: Tensor, weight: Tensor, eps: number): [Tensor, Tensor] {
  const label = "rmsNorm backward";
  const state = `
alias S = vec2f; // (Σx², Σĝ·x)
fn s_init() -> S { return vec2f(0.0); }
fn s_comb(a: S, b: S) -> S { return a + b; }`;
  const { dx, stats } = rowGrad(
    label,
    g,
    x,
    weight,
    eps,
    1,
    state,
    "st += vec2f(x * x, gw * x);",
    `let r = inverseSqrt(st.x / n + P.eps);
if (ly == 0u) { R[j] = r; }
let k = r * r * r * st.y / n;
for (var c = ly; c < P.d; c += P.ty) {
  let x = f32(X[base + c]);
  DX[base + c] = ${x.dtype}(r * f32(G[base + c]) * f32(W[c]) - x * k);
}`,
  );
  try {
    // dw uses n as the forward multiplied it: rounded to f16 on the f16 path.
    const nhat = x.dtype === "f16" ? "f32(f16(x * R[r]))" : "x * R[r]";
    const [dw] = columnGrads(label, g, x, stats, nhat, true, false);
    return [dx, dw!];
  } finally {
    stats.dispose();
  }
}

/**
 * Gradients of `y = layerNorm(x, weight, bias, eps)` given the output
 * gradient `g`: `[dx, dweight, dbias]` (`undefined` for an absent weight or
 * bias), new tensors owned by the caller.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { layerNormGrad } from "./norm_grad.ts";
 * await initGPU();
 * using x = Tensor.fromArray([[1, 3]]);
 * using g = Tensor.fromArray([[1, 0]]);
 * const [dx, dw, db] = layerNormGrad(g, x, undefined, true, 0);
 * console.log(await dx.data(), dw, await db!.data()); // Float32Array [0, 0] undefined Float32Array [1, 0]
 * dx.dispose();
 * db!.dispose();
 * ```
 */
export function layerNormGrad(
  g: Tensor,
  x: Tensor,
  weight: Tensor | undefined,
  hasBias: boolean,
  eps: number,
): [Tensor, Tensor | undefined, Tensor | undefined] {
  const label = "layerNorm backward";
  const state = `
// Welford/Chan (count, mean, M2) with Σĝ and Σĝ·(x − K), K the row's first element.
struct S { n: f32, m: f32, q: f32, sg: f32, sgx: f32, }
fn s_init() -> S { return S(0.0, 0.0, 0.0, 0.0, 0.0); }
fn s_comb(a: S, b: S) -> S {
  if (b.n == 0.0) { return a; }
  if (a.n == 0.0) { return b; }
  let n = a.n + b.n;
  let d = b.m - a.m;
  return S(n, a.m + d * (b.n / n), a.q + b.q + d * d * (a.n * b.n / n), a.sg + b.sg,
    a.sgx + b.sgx);
}`;
  const accumulate = `let n1 = st.n + 1.0;
      let d = x - st.m;
      let m1 = st.m + d / n1;
      st = S(n1, m1, st.q + d * (x - m1), st.sg + gw, st.sgx + gw * (x - K));`;
  const gwc = weight ? "f32(G[base + c]) * f32(W[c])" : "f32(G[base + c])";
  const finish = `let r = inverseSqrt(st.q / st.n + P.eps);
if (ly == 0u) { R[2u * j] = st.m; R[2u * j + 1u] = r; }
let sgxh = r * (st.sgx - (st.m - K) * st.sg);
for (var c = ly; c < P.d; c += P.ty) {
  let xh = (f32(X[base + c]) - st.m) * r;
  DX[base + c] = ${x.dtype}(r * (${gwc} - st.sg / n - xh * sgxh / n));
}`;
  const { dx, stats } = rowGrad(label, g, x, weight, eps, 2, state, accumulate, finish);
  try {
    const [dw, db] = columnGrads(
      label,
      g,
      x,
      stats,
      "(x - R[2u * r]) * R[2u * r + 1u]",
      !!weight,
      hasBias,
    );
    return [dx, dw, db];
  } finally {
    stats.dispose();
  }
}
