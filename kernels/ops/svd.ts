/**
 * Truncated SVD by randomized subspace iteration (Halko, Martinsson & Tropp,
 * "Finding Structure with Randomness", SIAM Review 2011, Alg. 4.4 + 5.1):
 *
 * ```text
 * Ω ~ N(0,1)^{n×l}, l = k + oversample          (seeded)
 * Q = orth(A·Ω);  repeat p times: Q = orth(A·orth(Aᵀ·Q))
 * B = Qᵀ·A  (l×n);  B·Bᵀ = W Λ Wᵀ  (small symmetric eigenproblem)
 * U = Q·W_k,  σ = √λ_k,  Vᵀ = W_kᵀ·B / σ
 * ```
 *
 * The products with A (the O(m·n·l) work) run as GPU matmuls. `orth(Y)` is a
 * Gram/eigen orthonormalisation: YᵀY = W Λ Wᵀ on the host (l×l), then
 * Q = Y·W·Λ^{-1/2} on the GPU, done twice (as Cholesky-QR2 is) and dropping
 * directions with λ ≤ ε·λ_max, so rank-deficient inputs (a zero or rank-1
 * matrix) give zero columns instead of NaN. The l×l eigenproblems use cyclic
 * Jacobi ({@link symmetricEigen}) in f64 on the host. No new WGSL is needed.
 * Reference: `tests/reference/svd.ts` (one-sided Jacobi SVD, pure TS).
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { truncatedSvd } from "./svd.ts";
 * await initGPU();
 * using a = Tensor.fromArray([[3, 0, 0], [0, 2, 0], [0, 0, 1], [0, 0, 0]]);
 * const r = await truncatedSvd(a, 2);
 * console.log(Array.from(r.s, (v) => v.toFixed(3))); // ["3.000", "2.000"]
 * r.u.dispose();
 * r.v.dispose();
 * ```
 * @module
 */
import { Tensor } from "../tensor.ts";
import { Rng } from "../random.ts";
import { matmul } from "./matmul.ts";

/** Options of {@link truncatedSvd}. */
export interface SvdOptions {
  /** Extra random directions beyond k (default 8). */
  oversample?: number;
  /** Power (subspace) iterations (default 4). */
  iterations?: number;
  /** Seed of the random test matrix Ω (default 0). */
  seed?: number;
}

/** A rank-k factorisation A ≈ U·diag(s)·Vᵀ. */
export interface TruncatedSvd {
  /** Left singular vectors `[m, k]` (orthonormal columns; zero columns for σ = 0). */
  u: Tensor;
  /** Singular values, descending (length k). */
  s: Float32Array;
  /** Right singular vectors `[n, k]`. */
  v: Tensor;
}

/**
 * Eigen-decomposition of a symmetric n×n matrix (row-major, f64) by cyclic
 * Jacobi rotations: returns eigenvalues descending and the eigenvectors as
 * the columns of `vectors` (row-major n×n). Meant for small n (≤ ~100).
 *
 * @example
 * ```ts
 * import { symmetricEigen } from "./svd.ts";
 * const { values } = symmetricEigen(new Float64Array([2, 1, 1, 2]), 2);
 * console.log(Array.from(values)); // [3, 1]
 * ```
 */
export function symmetricEigen(
  a: ArrayLike<number>,
  n: number,
): { values: Float64Array; vectors: Float64Array } {
  if (a.length !== n * n) throw new RangeError(`symmetricEigen: ${a.length} values ≠ ${n}×${n}`);
  const A = Float64Array.from(a);
  for (let i = 0; i < n * n; i++) {
    if (!Number.isFinite(A[i])) {
      throw new RangeError(`symmetricEigen: entry ${i} is ${A[i]}; the matrix must be finite`);
    }
  }
  const V = new Float64Array(n * n);
  for (let i = 0; i < n; i++) V[i * n + i] = 1;
  for (let sweep = 0; sweep < 60; sweep++) {
    let off = 0, diag = 0;
    for (let i = 0; i < n; i++) {
      diag += A[i * n + i] * A[i * n + i];
      for (let j = i + 1; j < n; j++) off += A[i * n + j] * A[i * n + j];
    }
    if (off <= 1e-30 * diag || off === 0) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = A[p * n + q];
        if (apq === 0) continue;
        const theta = (A[q * n + q] - A[p * n + p]) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1), s = t * c;
        for (let k = 0; k < n; k++) { // A ← A·J
          const akp = A[k * n + p], akq = A[k * n + q];
          A[k * n + p] = c * akp - s * akq;
          A[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) { // A ← Jᵀ·A
          const apk = A[p * n + k], aqk = A[q * n + k];
          A[p * n + k] = c * apk - s * aqk;
          A[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) { // V ← V·J
          const vkp = V[k * n + p], vkq = V[k * n + q];
          V[k * n + p] = c * vkp - s * vkq;
          V[k * n + q] = s * vkp + c * vkq;
        }
      }
    }
  }
  const order = Array.from({ length: n }, (_, i) => i).sort((i, j) => A[j * n + j] - A[i * n + i]);
  const values = Float64Array.from(order, (i) => A[i * n + i]);
  const vectors = new Float64Array(n * n);
  order.forEach((src, dst) => {
    for (let k = 0; k < n; k++) vectors[k * n + dst] = V[k * n + src];
  });
  return { values, vectors };
}

