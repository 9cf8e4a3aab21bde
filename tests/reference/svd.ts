/**
 * Pure-TS reference for kernels/ops/svd.ts in f64: the full SVD by one-sided
 * (Hestenes) Jacobi — rotate pairs of columns of A until all are orthogonal;
 * the column norms are the singular values. Matrices are flat row-major.
 * @module
 */

/** Full SVD of an m×n matrix: singular values descending, U [m, r], V [n, r] with r = min(m, n). */
export function svdRef(
  a: ArrayLike<number>,
  m: number,
  n: number,
): { s: Float64Array; u: Float64Array; v: Float64Array } {
  // work on the taller orientation so the column count is r = min(m, n)
  const tall = m >= n;
  const R = tall ? m : n, C = tall ? n : m;
  const W = new Float64Array(R * C);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) W[tall ? i * C + j : j * C + i] = a[i * n + j];
  }
  const V = new Float64Array(C * C);
  for (let i = 0; i < C; i++) V[i * C + i] = 1;
  for (let sweep = 0; sweep < 80; sweep++) {
    let rotated = false;
    for (let p = 0; p < C; p++) {
      for (let q = p + 1; q < C; q++) {
        let alpha = 0, beta = 0, gamma = 0;
        for (let i = 0; i < R; i++) {
          alpha += W[i * C + p] ** 2;
          beta += W[i * C + q] ** 2;
          gamma += W[i * C + p] * W[i * C + q];
        }
        if (Math.abs(gamma) <= 1e-15 * Math.sqrt(alpha * beta) || gamma === 0) continue;
        rotated = true;
        const zeta = (beta - alpha) / (2 * gamma);
        const t = Math.sign(zeta || 1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
        const c = 1 / Math.sqrt(1 + t * t), s = c * t;
        for (let i = 0; i < R; i++) {
          const wp = W[i * C + p], wq = W[i * C + q];
          W[i * C + p] = c * wp - s * wq;
          W[i * C + q] = s * wp + c * wq;
        }
        for (let i = 0; i < C; i++) {
          const vp = V[i * C + p], vq = V[i * C + q];
          V[i * C + p] = c * vp - s * vq;
          V[i * C + q] = s * vp + c * vq;
        }
      }
    }
    if (!rotated) break;
  }
  const norms = Array.from({ length: C }, (_, j) => {
    let t = 0;
    for (let i = 0; i < R; i++) t += W[i * C + j] ** 2;
    return Math.sqrt(t);
  });
  const order = norms.map((_, j) => j).sort((x, y) => norms[y] - norms[x]);
  const s = Float64Array.from(order, (j) => norms[j]);
  const left = new Float64Array(R * C), right = new Float64Array(C * C);
  order.forEach((src, dst) => {
    for (let i = 0; i < R; i++) {
      left[i * C + dst] = norms[src] > 0 ? W[i * C + src] / norms[src] : 0;
    }
    for (let i = 0; i < C; i++) right[i * C + dst] = V[i * C + src];
  });
  // A = U S Vᵀ when tall; Aᵀ = left S rightᵀ otherwise, so U = right, V = left
  return tall ? { s, u: left, v: right } : { s, u: right, v: left };
}
