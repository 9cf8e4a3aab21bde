/**
 * Pure-TS references for kernels/ops/linalg.ts in f64: textbook Cholesky
 * (Cholesky–Banachiewicz) and forward/back substitution. Matrices are flat
 * row-major arrays.
 * @module
 */

/** Lower L with A = L·Lᵀ; throws on a non-positive pivot. */
export function choleskyRef(a: ArrayLike<number>, n: number): Float64Array {
  const l = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let s = a[i * n + j];
      for (let k = 0; k < j; k++) s -= l[i * n + k] * l[j * n + k];
      if (i === j) {
        if (!(s > 0)) throw new RangeError(`not positive definite at column ${j}`);
        l[i * n + i] = Math.sqrt(s);
      } else {
        l[i * n + j] = s / l[j * n + j];
      }
    }
  }
  return l;
}

/** Transpose of an r×c matrix. */
export function transposeRef(a: ArrayLike<number>, r: number, c: number): Float64Array {
  const t = new Float64Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) t[j * r + i] = a[i * c + j];
  return t;
}

/** Product of an r×k and a k×c matrix. */
export function mulRef(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  r: number,
  k: number,
  c: number,
) {
  const y = new Float64Array(r * c);
  for (let i = 0; i < r; i++) {
    for (let j = 0; j < c; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += a[i * k + p] * b[p * c + j];
      y[i * c + j] = s;
    }
  }
  return y;
}

/**
 * Solves T·X = B for a triangular n×n T (lower: forward substitution; upper:
 * back substitution) and B n×m; only T's triangle is read.
 */
export function triSolveRef(
  t: ArrayLike<number>,
  b: ArrayLike<number>,
  n: number,
  m: number,
  lower: boolean,
): Float64Array {
  const x = Float64Array.from(b);
  for (let c = 0; c < m; c++) {
    for (let s = 0; s < n; s++) {
      const i = lower ? s : n - 1 - s;
      let v = x[i * m + c];
      if (lower) { for (let k = 0; k < i; k++) v -= t[i * n + k] * x[k * m + c]; }
      else for (let k = i + 1; k < n; k++) v -= t[i * n + k] * x[k * m + c];
      x[i * m + c] = v / t[i * n + i];
    }
  }
  return x;
}

/** Frobenius norm of a − b (or of a alone). */
export function frobRef(a: ArrayLike<number>, b?: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i] - (b ? b[i] : 0)) ** 2;
  return Math.sqrt(s);
}
