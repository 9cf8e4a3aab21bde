/**
 * QuIP — quantization with incoherence processing.
 *
 * J. Chee, Y. Cai, V. Kuleshov, C. De Sa, "QuIP: 2-Bit Quantization of Large
 * Language Models With Guarantees", NeurIPS 2023, arXiv 2307.13304.
 *
 * Algorithm (per linear layer W ∈ ℝ^{m×n}, proxy Hessian H = E[xxᵀ] of its inputs):
 *   1. incoherence pre-processing: random orthogonal U (m×m), V (n×n)
 *      (randomized Hadamard for powers of two, else Q of a seeded Gaussian);
 *      W̃ = U·W·Vᵀ,  H̃ = V·H·Vᵀ
 *   2. LDLQ: round W̃ column by column with linear feedback from the
 *      LDL decomposition of H̃ (equivalently GPTQ's update with the upper
 *      Cholesky factor of H̃⁻¹):  for k = 1…n:
 *        Q̃_k = Q(W̃_k + (W̃_{<k} − Q̃_{<k})·a_k)
 *   3. post-processing at inference: Ŵ = Uᵀ·Q̃·V (fake quantization computes
 *      with Ŵ; the packed layer keeps Q̃'s codes and rotates x and y on the fly).
 * Layers are processed in order, each calibrated on the outputs of the
 * already-quantized layers before it. With `incoherence: false` the same
 * code is LDLQ/GPTQ without incoherence processing.
 *
 * LDLQ is run as GPTQ's update (`./gptq.ts`), which QuIP shows is the
 * same rounding procedure; any quantizer GPTQ accepts works.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { matmul } from "../../kernels/ops/matmul.ts";
 * import { int } from "../quantizer.ts";
 * import { quipWeight } from "./quip.ts";
 * await initGPU();
 * using w = Tensor.randn([8, 16], { seed: 0 });
 * using x = Tensor.randn([64, 16], { seed: 1 });
 * using h = matmul(x, x, { transA: true });
 * using wq = await quipWeight(w, h, int(3, { symmetric: false }), { seed: 0 });
 * console.log(wq.shape); // [8, 16]
 * ```
 * @module
 */
import type { Tensor } from "../../kernels/tensor.ts";
import type { LayerMethod } from "../model.ts";
import { type InputTransform, withParts } from "../linear.ts";
import type { QuantizedWeight } from "../weight.ts";
import { quantError } from "../metrics.ts";
import type { Quantizer } from "../quantizer.ts";
import { gptq } from "./gptq.ts";
import {
  incoherence,
  randomRotation,
  rotateHessian,
  rotateWeight,
  unrotateWeight,
} from "../transforms/rotation.ts";
import { type MethodWrapper, wrapMethod, type WrapperOptions } from "./_wrap.ts";

/** LDLQ ≡ GPTQ's column update (QuIP §3, Theorem 6): codes and dequantized weight. */
async function ldlq(
  w: Tensor,
  h: Tensor,
  q: Quantizer,
  damp?: number,
): Promise<{ codes: QuantizedWeight; values: Tensor }> {
  const r = await gptq(w, h, q, { damp });
  return r.toParts();
}

/** Options of {@link quipWeight}. */
export interface QuipWeightOptions {
  /** Damping added to H's diagonal, as a fraction of its mean (default 0.01). */
  damp?: number;
  /** Seed of U and V (default 0). */
  seed?: number;
  /** Incoherence processing on (default true); off: plain LDLQ. */
  incoherence?: boolean;
}

/**
 * Steps 1–3 on one weight: Ŵ = Uᵀ·LDLQ(U·W·Vᵀ, V·H·Vᵀ)·V.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { int } from "../quantizer.ts";
 * import { quipWeight } from "./quip.ts";
 * await initGPU();
 * using w = Tensor.randn([4, 8], { seed: 0 });
 * using h = Tensor.fromArray(Float32Array.from({ length: 64 }, (_, i) => (i % 9 === 0 ? 1 : 0)), [8, 8]);
 * using wq = await quipWeight(w, h, int(2, { symmetric: false }));
 * console.log(wq.shape); // [4, 8]
 * ```
 */
export async function quipWeight(
  w: Tensor,
  h: Tensor,
  q: Quantizer,
  options: QuipWeightOptions = {},
): Promise<Tensor> {
  const p = await quipParts(w, h, q, options);
  p.codes.dispose();
  return p.values;
}

