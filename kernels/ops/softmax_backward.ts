/**
 * The softmax backward row step: given the probabilities `p = softmax(scale·x)`
 * of each last-axis row and the gradient `g = ∂L/∂p`, the gradient of the
 * inputs is
 *
 * ```text
 * ∂L/∂x = scale · p ⊙ (g − Σ_j g_j·p_j)        (one dot product per row)
 * ```
 *
 * One row reduction (the `row_reduce.ts` skeleton) forms the dot product in
 * f32 and the same workgroup writes the row. With `causal`, the rows are
 * `[..., T, S]` scores under the causal mask of `softmax(…, { causal: true })`:
 * masked entries are neither read (they may hold anything, e.g. the unwritten
 * upper tiles of a `lowerOnly` GEMM) nor summed, and their gradient is 0.
 * NaN in a row's live `p` or `g` makes that row's gradient NaN.
 *
 * Reference: `tests/reference/softmax_backward.ts`.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { softmaxBackward } from "./softmax_backward.ts";
 * await initGPU();
 * using p = Tensor.fromArray([[0.25, 0.75]]);
 * using g = Tensor.fromArray([[1, 0]]);
 * using dx = softmaxBackward(p, g); // 0.25·(1 − 0.25), 0.75·(0 − 0.25)
 * console.log(await dx.data()); // Float32Array [0.1875, -0.1875]
 * ```
 * @module
 */
import { dispatch, grid, Params } from "../runtime.ts";
import { Tensor } from "../tensor.ts";
import { rowLayout, rowReduceCode } from "./row_reduce.ts";
import { expectDType, header } from "./wgsl.ts";

/** Options of {@link softmaxBackward}. */
export interface SoftmaxBackwardOptions {
  /** The rows are causal scores `[..., T, S]` (the mask of `softmax`'s `causal`). Default false. */
  causal?: boolean;
  /** The scale the forward multiplied its inputs by. Default 1. */
  scale?: number;
  /** Output dtype; default `p`'s. */
  outDType?: "f32" | "f16";
}

/**
 * Gradient of softmax's inputs from its output `p` and the output gradient
 * `g` (same shape; f32 or f16 each, computed in f32). Returns a new tensor
 * of `p`'s shape, owned by the caller.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { softmaxBackward } from "./softmax_backward.ts";
 * await initGPU();
 * // causal 2×2 scores: row 0 sees only key 0, so its gradient is 0
 * using p = Tensor.fromArray([[1, 123], [0.5, 0.5]]);
 * using g = Tensor.fromArray([[5, 456], [1, 3]]);
 * using dx = softmaxBackward(p, g, { causal: true, scale: 2 });
 * console.log(await dx.data()); // Float32Array [0, 0, -1, 1]
 * ```
 */
export function softmaxBackward(
  p: Tensor,
  g: Tensor,
  options: SoftmaxBackwardOptions = {},
): Tensor {
  const op = "softmaxBackward";
  expectDType(op, p, "f32", "f16");
  expectDType(op, g, "f32", "f16");
  if (p.rank === 0) throw new RangeError(`${op}: p ${p} is a scalar; softmax needs a last axis`);
  if (g.rank !== p.rank || g.shape.some((d, i) => d !== p.shape[i])) {
    throw new RangeError(`${op}: the gradient ${g} must have the shape of the probabilities ${p}`);
  }
  const scale = options.scale ?? 1;
  if (!Number.isFinite(scale)) throw new RangeError(`${op}: scale ${scale} is not finite`);
  const causal = options.causal ?? false;
  const S = p.shape[p.rank - 1];
  let T = 1;
  if (causal) {
    if (p.rank < 2) {
      throw new RangeError(`${op}: the causal mask needs scores [..., T, S]; got ${p}`);
    }
    T = p.shape[p.rank - 2];
    if (T > S) {
      throw new RangeError(
        `${op}: causal scores ${p} have T = ${T} queries but only S = ${S} keys; expected T ≤ S`,
      );
    }
  }
  const out = options.outDType ?? p.dtype;
  if (out !== "f32" && out !== "f16") {
    throw new TypeError(`${op}: outDType "${out}" is not supported; use "f32" or "f16"`);
  }
  const y = Tensor.empty(p.shape, out);
  if (p.size === 0) return y;
  const rows = p.size / S;
  const { tx, ty } = rowLayout(S);
  const dts = [...new Set([p.dtype, g.dtype, out])];
  const valid = causal ? "c <= (j % P.t) + P.off" : "true";
  const code = rowReduceCode({
    decls: `${header(...dts)}
struct Params { rows: u32, s: u32, t: u32, off: u32, tx: u32, ty: u32, scale: f32, }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> Pr: array<${p.dtype}>;
@group(0) @binding(2) var<storage, read> G: array<${g.dtype}>;
@group(0) @binding(3) var<storage, read_write> Y: array<${out}>;
alias S = f32;
fn s_init() -> S { return 0.0; }
fn s_comb(a: S, b: S) -> S { return a + b; }`,
    accumulate: `let live = j < P.rows;
  let base = j * P.s;
  if (live) {
    for (var c = ly; c < P.s; c += P.ty) {
      if (${valid}) { st += f32(Pr[base + c]) * f32(G[base + c]); }
    }
  }`,
    finish: `let dot = sh[lx];
  if (live) {
    for (var c = ly; c < P.s; c += P.ty) {
      var d = 0.0;
      if (${valid}) { d = P.scale * f32(Pr[base + c]) * (f32(G[base + c]) - dot); }
      Y[base + c] = ${out}(d);
    }
  }`,
  });
  const params = new Params().u(rows, S, T, S - T, tx, ty).f(scale);
  dispatch(op, code, [p.buffer, g.buffer, y.buffer], params, grid(Math.ceil(rows / tx), 1));
  return y;
}
