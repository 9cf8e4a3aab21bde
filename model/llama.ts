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
import { cast } from "../kernels/ops/elementwise.ts";
import { linear } from "../kernels/ops/matmul.ts";
import { checkpoint } from "../kernels/autograd.ts";
import { embedding } from "../kernels/ops/gather.ts";
import { rmsNorm } from "../kernels/ops/norm.ts";
import { decoderLayerSteps } from "./decoder_layer.ts";
import { type LlamaConfig, ropeFrequencies } from "./config.ts";
import { llamaBundle } from "./llama_view.ts";
import { describeNonFinite } from "./finite.ts";
import type { ForwardOptions, LinearInputHook } from "./forward_options.ts";
import type { KVCache } from "./kv_cache.ts";
import { DenseLinear, type Linear } from "./linear.ts";
import { type LayerNorms, ModelParts } from "./parts.ts";
import { LAYER_LINEARS } from "./topology.ts";
import { isTokenBatch, type TokenBatch, type TokenIds, toTokenBatch } from "./tokens.ts";

export {
  type InputGroup,
  LAYER_LINEARS,
  LAYER_TOPOLOGY,
  type LayerLinear,
  sharedInput,
} from "./topology.ts";
export { type TokenBatch, type TokenIds, toTokenBatch } from "./tokens.ts";
export type { ForwardOptions, LinearInputHook } from "./forward_options.ts";

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
export class LlamaModel extends ModelParts {
  /** The checked configuration. */
  readonly config: LlamaConfig;
  /** The dtype of weights and activations (logits are always f32). */
  readonly dtype: "f32" | "f16";
  /** Token embeddings `[vocab, hidden]`. */
  readonly embedTokens: Tensor;
  /** Final RMSNorm weight `[hidden]`. */
  readonly norm: Tensor;
  /** The checkpoint folder the model was loaded from (set by `loadModel`), for savers. */
  source?: string;
  readonly #invFreq: Tensor;
  /** The lm_head built at construction over the tied embeddings (undefined when untied). */
  readonly #tiedHead?: Linear;

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
  constructor(config: LlamaConfig, weights: Map<string, Tensor>, dtype: "f32" | "f16" = "f32") {
    super();
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
    const norms: LayerNorms[] = [];
    const linears = new Map<string, Linear>();
    for (let i = 0; i < config.numHiddenLayers; i++) {
      const p = `model.layers.${i}`;
      norms.push({
        input: take(`${p}.input_layernorm.weight`),
        post: take(`${p}.post_attention_layernorm.weight`),
      });
      for (const l of LAYER_LINEARS) {
        const bias = weights.has(`${p}.${l}.bias`) ? take(`${p}.${l}.bias`) : undefined;
        linears.set(`layers.${i}.${l}`, new DenseLinear(take(`${p}.${l}.weight`), bias));
      }
    }
    const head = new DenseLinear(
      config.tieWordEmbeddings
        ? this.embedTokens.reshape(this.embedTokens.shape)
        : take("lm_head.weight"),
    );
    if (config.tieWordEmbeddings) this.#tiedHead = head;
    this.initParts(norms, linears, head);
    this.#invFreq = Tensor.fromArray(ropeFrequencies(config), [config.headDim / 2], "f32");
  }

  /** Number of decoder layers. */
  get numLayers(): number {
    return this.config.numHiddenLayers;
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
    using h = this.forwardHidden(b, {
      cache: options.cache,
      checkpointLayers: options.checkpointLayers,
    });
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
    const cache = options.cache;
    if (cache && options.checkpointLayers) {
      throw new RangeError(
        "forwardHidden: checkpointLayers is for training and a cache for decoding; pass one of them",
      );
    }
    cache?.checkModel(this.config, n, this.numLayers, `${this}`);
    cache?.checkFits(b.batch, b.seq, this.dtype);
    let h = this.embed(b.ids);
    try {
      for (let i = 0; i < n; i++) {
        const next = options.checkpointLayers
          ? checkpoint((x) => this.layerForward(i, x, b.batch, b.seq), [h])
          : this.#drive(this.#steps(i, h, b.batch, b.seq, cache));
        h.dispose();
        h = next;
      }
    } catch (e) {
      h.dispose();
      throw e;
    }
    cache?.advance(b.seq);
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
    this.alive();
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
    return this.#drive(this.#steps(i, h, batch, seq), onLinearInput);
  }

