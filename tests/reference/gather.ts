/**
 * Pure-TS reference for kernels/ops/gather.ts: NumPy's `take` along an axis,
 * by explicit loops.
 * @module
 */

/** `take(data, ids, axis)` for `data` of `shape` and flat `ids`; returns the flat result. */
export function takeRef(
  data: ArrayLike<number>,
  shape: readonly number[],
  axis: number,
  ids: ArrayLike<number>,
): number[] {
  const outer = shape.slice(0, axis).reduce((p, d) => p * d, 1);
  const inner = shape.slice(axis + 1).reduce((p, d) => p * d, 1);
  const len = shape[axis];
  const out: number[] = [];
  for (let o = 0; o < outer; o++) {
    for (let k = 0; k < ids.length; k++) {
      for (let i = 0; i < inner; i++) out.push(Number(data[(o * len + ids[k]) * inner + i]));
    }
  }
  return out;
}
