/**
 * Per-channel smoothing scales (AWQ, SmoothQuant): for s > 0,
 * y = x·Wᵀ = (x·diag(s)⁻¹)·(W·diag(s))ᵀ, so scaling a weight's input columns
 * by s and its input by 1/s (folded into the op that produces the input: an
 * RMSNorm weight, or the rows of the previous linear) leaves the float
 * function unchanged. Each transform's inverse is the same call with 1/s.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { reciprocal, scaleColumns } from "./smoothing.ts";
 * await initGPU();
 * using w = Tensor.fromArray([[1, 2], [3, 4]]);
 * using s = Tensor.fromArray([2, 0.5]);
 * using ws = scaleColumns(w, s);
 * using inv = reciprocal(s);
 * using back = scaleColumns(ws, inv);
 * console.log(await ws.toArray(), await back.toArray()); // [[2, 1], [6, 2]] [[1, 2], [3, 4]]
 * ```
 * @module
 */
import type { Tensor } from "../../kernels/tensor.ts";
import { div, mul } from "../../kernels/ops/elementwise.ts";

function check(what: string, w: Tensor, s: Tensor, n: number): void {
  if (s.rank !== 1 || s.shape[0] !== n) {
    throw new RangeError(`${what}: scales ${s} must have shape [${n}] for ${w}`);
  }
}

/**
 * W·diag(s): column j of `w` `[out, in]` times s_j (the weight side of a
 * smoothing transform on the input channels).
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { scaleColumns } from "./smoothing.ts";
 * await initGPU();
 * using y = scaleColumns(Tensor.fromArray([[1, 1]]), Tensor.fromArray([3, 4]));
 * console.log(await y.data()); // Float32Array [3, 4]
 * ```
 */
export function scaleColumns(w: Tensor, s: Tensor): Tensor {
  check("scaleColumns", w, s, w.shape[w.rank - 1]);
  using s2 = s.reshape([1, s.size]);
  return mul(w, s2);
}

/**
 * diag(s)·W: row i of `w` `[out, in]` times s_i (folds 1/s into the layer
 * that produces the next layer's input); a 1-D `w` (a bias or norm weight) is
 * scaled elementwise.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { scaleRows } from "./smoothing.ts";
 * await initGPU();
 * using y = scaleRows(Tensor.fromArray([[1, 1], [1, 1]]), Tensor.fromArray([3, 4]));
 * console.log(await y.data()); // Float32Array [3, 3, 4, 4]
 * ```
 */
export function scaleRows(w: Tensor, s: Tensor): Tensor {
  check("scaleRows", w, s, w.shape[0]);
  if (w.rank === 1) return mul(w, s);
  using s2 = s.reshape([s.size, 1]);
  return mul(w, s2);
}

/**
 * 1/s as a new tensor (the inverse transform's scales).
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { reciprocal } from "./smoothing.ts";
 * await initGPU();
 * using r = reciprocal(Tensor.fromArray([2, 4]));
 * console.log(await r.data()); // Float32Array [0.5, 0.25]
 * ```
 */
export function reciprocal(s: Tensor): Tensor {
  return div(1, s);
}
