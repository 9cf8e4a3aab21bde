/**
 * Pure-TS references for kernels/ops/reduce.ts: f64 loops over each output,
 * obviously correct and slow. NaN follows the kernels' documented rules.
 * @module
 */

/** Reduces `data` of `shape` along `axis` with `f` (given the row's values in order). */
export function reduceAxisRef(
  data: ArrayLike<number>,
  shape: readonly number[],
  axis: number,
  f: (row: number[]) => number,
): { data: Float64Array; shape: number[] } {
  const a = axis < 0 ? axis + shape.length : axis;
  const outer = shape.slice(0, a).reduce((p, d) => p * d, 1);
  const len = shape[a];
  const inner = shape.slice(a + 1).reduce((p, d) => p * d, 1);
  const out = new Float64Array(outer * inner);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const row: number[] = [];
      for (let k = 0; k < len; k++) row.push(Number(data[(o * len + k) * inner + i]));
      out[o * inner + i] = f(row);
    }
  }
  return { data: out, shape: shape.filter((_, i) => i !== a) };
}

const hasNaN = (r: number[]) => r.some(Number.isNaN);

/** Reference reductions over one row, in f64. */
export const REDUCE_REF: Record<string, (r: number[]) => number> = {
  sum: (r) => r.reduce((a, b) => a + b, 0),
  mean: (r) => r.reduce((a, b) => a + b, 0) / r.length,
  max: (r) => (hasNaN(r) ? NaN : Math.max(...r)),
  min: (r) => (hasNaN(r) ? NaN : Math.min(...r)),
  absmax: (r) => (hasNaN(r) ? NaN : Math.max(...r.map(Math.abs))),
  norm2: (r) => Math.sqrt(r.reduce((a, b) => a + b * b, 0)),
  rms: (r) => Math.sqrt(r.reduce((a, b) => a + b * b, 0) / r.length),
  argmax: (r) => {
    const n = r.findIndex(Number.isNaN);
    if (n >= 0) return n;
    let best = 0;
    for (let k = 1; k < r.length; k++) if (r[k] > r[best]) best = k;
    return best;
  },
  argmin: (r) => {
    const n = r.findIndex(Number.isNaN);
    if (n >= 0) return n;
    let best = 0;
    for (let k = 1; k < r.length; k++) if (r[k] < r[best]) best = k;
    return best;
  },
  variance: (r) => varianceRef(r, 0),
  varianceUnbiased: (r) => varianceRef(r, 1),
  std: (r) => Math.sqrt(varianceRef(r, 0)),
};

/** Two-pass variance in f64 with `ddof` (NaN when n ≤ ddof). */
export function varianceRef(r: number[], ddof: number): number {
  if (r.length <= ddof) return NaN;
  const m = r.reduce((a, b) => a + b, 0) / r.length;
  return r.reduce((a, b) => a + (b - m) ** 2, 0) / (r.length - ddof);
}
