/**
 * The Llama-family decoder (Llama, Mistral, Qwen2, SmolLM) as HF transformers
 * computes it, on the GPU:
 *
 * ```text
 * h = embed(ids)
 * per layer:  x = RMSNorm(h);  q, k, v = x·Wqᵀ, x·Wkᵀ, x·Wvᵀ (+ biases)
 *             q, k = RoPE(q), RoPE(k)                         (rotate-half, HF inverse freqs)
 *             h = h + o_proj(causal GQA attention(q, k, v))   (scores / √headDim, softmax in f32)
 *             x = RMSNorm(h);  h = h + down(silu(gate(x)) · up(x))
 * logits = lm_head(RMSNorm(h))                                (lm_head = embed when tied)
 * ```
 *
 * Every projection is a {@link Linear} registered under its HF name without
 * the `model.` prefix (`layers.0.self_attn.q_proj`, `layers.3.mlp.down_proj`,
 * `lm_head`), so a quantizer can list them with {@link LlamaModel.linears}
 * and swap in quantized versions with {@link LlamaModel.setLinear}.
 * The layer-by-layer API ({@link LlamaModel.embed},
 * {@link LlamaModel.layerForward}, {@link LlamaModel.head}) with an
 * `onLinearInput(name, x)` hook is what calibration capture builds on.
 *
 * @example
 * ```ts
 * import { initGPU } from "../mod.ts";
 * import { loadModel } from "./load.ts";
 * await initGPU();
 * using model = await loadModel("data/tiny");
 * using logits = model.forward([[80, 97, 117, 108]]); // "Paul"
 * console.log(logits.shape); // [1, 4, 256]
 * ```
 * @module
 */
import { Tensor } from "../kernels/tensor.ts";
import { add, cast, mul, unary } from "../kernels/ops/elementwise.ts";
import { embedding } from "../kernels/ops/gather.ts";
import { rmsNorm } from "../kernels/ops/norm.ts";
import { rope } from "../kernels/ops/rope.ts";
import { causalAttention } from "./attention.ts";
import { type LlamaConfig, ropeFrequencies } from "./config.ts";
import { DenseLinear, type Linear } from "./linear.ts";

/** The activation/weight dtype a model runs in. */
export type ModelDType = "f32" | "f16";

/**
 * Token ids for a batch of equal-length sequences: rows of ids (`number[][]`
 * or an array of `Int32Array`s), or one flat array (one sequence, or
 * `batch` rows of equal length when {@link ForwardOptions.batch} is given).
 */
export type TokenIds = ArrayLike<number> | readonly ArrayLike<number>[];

/** Options of {@link LlamaModel.forward}. */
export interface ForwardOptions {
  /** Split a flat `ids` array into this many equal rows. Default 1. */
  batch?: number;
}

/** A batch of ids checked and flattened: `batch` rows of `seq` tokens. */
export interface TokenBatch {
  /** Row-major ids, `batch · seq` of them. */
  ids: Int32Array;
  /** Number of sequences. */
  batch: number;
  /** Tokens per sequence. */
  seq: number;
}

/**
 * Called with the input of each linear layer before it runs: `x` is
 * `[tokens, inFeatures]`, valid only until the callback returns (or, for the
 * async layer runner, until its promise settles); it must not be disposed.
 * Projections that share an input (q/k/v, gate/up) receive the same tensor
 * object, so an observer can compute a shared statistic once by identity.
 */
export type LinearInputHook = (name: string, x: Tensor) => void | Promise<void>;

/** The per-layer norms (the layer's linears live in the model's linear map). */
interface LayerNorms {
  input: Tensor;
  post: Tensor;
}

/** The names of one decoder layer's projections, in execution order. */
export const LAYER_LINEARS = [
  "self_attn.q_proj",
  "self_attn.k_proj",
  "self_attn.v_proj",
  "self_attn.o_proj",
  "mlp.gate_proj",
  "mlp.up_proj",
  "mlp.down_proj",
] as const;

