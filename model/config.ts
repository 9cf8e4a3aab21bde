/**
 * Hugging Face `config.json` for Llama-family decoders (`model_type` llama,
 * mistral, qwen2; SmolLM uses llama): the checked fields lowbit's forward pass
 * needs, the RoPE inverse frequencies (with llama3 scaling), and the tensor
 * names and shapes a checkpoint must hold.
 *
 * @example
 * ```ts
 * import { expectedTensorNames, parseLlamaConfig } from "./config.ts";
 * const cfg = parseLlamaConfig({
 *   model_type: "llama", hidden_size: 64, intermediate_size: 128, num_hidden_layers: 2,
 *   num_attention_heads: 4, num_key_value_heads: 2, vocab_size: 256,
 * });
 * console.log(cfg.headDim, expectedTensorNames(cfg).length); // 16 21
 * ```
 * @module
 */

/** The `model_type` values lowbit runs. */
export type LlamaModelType = "llama" | "mistral" | "qwen2";

/** llama3-style RoPE scaling (Llama 3.1 and later). */
export interface Llama3RopeScaling {
  /** Always "llama3". */
  ropeType: "llama3";
  /** How much longer the context is than the original: low frequencies are divided by it. */
  factor: number;
  /** Wavelengths longer than original/lowFreqFactor are fully scaled. */
  lowFreqFactor: number;
  /** Wavelengths shorter than original/highFreqFactor are not scaled. */
  highFreqFactor: number;
  /** The context length the model was first trained with. */
  originalMaxPositionEmbeddings: number;
}

/** Linear RoPE scaling (position interpolation): every frequency divided by `factor`. */
export interface LinearRopeScaling {
  /** Always "linear". */
  ropeType: "linear";
  /** The divisor. */
  factor: number;
}

/** The RoPE scaling rules lowbit implements. */
export type RopeScaling = Llama3RopeScaling | LinearRopeScaling;

/** A checked Llama-family configuration (HF field names in camelCase). */
export interface LlamaConfig {
  /** `model_type`. */
  modelType: LlamaModelType;
  /** `hidden_size`: the residual stream width. */
  hiddenSize: number;
  /** `intermediate_size`: the SwiGLU MLP width. */
  intermediateSize: number;
  /** `num_hidden_layers`. */
  numHiddenLayers: number;
  /** `num_attention_heads`. */
  numAttentionHeads: number;
  /** `num_key_value_heads` (defaults to the attention heads: no GQA). */
  numKeyValueHeads: number;
  /** `head_dim` (defaults to hidden_size / num_attention_heads). */
  headDim: number;
  /** `vocab_size`. */
  vocabSize: number;
  /** `rms_norm_eps` (default 1e-6). */
  rmsNormEps: number;
  /** `rope_theta` (default 10000). */
  ropeTheta: number;
  /** `rope_scaling`, or null for plain RoPE. */
  ropeScaling: RopeScaling | null;
  /** `max_position_embeddings`. */
  maxPositionEmbeddings: number;
  /** `tie_word_embeddings` (default false): lm_head reuses embed_tokens. */
  tieWordEmbeddings: boolean;
  /** Whether q_proj, k_proj and v_proj have a bias (qwen2: always; llama: `attention_bias`). */
  qkvBias: boolean;
  /** Whether o_proj has a bias (llama: `attention_bias`; qwen2 and mistral: never). */
  oBias: boolean;
  /** Whether the MLP projections have a bias (llama `mlp_bias`, default false). */
  mlpBias: boolean;
  /** Sliding-window attention size, or null when attention is full. */
  slidingWindow: number | null;
  /** `hidden_act`: only SiLU is supported. */
  hiddenAct: "silu";
}

/** A bad `config.json`; the message names the file and the field. */
export class ConfigError extends Error {
  /** The file. */
  readonly file: string;
  /** The field at fault. */
  readonly field: string;

  /**
   * Builds the message `file: field detail`.
   *
   * @param file the config file name
   * @param field the JSON field
   * @param detail what is wrong and what is expected
   *
   * @example
   * ```ts
   * import { ConfigError } from "./config.ts";
   * console.log(new ConfigError("config.json", "vocab_size", "is missing").message);
   * // config.json: vocab_size is missing
   * ```
   */
  constructor(file: string, field: string, detail: string) {
    super(`${file}: ${field} ${detail}`);
    this.name = "ConfigError";
    this.file = file;
    this.field = field;
  }
}

const DEFAULT_MAX_POSITIONS: Record<LlamaModelType, number> = {
  llama: 2048,
  mistral: 4096 * 32,
  qwen2: 32768,
};

