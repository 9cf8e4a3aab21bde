/**
 * A Llama-family checkpoint (HF safetensors + config.json) as a GGUF file
 * that llama.cpp loads, and back. Tensor names follow llama.cpp's convention
 * (`token_embd`, `blk.N.attn_q`, …, `output_norm`, `output` when untied);
 * the metadata gives `general.architecture = llama`, the `llama.*`
 * hyperparameters, and a tokenizer.
 *
 * RoPE layout: HF Llama rotates halves (dimension i pairs with i + d/2 in
 * each head), ggml's `LLAMA_ROPE_TYPE_NORM` rotates adjacent pairs (2i with
 * 2i+1). llama.cpp's `convert_hf_to_gguf.py` therefore permutes the rows of
 * q_proj and k_proj per head, row i → 2i and row d/2 + i → 2i + 1 (its
 * `LlamaModel.permute`, with the KV head count for k). {@link permuteRope}
 * does the same, {@link unpermuteRope} undoes it on import.
 *
 * Tokenizer: the embedded byte-level model's 256 ids are bytes. The simplest
 * vocabulary llama.cpp maps byte for byte is a byte-level BPE
 * (`tokenizer.ggml.model = "gpt2"`, pre-tokenizer `default`) with no merges:
 * token i is byte i written as GPT-2's `bytes_to_unicode` character, so
 * llama.cpp's tokenizer gives id = byte and detokenizes exactly, as lowbit's
 * `ByteTokenizer` does. (A SentencePiece vocabulary of `<0xXX>` byte tokens
 * also loads, but SentencePiece rewrites spaces as U+2581 before falling back
 * to bytes, so " " would become three tokens.) There is no BOS/EOS: llama.cpp
 * keeps its gpt2 default id 11 (byte 0x0B) as EOS and warns that it is not
 * an end-of-generation token.
 *
 * @example
 * ```ts
 * import { ggufName } from "./gguf_llama.ts";
 * console.log(ggufName("model.layers.3.self_attn.q_proj.weight")); // blk.3.attn_q.weight
 * ```
 * @module
 */
import { type LlamaConfig, loadLlamaConfig } from "./config.ts";
import { FILE_TYPES, type GgmlType } from "./gguf_format.ts";
import { type GgufMetadata, type GgufTensorInput, writeGguf } from "./gguf_write.ts";
import { openCheckpoint } from "./safetensors.ts";

const LAYER_NAMES: Record<string, string> = {
  "input_layernorm": "attn_norm",
  "self_attn.q_proj": "attn_q",
  "self_attn.k_proj": "attn_k",
  "self_attn.v_proj": "attn_v",
  "self_attn.o_proj": "attn_output",
  "post_attention_layernorm": "ffn_norm",
  "mlp.gate_proj": "ffn_gate",
  "mlp.up_proj": "ffn_up",
  "mlp.down_proj": "ffn_down",
};
const TOP_NAMES: Record<string, string> = {
  "model.embed_tokens": "token_embd",
  "model.norm": "output_norm",
  "lm_head": "output",
};

/**
 * The llama.cpp name of an HF Llama tensor name (`model.layers.N.…` →
 * `blk.N.…`), or undefined for a tensor llama.cpp's Llama does not use.
 */
export function ggufName(hf: string): string | undefined {
  const m = /^model\.layers\.(\d+)\.(.+)\.(weight|bias)$/.exec(hf);
  if (m) {
    const part = LAYER_NAMES[m[2]];
    return part === undefined ? undefined : `blk.${m[1]}.${part}.${m[3]}`;
  }
  const t = /^(.+)\.(weight|bias)$/.exec(hf);
  const top = t ? TOP_NAMES[t[1]] : undefined;
  return top === undefined ? undefined : `${top}.${t![2]}`;
}

/**
 * The HF name of a llama.cpp tensor name: the inverse of {@link ggufName}.
 *
 * @example
 * ```ts
 * import { hfName } from "./gguf_llama.ts";
 * console.log(hfName("blk.0.ffn_down.weight"), hfName("token_embd.weight")); // model.layers.0.mlp.down_proj.weight model.embed_tokens.weight
 * ```
 */
