/**
 * Orthogonal rotations of a weight's input or output space, each with its
 * inverse, so a network's float function is preserved exactly:
 * y = x·Wᵀ = (x·Vᵀ)·(W·Vᵀ)ᵀ for orthogonal V, and likewise for U on the
 * output side. QuIP's incoherence processing (Chee et al., 2023) and QuaRot
 * use them to spread outliers before rounding.
 *
 * - {@link HadamardRotation}: R = H·diag(s)/√n, the randomized Hadamard
 *   transform (n a power of two; `ops.randomHadamard`, O(n log n) per row).
 * - {@link MatrixRotation}: an explicit orthogonal R, e.g.
 *   {@link randomOrthogonal} (Q of the QR of a seeded Gaussian, Haar
 *   distributed) for sizes that are not powers of two.
 *
 * Convention: `forward(x)` maps every row v (last axis) to R·v, i.e. X·Rᵀ;
 * `inverse(x)` maps v to Rᵀ·v, i.e. X·R.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { randomRotation } from "./rotation.ts";
 * await initGPU();
 * using r = randomRotation(8, 1);
 * using x = Tensor.randn([3, 8], { seed: 0 });
 * using y = r.forward(x);
 * using back = r.inverse(y);
 * const [a, b] = [await x.data(), await back.data()];
 * console.log(a.every((v, i) => Math.abs(v - b[i]) < 1e-5)); // true
 * ```
 * @module
 */
import { Tensor } from "../../kernels/tensor.ts";
import { Rng } from "../../kernels/random.ts";
import { randomHadamard, randomSigns } from "../../kernels/ops/hadamard.ts";
import { matmul } from "../../kernels/ops/matmul.ts";
import { transpose } from "../../kernels/ops/layout.ts";
import { absmaxAll, reduceAll } from "../../kernels/ops/reduce.ts";

/** An orthogonal n×n transform applied along the last axis, with its inverse. */
export interface Rotation extends Disposable {
  /** The size n. */
  readonly n: number;
  /** "hadamard" or "orthogonal" (for display). */
  readonly kind: string;
  /** Rows v ↦ R·v (X·Rᵀ); a new tensor. */
  forward(x: Tensor): Tensor;
  /** Rows v ↦ Rᵀ·v (X·R); a new tensor. */
  inverse(x: Tensor): Tensor;
  /** Frees the transform's tensors. */
  dispose(): void;
}

function checkLast(what: string, x: Tensor, n: number): void {
  if (x.rank < 1 || x.shape[x.rank - 1] !== n) {
    throw new RangeError(`${what}: ${x} must have ${n} elements along its last axis`);
  }
}

/**
 * The randomized Hadamard transform R = H·diag(s)/√n (n a power of two).
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { HadamardRotation } from "./rotation.ts";
 * await initGPU();
 * using r = new HadamardRotation(4, 0);
 * using y = r.forward(Tensor.fromArray([[2, 0, 0, 0]]));
 * console.log(Array.from(await y.data(), Math.abs)); // [1, 1, 1, 1]
 * ```
 */
export class HadamardRotation implements Rotation {
  readonly n: number;
  readonly kind = "hadamard";
  /** The ±1 signs s. */
  readonly signs: Tensor;

  /**
   * Draws the signs.
   *
   * @param n a power of two
   * @param seed seed of the signs
   */
  constructor(n: number, seed: number) {
    if (!Number.isInteger(n) || n < 1 || (n & (n - 1)) !== 0) {
      throw new RangeError(`HadamardRotation: n = ${n} must be a power of two`);
    }
    this.n = n;
    this.signs = randomSigns(n, seed);
  }

  forward(x: Tensor): Tensor {
    checkLast("HadamardRotation.forward", x, this.n);
    return randomHadamard(x, this.signs);
  }

  inverse(x: Tensor): Tensor {
    checkLast("HadamardRotation.inverse", x, this.n);
    return randomHadamard(x, this.signs, { inverse: true });
  }

  dispose(): void {
    this.signs.dispose();
  }

