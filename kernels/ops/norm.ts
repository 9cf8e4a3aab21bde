/**
 * Normalisation over the last axis: RMSNorm (Llama) and LayerNorm.
 *
 * One workgroup of 256 invocations per row for long rows (several short rows
 * per workgroup otherwise): the row statistics are accumulated in f32 and
 * combined through a tree in workgroup memory, then each invocation writes its
 * strided share of the row.
 *
 * Gradients: `norm_grad.ts` (recorded for x, weight and bias).
 *
 * Reference: `tests/reference/norm.ts`.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { rmsNorm } from "./norm.ts";
 * await initGPU();
 * using x = Tensor.fromArray([[3, 4]]);
 * using w = Tensor.fromArray([1, 2]);
 * using y = rmsNorm(x, w, 0);
 * console.log(await y.data()); // Float32Array [0.8485281, 2.2627418]
 * ```
 * @module
 */
import { dispatch, grid, Params } from "../runtime.ts";
import { Tensor } from "../tensor.ts";
import { rowLayout, rowReduceCode } from "./row_reduce.ts";
import { expectDType, header } from "./wgsl.ts";
import { record } from "../autograd.ts";
import { layerNormGrad, rmsNormGrad } from "./norm_grad.ts";

function checkParam(op: string, x: Tensor, p: Tensor | undefined, what: string): void {
  if (!p) return;
  const d = x.shape[x.rank - 1];
  if (p.rank !== 1 || p.shape[0] !== d) {
    throw new RangeError(
      `${op}: ${what} ${p.toString()} must have shape [${d}] (the last dimension of ${x.toString()})`,
    );
  }
  if (p.dtype !== x.dtype) {
    throw new TypeError(
      `${op}: ${what} ${p.toString()} has dtype ${p.dtype}; expected ${x.dtype} like the input ` +
        `(convert with cast(${what}, "${x.dtype}"))`,
    );
  }
}

function checkInput(op: string, x: Tensor, eps: number): void {
  expectDType(op, x, "f32", "f16");
  if (x.rank === 0) throw new RangeError(`${op}: ${x.toString()} is a scalar; expected [..., D]`);
  if (x.shape[x.rank - 1] === 0 && x.shape.slice(0, -1).every((d) => d > 0)) {
    throw new RangeError(`${op}: the last axis of ${x.toString()} is empty; nothing to normalise`);
  }
  if (!(eps >= 0) || !Number.isFinite(eps)) {
    throw new RangeError(`${op}: eps ${eps} must be a finite number ≥ 0`);
  }
}

/** Shared row kernel: `stat` accumulates, `write` produces each output from `x` and the stats. */
function rowKernel(
  label: string,
  x: Tensor,
  inputs: Tensor[],
  eps: number,
  state: string,
  write: string,
): Tensor {
  const y = Tensor.empty(x.shape, x.dtype);
  if (x.size === 0) return y;
  const D = x.shape[x.rank - 1];
  const rows = x.size / D;
  const { tx, ty } = rowLayout(D);
  const T = x.dtype;
  const decls = inputs.map((_, k) =>
    `@group(0) @binding(${k + 2}) var<storage, read> ${"WB"[k]}: array<${T}>;`
  ).join("\n");
  const code = rowReduceCode({
    decls: `${header(T)}
struct Params { rows: u32, d: u32, tx: u32, ty: u32, eps: f32, }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> X: array<${T}>;
${decls}
@group(0) @binding(${inputs.length + 2}) var<storage, read_write> Y: array<${T}>;
${state}`,
    accumulate: `let live = j < P.rows;
  let base = j * P.d;
  if (live) {
    for (var c = ly; c < P.d; c += P.ty) { st = s_add(st, f32(X[base + c])); }
  }`,
    finish: `st = sh[lx];
  if (live) {
    for (var c = ly; c < P.d; c += P.ty) {
      let x = f32(X[base + c]);
      ${write}
    }
  }`,
  });
  const params = new Params().u(rows, D, tx, ty).f(eps);
  const bufs = [x.buffer, ...inputs.map((t) => t.buffer), y.buffer];
  dispatch(label, code, bufs, params, grid(Math.ceil(rows / tx), 1));
  return y;
}