class Fields {
  constructor(readonly file: string, readonly raw: Record<string, unknown>) {}

  has(key: string): boolean {
    return this.raw[key] !== undefined && this.raw[key] !== null;
  }

  int(key: string, fallback?: number, obj = this.raw, prefix = ""): number {
    return this.positive(key, { kind: "integer", fallback, obj, prefix });
  }

  num(key: string, fallback?: number, obj = this.raw, prefix = ""): number {
    return this.positive(key, { kind: "number", fallback, obj, prefix });
  }

  /** A positive safe integer (`kind: "integer"`) or positive finite number at `obj[key]`. */
  private positive(
    key: string,
    o: {
      kind: "integer" | "number";
      fallback?: number;
      obj: Record<string, unknown>;
      prefix: string;
    },
  ): number {
    const v = o.obj[key];
    if (v === undefined || v === null) {
      if (o.fallback !== undefined) return o.fallback;
      throw new ConfigError(this.file, o.prefix + key, `is missing; expected a positive ${o.kind}`);
    }
    const ok = o.kind === "integer" ? Number.isSafeInteger : Number.isFinite;
    if (typeof v !== "number" || !ok(v) || v <= 0) {
      throw new ConfigError(
        this.file,
        o.prefix + key,
        `is ${JSON.stringify(v)}; expected a positive ${o.kind}`,
      );
    }
    return v;
  }

  bool(key: string, fallback: boolean): boolean {
    const v = this.raw[key];
    if (v === undefined || v === null) return fallback;
    if (typeof v !== "boolean") {
      throw new ConfigError(this.file, key, `is ${JSON.stringify(v)}; expected true or false`);
    }
    return v;
  }
}

function ropeScaling(f: Fields, theta: { value: number }): RopeScaling | null {
  // transformers v5 writes rope_parameters (with rope_theta inside); older files rope_scaling.
  const key = f.has("rope_parameters") ? "rope_parameters" : "rope_scaling";
  const raw = f.raw[key];
  if (raw === undefined || raw === null) return null;
  if (typeof raw !== "object" || Array.isArray(raw)) {
    throw new ConfigError(f.file, key, `is ${JSON.stringify(raw)}; expected null or an object`);
  }
  const s = raw as Record<string, unknown>;
  if (key === "rope_parameters" && s.rope_theta !== undefined) {
    theta.value = f.num("rope_theta", undefined, s, `${key}.`);
  }
  const type = s.rope_type ?? s.type ?? "default";
  const p = `${key}.`;
  if (type === "default") return null;
  if (type === "linear") return { ropeType: "linear", factor: f.num("factor", undefined, s, p) };
  if (type === "llama3") {
    const scaling: Llama3RopeScaling = {
      ropeType: "llama3",
      factor: f.num("factor", undefined, s, p),
      lowFreqFactor: f.num("low_freq_factor", undefined, s, p),
      highFreqFactor: f.num("high_freq_factor", undefined, s, p),
      originalMaxPositionEmbeddings: f.int("original_max_position_embeddings", undefined, s, p),
    };
    if (scaling.highFreqFactor <= scaling.lowFreqFactor) {
      throw new ConfigError(
        f.file,
        `${p}high_freq_factor`,
        `is ${scaling.highFreqFactor}; expected it to exceed low_freq_factor ` +
          `(${scaling.lowFreqFactor})`,
      );
    }
    return scaling;
  }
  throw new ConfigError(
    f.file,
    `${p}rope_type`,
    `is ${JSON.stringify(type)}; lowbit supports "default", "linear" and "llama3"`,
  );
}

/**
 * Checks a parsed `config.json` and returns a {@link LlamaConfig}, applying
 * the defaults of HF transformers for fields a file may leave out.
 *
 * @param json the parsed JSON
 * @param file the file name, for errors (default `"config.json"`)
 * @throws {ConfigError} naming the file and field, with the expected value
 *
 * @example
 * ```ts
 * import { parseLlamaConfig } from "./config.ts";
 * try {
 *   parseLlamaConfig({ model_type: "llama", hidden_size: 64 }, "tiny/config.json");
 * } catch (e) {
 *   console.log((e as Error).message);
 *   // tiny/config.json: intermediate_size is missing; expected a positive integer
 * }
 * ```
 */
