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
 *   3. post-processing at inference: Ŵ = Uᵀ·Q̃·V (here a fake-quantized dense
 *      weight; a packed kernel would instead rotate x and y on the fly).
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
import type { LlamaModel } from "../../model/llama.ts";
import { captureLayerInputs } from "../../model/capture.ts";
import { HessianObserver } from "../calib/hessian.ts";
import { fromDequantized, type WeightedLinear } from "../linear.ts";
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
import { meanBitsPerWeight, type QuantReport } from "./rtn.ts";

/** LDLQ ≡ GPTQ's column update (QuIP §3, Theorem 6): the dequantized weight. */
async function ldlq(w: Tensor, h: Tensor, q: Quantizer, damp?: number): Promise<Tensor> {
  const r = await gptq(w, h, q, { damp });
  r.codes.dispose();
  return r.dequantized;
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
  if (options.incoherence === false) return await ldlq(w, h, q, options.damp);
  const [m, n] = w.shape;
  const seed = options.seed ?? 0;
  using u = randomRotation(m, 2 * seed + 1);
  using v = randomRotation(n, 2 * seed + 2);
  using wt = rotateWeight(w, u, v); // W̃ = U·W·Vᵀ
  using ht = rotateHessian(h, v); // H̃ = V·H·Vᵀ
  using qt = await ldlq(wt, ht, q, options.damp);
  return unrotateWeight(qt, u, v); // Ŵ = Uᵀ·Q̃·V
}

/** Options of {@link quip}. */
export interface QuipOptions extends QuipWeightOptions {
  /** Calibration sequences (e.g. 16 × 128 tokens). */
  sequences: readonly ArrayLike<number>[];
  /** Layers to leave in full precision. */
  skip?: string[];
  /** Capture progress bar (default false). */
  progress?: boolean;
}

/** What {@link quip} did: {@link QuantReport} rows plus the incoherence before and after. */
export interface QuipReport extends QuantReport {
  /** Per layer: μ(W) and μ(U·W·Vᵀ) (equal when incoherence is off). */
  incoherence: { name: string; before: number; after: number }[];
}

/** The input-sharing group of a projection: q/k/v share q's input, gate/up share gate's. */
function inputOf(name: string): string {
  return name.replace(/self_attn\.[kv]_proj$/, "self_attn.q_proj").replace(
    /mlp\.up_proj$/,
    "mlp.gate_proj",
  );
}

/**
 * QuIP on every decoder linear of `model`, in place, layer by layer on
 * calibration inputs that already pass through the quantized earlier layers.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { expectedTensorNames, parseLlamaConfig } from "../../model/config.ts";
 * import { LlamaModel } from "../../model/llama.ts";
 * await initGPU();
 * const config = parseLlamaConfig({
 *   model_type: "llama", hidden_size: 32, intermediate_size: 64, num_hidden_layers: 1,
 *   num_attention_heads: 2, vocab_size: 16, tie_word_embeddings: true,
 * });
 * const weights = new Map(expectedTensorNames(config).map(({ name, shape }, i) =>
 *   [name, Tensor.randn(shape, { seed: i, std: 0.2 })]));
 * using model = new LlamaModel(config, weights);
 * const sequences = [[1, 2, 3, 4, 5, 6, 7, 8], [9, 10, 11, 12, 13, 14, 15, 0]];
 * import { int } from "../quantizer.ts";
 * import { quip } from "./quip.ts";
 * const r = await quip(model, int(3, { symmetric: false }), { sequences });
 * console.log(r.layers.length); // 7
 * ```
 */
export async function quip(
  model: LlamaModel,
  q: Quantizer,
  options: QuipOptions,
): Promise<QuipReport> {
  const layers: QuantReport["layers"] = [];
  const incoh: QuipReport["incoherence"] = [];
  const observers = new Map<string, HessianObserver>();
  let index = 0;
  await captureLayerInputs(model, options.sequences, {
    observers: (name) => {
      if (inputOf(name) !== name) return undefined; // k/v and up reuse q's and gate's
      const o = new HessianObserver(name);
      observers.set(name, o);
      return o;
    },
    progress: options.progress ?? false,
    afterLayer: async (i) => {
      const hs = new Map<string, Tensor>();
      try {
        for (const [name, lin] of model.linears({ layer: i })) {
          if (options.skip?.includes(name)) continue;
          const layer = lin as WeightedLinear;
          if (!layer.weight) throw new TypeError(`quip: layer ${name} has no float weight`);
          const key = inputOf(name);
          if (!hs.has(key)) hs.set(key, await observers.get(key)!.finish());
          const seed = (options.seed ?? 0) * 1000 + index++;
          const wq = await quipWeight(layer.weight, hs.get(key)!, q, { ...options, seed });
          const ql = fromDequantized(layer, wq, q);
          let after = await incoherence(layer.weight);
          const before = after;
          if (options.incoherence !== false) {
            const [m, n] = layer.weight.shape;
            using u = randomRotation(m, 2 * seed + 1);
            using v = randomRotation(n, 2 * seed + 2);
            using wt = rotateWeight(layer.weight, u, v);
            after = await incoherence(wt);
          }
          incoh.push({ name, before, after });
          const err = await quantError(layer.weight, wq);
          layers.push({
            name,
            out: ql.outFeatures,
            in: ql.inFeatures,
            bitsPerWeight: ql.bitsPerWeight,
            sqnrDb: err.sqnr,
          });
          model.setLinear(name, ql);
        }
      } finally {
        for (const t of hs.values()) t.dispose();
      }
    },
  });
  return { layers, bitsPerWeight: meanBitsPerWeight(layers), incoherence: incoh };
}
