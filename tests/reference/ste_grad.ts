/**
 * Pure-TS reference of `kernels/quantize/ste_grad.ts`: the straight-through
 * gradient of fake quantization, element by element.
 * @module
 */

/**
 * gx[i] = NaN where x[i] is NaN; else 0 where bounds are given and x[i] lies
 * outside [lo[g], hi[g]] of its group g; else gy[i]. Groups are runs of
 * `groupSize` in row-major order, or with `columns` the columns of a
 * [groupSize, n] matrix.
 */
export function steGradRef(
  gy: ArrayLike<number>,
  x: ArrayLike<number>,
  o: { groupSize: number; lo?: ArrayLike<number>; hi?: ArrayLike<number>; columns?: number },
): Float64Array {
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) {
    const g = o.columns ? i % o.columns : Math.floor(i / o.groupSize);
    if (Number.isNaN(x[i])) out[i] = NaN;
    else if (o.lo && o.hi && (x[i] < o.lo[g] || x[i] > o.hi[g])) out[i] = 0;
    else out[i] = gy[i];
  }
  return out;
}
