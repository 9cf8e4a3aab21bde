/**
 * Pure-TS references for kernels/ops/softmax.ts, in f64: one row at a time,
 * the textbook formula with the row maximum subtracted.
 * @module
 */

/**
 * Softmax (or log-softmax) of every last-axis row of `data` (shape `[..., T, S]`
 * when `causal`), with inputs multiplied by `scale` first.
 */
export function softmaxRef(
  data: ArrayLike<number>,
  shape: readonly number[],
  { log = false, causal = false, scale = 1 } = {},
): Float64Array {
  const S = shape[shape.length - 1];
  const T = causal ? shape[shape.length - 2] : 1;
  const out = new Float64Array(data.length);
  for (let r = 0; r < data.length / S; r++) {
    const i = r % T;
    const ok = (j: number) => !causal || j <= i + (S - T);
    const row = Array.from({ length: S }, (_, j) => Number(data[r * S + j]) * scale);
    const live = row.filter((_, j) => ok(j));
    const m = Math.max(...live);
    let z = 0;
    for (const v of live) z += v === m ? 1 : Math.exp(v - m);
    for (let j = 0; j < S; j++) {
      const v = row[j];
      const e = v === m ? 1 : Math.exp(v - m);
      out[r * S + j] = log ? (ok(j) ? v - m - Math.log(z) : -Infinity) : (ok(j) ? e / z : 0);
      if (live.some(Number.isNaN)) out[r * S + j] = NaN;
    }
  }
  return out;
}