export function parseLlamaConfig(json: unknown, file = "config.json"): LlamaConfig {
  if (json === null || typeof json !== "object" || Array.isArray(json)) {
    throw new ConfigError(file, "(top level)", "is not a JSON object");
  }
  const f = new Fields(file, json as Record<string, unknown>);
  const modelType = f.raw.model_type;
  if (modelType !== "llama" && modelType !== "mistral" && modelType !== "qwen2") {
    throw new ConfigError(
      file,
      "model_type",
      `is ${JSON.stringify(modelType)}; lowbit runs "llama" (also SmolLM), "mistral" and "qwen2"`,
    );
  }
  const hiddenAct = f.raw.hidden_act ?? "silu";
  if (hiddenAct !== "silu") {
    throw new ConfigError(
      file,
      "hidden_act",
      `is ${JSON.stringify(hiddenAct)}; the Llama family uses "silu", the only one supported`,
    );
  }
  const hiddenSize = f.int("hidden_size");
  const intermediateSize = f.int("intermediate_size");
  const numHiddenLayers = f.int("num_hidden_layers");
  const numAttentionHeads = f.int("num_attention_heads");
  const numKeyValueHeads = f.int("num_key_value_heads", numAttentionHeads);
  if (numAttentionHeads % numKeyValueHeads !== 0) {
    throw new ConfigError(
      file,
      "num_key_value_heads",
      `is ${numKeyValueHeads}; it must divide num_attention_heads (${numAttentionHeads})`,
    );
  }
  if (!f.has("head_dim") && hiddenSize % numAttentionHeads !== 0) {
    throw new ConfigError(
      file,
      "head_dim",
      `is missing and hidden_size (${hiddenSize}) is not a multiple of num_attention_heads ` +
        `(${numAttentionHeads}); add head_dim`,
    );
  }
  const headDim = f.int("head_dim", hiddenSize / numAttentionHeads);
  if (headDim % 2 !== 0) {
    throw new ConfigError(file, "head_dim", `is ${headDim}; RoPE needs an even head dimension`);
  }
  const theta = { value: f.num("rope_theta", 10000) };
  const scaling = ropeScaling(f, theta);
  const attentionBias = f.bool("attention_bias", false);
  const useWindow = modelType === "mistral" || f.bool("use_sliding_window", false);
  return {
    modelType,
    hiddenSize,
    intermediateSize,
    numHiddenLayers,
    numAttentionHeads,
    numKeyValueHeads,
    headDim,
    vocabSize: f.int("vocab_size"),
    rmsNormEps: f.num("rms_norm_eps", 1e-6),
    ropeTheta: theta.value,
    ropeScaling: scaling,
    maxPositionEmbeddings: f.int("max_position_embeddings", DEFAULT_MAX_POSITIONS[modelType]),
    tieWordEmbeddings: f.bool("tie_word_embeddings", false),
    qkvBias: modelType === "qwen2" ? true : modelType === "llama" && attentionBias,
    oBias: modelType === "llama" && attentionBias,
    mlpBias: modelType === "llama" && f.bool("mlp_bias", false),
    slidingWindow: useWindow && f.has("sliding_window") ? f.int("sliding_window") : null,
    hiddenAct: "silu",
  };
}

/**
 * Reads and checks a `config.json` file (or the one inside a directory).
 *
 * @example
 * ```ts
 * import { loadLlamaConfig } from "./config.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify({
 *   model_type: "qwen2", hidden_size: 32, intermediate_size: 64, num_hidden_layers: 1,
 *   num_attention_heads: 2, vocab_size: 100, tie_word_embeddings: true,
 * }));
 * const cfg = await loadLlamaConfig(dir);
 * console.log(cfg.qkvBias, cfg.tieWordEmbeddings); // true true
 * ```
 */