export function hfName(gguf: string): string | undefined {
  const m = /^blk\.(\d+)\.(.+)\.(weight|bias)$/.exec(gguf);
  if (m) {
    const part = Object.keys(LAYER_NAMES).find((k) => LAYER_NAMES[k] === m[2]);
    return part === undefined ? undefined : `model.layers.${m[1]}.${part}.${m[3]}`;
  }
  const t = /^(.+)\.(weight|bias)$/.exec(gguf);
  const top = t ? Object.keys(TOP_NAMES).find((k) => TOP_NAMES[k] === t[1]) : undefined;
  return top === undefined ? undefined : `${top}.${t![2]}`;
}

function ropeRows(w: Float32Array, heads: number, cols: number, forward: boolean): Float32Array {
  const rows = w.length / cols;
  if (!Number.isInteger(rows) || rows % heads !== 0 || (rows / heads) % 2 !== 0) {
    throw new RangeError(
      `permuteRope: ${rows} rows do not split into ${heads} heads of an even head dimension`,
    );
  }
  const hd = rows / heads;
  const out = new Float32Array(w.length);
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < hd / 2; i++) {
      for (let j = 0; j < 2; j++) {
        const hfRow = h * hd + j * (hd / 2) + i;
        const ggRow = h * hd + 2 * i + j;
        const [from, to] = forward ? [hfRow, ggRow] : [ggRow, hfRow];
        out.set(w.subarray(from * cols, (from + 1) * cols), to * cols);
      }
    }
  }
  return out;
}

/**
 * Reorders the rows of an HF q_proj/k_proj weight `[heads·d, cols]` from
 * rotate-half to ggml's adjacent-pair RoPE layout (a new array; `w` is
 * unchanged).
 *
 * @example
 * ```ts
 * import { permuteRope } from "./gguf_llama.ts";
 * console.log(permuteRope(new Float32Array([0, 1, 2, 3]), 1, 1)); // Float32Array(4) [ 0, 2, 1, 3 ]
 * ```
 */
export function permuteRope(w: Float32Array, heads: number, cols: number): Float32Array {
  return ropeRows(w, heads, cols, true);
}

/**
 * The inverse of {@link permuteRope}.
 *
 * @example
 * ```ts
 * import { unpermuteRope } from "./gguf_llama.ts";
 * console.log(unpermuteRope(new Float32Array([0, 2, 1, 3]), 1, 1)); // Float32Array(4) [ 0, 1, 2, 3 ]
 * ```
 */
export function unpermuteRope(w: Float32Array, heads: number, cols: number): Float32Array {
  return ropeRows(w, heads, cols, false);
}

/**
 * GPT-2's `bytes_to_unicode`: printable Latin-1 bytes (! … ~, ¡ … ¬, ® … ÿ)
 * stand for themselves, the other 68 bytes for U+0100 onwards, in byte order.
 *
 * @example
 * ```ts
 * import { byteLevelTokens } from "./gguf_llama.ts";
 * const t = byteLevelTokens();
 * console.log(t[65], t[32], t[10]); // A Ġ Ċ
 * ```
 */