/** A group of a decoder layer's projections that read one input tensor. */
export interface InputGroup {
  /** The projections (suffixes after `layers.i.`), the first one names the input. */
  readonly linears: readonly LayerLinear[];
  /**
   * Where a per-channel scale s on the input folds so the float function is
   * unchanged (γ ← γ/s or W_prev ← diag(s)⁻¹·W_prev, and W ← W·diag(s)):
   * an RMSNorm weight, or the rows of a previous projection (for
   * `self_attn.v_proj` → `o_proj` only when the heads line up, i.e. without GQA).
   */
  readonly foldInto: { readonly norm: "input" | "post" } | { readonly linear: LayerLinear };
}

/** One decoder layer's projection names. */
export type LayerLinear = typeof LAYER_LINEARS[number];

/**
 * The Llama decoder layer's topology, declared once: which projections share
 * an input, and where scales on that input fold. Methods ask this (and
 * {@link sharedInput}) instead of writing projection names out again.
 */
export const LAYER_TOPOLOGY: Readonly<Record<"attn" | "o" | "mlp" | "down", InputGroup>> = {
  attn: {
    linears: ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"],
    foldInto: { norm: "input" },
  },
  o: { linears: ["self_attn.o_proj"], foldInto: { linear: "self_attn.v_proj" } },
  mlp: { linears: ["mlp.gate_proj", "mlp.up_proj"], foldInto: { norm: "post" } },
  down: { linears: ["mlp.down_proj"], foldInto: { linear: "mlp.up_proj" } },
};

/**
 * The projection whose input `name` reads (q for k and v, gate for up; itself
 * otherwise), for a full name (`layers.3.self_attn.k_proj`) or a suffix.
 *
 * @example
 * ```ts
 * import { sharedInput } from "./llama.ts";
 * console.log(sharedInput("layers.3.self_attn.v_proj"), sharedInput("mlp.down_proj")); // layers.3.self_attn.q_proj mlp.down_proj
 * ```
 */
export function sharedInput(name: string): string {
  for (const g of Object.values(LAYER_TOPOLOGY)) {
    for (const l of g.linears.slice(1)) {
      if (name === l || name.endsWith(`.${l}`)) return name.slice(0, -l.length) + g.linears[0];
    }
  }
  return name;
}

/**
 * Checks and flattens ids into a {@link TokenBatch}.
 *
 * @example
 * ```ts
 * import { toTokenBatch } from "./llama.ts";
 * const b = toTokenBatch([[1, 2, 3], [4, 5, 6]], 256);
 * console.log(b.batch, b.seq, b.ids); // 2 3 Int32Array [1, 2, 3, 4, 5, 6]
 * ```
 */
export function toTokenBatch(ids: TokenIds, vocabSize: number, batch?: number): TokenBatch {
  let rows: ArrayLike<number>[];
  const first = (ids as ArrayLike<unknown>)[0];
  if (ids.length > 0 && typeof first === "object" && first !== null) {
    rows = Array.from(ids as readonly ArrayLike<number>[]);
    if (batch !== undefined && batch !== rows.length) {
      throw new RangeError(`ids: ${rows.length} rows given but batch is ${batch}`);
    }
  } else {
    const flat = ids as ArrayLike<number>;
    const b = batch ?? 1;
    if (!Number.isInteger(b) || b < 1 || flat.length % b !== 0) {
      throw new RangeError(`ids: ${flat.length} ids cannot be split into ${b} equal rows`);
    }
    const seq = flat.length / b;
    rows = Array.from(
      { length: b },
      (_, r) => Array.prototype.slice.call(flat, r * seq, r * seq + seq),
    );
  }
  const seq = rows[0]?.length ?? 0;
  if (rows.length === 0 || seq === 0) throw new RangeError("ids: the batch is empty");
  const out = new Int32Array(rows.length * seq);
  rows.forEach((row, r) => {
    if (row.length !== seq) {
      throw new RangeError(
        `ids: row ${r} has ${row.length} tokens but row 0 has ${seq}; sequences in a batch ` +
          `must have equal lengths`,
      );
    }
    for (let t = 0; t < seq; t++) {
      const v = row[t];
      if (!Number.isInteger(v) || v < 0 || v >= vocabSize) {
        throw new RangeError(
          `ids: token ${v} at row ${r}, position ${t} is outside the vocabulary [0, ${vocabSize})`,
        );
      }
      out[r * seq + t] = v;
    }
  });
  return { ids: out, batch: rows.length, seq };
}

