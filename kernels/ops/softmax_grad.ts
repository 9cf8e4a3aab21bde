/**
 * Backward rules of `softmax` and `logSoftmax` (`softmax.ts` records them),
 * one row-reduction kernel each on the skeleton of `row_reduce.ts`, reading
 * the saved output y rather than recomputing it:
 *
 * ```text
 * softmax      y = softmax(s·x)       dx = s · y ⊙ (g − Σ g⊙y)
 * logSoftmax   y = logSoftmax(s·x)    dx = s · (g − exp(y) · Σ g)
 * ```
 *
 * The sums run over the row's unmasked entries only; masked entries of the
 * causal variant get a zero gradient whatever their upstream gradient. A NaN
 * anywhere in a row makes the forward row NaN and so its gradient. f16 is
 * computed in f32 and rounded once.
 *
 * Reference: `tests/kernels/autograd/softmax_grad_test.ts` (f64 finite differences).
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { softmaxGrad } from "./softmax_grad.ts";
 * await initGPU();
 * using y = Tensor.fromArray([[0.25, 0.75]]);
 * using g = Tensor.fromArray([[1, 0]]);
 * using dx = softmaxGrad(g, y, false, {});
 * console.log(await dx.data()); // Float32Array [0.1875, -0.1875]
 * ```
 * @module
 */
import { dispatch, grid, Params } from "../runtime.ts";
import { Tensor } from "../tensor.ts";
import { rowLayout, rowReduceCode } from "./row_reduce.ts";
import type { SoftmaxOptions } from "./softmax.ts";
import { header } from "./wgsl.ts";

/**
 * The gradient of `y = softmax(x, options)` (or of `logSoftmax` with `log`)
 * given the output gradient `g` and the output `y`: a new tensor of y's
 * shape and dtype, owned by the caller. The options are the forward's.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { softmaxGrad } from "./softmax_grad.ts";
 * await initGPU();
 * using y = Tensor.fromArray([[Math.log(0.5), Math.log(0.5)]]); // logSoftmax of [0, 0]
 * using g = Tensor.fromArray([[1, 1]]);
 * using dx = softmaxGrad(g, y, true, { scale: 2 });
 * console.log(await dx.data()); // Float32Array [0, 0]
 * ```
 */
export function softmaxGrad(g: Tensor, y: Tensor, log: boolean, options: SoftmaxOptions): Tensor {
  const label = `${log ? "logSoftmax" : "softmax"} backward`;
  const S = y.shape[y.rank - 1];
  const rows = S === 0 ? 0 : y.size / S;
  const causal = options.causal ?? false;
  const T = causal ? y.shape[y.rank - 2] : 1;
  const dx = Tensor.empty(y.shape, y.dtype);
  if (rows === 0) return dx;
  const { tx, ty } = rowLayout(S);
  const Ty = y.dtype;
  const valid = causal ? "c <= (j % P.t) + P.off" : "true";
  const term = log ? "g" : "g * y";
  const out = log ? "g - exp(y) * st" : "y * (g - st)";
  const code = rowReduceCode({
    decls: `${header(Ty)}
struct Params { rows: u32, s: u32, t: u32, off: u32, tx: u32, ty: u32, scale: f32, }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> G: array<${Ty}>;
@group(0) @binding(2) var<storage, read> Y: array<${Ty}>;
@group(0) @binding(3) var<storage, read_write> DX: array<${Ty}>;
alias S = f32;
fn s_init() -> S { return 0.0; }
fn s_comb(a: S, b: S) -> S { return a + b; }`,
    accumulate: `let live = j < P.rows;
  let base = j * P.s;
  if (live) {
    for (var c = ly; c < P.s; c += P.ty) {
      if (${valid}) {
        let g = f32(G[base + c]);
        let y = f32(Y[base + c]);
        st += ${term};
      }
    }
  }`,
    finish: `st = sh[lx];
  if (live) {
    for (var c = ly; c < P.s; c += P.ty) {
      let g = f32(G[base + c]);
      let y = f32(Y[base + c]);
      DX[base + c] = ${Ty}(select(0.0, P.scale * (${out}), ${valid}));
    }
  }`,
  });
  const params = new Params().u(rows, S, T, S - T, tx, ty).f(options.scale ?? 1);
  dispatch(label, code, [g.buffer, y.buffer, dx.buffer], params, grid(Math.ceil(rows / tx), 1));
  return dx;
}