export async function loadLlamaConfig(path: string): Promise<LlamaConfig> {
  let file = path;
  try {
    if ((await Deno.stat(path)).isDirectory) file = `${path.replace(/\/$/, "")}/config.json`;
  } catch (e) {
    throw new ConfigError(path, "(file)", `cannot be read (${(e as Error).message})`);
  }
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (e) {
    throw new ConfigError(file, "(file)", `cannot be read (${(e as Error).message})`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(file, "(file)", `is not valid JSON (${(e as Error).message})`);
  }
  return parseLlamaConfig(json, file);
}

/**
 * RoPE inverse frequencies, one per pair of head dimensions:
 * `1 / theta^(2i / headDim)`, then the config's scaling. For llama3 scaling
 * (as HF transformers' `_compute_llama3_parameters`): with wavelength
 * `λ = 2π / f`, `λ_low = original / lowFreqFactor`, `λ_high = original /
 * highFreqFactor`: `λ < λ_high` keeps `f`; `λ > λ_low` gives `f / factor`;
 * between them `s = (original / λ - lowFreqFactor) / (highFreqFactor -
 * lowFreqFactor)` and `(1 - s) · f / factor + s · f`. Computed in float64,
 * rounded once to float32.
 *
 * @example
 * ```ts
 * import { parseLlamaConfig, ropeFrequencies } from "./config.ts";
 * const cfg = parseLlamaConfig({
 *   model_type: "llama", hidden_size: 8, intermediate_size: 16, num_hidden_layers: 1,
 *   num_attention_heads: 1, vocab_size: 10, rope_theta: 10000,
 * });
 * console.log(ropeFrequencies(cfg)); // Float32Array [1, 0.10000000149011612, 0.009999999776482582, 0.0010000000474974513]
 * ```
 */
export function ropeFrequencies(config: LlamaConfig): Float32Array {
  const half = config.headDim / 2;
  const out = new Float32Array(half);
  const s = config.ropeScaling;
  for (let i = 0; i < half; i++) {
    let f = 1 / Math.pow(config.ropeTheta, (2 * i) / config.headDim);
    if (s?.ropeType === "linear") f /= s.factor;
    if (s?.ropeType === "llama3") {
      const wavelen = (2 * Math.PI) / f;
      const lowWavelen = s.originalMaxPositionEmbeddings / s.lowFreqFactor;
      const highWavelen = s.originalMaxPositionEmbeddings / s.highFreqFactor;
      if (wavelen > lowWavelen) f = f / s.factor;
      else if (wavelen >= highWavelen) {
        const smooth = (s.originalMaxPositionEmbeddings / wavelen - s.lowFreqFactor) /
          (s.highFreqFactor - s.lowFreqFactor);
        f = (1 - smooth) * (f / s.factor) + smooth * f;
      }
    }
    out[i] = f;
  }
  return out;
}

/** A tensor a checkpoint must hold, with its HF name and shape. */
export interface ExpectedTensor {
  /** The HF tensor name, e.g. `model.layers.0.self_attn.q_proj.weight`. */
  name: string;
  /** Its shape; Linear weights are [out_features, in_features]. */
  shape: number[];
}

/**
 * Lists the tensors of an HF Llama-family checkpoint for `config`, in layer
 * order: embeddings, then per layer the attention projections (with biases
 * when the config has them), the SwiGLU MLP and the two RMSNorm weights, then
 * the final norm and `lm_head.weight` (left out when embeddings are tied).
 *
 * @example
 * ```ts
 * import { expectedTensorNames, parseLlamaConfig } from "./config.ts";
 * const cfg = parseLlamaConfig({
 *   model_type: "llama", hidden_size: 8, intermediate_size: 16, num_hidden_layers: 1,
 *   num_attention_heads: 2, num_key_value_heads: 1, vocab_size: 10, tie_word_embeddings: true,
 * });
 * const k = expectedTensorNames(cfg).find((t) => t.name.endsWith("k_proj.weight"));
 * console.log(k); // { name: "model.layers.0.self_attn.k_proj.weight", shape: [4, 8] }
 * ```
 */
export function expectedTensorNames(config: LlamaConfig): ExpectedTensor[] {
  const h = config.hiddenSize;
  const q = config.numAttentionHeads * config.headDim;
  const kv = config.numKeyValueHeads * config.headDim;
  const m = config.intermediateSize;
  const out: ExpectedTensor[] = [{
    name: "model.embed_tokens.weight",
    shape: [config.vocabSize, h],
  }];
  for (let i = 0; i < config.numHiddenLayers; i++) {
    const p = `model.layers.${i}`;
    const proj: [string, number, number, boolean][] = [
      ["self_attn.q_proj", q, h, config.qkvBias],
      ["self_attn.k_proj", kv, h, config.qkvBias],
      ["self_attn.v_proj", kv, h, config.qkvBias],
      ["self_attn.o_proj", h, q, config.oBias],
      ["mlp.gate_proj", m, h, config.mlpBias],
      ["mlp.up_proj", m, h, config.mlpBias],
      ["mlp.down_proj", h, m, config.mlpBias],
    ];
    for (const [name, rows, cols, bias] of proj) {
      out.push({ name: `${p}.${name}.weight`, shape: [rows, cols] });
      if (bias) out.push({ name: `${p}.${name}.bias`, shape: [rows] });
    }
    out.push({ name: `${p}.input_layernorm.weight`, shape: [h] });
    out.push({ name: `${p}.post_attention_layernorm.weight`, shape: [h] });
  }
  out.push({ name: "model.norm.weight", shape: [h] });
  if (!config.tieWordEmbeddings) out.push({ name: "lm_head.weight", shape: [config.vocabSize, h] });
  return out;
}