  /** Disposes at the end of a `using` scope. */
  [Symbol.dispose](): void {
    this.dispose();
  }
}

/**
 * An explicit orthogonal matrix R `[n, n]` (owned).
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { MatrixRotation } from "./rotation.ts";
 * await initGPU();
 * using r = new MatrixRotation(Tensor.fromArray([[0, 1], [1, 0]])); // a swap
 * using y = r.forward(Tensor.fromArray([[1, 2]]));
 * console.log(await y.data()); // Float32Array [2, 1]
 * ```
 */
export class MatrixRotation implements Rotation {
  readonly n: number;
  readonly kind = "orthogonal";
  /** R `[n, n]`. */
  readonly matrix: Tensor;

  /**
   * Wraps an orthogonal matrix.
   *
   * @param matrix an orthogonal `[n, n]` f32 matrix (owned from now on)
   */
  constructor(matrix: Tensor) {
    if (matrix.rank !== 2 || matrix.shape[0] !== matrix.shape[1]) {
      throw new RangeError(`MatrixRotation: ${matrix} must be square`);
    }
    this.n = matrix.shape[0];
    this.matrix = matrix;
  }

  forward(x: Tensor): Tensor {
    checkLast("MatrixRotation.forward", x, this.n);
    using x2 = x.reshape([x.size / this.n, this.n]);
    using y = matmul(x2, this.matrix, { transB: true });
    return y.reshape(x.shape);
  }

  inverse(x: Tensor): Tensor {
    checkLast("MatrixRotation.inverse", x, this.n);
    using x2 = x.reshape([x.size / this.n, this.n]);
    using y = matmul(x2, this.matrix);
    return y.reshape(x.shape);
  }

  dispose(): void {
    this.matrix.dispose();
  }

  /** Disposes at the end of a `using` scope. */
  [Symbol.dispose](): void {
    this.dispose();
  }
}

/**
 * A Haar-random orthogonal n×n matrix (f32 tensor): Q of the QR
 * decomposition (modified Gram–Schmidt, twice, on the host in f64) of a
 * seeded standard Gaussian matrix, with the signs fixed so that diag(R) > 0.
 *
 * @example
 * ```ts
 * import { initGPU } from "../../mod.ts";
 * import { randomOrthogonal } from "./rotation.ts";
 * import { matmul } from "../../kernels/ops/matmul.ts";
 * await initGPU();
 * using q = randomOrthogonal(3, 7);
 * using i = matmul(q, q, { transB: true });
 * console.log(Array.from(await i.data(), (v) => Math.round(v))); // [1, 0, 0, 0, 1, 0, 0, 0, 1]
 * ```
 */
export function randomOrthogonal(n: number, seed: number): Tensor {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`randomOrthogonal: n = ${n}`);
  const g = new Rng(seed).normal(n * n);
  // columns of A = G; orthonormalise column by column (MGS, re-orthogonalised once)
  const q = new Float64Array(n * n); // column-major: column j at q[j*n ..]
  for (let j = 0; j < n; j++) {
    const v = new Float64Array(n);
    for (let i = 0; i < n; i++) v[i] = g[i * n + j];
    let rjj = 0;
    for (let pass = 0; pass < 2; pass++) {
      for (let k = 0; k < j; k++) {
        let d = 0;
        for (let i = 0; i < n; i++) d += q[k * n + i] * v[i];
        for (let i = 0; i < n; i++) v[i] -= d * q[k * n + i];
      }
    }
    for (let i = 0; i < n; i++) rjj += v[i] * v[i];
    rjj = Math.sqrt(rjj); // > 0 with probability 1; the sign convention diag(R) > 0 is implicit
    for (let i = 0; i < n; i++) q[j * n + i] = v[i] / rjj;
  }
  const out = new Float32Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) out[i * n + j] = q[j * n + i];
  return Tensor.fromArray(out, [n, n]);
}

/**
 * A seeded random rotation of size n: {@link HadamardRotation} when n is a
 * power of two, else a {@link MatrixRotation} of {@link randomOrthogonal}.
 *
 * @example
 * ```ts
 * import { initGPU } from "../../mod.ts";
 * import { randomRotation } from "./rotation.ts";
 * await initGPU();
 * using a = randomRotation(128, 0);
 * using b = randomRotation(384, 0);
 * console.log(a.kind, b.kind); // hadamard orthogonal
 * ```
 */
