/**
 * Pure-TS reference of EfficientQAT's group quantizer and its
 * straight-through gradients (quant/qat/efficientqat_linear.ts), in f64.
 * @module
 */

/** Round half to even (the GPU's `round`). */
export function roundEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * Ŵ = (clamp(⌊w/s⌉ + ⌊clamp(z)⌉, 0, qmax) − ⌊clamp(z)⌉)·s for w `[rows, cols]`
 * (row-major) with `groups` steps per row, and the STE gradients for the
 * upstream gradient `gy`: ⌊·⌉ passes gradients, clamp passes them on
 * lo ≤ x ≤ hi (inclusive).
 */
export function efficientQuantRef(
  w: ArrayLike<number>,
  s: ArrayLike<number>,
  z: ArrayLike<number>,
  gy: ArrayLike<number>,
  o: { rows: number; cols: number; bits: number },
): { y: number[]; codes: number[]; gw: number[]; gs: number[]; gz: number[] } {
  const qmax = 2 ** o.bits - 1;
  const groups = s.length / o.rows, gsize = o.cols / groups;
  const y: number[] = [], codes: number[] = [], gw: number[] = [];
  const gs = new Array(s.length).fill(0), gz = new Array(s.length).fill(0);
  for (let i = 0; i < o.rows * o.cols; i++) {
    const k = Math.floor(i / o.cols) * groups + Math.floor((i % o.cols) / gsize);
    const zInside = z[k] >= 0 && z[k] <= qmax ? 1 : 0;
    const zr = roundEven(Math.min(Math.max(z[k], 0), qmax));
    const v = w[i] / s[k];
    const u = roundEven(v) + zr;
    const inside = u >= 0 && u <= qmax ? 1 : 0;
    const q = Math.min(Math.max(u, 0), qmax);
    codes.push(q);
    y.push((q - zr) * s[k]);
    gw.push(gy[i] * inside);
    gs[k] += gy[i] * ((q - zr) - inside * v);
    gz[k] += gy[i] * s[k] * (inside - 1) * zInside;
  }
  return { y, codes, gw, gs, gz };
}