/**
 * A Llama-family causal language model on the GPU. Build it with
 * `loadModel(dir)` (`model/load.ts`) or from a map of HF-named weights.
 * Dispose it when done (`using model = …`).
 *
 * @example
 * ```ts
 * import { initGPU } from "../mod.ts";
 * import { loadModel } from "./load.ts";
 * await initGPU();
 * using model = await loadModel("data/tiny");
 * console.log([...model.linears().keys()].slice(0, 2)); // ["layers.0.self_attn.q_proj", "layers.0.self_attn.k_proj"]
 * ```
 */
export class LlamaModel {
  /** The checked configuration. */
  readonly config: LlamaConfig;
  /** The dtype of weights and activations (logits are always f32). */
  readonly dtype: ModelDType;
  /** Token embeddings `[vocab, hidden]`. */
  readonly embedTokens: Tensor;
  /** Final RMSNorm weight `[hidden]`. */
  readonly norm: Tensor;
  /** The checkpoint folder the model was loaded from (set by `loadModel`), for savers. */
  source?: string;
  readonly #norms: LayerNorms[];
  readonly #linears = new Map<string, Linear>();
  #head: Linear;
  #edit?: { linears: Map<string, Linear>; norms: Map<string, Tensor> };
  readonly #invFreq: Tensor;
  #disposed = false;

