/**
 * Pure-TS (f64) reference of PACT (`quant/qat/pact.ts`): the forward and the
 * paper's straight-through gradients, element by element.
 * @module
 */
import { roundHalfEven } from "./lsq.ts";

/**
 * y_q = ⌊clip(x, 0, α)·(2^k−1)/α⌉·α/(2^k−1); gx = gy where 0 ≤ x < α (NaN for
 * NaN x), 0 elsewhere; gα = Σ gy where x ≥ α.
 */
export function pactRef(
  x: ArrayLike<number>,
  alpha: number,
  gy: ArrayLike<number>,
  bits: number,
): { y: Float64Array; gx: Float64Array; ga: number } {
  const levels = 2 ** bits - 1;
  const s = alpha / levels;
  const y = new Float64Array(x.length), gx = new Float64Array(x.length);
  let ga = 0;
  for (let i = 0; i < x.length; i++) {
    const c = Math.min(Math.max(x[i], 0), alpha);
    y[i] = roundHalfEven(c / s) * s;
    if (Number.isNaN(x[i])) gx[i] = NaN;
    else if (x[i] >= 0 && x[i] < alpha) gx[i] = gy[i];
    if (x[i] >= alpha) ga += gy[i];
  }
  return { y, gx, ga };
}