export function byteLevelTokens(): string[] {
  const printable = (b: number) => (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174;
  let next = 256;
  return Array.from({ length: 256 }, (_, b) => String.fromCodePoint(printable(b) ? b : next++));
}

/**
 * The GGUF metadata of a Llama model: architecture, hyperparameters and the
 * 256-token byte-level BPE vocabulary (see the module doc). Only byte-level
 * models (vocab_size 256) get a tokenizer; others need their own.
 *
 * @example
 * ```ts
 * import { loadLlamaConfig } from "./config.ts";
 * import { llamaGgufMetadata } from "./gguf_llama.ts";
 * const meta = llamaGgufMetadata(await loadLlamaConfig("data/tiny"), "Q8_0");
 * console.log(meta["llama.attention.head_count_kv"].value, meta["general.file_type"].value); // 2 7
 * ```
 */
export function llamaGgufMetadata(
  config: LlamaConfig,
  type: GgmlType,
  name = "lowbit",
): GgufMetadata {
  if (config.vocabSize !== 256) {
    throw new RangeError(
      `llamaGgufMetadata: vocab_size is ${config.vocabSize}; only the byte-level vocabulary (256) ` +
        "has a built-in GGUF tokenizer, convert other models with llama.cpp's convert_hf_to_gguf.py",
    );
  }
  if (
    config.ropeScaling !== null || config.slidingWindow !== null || config.qkvBias ||
    config.oBias || config.mlpBias
  ) {
    throw new RangeError(
      "llamaGgufMetadata: rope scaling, sliding windows and biases are not exported; " +
        "use a plain Llama config (the embedded model is one)",
    );
  }
  const u32 = (value: number) => ({ type: "u32" as const, value });
  const f32 = (value: number) => ({ type: "f32" as const, value });
  const bytes = byteLevelTokens();
  return {
    "general.architecture": { type: "string", value: "llama" },
    "general.name": { type: "string", value: name },
    "general.file_type": u32(FILE_TYPES[type]),
    "general.alignment": u32(32),
    "llama.vocab_size": u32(config.vocabSize),
    "llama.context_length": u32(config.maxPositionEmbeddings),
    "llama.embedding_length": u32(config.hiddenSize),
    "llama.block_count": u32(config.numHiddenLayers),
    "llama.feed_forward_length": u32(config.intermediateSize),
    "llama.attention.head_count": u32(config.numAttentionHeads),
    "llama.attention.head_count_kv": u32(config.numKeyValueHeads),
    "llama.attention.key_length": u32(config.headDim),
    "llama.attention.value_length": u32(config.headDim),
    "llama.rope.dimension_count": u32(config.headDim),
    "llama.rope.freq_base": f32(config.ropeTheta),
    "llama.attention.layer_norm_rms_epsilon": f32(config.rmsNormEps),
    "tokenizer.ggml.model": { type: "string", value: "gpt2" },
    "tokenizer.ggml.pre": { type: "string", value: "default" },
    "tokenizer.ggml.tokens": { type: "array", itemType: "string", value: bytes },
    "tokenizer.ggml.token_type": { type: "array", itemType: "i32", value: new Array(256).fill(1) },
    "tokenizer.ggml.merges": { type: "array", itemType: "string", value: [] },
    "tokenizer.ggml.add_bos_token": { type: "bool", value: false },
    "tokenizer.ggml.add_eos_token": { type: "bool", value: false },
  };
}

/** Options of {@link exportGguf}. */
export interface ExportGgufOptions {
  /** The type of the 2-D weights (norms stay F32). Default "F16". */
  type?: GgmlType;
  /** `general.name`. Default "lowbit". */
  name?: string;
}

/**
 * Converts the Llama checkpoint in `dir` (config.json + safetensors) to a
 * GGUF file at `path` that llama.cpp loads: 2-D weights as `options.type`
 * (ggml's round-to-nearest quantizers), norms as F32, q/k rows permuted for
 * ggml's RoPE. The checkpoint is not modified; the file is written
 * atomically.
 *
 * @example
 * ```ts
 * import { exportGguf } from "./gguf_llama.ts";
 * import { readGguf } from "./gguf_read.ts";
 * const path = (await Deno.makeTempDir()) + "/tiny-q8.gguf";
 * await exportGguf("data/tiny", path, { type: "Q8_0" });
 * const file = await readGguf(path);
 * console.log(file.tensors.length, file.tensors[0].name, file.tensors[0].type); // 38 token_embd.weight Q8_0
 * ```
 */
export async function exportGguf(
  dir: string,
  path: string,
  options: ExportGgufOptions = {},
): Promise<void> {
  const type = options.type ?? "F16";
  const config = await loadLlamaConfig(dir);
  const metadata = llamaGgufMetadata(config, type, options.name);
  await using ckpt = await openCheckpoint(dir);
  const tensors: GgufTensorInput[] = [];
  const names = ckpt.names.filter((n) =>
    ggufName(n) !== undefined && !(config.tieWordEmbeddings && n === "lm_head.weight")
  );
  const order = (n: string) => {
    const m = /layers\.(\d+)\./.exec(n);
    return n.startsWith("model.embed") ? -1 : m ? Number(m[1]) : 1e9;
  };
  names.sort((a, b) => order(a) - order(b));
  for (const name of names) {
    const { shape, data } = await ckpt.read(name, { as: "f32" });
    let values = data as Float32Array;
    const cols = shape[shape.length - 1];
    if (name.endsWith("q_proj.weight")) {
      values = permuteRope(values, config.numAttentionHeads, cols);
    }
    if (name.endsWith("k_proj.weight")) values = permuteRope(values, config.numKeyValueHeads, cols);
    tensors.push({
      name: ggufName(name)!,
      dims: [...shape].reverse(),
      type: shape.length === 1 ? "F32" : type,
      data: values,
    });
  }
  await writeGguf(path, metadata, tensors);
}
