/**
 * Error metrics between a reference tensor `x` and its quantized version `q`:
 *
 * - **MSE** = Σ(x − q)² / n
 * - **SQNR** (dB) = 10·log10(Σx² / Σ(x − q)²): +Inf when q = x exactly,
 *   −Inf when x is all zero but q is not
 * - **cosine similarity** = Σxq / √(Σx²·Σq²): 1 when both are all zero, 0 when one is
 * - **max abs error** = max |x − q|
 * - **kernel fraction** = |{i : xᵢ ≠ 0, qᵢ = 0}| / |{i : xᵢ ≠ 0}|, the share of
 *   nonzero values that quantize to zero (0 when x is all zero). CrossQuant
 *   calls the set of values mapped to zero the *quantization kernel* and
 *   argues that shrinking it is what keeps activation quantization accurate
 *   (W. Liu et al., "CrossQuant: A Post-Training Quantization Method with
 *   Smaller Quantization Kernel for Precise Large Language Model Compression",
 *   2024).
 *
 * {@link quantError} (and the single-metric functions) run on the GPU:
 * elementwise differences and products, then whole-tensor reductions in f32
 * (relative error ≈ 1e-6 on the sums), and read back only the scalars.
 * {@link errorMetrics} is the same in pure TS over arrays, in f64 (for
 * references and notebooks). NaN in either input throws, naming the tensor.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../mod.ts";
 * import { errorMetrics, quantError } from "./metrics.ts";
 * await initGPU();
 * using x = Tensor.fromArray([1, -2, 0.1, 4]);
 * using q = Tensor.fromArray([1, -2, 0, 4]);
 * const m = await quantError(x, q);
 * console.log(m.kernelFraction, m.maxAbsError.toFixed(3)); // 0.25 "0.100"
 * console.log(errorMetrics([1, -2, 0.1, 4], [1, -2, 0, 4]).kernelFraction); // 0.25
 * ```
 * @module
 */
import type { Tensor } from "../kernels/tensor.ts";
import { binary, cast, mul, sub, unary } from "../kernels/ops/elementwise.ts";
import { reduceAll } from "../kernels/ops/reduce.ts";

/** Every error metric of q against x. */
export interface ErrorMetrics {
  /** Number of elements. */
  n: number;
  /** Mean squared error. */
  mse: number;
  /** Signal-to-quantization-noise ratio in dB. */
  sqnr: number;
  /** Cosine similarity. */
  cosine: number;
  /** Largest |x − q|. */
  maxAbsError: number;
  /** Share of nonzero x that q maps to zero (CrossQuant's quantization kernel). */
  kernelFraction: number;
}

/** The sums every metric derives from. */
interface Sums {
  n: number;
  se: number;
  sx: number;
  sq: number;
  dot: number;
  maxAbs: number;
  nonzero: number;
  kernel: number;
}

function fromSums(s: Sums): ErrorMetrics {
  const { n, se, sx, sq, dot } = s;
  return {
    n,
    mse: se / n,
    sqnr: se === 0 ? Infinity : sx === 0 ? -Infinity : 10 * Math.log10(sx / se),
    cosine: sx === 0 && sq === 0 ? 1 : sx === 0 || sq === 0 ? 0 : dot / Math.sqrt(sx * sq),
    maxAbsError: s.maxAbs,
    kernelFraction: s.nonzero === 0 ? 0 : s.kernel / s.nonzero,
  };
}

function checkPair(what: string, nx: number, nq: number, sx: string, sq: string): void {
  if (nx !== nq) {
    throw new RangeError(`${what}: reference ${sx} and quantized ${sq} differ in size`);
  }
  if (nx === 0) throw new RangeError(`${what}: the tensors are empty`);
}

/**
 * All error metrics of `q` against `x` in f64, pure TS (no GPU).
 *
 * @example
 * ```ts
 * import { errorMetrics } from "./metrics.ts";
 * const m = errorMetrics([3, 4], [3, 3]);
 * console.log(m.mse, m.sqnr.toFixed(2), m.maxAbsError); // 0.5 "13.98" 1
 * ```
 */
