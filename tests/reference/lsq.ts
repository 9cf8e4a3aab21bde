/**
 * Pure-TS (f64) reference of LSQ / LSQ+ (`quant/qat/lsq.ts`): the forward and
 * the paper's gradients, written element by element from the formulas.
 * @module
 */

/** Round half to even. */
export function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * x̂ = clamp(⌊(x−β)/s⌉, −qn, qp)·s + β and, for the upstream gradient gy:
 * gx = gy inside (−qn ≤ v ≤ qp), 0 outside, NaN for NaN x; gs[k] = g·Σ gy·(⌊v⌉ − v | −qn | qp);
 * gb[k] = g·Σ gy·(0 inside | 1 outside). `stepOf(i)` gives element i's step index.
 */
export function lsqRef(
  x: ArrayLike<number>,
  s: ArrayLike<number>,
  b: ArrayLike<number> | undefined,
  gy: ArrayLike<number>,
  o: { qn: number; qp: number; g: number; stepOf: (i: number) => number },
): { y: Float64Array; gx: Float64Array; gs: Float64Array; gb: Float64Array } {
  const y = new Float64Array(x.length), gx = new Float64Array(x.length);
  const gs = new Float64Array(s.length), gb = new Float64Array(s.length);
  for (let i = 0; i < x.length; i++) {
    const k = o.stepOf(i);
    const beta = b ? b[k] : 0;
    const v = (x[i] - beta) / s[k];
    const q = Math.min(Math.max(roundHalfEven(v), -o.qn), o.qp);
    y[i] = q * s[k] + beta;
    let ds: number, db: number;
    if (Number.isNaN(v)) [gx[i], ds, db] = [NaN, NaN, 0];
    else if (v < -o.qn) [gx[i], ds, db] = [0, -o.qn, 1];
    else if (v > o.qp) [gx[i], ds, db] = [0, o.qp, 1];
    else [gx[i], ds, db] = [gy[i], roundHalfEven(v) - v, 0];
    gs[k] += o.g * gy[i] * ds;
    gb[k] += o.g * gy[i] * db;
  }
  return { y, gx, gs, gb };
}
