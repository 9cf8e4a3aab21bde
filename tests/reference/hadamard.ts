/**
 * Pure-TS reference for kernels/ops/hadamard.ts: the explicit Sylvester
 * Hadamard matrix and a dense row-vector product in f64.
 * @module
 */

/** The n×n Sylvester Hadamard matrix H[i][j] = (−1)^popcount(i & j), flat row-major. */
export function sylvester(n: number): Float64Array {
  const h = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      h[i * n + j] = sylvesterEntry(i, j);
    }
  }
  return h;
}

/** H[i][j] of the Sylvester Hadamard matrix: (−1)^popcount(i & j). */
export function sylvesterEntry(i: number, j: number): number {
  let b = i & j, parity = 0;
  while (b) {
    parity ^= b & 1;
    b >>= 1;
  }
  return parity ? -1 : 1;
}

/**
 * Each length-n row x of `data` → (x ⊙ pre)·H/√n ⊙ post (pre/post optional sign vectors).
 */
export function hadamardRef(
  data: ArrayLike<number>,
  n: number,
  pre?: ArrayLike<number>,
  post?: ArrayLike<number>,
): Float64Array {
  const out = new Float64Array(data.length);
  const s = 1 / Math.sqrt(n);
  for (let r = 0; r < data.length / n; r++) {
    for (let j = 0; j < n; j++) {
      let acc = 0;
      for (let i = 0; i < n; i++) {
        acc += data[r * n + i] * (pre ? pre[i] : 1) * sylvesterEntry(i, j);
      }
      out[r * n + j] = acc * s * (post ? post[j] : 1);
    }
  }
  return out;
}