/**
 * RMSNorm over the last axis as Llama uses it:
 * `y = w · (x / √(mean(x²) + eps))`. The statistics are in f32; for f16
 * inputs the normalised value is rounded to f16 before the multiplication by
 * the f16 weight, exactly as HF transformers' `LlamaRMSNorm` does
 * (`weight * hidden.to(input_dtype)`).
 *
 * @param x input `[..., D]`, f32 or f16
 * @param weight `[D]`, same dtype as `x`
 * @param eps added to the mean square (Llama: 1e-5 or 1e-6); with eps 0 an all-zero row gives NaN
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { rmsNorm } from "./norm.ts";
 * await initGPU();
 * using x = Tensor.fromArray([[1, -1, 1, -1]]);
 * using w = Tensor.fromArray([1, 1, 2, 2]);
 * using y = rmsNorm(x, w, 1e-6);
 * console.log(await y.data()); // Float32Array [0.9999995, -0.9999995, 1.999999, -1.999999]
 * ```
 */
export function rmsNorm(x: Tensor, weight: Tensor, eps = 1e-6): Tensor {
  const op = "rmsNorm";
  checkInput(op, x, eps);
  checkParam(op, x, weight, "weight");
  const T = x.dtype;
  const state = `
alias S = f32;
fn s_init() -> S { return 0.0; }
fn s_add(s: S, x: f32) -> S { return s + x * x; }
fn s_comb(a: S, b: S) -> S { return a + b; }`;
  const write = `let r = inverseSqrt(st / f32(P.d) + P.eps);
      Y[base + c] = W[c] * ${T}(x * r);`;
  const y = rowKernel(op, x, [weight], eps, state, write);
  return record(op, [x, weight], y, [x, weight], (g, [x, w]) => rmsNormGrad(g, x, w, eps));
}

/**
 * LayerNorm over the last axis: `y = (x − mean) / √(var + eps) · w + b`
 * (population variance), with optional weight and bias; statistics by
 * Welford/Chan in f32 and the output rounded once (as PyTorch's kernel).
 *
 * @param x input `[..., D]`, f32 or f16
 * @param weight `[D]` or undefined (1)
 * @param bias `[D]` or undefined (0)
 * @param eps added to the variance (PyTorch default 1e-5)
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { layerNorm } from "./norm.ts";
 * await initGPU();
 * using x = Tensor.fromArray([[1, 3]]);
 * using b = Tensor.fromArray([10, 10]);
 * using y = layerNorm(x, undefined, b, 0);
 * console.log(await y.data()); // Float32Array [9, 11]
 * ```
 */
export function layerNorm(
  x: Tensor,
  weight?: Tensor,
  bias?: Tensor,
  eps = 1e-5,
): Tensor {
  const op = "layerNorm";
  checkInput(op, x, eps);
  checkParam(op, x, weight, "weight");
  checkParam(op, x, bias, "bias");
  const T = x.dtype;
  const inputs: Tensor[] = [];
  let wExpr = "1.0", bExpr = "0.0";
  // Inputs are bound as W then B in order; a missing one is simply not declared.
  if (weight) {
    inputs.push(weight);
    wExpr = "f32(W[c])";
  }
  if (bias) {
    inputs.push(bias);
    bExpr = weight ? "f32(B[c])" : "f32(W[c])";
  }
  const state = `
struct S { n: f32, m: f32, q: f32, }
fn s_init() -> S { return S(0.0, 0.0, 0.0); }
fn s_add(s: S, x: f32) -> S {
  let n = s.n + 1.0;
  let d = x - s.m;
  let m = s.m + d / n;
  return S(n, m, s.q + d * (x - m));
}
fn s_comb(a: S, b: S) -> S {
  if (b.n == 0.0) { return a; }
  if (a.n == 0.0) { return b; }
  let n = a.n + b.n;
  let d = b.m - a.m;
  return S(n, a.m + d * (b.n / n), a.q + b.q + d * d * (a.n * b.n / n));
}`;
  const write = `let r = inverseSqrt(st.q / st.n + P.eps);
      Y[base + c] = ${T}((x - st.m) * r * ${wExpr} + ${bExpr});`;
  const y = rowKernel(op, x, inputs, eps, state, write);
  return record(
    op,
    [x, weight, bias],
    y,
    weight ? [x, weight] : [x],
    (g, [x, w]) => layerNormGrad(g, x, w, !!bias, eps),
  );
}