export function errorMetrics(x: ArrayLike<number>, q: ArrayLike<number>): ErrorMetrics {
  checkPair("errorMetrics", x.length, q.length, `[${x.length}]`, `[${q.length}]`);
  const s: Sums = { n: x.length, se: 0, sx: 0, sq: 0, dot: 0, maxAbs: 0, nonzero: 0, kernel: 0 };
  for (let i = 0; i < x.length; i++) {
    const a = x[i], b = q[i];
    if (Number.isNaN(a) || Number.isNaN(b)) {
      throw new RangeError(
        `errorMetrics: NaN at index ${i} of the ${
          Number.isNaN(a) ? "reference" : "quantized"
        } values`,
      );
    }
    const d = a - b;
    s.se += d * d;
    s.sx += a * a;
    s.sq += b * b;
    s.dot += a * b;
    if (Math.abs(d) > s.maxAbs) s.maxAbs = Math.abs(d);
    if (a !== 0) {
      s.nonzero++;
      if (b === 0) s.kernel++;
    }
  }
  return fromSums(s);
}

function prepare(what: string, x: Tensor, q: Tensor): [Tensor, Tensor] {
  if (x.shape.length !== q.shape.length || x.shape.some((d, i) => d !== q.shape[i])) {
    throw new RangeError(
      `${what}: reference ${x.toString()} and quantized ${q.toString()} differ in shape`,
    );
  }
  checkPair(what, x.size, q.size, x.toString(), q.toString());
  for (const t of [x, q]) {
    if (t.dtype !== "f32" && t.dtype !== "f16") {
      throw new TypeError(`${what}: ${t.toString()} must be f32 or f16 (dequantize first)`);
    }
  }
  const flat = (t: Tensor) => {
    if (t.dtype === "f32") return t.reshape([-1]);
    using c = cast(t, "f32");
    return c.reshape([-1]);
  };
  return [flat(x), flat(q)];
}

async function scalar(t: Tensor): Promise<number> {
  try {
    return await t.item();
  } finally {
    t.dispose();
  }
}

type Want = "se" | "sx" | "sq" | "dot" | "maxAbs" | "kernel";

/** Encodes the sums that `want` needs; reads them back together. */
async function gpuSums(what: string, x: Tensor, q: Tensor, want: Want[]): Promise<Sums> {
  const [fx, fq] = prepare(what, x, q);
  const tmp: Tensor[] = [fx, fq];
  const t = (y: Tensor) => (tmp.push(y), y);
  const jobs: Partial<Record<Want | "nonzero", Promise<number>>> = {};
  try {
    const need = new Set(want);
    // NaN check rides on Σx² and Σq² (NaN iff an element is NaN).
    need.add("sx").add("sq");
    let d: Tensor | undefined;
    if (need.has("se") || need.has("maxAbs")) d = t(sub(fx, fq));
    if (need.has("se")) jobs.se = scalar(reduceAll("sum", t(unary("square", d!))));
    if (need.has("maxAbs")) jobs.maxAbs = scalar(reduceAll("absmax", d!));
    jobs.sx = scalar(reduceAll("sum", t(unary("square", fx))));
    jobs.sq = scalar(reduceAll("sum", t(unary("square", fq))));
    if (need.has("dot")) jobs.dot = scalar(reduceAll("sum", t(mul(fx, fq))));
    if (need.has("kernel")) {
      const nz = t(binary("ne", fx, 0));
      const z = t(binary("eq", fq, 0));
      jobs.nonzero = scalar(reduceAll("sum", t(cast(nz, "f32"))));
      jobs.kernel = scalar(reduceAll("sum", t(cast(t(binary("mul", nz, z)), "f32"))));
    }
  } finally {
    for (const y of tmp) y.dispose();
  }
  const keys = Object.keys(jobs) as (keyof typeof jobs)[];
  const values = await Promise.all(keys.map((k) => jobs[k]!));
  const s: Sums = { n: x.size, se: 0, sx: 0, sq: 0, dot: 0, maxAbs: 0, nonzero: 0, kernel: 0 };
  keys.forEach((k, i) => (s[k] = values[i]));
  if (Number.isNaN(s.sx) || Number.isNaN(s.sq)) {
    const which = Number.isNaN(s.sx) ? `reference ${x.toString()}` : `quantized ${q.toString()}`;
    throw new RangeError(`${what}: the ${which} holds NaN`);
  }
  return s;
}

