/**
 * A Llama model with random weights, for examples and tests that need a whole
 * model but not a trained one: tensor `i` of {@link expectedTensorNames} is
 * `Tensor.randn(shape, { seed: i, std })`, so the same config and `std` give
 * the same weights, bit for bit.
 *
 * @example
 * ```ts
 * import { initGPU } from "../mod.ts";
 * import { randomLlama } from "./random_llama.ts";
 * await initGPU();
 * using model = randomLlama();
 * console.log(model.numLayers, model.config.hiddenSize); // 1 32
 * ```
 * @module
 */
import { Tensor } from "../kernels/tensor.ts";
import { expectedTensorNames, parseLlamaConfig } from "./config.ts";
import { LlamaModel } from "./llama.ts";

/**
 * The default HF config of {@link randomLlama}: one layer, hidden 32, MLP 64,
 * 2 heads, 16 tokens, tied embeddings.
 */
export const TINY_LLAMA_CONFIG: Readonly<Record<string, unknown>> = Object.freeze({
  model_type: "llama",
  hidden_size: 32,
  intermediate_size: 64,
  num_hidden_layers: 1,
  num_attention_heads: 2,
  vocab_size: 16,
  tie_word_embeddings: true,
});

/** Options of {@link randomLlama}. */
export interface RandomLlamaOptions {
  /** Standard deviation of every weight (norm weights too, unless `normWeight` is given). Default 0.2. */
  std?: number;
  /**
   * Every RMSNorm weight is this constant instead of random (HF transformers
   * initialises them to 1 for training from scratch). Default: random like the rest.
   */
  normWeight?: number;
}

/**
 * An f32 {@link LlamaModel} of the HF config `{ ...TINY_LLAMA_CONFIG, ...hf }`
 * with N(0, std²) weights, tensor `i` seeded with `i` (RMSNorm weights all
 * `normWeight` when it is given). The caller owns it.
 *
 * @example
 * ```ts
 * import { initGPU } from "../mod.ts";
 * import { randomLlama } from "./random_llama.ts";
 * await initGPU();
 * using model = randomLlama({ num_hidden_layers: 2 }, { std: 0.1 });
 * using logits = model.forward([[1, 2, 3]]);
 * console.log(model.numLayers, logits.shape); // 2 [1, 3, 16]
 * ```
 */
export function randomLlama(
  hf: Record<string, unknown> = {},
  options: RandomLlamaOptions = {},
): LlamaModel {
  const std = options.std ?? 0.2;
  const config = parseLlamaConfig({ ...TINY_LLAMA_CONFIG, ...hf }, "randomLlama config");
  const weights = new Map<string, Tensor>();
  try {
    expectedTensorNames(config).forEach(({ name, shape }, i) => {
      const norm = options.normWeight !== undefined && name.endsWith("norm.weight");
      weights.set(
        name,
        norm ? Tensor.full(shape, options.normWeight!) : Tensor.randn(shape, { seed: i, std }),
      );
    });
    return new LlamaModel(config, weights);
  } catch (e) {
    for (const t of weights.values()) t.dispose();
    throw e;
  }
}
