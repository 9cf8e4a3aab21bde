/**
 * Pure-TS reference for model/attention.ts in f64: attention of `seq` new
 * queries per sequence against a key/value cache, one query and one head at
 * a time, with the textbook softmax. `causalAttention` is the case past = 0
 * with a cache of exactly `seq` positions.
 * @module
 */

/** The shape of a reference attention call. */
export interface AttentionRefDims {
  batch: number;
  seq: number;
  past: number;
  maxLength: number;
  heads: number;
  kvHeads: number;
  headDim: number;
}

/**
 * `q` is `[batch·seq, heads·headDim]`, `k` and `v` are `[batch, maxLength,
 * kvHeads·headDim]`; query t of sequence b is at position past + t and sees
 * keys 0 … past + t of that sequence; query head h reads kv head
 * ⌊h / (heads / kvHeads)⌋. Returns `[batch·seq, heads·headDim]`.
 */
export function cachedAttentionRef(
  q: ArrayLike<number>,
  k: ArrayLike<number>,
  v: ArrayLike<number>,
  d: AttentionRefDims,
): Float64Array {
  const { batch: B, seq: T, past, maxLength: L, heads: H, kvHeads: KV, headDim: D } = d;
  const out = new Float64Array(B * T * H * D);
  const rep = H / KV;
  for (let b = 0; b < B; b++) {
    for (let t = 0; t < T; t++) {
      for (let h = 0; h < H; h++) {
        const g = Math.floor(h / rep);
        const n = past + t + 1; // visible keys
        const s = new Float64Array(n);
        for (let j = 0; j < n; j++) {
          let dot = 0;
          for (let i = 0; i < D; i++) {
            dot += q[(b * T + t) * H * D + h * D + i] * k[(b * L + j) * KV * D + g * D + i];
          }
          s[j] = dot / Math.sqrt(D);
        }
        let max = -Infinity;
        for (const x of s) max = Math.max(max, x);
        let sum = 0;
        for (let j = 0; j < n; j++) sum += s[j] = Math.exp(s[j] - max);
        for (let i = 0; i < D; i++) {
          let acc = 0;
          for (let j = 0; j < n; j++) acc += s[j] * v[(b * L + j) * KV * D + g * D + i];
          out[(b * T + t) * H * D + h * D + i] = acc / sum;
        }
      }
    }
  }
  return out;
}
