/**
 * Pure-TS references for kernels/ops/layout.ts: every output element located
 * by its coordinates, with explicit loops.
 * @module
 */

/** Coordinates of flat index `i` in `shape`. */
export function coords(i: number, shape: readonly number[]): number[] {
  const c = new Array(shape.length).fill(0);
  for (let k = shape.length - 1; k >= 0; k--) {
    c[k] = i % shape[k];
    i = Math.floor(i / shape[k]);
  }
  return c;
}

/** Flat index of coordinates `c` in `shape`. */
export function flat(c: readonly number[], shape: readonly number[]): number {
  let i = 0;
  for (let k = 0; k < shape.length; k++) i = i * shape[k] + c[k];
  return i;
}

/** `y[c] = x[c permuted back]` for output dimension k = input dimension axes[k]. */
export function permuteRef(
  x: ArrayLike<number>,
  shape: readonly number[],
  axes: number[],
): number[] {
  const out = axes.map((a) => shape[a]);
  return Array.from({ length: x.length }, (_, i) => {
    const c = coords(i, out);
    const src = new Array(shape.length);
    axes.forEach((a, k) => (src[a] = c[k]));
    return Number(x[flat(src, shape)]);
  });
}

/** The block starts[k] ≤ c[k] < ends[k] (non-negative bounds). */
export function sliceRef(
  x: ArrayLike<number>,
  shape: readonly number[],
  starts: number[],
  ends: number[],
): number[] {
  const out = shape.map((_, k) => ends[k] - starts[k]);
  const n = out.reduce((p, d) => p * d, 1);
  return Array.from({ length: n }, (_, i) => {
    const c = coords(i, out).map((v, k) => v + starts[k]);
    return Number(x[flat(c, shape)]);
  });
}

/** Concatenation along `axis`: each output element comes from the part its coordinate falls in. */
export function concatRef(
  parts: { data: ArrayLike<number>; shape: readonly number[] }[],
  axis: number,
): number[] {
  const shape = [...parts[0].shape];
  shape[axis] = parts.reduce((p, t) => p + t.shape[axis], 0);
  const n = shape.reduce((p, d) => p * d, 1);
  return Array.from({ length: n }, (_, i) => {
    const c = coords(i, shape);
    let k = 0;
    while (c[axis] >= parts[k].shape[axis]) c[axis] -= parts[k++].shape[axis];
    return Number(parts[k].data[flat(c, parts[k].shape)]);
  });
}