/**
 * Steps 1–3 keeping the codes: Q̃'s {@link QuantizedWeight} (in the rotated
 * basis), Ŵ = Uᵀ·Q̃·V, and the transform that maps one to the other (the
 * seeds of U and V), all owned by the caller.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { int } from "../quantizer.ts";
 * import { quipParts } from "./quip.ts";
 * await initGPU();
 * using w = Tensor.randn([4, 8], { seed: 0 });
 * using h = Tensor.fromArray(Float32Array.from({ length: 64 }, (_, i) => (i % 9 === 0 ? 1 : 0)), [8, 8]);
 * const p = await quipParts(w, h, int(2, { symmetric: false }), { seed: 3 });
 * console.log(p.transform); // { kind: "rotation", inputSeed: 8, outputSeed: 7 }
 * p.codes.dispose();
 * p.values.dispose();
 * ```
 */
export async function quipParts(
  w: Tensor,
  h: Tensor,
  q: Quantizer,
  options: QuipWeightOptions = {},
): Promise<{ codes: QuantizedWeight; values: Tensor; transform?: InputTransform }> {
  if (options.incoherence === false) return await ldlq(w, h, q, options.damp);
  const [m, n] = w.shape;
  const seed = options.seed ?? 0;
  using u = randomRotation(m, 2 * seed + 1);
  using v = randomRotation(n, 2 * seed + 2);
  using wt = rotateWeight(w, u, v); // W̃ = U·W·Vᵀ
  using ht = rotateHessian(h, v); // H̃ = V·H·Vᵀ
  const { codes, values } = await ldlq(wt, ht, q, options.damp);
  using qt = values;
  return {
    codes,
    values: unrotateWeight(qt, u, v), // Ŵ = Uᵀ·Q̃·V
    transform: { kind: "rotation", inputSeed: 2 * seed + 2, outputSeed: 2 * seed + 1 },
  };
}

/** Options of {@link quip}. */
export interface QuipOptions extends QuipWeightOptions, WrapperOptions {
  /** Calibration sequences (e.g. 16 × 128 tokens). */
  sequences: readonly ArrayLike<number>[];
}

/** QuIP's own facts, in its report's `details`: the incoherence before and after. */
export interface QuipDetails {
  /** Per layer: μ(W) and μ(U·W·Vᵀ) (equal when incoherence is off). */
  incoherence: { name: string; before: number; after: number }[];
}

/**
 * QuIP on every decoder linear of `model`, in place, layer by layer on
 * calibration inputs that already pass through the quantized earlier layers.
 *
 * @example
 * ```ts
 * import { initGPU } from "../../mod.ts";
 * import { randomLlama } from "../../model/random_llama.ts";
 * await initGPU();
 * using model = randomLlama(); // 1 layer, hidden 32, N(0, 0.2²) weights
 * const sequences = [[1, 2, 3, 4, 5, 6, 7, 8], [9, 10, 11, 12, 13, 14, 15, 0]];
 * import { int } from "../quantizer.ts";
 * import { quip } from "./quip.ts";
 * const r = await quip(model, int(3, { symmetric: false }), { sequences });
 * console.log(r.details.incoherence.length); // 7
 * ```
 */
export const quip: MethodWrapper<QuipOptions, QuipDetails> = wrapMethod("quip");

/** QuIP's record in the method registry (options: {@link QuipWeightOptions}). */
export const QUIP: LayerMethod = {
  name: "quip",
  needs: ["hessian"],
  solve: async (t) => {
    const o = t.options as QuipWeightOptions;
    const w = t.layer.weight;
    const seed = (o.seed ?? 0) * 1000 + t.index;
    const parts = await quipParts(w, t.hessian!, t.quantizer, { ...o, seed });
    const linear = withParts(t.layer, { ...parts, quantizer: t.quantizer }, { act: t.act });
    let after = await incoherence(w);
    const before = after;
    if (o.incoherence !== false) {
      const [m, n] = w.shape;
      using u = randomRotation(m, 2 * seed + 1);
      using v = randomRotation(n, 2 * seed + 2);
      using wt = rotateWeight(w, u, v);
      after = await incoherence(wt);
    }
    const err = await quantError(w, linear.weight!);
    return { linear, sqnrDb: err.sqnr, facts: { incoherence: { before, after } } };
  },
};