  /**
   * Builds the model from HF-named tensors (`model.embed_tokens.weight`,
   * `model.layers.0.self_attn.q_proj.weight`, …, `lm_head.weight` unless
   * tied), all of dtype `dtype`. Takes ownership of every tensor in `weights`;
   * names and shapes must already be checked (`loadModel` does).
   *
   * @example
   * ```ts
   * import { initGPU, Tensor } from "../mod.ts";
   * import { expectedTensorNames, parseLlamaConfig } from "./config.ts";
   * import { LlamaModel } from "./llama.ts";
   * await initGPU();
   * const config = parseLlamaConfig({
   *   model_type: "llama", hidden_size: 16, intermediate_size: 32, num_hidden_layers: 1,
   *   num_attention_heads: 2, vocab_size: 10, tie_word_embeddings: true,
   * });
   * const weights = new Map(expectedTensorNames(config).map(({ name, shape }, i) =>
   *   [name, Tensor.randn(shape, { seed: i, std: 0.1 })]));
   * using model = new LlamaModel(config, weights);
   * using logits = model.forward([[1, 2, 3]]);
   * console.log(logits.shape); // [1, 3, 10]
   * ```
   */
  constructor(config: LlamaConfig, weights: Map<string, Tensor>, dtype: ModelDType = "f32") {
    this.config = config;
    this.dtype = dtype;
    const take = (name: string): Tensor => {
      const t = weights.get(name);
      if (!t) throw new RangeError(`LlamaModel: weight "${name}" is missing`);
      if (t.dtype !== dtype) {
        throw new TypeError(`LlamaModel: weight "${name}" is ${t.dtype}; expected ${dtype}`);
      }
      t.name = name;
      return t;
    };
    this.embedTokens = take("model.embed_tokens.weight");
    this.norm = take("model.norm.weight");
    this.#norms = [];
    for (let i = 0; i < config.numHiddenLayers; i++) {
      const p = `model.layers.${i}`;
      this.#norms.push({
        input: take(`${p}.input_layernorm.weight`),
        post: take(`${p}.post_attention_layernorm.weight`),
      });
      for (const l of LAYER_LINEARS) {
        const bias = weights.has(`${p}.${l}.bias`) ? take(`${p}.${l}.bias`) : undefined;
        this.#linears.set(`layers.${i}.${l}`, new DenseLinear(take(`${p}.${l}.weight`), bias));
      }
    }
    this.#head = new DenseLinear(
      config.tieWordEmbeddings
        ? this.embedTokens.reshape(this.embedTokens.shape)
        : take("lm_head.weight"),
    );
    this.#invFreq = Tensor.fromArray(ropeFrequencies(config), [config.headDim / 2], "f32");
  }

  /** Number of decoder layers. */
  get numLayers(): number {
    return this.config.numHiddenLayers;
  }

  /**
   * The RMSNorm weight `[hidden]` of layer `i` before attention (`"input"`,
   * HF `input_layernorm`) or before the MLP (`"post"`,
   * `post_attention_layernorm`). Methods that fold per-channel scales into
   * the preceding norm (AWQ, SmoothQuant) read it here and replace it with
   * {@link setLayerNorm}.
   *
   * @example
   * ```ts
   * import { initGPU } from "../mod.ts";
   * import { loadModel } from "./load.ts";
   * await initGPU();
   * using model = await loadModel("data/tiny");
   * console.log(model.layerNorm(0, "post").shape); // [128]
   * ```
   */
  layerNorm(i: number, which: "input" | "post"): Tensor {
    this.#alive();
    const n = this.#norms[i];
    if (!n) throw new RangeError(`layerNorm: layer ${i} does not exist (${this.numLayers} layers)`);
    return which === "input" ? n.input : n.post;
  }

  /**
   * Replaces the RMSNorm weight of layer `i` (see {@link layerNorm}) by
   * `weight` (same shape and dtype; owned from now on); the old one is disposed.
   *
   * @example
   * ```ts
   * import { initGPU } from "../mod.ts";
   * import { loadModel } from "./load.ts";
   * import { mul } from "../kernels/ops/elementwise.ts";
   * await initGPU();
   * using model = await loadModel("data/tiny");
   * model.setLayerNorm(0, "input", mul(model.layerNorm(0, "input"), 2));
   * console.log(model.layerNorm(0, "input").shape); // [128]
   * ```
   */
  setLayerNorm(i: number, which: "input" | "post", weight: Tensor): void {
    const old = this.layerNorm(i, which);
    if (weight.dtype !== old.dtype || weight.size !== old.size || weight.rank !== 1) {
      throw new RangeError(`setLayerNorm(${i}, "${which}"): ${weight} must match ${old}`);
    }
    if (which === "input") this.#norms[i].input = weight;
    else this.#norms[i].post = weight;
    if (old === weight) return;
    const key = `norm:${i}:${which}`;
    if (this.#edit && !this.#edit.norms.has(key)) this.#edit.norms.set(key, old);
    else old.dispose();
  }

  /**
   * Starts an edit: until `commit` or `rollback`, the linears and norms the
   * model replaces are kept instead of disposed, so `rollback()` restores the
   * model exactly as it was (and disposes what replaced them), and `commit()`
   * frees the originals. One edit at a time.
   *
   * @example
   * ```ts
   * import { initGPU, Tensor } from "../mod.ts";
   * import { loadModel } from "./load.ts";
   * import { DenseLinear } from "./linear.ts";
   * await initGPU();
   * using model = await loadModel("data/tiny");
   * const before = model.getLinear("layers.0.mlp.up_proj");
   * const edit = model.beginEdit();
   * model.setLinear("layers.0.mlp.up_proj", new DenseLinear(Tensor.zeros([384, 128])));
   * edit.rollback();
   * console.log(model.getLinear("layers.0.mlp.up_proj") === before); // true
   * ```
   */
  beginEdit(): { commit(): void; rollback(): void } {
    this.#alive();
    if (this.#edit) throw new Error("beginEdit: an edit of this model is already in progress");
    const edit = { linears: new Map<string, Linear>(), norms: new Map<string, Tensor>() };
    this.#edit = edit;
    const end = () => {
      if (this.#edit !== edit) throw new Error("this model edit has already ended");
      this.#edit = undefined;
    };
    return {
      commit: () => {
        end();
        for (const [name, old] of edit.linears) if (this.getLinear(name) !== old) old.dispose();
        for (const [key, old] of edit.norms) if (this.#normOf(key) !== old) old.dispose();
      },
      rollback: () => {
        end();
        for (const [name, old] of edit.linears) this.setLinear(name, old);
        for (const [key, old] of edit.norms) {
          const [, i, which] = key.split(":");
          this.setLayerNorm(Number(i), which as "input" | "post", old);
        }
      },
    };
  }

  #normOf(key: string): Tensor {
    const [, i, which] = key.split(":");
    return this.layerNorm(Number(i), which as "input" | "post");
  }

  /**
   * The decoder layers' projections by HF name without the `model.` prefix,
   * in execution order (`layers.0.self_attn.q_proj`, …, `layers.N.mlp.down_proj`).
   * `lm_head` is included only with `{ includeHead: true }` (quantizers
   * usually leave it in full precision). The map is a snapshot; replace
   * layers with {@link setLinear}.
   *
   * @example
   * ```ts
   * import { initGPU } from "../mod.ts";
   * import { loadModel } from "./load.ts";
   * await initGPU();
   * using model = await loadModel("data/tiny");
   * const lin = model.linears();
   * console.log(lin.size, lin.get("layers.0.mlp.down_proj")!.inFeatures); // 28 384
   * ```
   */
  linears(options: { includeHead?: boolean; layer?: number } = {}): Map<string, Linear> {
    this.#alive();
    const out = new Map<string, Linear>();
    for (const [name, lin] of this.#linears) {
      if (options.layer !== undefined && !name.startsWith(`layers.${options.layer}.`)) continue;
      out.set(name, lin);
    }
    if (options.includeHead && options.layer === undefined) out.set("lm_head", this.#head);
    return out;
  }

  /**
   * The linear layer called `name` (`layers.i.self_attn.q_proj`, …, or `lm_head`).
   *
   * @example
   * ```ts
   * import { initGPU } from "../mod.ts";
   * import { loadModel } from "./load.ts";
   * await initGPU();
   * using model = await loadModel("data/tiny");
   * console.log(model.getLinear("lm_head").outFeatures); // 256
   * ```
   */
  getLinear(name: string): Linear {
    this.#alive();
    if (name === "lm_head") return this.#head;
    const lin = this.#linears.get(name);
    if (!lin) throw new RangeError(this.#unknown(name));
    return lin;
  }

  /**
   * Replaces the linear layer `name` (e.g. by a quantized one with the same
   * in/out features). The replaced layer is disposed unless
   * `{ dispose: false }`, in which case it is returned for the caller to own.
   *
   * @example
   * ```ts
   * import { initGPU } from "../mod.ts";
   * import { loadModel } from "./load.ts";
   * import { DenseLinear } from "./linear.ts";
   * import { unary } from "../kernels/ops/elementwise.ts";
   * await initGPU();
   * using model = await loadModel("data/tiny");
   * const old = model.getLinear("layers.0.mlp.up_proj") as DenseLinear;
   * // a crude "quantizer": every weight rounded to an integer (nearly all become 0)
   * model.setLinear("layers.0.mlp.up_proj", new DenseLinear(unary("round", old.weight)));
   * console.log(model.getLinear("layers.0.mlp.up_proj").outFeatures); // 384
   * ```
   */
  setLinear(name: string, linear: Linear, options: { dispose?: boolean } = {}): Linear {
    this.#alive();
    const old = this.getLinear(name);
    if (linear.inFeatures !== old.inFeatures || linear.outFeatures !== old.outFeatures) {
      throw new RangeError(
        `setLinear("${name}"): the new layer is ${linear.inFeatures} → ${linear.outFeatures} ` +
          `but the model needs ${old.inFeatures} → ${old.outFeatures}`,
      );
    }
    if (name === "lm_head") this.#head = linear;
    else this.#linears.set(name, linear);
    if (old === linear) return old;
    // during an edit the first replaced layer of each name is kept for a rollback
    if (this.#edit && !this.#edit.linears.has(name)) this.#edit.linears.set(name, old);
    else if (options.dispose ?? true) old.dispose();
    return old;
  }

  /**
   * Logits `[batch, seq, vocab]` (f32) for a batch of equal-length
   * sequences, each at positions 0..seq−1.
   *
   * @example
   * ```ts
   * import { initGPU } from "../mod.ts";
   * import { loadModel } from "./load.ts";
   * import { argmax } from "../kernels/ops/reduce.ts";
   * await initGPU();
   * using model = await loadModel("data/tiny");
   * const ids = new TextEncoder().encode("In the beginning God created the heaven and the eart");
   * using logits = model.forward(ids); // one sequence: [1, 51, 256]
   * using next = argmax(logits, -1);
   * console.log(String.fromCharCode((await next.data()).at(-1)!)); // "h"
   * ```
   */
  forward(ids: TokenIds, options: ForwardOptions = {}): Tensor {
    const b = this.tokenBatch(ids, options.batch);
    using h = this.forwardHidden(b);
    return this.head(h, b.batch, b.seq);
  }

  /**
   * The residual stream `[batch·seq, hidden]` after the first `layers`
   * decoder layers (default all; 0 gives the embeddings), before the final norm.
   *
   * @example
   * ```ts
   * import { initGPU } from "../mod.ts";
   * import { loadModel } from "./load.ts";
   * await initGPU();
   * using model = await loadModel("data/tiny");
   * using h = model.forwardHidden([[1, 2, 3]], { layers: 2 });
   * console.log(h.shape); // [3, 128]
   * ```
   */
  forwardHidden(
    ids: TokenIds | TokenBatch,
    options: ForwardOptions & { layers?: number } = {},
  ): Tensor {
    const b = isTokenBatch(ids) ? ids : this.tokenBatch(ids, options.batch);
    const n = options.layers ?? this.numLayers;
    if (!Number.isInteger(n) || n < 0 || n > this.numLayers) {
      throw new RangeError(`forwardHidden: layers ${n} must be in [0, ${this.numLayers}]`);
    }
    let h = this.embed(b.ids);
    for (let i = 0; i < n; i++) {
      const next = this.layerForward(i, h, b.batch, b.seq);
      h.dispose();
      h = next;
    }
    return h;
  }

  /**
   * Checks ids against the vocabulary and flattens them.
   *
   * @example
   * ```ts
   * import { initGPU } from "../mod.ts";
   * import { loadModel } from "./load.ts";
   * await initGPU();
   * using model = await loadModel("data/tiny");
   * console.log(model.tokenBatch([1, 2, 3, 4], 2).seq); // 2
   * ```
   */
  tokenBatch(ids: TokenIds, batch?: number): TokenBatch {
    return toTokenBatch(ids, this.config.vocabSize, batch);
  }

  /**
   * Embedding lookup: `[tokens, hidden]` for flat ids.
   *
   * @example
   * ```ts
   * import { initGPU } from "../mod.ts";
   * import { loadModel } from "./load.ts";
   * await initGPU();
   * using model = await loadModel("data/tiny");
   * using h = model.embed(new Int32Array([65, 66]));
   * console.log(h.shape); // [2, 128]
   * ```
   */
  embed(ids: Int32Array): Tensor {
    this.#alive();
    return embedding(this.embedTokens, ids);
  }

  /**
   * Runs decoder layer `i` on the residual stream `h` (`[batch·seq, hidden]`,
   * not disposed) and returns the new residual stream. `onLinearInput` sees
   * each projection's input before it runs (synchronous hooks only; use
   * {@link layerForwardAsync} for hooks that return promises).
   *
   * @example
   * ```ts
   * import { initGPU } from "../mod.ts";
   * import { loadModel } from "./load.ts";
   * await initGPU();
   * using model = await loadModel("data/tiny");
   * using h0 = model.embed(new Int32Array([1, 2, 3, 4]));
   * const seen: string[] = [];
   * using h1 = model.layerForward(0, h0, 2, 2, (name, x) => void seen.push(`${name} ${x.shape}`));
   * console.log(seen[0], seen.length); // layers.0.self_attn.q_proj 4,128 7
   * ```
   */
  layerForward(
    i: number,
    h: Tensor,
    batch: number,
    seq: number,
    onLinearInput?: LinearInputHook,
  ): Tensor {
    const steps = this.#layerSteps(i, h, batch, seq);
    for (;;) {
      const r = steps.next();
      if (r.done) return r.value;
      if (onLinearInput) {
        const p = onLinearInput(r.value[0], r.value[1]);
        if (p && typeof (p as Promise<void>).then === "function") {
          steps.return(undefined as unknown as Tensor);
          throw new TypeError(
            "layerForward: onLinearInput returned a promise; use layerForwardAsync for async hooks",
          );
        }
      }
    }
  }

  /**
   * {@link layerForward} with hooks that may be async: each hook's promise is
   * awaited before the layer goes on (and before `x` is freed).
   *
   * @example
   * ```ts
   * import { initGPU } from "../mod.ts";
   * import { loadModel } from "./load.ts";
   * await initGPU();
   * using model = await loadModel("data/tiny");
   * using h0 = model.embed(new Int32Array([1, 2, 3]));
   * let absmax = 0;
   * using h1 = await model.layerForwardAsync(0, h0, 1, 3, async (name, x) => {
   *   if (name.endsWith("down_proj")) for (const v of await x.data()) absmax = Math.max(absmax, Math.abs(v));
   * });
   * console.log(absmax > 0); // true
   * ```
   */
  async layerForwardAsync(
    i: number,
    h: Tensor,
    batch: number,
    seq: number,
    onLinearInput?: LinearInputHook,
  ): Promise<Tensor> {
    const steps = this.#layerSteps(i, h, batch, seq);
    try {
      for (;;) {
        const r = steps.next();
        if (r.done) return r.value;
        if (onLinearInput) await onLinearInput(r.value[0], r.value[1]);
      }
    } catch (e) {
      steps.return(undefined as unknown as Tensor);
      throw e;
    }
  }

  /**
   * Final RMSNorm and lm_head: logits `[batch, seq, vocab]` in f32 from the
   * residual stream `[batch·seq, hidden]` (not disposed).
   *
   * @example
   * ```ts
   * import { initGPU } from "../mod.ts";
   * import { loadModel } from "./load.ts";
   * await initGPU();
   * using model = await loadModel("data/tiny");
   * using h = model.forwardHidden([[72, 105]]);
   * using logits = model.head(h, 1, 2);
   * console.log(logits.shape); // [1, 2, 256]
   * ```
   */
  head(h: Tensor, batch: number, seq: number): Tensor {
    this.#alive();
    using x = rmsNorm(h, this.norm, this.config.rmsNormEps);
    using y = this.#head.forward(x);
    if (y.dtype === "f32") return y.reshape([batch, seq, this.config.vocabSize]);
    using y32 = cast(y, "f32");
    return y32.reshape([batch, seq, this.config.vocabSize]);
  }

  /** One decoder layer, yielding `[name, input]` before each projection. */
  *#layerSteps(
    i: number,
    h: Tensor,
    batch: number,
    seq: number,
  ): Generator<[string, Tensor], Tensor, void> {
    this.#alive();
    const c = this.config;
    if (!Number.isInteger(i) || i < 0 || i >= c.numHiddenLayers) {
      throw new RangeError(`layer ${i} does not exist; the model has ${c.numHiddenLayers} layers`);
    }
    if (h.rank !== 2 || h.shape[0] !== batch * seq || h.shape[1] !== c.hiddenSize) {
      throw new RangeError(
        `layer ${i}: hidden states ${h} must be [${
          batch * seq
        }, ${c.hiddenSize}] (batch·seq, hidden)`,
      );
    }
    if (c.slidingWindow !== null && seq > c.slidingWindow) {
      throw new RangeError(
        `layer ${i}: sequences of ${seq} tokens exceed the sliding window (${c.slidingWindow}); ` +
          `sliding-window attention is not implemented, use windows ≤ ${c.slidingWindow}`,
      );
    }
    const p = `layers.${i}`;
    const lin = (n: string) => this.#linears.get(`${p}.${n}`)!;
    const norms = this.#norms[i];
    const H = c.numAttentionHeads, KV = c.numKeyValueHeads, D = c.headDim;

    // Attention block.
    let attnOut: Tensor;
    {
      using x = rmsNorm(h, norms.input, c.rmsNormEps);
      yield [`${p}.self_attn.q_proj`, x];
      using q = lin("self_attn.q_proj").forward(x);
      yield [`${p}.self_attn.k_proj`, x];
      using k = lin("self_attn.k_proj").forward(x);
      yield [`${p}.self_attn.v_proj`, x];
      using v = lin("self_attn.v_proj").forward(x);
      using q4 = q.reshape([batch, seq, H, D]);
      using k4 = k.reshape([batch, seq, KV, D]);
      using qr4 = rope(q4, this.#invFreq);
      using kr4 = rope(k4, this.#invFreq);
      using qr = qr4.reshape([batch * seq, H * D]);
      using kr = kr4.reshape([batch * seq, KV * D]);
      using o = causalAttention(qr, kr, v, { batch, seq, heads: H, kvHeads: KV, headDim: D });
      yield [`${p}.self_attn.o_proj`, o];
      attnOut = lin("self_attn.o_proj").forward(o);
    }
    using h1 = add(h, attnOut);
    attnOut.dispose();

    // MLP block.
    using x = rmsNorm(h1, norms.post, c.rmsNormEps);
    yield [`${p}.mlp.gate_proj`, x];
    using gate = lin("mlp.gate_proj").forward(x);
    yield [`${p}.mlp.up_proj`, x];
    using up = lin("mlp.up_proj").forward(x);
    using act = unary("silu", gate);
    using prod = mul(act, up);
    yield [`${p}.mlp.down_proj`, prod];
    using down = lin("mlp.down_proj").forward(prod);
    return add(h1, down);
  }

  /** Frees every weight. Safe to call twice. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.embedTokens.dispose();
    this.norm.dispose();
    for (const n of this.#norms) {
      n.input.dispose();
      n.post.dispose();
    }
    for (const l of this.#linears.values()) l.dispose();
    this.#head.dispose();
    this.#invFreq.dispose();
  }

  /** Disposes at the end of a `using` scope. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  /** A one-line description. */
  toString(): string {
    const c = this.config;
    return `LlamaModel(${c.modelType}, ${c.numHiddenLayers} layers, hidden ${c.hiddenSize}, ` +
      `heads ${c.numAttentionHeads}/${c.numKeyValueHeads}, vocab ${c.vocabSize}, ${this.dtype})`;
  }

  #alive(): void {
    if (this.#disposed) throw new ReferenceError("LlamaModel: used after dispose()");
  }

  #unknown(name: string): string {
    const some = [...this.#linears.keys()].slice(0, 7).join(", ");
    return `no linear layer "${name}"; names look like ${some}, …, lm_head`;
  }
}

function isTokenBatch(x: unknown): x is TokenBatch {
  return typeof x === "object" && x !== null && (x as TokenBatch).ids instanceof Int32Array &&
    typeof (x as TokenBatch).batch === "number" && typeof (x as TokenBatch).seq === "number";
}