/** Gram matrix YᵀY of `y` [r, l] read back to the host (f64). */
async function gram(y: Tensor, what: string): Promise<Float64Array> {
  using g = matmul(y, y, { transA: true });
  const d = Float64Array.from(await g.data());
  for (let i = 0; i < d.length; i++) {
    if (!Number.isFinite(d[i])) {
      throw new RangeError(`truncatedSvd: ${what} is not finite (NaN or Inf in the matrix)`);
    }
  }
  return d;
}

/** Orthonormal basis of the columns of `y` [r, l] (zero columns for null directions). */
async function orth(y: Tensor, what: string): Promise<Tensor> {
  let q = y;
  for (let pass = 0; pass < 2; pass++) {
    const l = q.shape[1];
    const { values, vectors } = symmetricEigen(await gram(q, what), l);
    const cut = Math.max(values[0], 0) * 1e-10;
    const m = new Float32Array(l * l);
    for (let i = 0; i < l; i++) {
      for (let j = 0; j < l; j++) {
        m[i * l + j] = values[j] > cut && values[j] > 0
          ? vectors[i * l + j] / Math.sqrt(values[j])
          : 0;
      }
    }
    using mt = Tensor.fromArray(m, [l, l]);
    const next = matmul(q, mt);
    if (q !== y) q.dispose();
    q = next;
  }
  return q;
}

/**
 * The k largest singular triplets of a 2-D f32 matrix `a` [m, n]:
 * A ≈ U·diag(s)·Vᵀ (see the module doc for the algorithm). Throws on NaN/Inf
 * in `a`. k may not exceed min(m, n).
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { matmul } from "./matmul.ts";
 * import { truncatedSvd } from "./svd.ts";
 * await initGPU();
 * using x = Tensor.randn([6, 1], { seed: 1 });
 * using y = Tensor.randn([1, 5], { seed: 2 });
 * using a = matmul(x, y); // rank 1
 * const { u, s, v } = await truncatedSvd(a, 2);
 * console.log(u.shape, v.shape, s[1] < 1e-4 * s[0]); // [6, 2] [5, 2] true
 * u.dispose();
 * v.dispose();
 * ```
 */
export async function truncatedSvd(
  a: Tensor,
  k: number,
  options: SvdOptions = {},
): Promise<TruncatedSvd> {
  if (a.rank !== 2 || a.dtype !== "f32") {
    throw new RangeError(`truncatedSvd: ${a} must be a 2-D f32 matrix`);
  }
  const [m, n] = a.shape;
  if (!Number.isInteger(k) || k < 1 || k > Math.min(m, n)) {
    throw new RangeError(`truncatedSvd: rank k = ${k} must be an integer in [1, min(${m}, ${n})]`);
  }
  const l = Math.min(k + (options.oversample ?? 8), m, n);
  using omega = Tensor.fromArray(new Rng(options.seed ?? 0).normal(n * l), [n, l]);
  using y0 = matmul(a, omega);
  let q = await orth(y0, `${a}`);
  try {
    for (let it = 0; it < (options.iterations ?? 4); it++) {
      using z0 = matmul(a, q, { transA: true }); // Aᵀ·Q  [n, l]
      using z = await orth(z0, `${a}`);
      using y = matmul(a, z); // [m, l]
      q.dispose();
      q = await orth(y, `${a}`);
    }
    using b = matmul(q, a, { transA: true }); // Qᵀ·A  [l, n]
    using bbt = matmul(b, b, { transB: true }); // [l, l]
    const { values, vectors } = symmetricEigen(Float64Array.from(await bbt.data()), l);
    const s = new Float32Array(k);
    const wk = new Float32Array(l * k);
    const wScaled = new Float32Array(l * k);
    for (let j = 0; j < k; j++) {
      const sigma = Math.sqrt(Math.max(values[j], 0));
      s[j] = sigma;
      const keep = sigma > 1e-6 * Math.sqrt(Math.max(values[0], 0)) && sigma > 0;
      for (let i = 0; i < l; i++) {
        wk[i * k + j] = vectors[i * l + j];
        wScaled[i * k + j] = keep ? vectors[i * l + j] / sigma : 0;
      }
    }
    using w = Tensor.fromArray(wk, [l, k]);
    using ws = Tensor.fromArray(wScaled, [l, k]);
    const u = matmul(q, w); // [m, k]
    const v = matmul(b, ws, { transA: true }); // Bᵀ·W_k/σ  [n, k]
    return { u, s, v };
  } finally {
    q.dispose();
  }
}
