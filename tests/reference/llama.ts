/**
 * A pure-TS float64 Llama forward (the math of `tools/check_tiny.py`, plus
 * biases, GQA and any head_dim): obviously correct and slow, for checking
 * the GPU model on small random configurations.
 * @module
 */
import { type LlamaConfig, ropeFrequencies } from "../../model/config.ts";
import { rmsNormRef } from "./norm.ts";

/** Weights by HF name as float arrays (row-major). */
export type CpuWeights = Map<string, Float32Array>;

/** `x [T, in] · W[out, in]ᵀ + b`. */
function lin(
  x: Float64Array,
  T: number,
  w: Float32Array,
  out: number,
  b?: Float32Array,
): Float64Array {
  const inF = w.length / out;
  const y = new Float64Array(T * out);
  for (let t = 0; t < T; t++) {
    for (let o = 0; o < out; o++) {
      let s = b ? b[o] : 0;
      for (let i = 0; i < inF; i++) s += x[t * inF + i] * w[o * inF + i];
      y[t * out + o] = s;
    }
  }
  return y;
}

/** Logits `[T, vocab]` (and the final residual stream `[T, hidden]`) for one sequence. */
export function llamaForwardRef(
  c: LlamaConfig,
  W: CpuWeights,
  ids: ArrayLike<number>,
): { logits: Float64Array; hidden: Float64Array } {
  const T = ids.length, h = c.hiddenSize, H = c.numAttentionHeads, KV = c.numKeyValueHeads;
  const D = c.headDim, m = c.intermediateSize;
  const inv = ropeFrequencies(c);
  const g = (n: string) => {
    const t = W.get(n);
    if (!t) throw new Error(`reference: missing ${n}`);
    return t;
  };
  const emb = g("model.embed_tokens.weight");
  let x = new Float64Array(T * h);
  for (let t = 0; t < T; t++) for (let i = 0; i < h; i++) x[t * h + i] = emb[ids[t] * h + i];
  const rope = (v: Float64Array, heads: number) => {
    for (let t = 0; t < T; t++) {
      for (let hh = 0; hh < heads; hh++) {
        const o = (t * heads + hh) * D;
        for (let i = 0; i < D / 2; i++) {
          const a = t * inv[i], cs = Math.cos(a), sn = Math.sin(a);
          const x1 = v[o + i], x2 = v[o + i + D / 2];
          v[o + i] = x1 * cs - x2 * sn;
          v[o + i + D / 2] = x2 * cs + x1 * sn;
        }
      }
    }
  };
  for (let l = 0; l < c.numHiddenLayers; l++) {
    const p = `model.layers.${l}.`;
    const b = (n: string) => W.get(`${p}${n}.bias`);
    const hn = rmsNormRef(x, g(`${p}input_layernorm.weight`), c.rmsNormEps);
    const q = lin(hn, T, g(`${p}self_attn.q_proj.weight`), H * D, b("self_attn.q_proj"));
    const k = lin(hn, T, g(`${p}self_attn.k_proj.weight`), KV * D, b("self_attn.k_proj"));
    const v = lin(hn, T, g(`${p}self_attn.v_proj.weight`), KV * D, b("self_attn.v_proj"));
    rope(q, H);
    rope(k, KV);
    const o = new Float64Array(T * H * D);
    for (let hh = 0; hh < H; hh++) {
      const kv = Math.floor(hh / (H / KV));
      for (let t = 0; t < T; t++) {
        const s = new Float64Array(t + 1);
        let mx = -Infinity;
        for (let j = 0; j <= t; j++) {
          let d = 0;
          for (let i = 0; i < D; i++) d += q[(t * H + hh) * D + i] * k[(j * KV + kv) * D + i];
          s[j] = d / Math.sqrt(D);
          mx = Math.max(mx, s[j]);
        }
        let z = 0;
        for (let j = 0; j <= t; j++) z += s[j] = Math.exp(s[j] - mx);
        for (let i = 0; i < D; i++) {
          let acc = 0;
          for (let j = 0; j <= t; j++) acc += (s[j] / z) * v[(j * KV + kv) * D + i];
          o[(t * H + hh) * D + i] = acc;
        }
      }
    }
    const ao = lin(o, T, g(`${p}self_attn.o_proj.weight`), h, b("self_attn.o_proj"));
    x = x.map((val, i) => val + ao[i]);
    const hn2 = rmsNormRef(x, g(`${p}post_attention_layernorm.weight`), c.rmsNormEps);
    const gate = lin(hn2, T, g(`${p}mlp.gate_proj.weight`), m, b("mlp.gate_proj"));
    const up = lin(hn2, T, g(`${p}mlp.up_proj.weight`), m, b("mlp.up_proj"));
    const act = gate.map((gv, i) => (gv / (1 + Math.exp(-gv))) * up[i]);
    const down = lin(act, T, g(`${p}mlp.down_proj.weight`), h, b("mlp.down_proj"));
    x = x.map((val, i) => val + down[i]);
  }
  const xn = rmsNormRef(x, g("model.norm.weight"), c.rmsNormEps);
  const head = c.tieWordEmbeddings ? emb : g("lm_head.weight");
  return { logits: lin(xn, T, head, c.vocabSize), hidden: x };
}