  /** Runs a layer's steps, calling a synchronous hook before each projection. */
  #drive(steps: ReturnType<typeof decoderLayerSteps>, onLinearInput?: LinearInputHook): Tensor {
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
    const steps = this.#steps(i, h, batch, seq);
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
    this.alive();
    using x = rmsNorm(h, this.norm, this.config.rmsNormEps);
    const lin = this.getLinear("lm_head");
    // Tied: the embedding table itself (not the head's view of it), so its gradient
    // collects both uses.
    using y = lin === this.#tiedHead ? linear(x, this.embedTokens) : lin.forward(x);
    if (y.dtype === "f32") return y.reshape([batch, seq, this.config.vocabSize]);
    using y32 = cast(y, "f32");
    return y32.reshape([batch, seq, this.config.vocabSize]);
  }

  #steps(i: number, h: Tensor, batch: number, seq: number, cache?: KVCache) {
    this.alive();
    const p = `layers.${i}`;
    return decoderLayerSteps(
      {
        config: this.config,
        invFreq: this.#invFreq,
        norms: i >= 0 && i < this.numLayers
          ? { input: this.layerNorm(i, "input"), post: this.layerNorm(i, "post") }
          : { input: h, post: h }, // a bad i is reported by the steps
        linear: (n) => this.getLinear(`${p}.${n}`),
      },
      i,
      h,
      batch,
      seq,
      { cache },
    );
  }

  /**
   * The model's trainable weights by HF name (`model.embed_tokens.weight`,
   * `model.layers.0.input_layernorm.weight`, `model.layers.0.self_attn.q_proj.weight`,
   * biases where present, …, `model.norm.weight`, `lm_head.weight` unless
   * tied — tied embeddings appear once), in forward order. The tensors are
   * the model's own (not copies): an optimizer updates them in place, and a
   * tape watching them makes {@link forward} differentiable. Quantized
   * linears (anything but a `DenseLinear`) are not trainable here and are left out.
   *
   * @example
   * ```ts
   * import { initGPU } from "../mod.ts";
   * import { loadModel } from "./load.ts";
   * await initGPU();
   * using model = await loadModel("data/tiny");
   * const params = model.parameters();
   * console.log(params.size, [...params.keys()][0]); // 38 model.embed_tokens.weight
   * ```
   */
  parameters(): Map<string, Tensor> {
    this.alive();
    const named = this.#inOrder((name) => {
      const lin = this.getLinear(name);
      return lin instanceof DenseLinear && lin !== this.#tiedHead ? this.#parts(name) : [];
    });
    return new Map(named.filter((e): e is [string, Tensor] => e[1] instanceof Tensor));
  }

  /**
   * The first weight, in forward order, that holds NaN or ±Inf, as
   * `model.layers.1.input_layernorm.weight[17] = NaN`; undefined when every
   * weight is finite. Reads every weight back from the GPU: meant for error
   * reports (the evaluation functions call it when a loss is not finite).
   * Quantized layers are checked through their `weight` when they expose one.
   *
   * @example
   * ```ts
   * import { initGPU } from "../mod.ts";
   * import { loadModel } from "./load.ts";
   * await initGPU();
   * using model = await loadModel("data/tiny");
   * console.log(await model.findNonFinite()); // undefined
   * ```
   */
  async findNonFinite(): Promise<string | undefined> {
    this.alive();
    const tied = this.config.tieWordEmbeddings;
    for (const [name, t] of this.#inOrder((n) => (n === "lm_head" && tied ? [] : this.#parts(n)))) {
      if (!(t instanceof Tensor)) continue;
      const found = describeNonFinite(name, await t.data() as ArrayLike<number>, t.shape);
      if (found) return found;
    }
    return undefined;
  }

  /** HF-named weights in forward order; `linear(name)` gives a projection's entries. */
  #inOrder(linear: (name: string) => [string, unknown][]): [string, unknown][] {
    const named: [string, unknown][] = [["model.embed_tokens.weight", this.embedTokens]];
    for (let i = 0; i < this.numLayers; i++) {
      named.push([`model.layers.${i}.input_layernorm.weight`, this.layerNorm(i, "input")]);
      for (const l of LAYER_LINEARS.slice(0, 4)) named.push(...linear(`layers.${i}.${l}`));
      named.push([`model.layers.${i}.post_attention_layernorm.weight`, this.layerNorm(i, "post")]);
      for (const l of LAYER_LINEARS.slice(4)) named.push(...linear(`layers.${i}.${l}`));
    }
    named.push(["model.norm.weight", this.norm], ...linear("lm_head"));
    return named;
  }

  /** A linear's float weight and bias with their HF names, where it has them. */
  #parts(name: string): [string, unknown][] {
    const lin = this.getLinear(name) as {
      weight?: unknown;
      bias?: unknown;
    };
    const hf = name === "lm_head" ? name : `model.${name}`;
    return [[`${hf}.weight`, lin.weight], [`${hf}.bias`, lin.bias]];
  }

  /** Frees every weight. Safe to call twice. */
  dispose(): void {
    if (!this.disposeParts()) return;
    this.embedTokens.dispose();
    this.norm.dispose();
    this.#invFreq.dispose();
  }

  /** Disposes at the end of a `using` scope. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  /** Jupyter display (Deno kernel): configuration and projections (`llama_view.ts`). */
  [Symbol.for("Jupyter.display")](): { "text/plain": string; "text/html": string } {
    return llamaBundle(this);
  }

  /** A one-line description. */
  override toString(): string {
    const c = this.config;
    return `LlamaModel(${c.modelType}, ${c.numHiddenLayers} layers, hidden ${c.hiddenSize}, ` +
      `heads ${c.numAttentionHeads}/${c.numKeyValueHeads}, vocab ${c.vocabSize}, ${this.dtype})`;
  }
}