/**
 * Every error metric of `q` against `x` (same shape, f32 or f16), on the GPU.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../mod.ts";
 * import { quantError } from "./metrics.ts";
 * await initGPU();
 * using x = Tensor.fromArray([3, 4]);
 * using q = Tensor.fromArray([3, 3]);
 * const m = await quantError(x, q);
 * console.log(m.mse, m.sqnr.toFixed(2)); // 0.5 "13.98"
 * ```
 */
export async function quantError(x: Tensor, q: Tensor): Promise<ErrorMetrics> {
  return fromSums(
    await gpuSums("quantError", x, q, ["se", "sx", "sq", "dot", "maxAbs", "kernel"]),
  );
}

/**
 * Mean squared error Σ(x − q)²/n, on the GPU.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../mod.ts";
 * import { mse } from "./metrics.ts";
 * await initGPU();
 * using x = Tensor.fromArray([1, 2]);
 * using q = Tensor.fromArray([1, 4]);
 * console.log(await mse(x, q)); // 2
 * ```
 */
export async function mse(x: Tensor, q: Tensor): Promise<number> {
  return fromSums(await gpuSums("mse", x, q, ["se"])).mse;
}

/**
 * SQNR in dB, 10·log10(Σx²/Σ(x − q)²), on the GPU.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../mod.ts";
 * import { sqnr } from "./metrics.ts";
 * await initGPU();
 * using x = Tensor.fromArray([10, 0]);
 * using q = Tensor.fromArray([10, 1]);
 * console.log(await sqnr(x, q)); // 20
 * ```
 */
export async function sqnr(x: Tensor, q: Tensor): Promise<number> {
  return fromSums(await gpuSums("sqnr", x, q, ["se"])).sqnr;
}

/**
 * Cosine similarity of the flattened tensors, on the GPU.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../mod.ts";
 * import { cosineSimilarity } from "./metrics.ts";
 * await initGPU();
 * using x = Tensor.fromArray([1, 0]);
 * using q = Tensor.fromArray([1, 1]);
 * console.log((await cosineSimilarity(x, q)).toFixed(4)); // "0.7071"
 * ```
 */
export async function cosineSimilarity(x: Tensor, q: Tensor): Promise<number> {
  return fromSums(await gpuSums("cosineSimilarity", x, q, ["dot"])).cosine;
}

/**
 * Largest |x − q|, on the GPU.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../mod.ts";
 * import { maxAbsError } from "./metrics.ts";
 * await initGPU();
 * using x = Tensor.fromArray([1, -5]);
 * using q = Tensor.fromArray([1.5, -3]);
 * console.log(await maxAbsError(x, q)); // 2
 * ```
 */
export async function maxAbsError(x: Tensor, q: Tensor): Promise<number> {
  return fromSums(await gpuSums("maxAbsError", x, q, ["maxAbs"])).maxAbsError;
}

/**
 * Share of nonzero x that q maps to exactly zero (CrossQuant's quantization kernel), on the GPU.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../mod.ts";
 * import { kernelFraction } from "./metrics.ts";
 * await initGPU();
 * using x = Tensor.fromArray([0.1, 0.2, 3, 0]);
 * using q = Tensor.fromArray([0, 0, 3, 0]);
 * console.log(await kernelFraction(x, q)); // 0.6666666666666666
 * ```
 */
export async function kernelFraction(x: Tensor, q: Tensor): Promise<number> {
  return fromSums(await gpuSums("kernelFraction", x, q, ["kernel"])).kernelFraction;
}