export function randomRotation(n: number, seed: number): Rotation {
  return (n & (n - 1)) === 0 ? new HadamardRotation(n, seed) : new MatrixRotation(
    randomOrthogonal(n, seed),
  );
}

/**
 * W̃ = U·W·Vᵀ for a weight W `[m, n]` (U acts on the m outputs, V on the n
 * inputs); {@link unrotateWeight} undoes it.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { randomRotation, rotateWeight, unrotateWeight } from "./rotation.ts";
 * await initGPU();
 * using u = randomRotation(4, 1);
 * using v = randomRotation(8, 2);
 * using w = Tensor.randn([4, 8], { seed: 0 });
 * using wt = rotateWeight(w, u, v);
 * using back = unrotateWeight(wt, u, v);
 * const [a, b] = [await w.data(), await back.data()];
 * console.log(a.every((x, i) => Math.abs(x - b[i]) < 1e-5)); // true
 * ```
 */
export function rotateWeight(w: Tensor, u: Rotation, v: Rotation): Tensor {
  using wv = v.forward(w); // W·Vᵀ
  using t = transpose(wv); // V·Wᵀ
  using ut = u.forward(t); // V·Wᵀ·Uᵀ
  return transpose(ut);
}

/**
 * Uᵀ·W̃·V: the inverse of {@link rotateWeight} (the weight the rotated-back
 * network computes with after W̃ was quantized).
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { MatrixRotation, unrotateWeight } from "./rotation.ts";
 * await initGPU();
 * using u = new MatrixRotation(Tensor.fromArray([[0, 1], [1, 0]]));
 * using v = new MatrixRotation(Tensor.fromArray([[1, 0], [0, 1]]));
 * using w = unrotateWeight(Tensor.fromArray([[1, 2], [3, 4]]), u, v);
 * console.log(await w.toArray()); // [[3, 4], [1, 2]]
 * ```
 */
export function unrotateWeight(w: Tensor, u: Rotation, v: Rotation): Tensor {
  using wv = v.inverse(w); // W̃·V
  using t = transpose(wv);
  using ut = u.inverse(t); // Vᵀ·W̃ᵀ·U
  return transpose(ut);
}

/**
 * H̃ = V·H·Vᵀ for a symmetric `[n, n]` Hessian H (so that
 * tr(ΔW̃·H̃·ΔW̃ᵀ) = tr(ΔW·H·ΔWᵀ) with ΔW̃ = U·ΔW·Vᵀ).
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { randomRotation, rotateHessian } from "./rotation.ts";
 * await initGPU();
 * using v = randomRotation(4, 3);
 * using h = rotateHessian(Tensor.fromArray([[2, 0, 0, 0], [0, 2, 0, 0], [0, 0, 2, 0], [0, 0, 0, 2]]), v);
 * console.log(Array.from(await h.data(), (x) => Math.round(x))); // 2·I stays 2·I
 * ```
 */
export function rotateHessian(h: Tensor, v: Rotation): Tensor {
  using hv = v.forward(h); // H·Vᵀ
  using t = transpose(hv); // V·H
  return v.forward(t); // V·H·Vᵀ
}

/**
 * QuIP's incoherence of a weight: μ = max|W_ij| · √(m·n) / ‖W‖_F (1 for a
 * matrix whose entries all have the same magnitude, √(m·n) for a single spike).
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { incoherence } from "./rotation.ts";
 * await initGPU();
 * console.log(await incoherence(Tensor.fromArray([[1, -1], [1, 1]]))); // 1
 * ```
 */
export async function incoherence(w: Tensor): Promise<number> {
  using amax = absmaxAll(w);
  using fro = reduceAll("norm2", w);
  const [a, f] = [await amax.item(), await fro.item()];
  return f > 0 ? (a * Math.sqrt(w.size)) / f : 0;
}
