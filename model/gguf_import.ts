/**
 * A llama.cpp Llama GGUF file back into lowbit: the config from the `llama.*`
 * metadata, the weights dequantized to f32 under their HF names (q/k rows
 * returned to the rotate-half layout, see `model/gguf_llama.ts`), and a
 * {@link LlamaModel} built from them.
 *
 * @example
 * ```ts
 * import { initGPU } from "../kernels/gpu.ts";
 * import { exportGguf } from "./gguf_llama.ts";
 * import { loadGgufModel } from "./gguf_import.ts";
 * await initGPU();
 * const path = (await Deno.makeTempDir()) + "/tiny.gguf";
 * await exportGguf("data/tiny", path, { type: "Q4_0" });
 * using model = await loadGgufModel(path);
 * console.log(model.config.numHiddenLayers, model.config.tieWordEmbeddings); // 4 true
 * ```
 * @module
 */
import { Tensor } from "../kernels/tensor.ts";
import { expectedTensorNames, type LlamaConfig, parseLlamaConfig } from "./config.ts";
import { GgufError } from "./gguf_format.ts";
import { hfName, unpermuteRope } from "./gguf_llama.ts";
import { type GgufFile, readGguf } from "./gguf_read.ts";
import { LlamaModel } from "./llama.ts";

/** A GGUF Llama model in lowbit's terms: its config and f32 weights by HF name. */
export interface GgufLlama {
  /** The config rebuilt from the `llama.*` metadata. */
  config: LlamaConfig;
  /** The dequantized weights by HF name, with their HF shapes. */
  weights: Map<string, { shape: number[]; data: Float32Array }>;
}

function num(file: GgufFile, key: string, path: string, fallback?: number): number {
  const v = file.metadata.get(key);
  if (v === undefined) {
    if (fallback !== undefined) return fallback;
    throw new GgufError(path, `has no metadata "${key}"; a llama GGUF needs it`);
  }
  if (typeof v.value !== "number" && typeof v.value !== "bigint") {
    throw new GgufError(path, `metadata "${key}" is ${v.type}, not a number`);
  }
  return Number(v.value);
}

/**
 * Rebuilds the config and the dequantized HF-named weights of a llama GGUF
 * file ({@link GgufLlama}). Tensors llama.cpp's Llama does not use are ignored.
 *
 * @throws {GgufError} when the architecture is not llama, a hyperparameter or tensor is missing,
 *   or a tensor's shape disagrees with the config
 */
export function ggufToLlama(file: GgufFile, path = "<memory>"): GgufLlama {
  const arch = file.metadata.get("general.architecture");
  if (arch?.value !== "llama") {
    throw new GgufError(
      path,
      `general.architecture is ${
        JSON.stringify(arch?.value)
      }, not "llama"; only Llama files are imported`,
    );
  }
  const heads = num(file, "llama.attention.head_count", path);
  const hidden = num(file, "llama.embedding_length", path);
  const tied = !file.tensors.some((t) => t.name === "output.weight");
  const embd = file.tensors.find((t) => t.name === "token_embd.weight");
  if (embd === undefined) throw new GgufError(path, 'has no tensor "token_embd.weight"');
  const hf = {
    model_type: "llama",
    hidden_size: hidden,
    intermediate_size: num(file, "llama.feed_forward_length", path),
    num_hidden_layers: num(file, "llama.block_count", path),
    num_attention_heads: heads,
    num_key_value_heads: num(file, "llama.attention.head_count_kv", path, heads),
    head_dim: num(file, "llama.attention.key_length", path, hidden / heads),
    vocab_size: num(file, "llama.vocab_size", path, embd.dims[1]),
    rms_norm_eps: num(file, "llama.attention.layer_norm_rms_epsilon", path),
    rope_theta: num(file, "llama.rope.freq_base", path, 10000),
    max_position_embeddings: num(file, "llama.context_length", path),
    tie_word_embeddings: tied,
    hidden_act: "silu",
  };
  const config = parseLlamaConfig(hf, `${path} (llama.* metadata)`);
  const weights = new Map<string, { shape: number[]; data: Float32Array }>();
  for (const t of file.tensors) {
    const name = hfName(t.name);
    if (name === undefined) continue;
    const shape = [...t.dims].reverse();
    let data = file.read(t.name);
    const cols = shape[shape.length - 1];
    if (name.endsWith("q_proj.weight")) data = unpermuteRope(data, config.numAttentionHeads, cols);
    if (name.endsWith("k_proj.weight")) data = unpermuteRope(data, config.numKeyValueHeads, cols);
    weights.set(name, { shape, data });
  }
  for (const { name, shape } of expectedTensorNames(config)) {
    const w = weights.get(name);
    if (w === undefined) throw new GgufError(path, `lacks the tensor for ${name}`);
    if (w.shape.join() !== shape.join()) {
      throw new GgufError(
        path,
        `${name} has shape [${w.shape}] but the metadata implies [${shape}]`,
      );
    }
  }
  return { config, weights };
}

/** Options of {@link loadGgufModel}. */
export interface LoadGgufOptions {
  /** Weights and activations in f32 (default) or f16. */
  dtype?: "f32" | "f16";
}

/**
 * Loads a llama GGUF file as a {@link LlamaModel} running its dequantized
 * weights (owned by the caller: dispose it). `initGPU()` must have completed.
 */
export async function loadGgufModel(
  path: string,
  options: LoadGgufOptions = {},
): Promise<LlamaModel> {
  const dtype = options.dtype ?? "f32";
  const { config, weights } = ggufToLlama(await readGguf(path), path);
  const tensors = new Map<string, Tensor>();
  try {
    for (const { name, shape } of expectedTensorNames(config)) {
      const w = weights.get(name)!;
      tensors.set(name, Tensor.fromArray(w.data, shape, dtype));
    }
    const model = new LlamaModel(config, tensors, dtype);
    model.source = path;
    return model;
  } catch (e) {
    for (const t of tensors.values()) t.dispose();
    throw e;
  }
}
