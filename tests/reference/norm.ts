/**
 * Pure-TS references for kernels/ops/norm.ts, in f64, one row at a time.
 * @module
 */

/**
 * RMSNorm of each last-axis row: w · x / √(mean(x²) + eps). With `roundHalf`
 * (the f16 path) the normalised value is rounded to f16 before × w, as HF does.
 */
export function rmsNormRef(
  x: ArrayLike<number>,
  w: ArrayLike<number>,
  eps: number,
  roundHalf?: (v: number) => number,
): Float64Array {
  const D = w.length;
  const out = new Float64Array(x.length);
  for (let r = 0; r < x.length / D; r++) {
    let ss = 0;
    for (let c = 0; c < D; c++) ss += Number(x[r * D + c]) ** 2;
    const inv = 1 / Math.sqrt(ss / D + eps);
    for (let c = 0; c < D; c++) {
      const n = Number(x[r * D + c]) * inv;
      out[r * D + c] = Number(w[c]) * (roundHalf ? roundHalf(n) : n);
    }
  }
  return out;
}

/** LayerNorm of each last-axis row (two-pass mean and population variance). */
export function layerNormRef(
  x: ArrayLike<number>,
  D: number,
  w: ArrayLike<number> | undefined,
  b: ArrayLike<number> | undefined,
  eps: number,
): Float64Array {
  const out = new Float64Array(x.length);
  for (let r = 0; r < x.length / D; r++) {
    let m = 0;
    for (let c = 0; c < D; c++) m += Number(x[r * D + c]);
    m /= D;
    let v = 0;
    for (let c = 0; c < D; c++) v += (Number(x[r * D + c]) - m) ** 2;
    v /= D;
    const inv = 1 / Math.sqrt(v + eps);
    for (let c = 0; c < D; c++) {
      out[r * D + c] = (Number(x[r * D + c]) - m) * inv * (w ? Number(w[c]) : 1) +
        (b ? Number(b[c]) : 0);
    }
  }
  return out;
}
