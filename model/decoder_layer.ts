/**
 * One Llama decoder layer as a sequence of steps: pre-norm attention with
 * RoPE and causal GQA, then the SwiGLU MLP, each projection's input yielded
 * before it runs (what calibration capture hooks into).
 *
 * ```text
 * x = RMSNorm(h);  q, k, v = x·Wqᵀ, x·Wkᵀ, x·Wvᵀ;  q, k = RoPE(q), RoPE(k)
 * h = h + o_proj(causal GQA attention(q, k, v))
 * x = RMSNorm(h);  h = h + down(silu(gate(x)) · up(x))
 * ```
 *
 * @example
 * ```ts
 * import { initGPU } from "../mod.ts";
 * import { loadModel } from "./load.ts";
 * await initGPU();
 * using model = await loadModel("data/tiny");
 * using h0 = model.embed(new Int32Array([1, 2, 3]));
 * const names: string[] = [];
 * using h1 = model.layerForward(0, h0, 1, 3, (name) => void names.push(name));
 * console.log(names.length, h1.shape); // 7 [3, 128]
 * ```
 * @module
 */
import type { Tensor } from "../kernels/tensor.ts";
import { add, mul, unary } from "../kernels/ops/elementwise.ts";
import { rmsNorm } from "../kernels/ops/norm.ts";
import { rope } from "../kernels/ops/rope.ts";
import { cachedAttention, causalAttention } from "./attention.ts";
import type { LlamaConfig } from "./config.ts";
import type { KVCache } from "./kv_cache.ts";
import type { Linear } from "./linear.ts";

/** What a decoder layer reads from its model. */
export interface LayerParts {
  /** The model's config. */
  readonly config: LlamaConfig;
  /** RoPE inverse frequencies. */
  readonly invFreq: Tensor;
  /** Layer i's RMSNorm weights. */
  readonly norms: { readonly input: Tensor; readonly post: Tensor };
  /** Layer i's projection by suffix (`self_attn.q_proj`). */
  linear(suffix: string): Linear;
}

/** Options of {@link decoderLayerSteps}. */
export interface LayerStepOptions {
  /**
   * Decode against this cache: the tokens are at positions `cache.length …`
   * (RoPE there), their keys and values are written into layer i's cache,
   * and attention reads every cached position. The caller advances the
   * cache after the last layer. Default: none (positions 0 … seq−1).
   */
  cache?: KVCache;
}

/**
 * One decoder layer, yielding `[name, input]` before each projection and
 * returning the new residual stream `[batch·seq, hidden]`.
 */
export function* decoderLayerSteps(
  m: LayerParts,
  i: number,
  h: Tensor,
  batch: number,
  seq: number,
  options: LayerStepOptions = {},
): Generator<[string, Tensor], Tensor, void> {
  const c = m.config;
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
  const cache = options.cache;
  const past = cache?.length ?? 0;
  if (c.slidingWindow !== null && past + seq > c.slidingWindow) {
    throw new RangeError(
      `layer ${i}: sequences of ${past + seq} tokens exceed the sliding window ` +
        `(${c.slidingWindow}); sliding-window attention is not implemented, use windows ≤ ${c.slidingWindow}`,
    );
  }
  cache?.checkFits(batch, seq, h.dtype);
  const p = `layers.${i}`;
  const lin = (n: string) => m.linear(n);
  const norms = m.norms;
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
    using qr4 = rope(q4, m.invFreq, { offset: past });
    using kr4 = rope(k4, m.invFreq, { offset: past });
    using qr = qr4.reshape([batch * seq, H * D]);
    using kr = kr4.reshape([batch * seq, KV * D]);
    const dims = { batch, seq, heads: H, kvHeads: KV, headDim: D };
    cache?.write(i, kr, v);
    using o = cache
      ? cachedAttention(qr, cache.keys(i), cache.values(i), { ...dims, past })
      : causalAttention(qr, kr, v, dims);
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
