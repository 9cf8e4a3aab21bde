/**
 * Causal grouped-query attention as Llama-family models compute it (HF
 * transformers' eager path): per query head `h`, with kv head `g = ⌊h / rep⌋`
 * (`rep = heads / kvHeads`, HF's `repeat_kv`):
 *
 * ```text
 * P = softmax_f32(Q_h·K_gᵀ / √headDim + causal mask)      O_h = P·V_g
 * ```
 *
 * Q, K and V stay in the projections' layout `[batch·seq, heads·headDim]`:
 * each head is a strided sub-matrix read in place by the GEMM (no transpose,
 * no repeated K/V), and each head's output is written straight into its
 * columns of `[batch·seq, heads·headDim]`, ready for `o_proj`. Only the score
 * tiles on or below the diagonal are computed (the causal softmax never reads
 * the others). Scores are f32
 * and one head is held at a time (`[sequences, seq, seq]`, as many sequences
 * as fit in 256 MiB, at least one), so memory grows with seq² but not with
 * the number of heads or the batch. For f16 models the probabilities are
 * rounded to f16 before `P·V`, as HF does (`softmax(…, dtype=float32).to(q.dtype)`).
 * {@link cachedAttention} is the same computation for new tokens against a
 * key/value cache (decoding).
 *
 * Differentiable: under a tape the op records its backward
 * (`attention_grad.ts`), which keeps only Q, K and V and recomputes P.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../mod.ts";
 * import { causalAttention } from "./attention.ts";
 * await initGPU();
 * // one sequence of 2 tokens, 1 head of dim 2: the first token sees only itself
 * using q = Tensor.fromArray([[1, 0], [0, 1]]);
 * using k = Tensor.fromArray([[1, 0], [0, 1]]);
 * using v = Tensor.fromArray([[1, 2], [3, 4]]);
 * using o = causalAttention(q, k, v, { batch: 1, seq: 2, heads: 1, kvHeads: 1, headDim: 2 });
 * console.log((await o.data()).slice(0, 2)); // Float32Array [1, 2]
 * ```
 * @module
 */
import { Tensor } from "../kernels/tensor.ts";
import { gemm, type MatrixView } from "../kernels/ops/matmul.ts";
import { softmax } from "../kernels/ops/softmax.ts";
import { cast } from "../kernels/ops/elementwise.ts";
import { record } from "../kernels/autograd.ts";
import { causalAttentionGrad } from "./attention_grad.ts";

/** Bytes of f32 scores one pass may hold (one head, several sequences): 256 MiB. */
const SCORES_BUDGET = 256 * 2 ** 20;

/** The shape of an attention call. */
export interface AttentionDims {
  /** Sequences in the batch. */
  batch: number;
  /** Tokens per sequence. */
  seq: number;
  /** Query heads. */
  heads: number;
  /** Key/value heads (divides `heads`). */
  kvHeads: number;
  /** Dimension of each head. */
  headDim: number;
}

/**
 * Causal multi-head / grouped-query attention.
 *
 * @param q queries `[batch·seq, heads·headDim]` (RoPE applied)
 * @param k keys `[batch·seq, kvHeads·headDim]` (RoPE applied)
 * @param v values `[batch·seq, kvHeads·headDim]`
 * @param dims the shape; scores are scaled by `1/√headDim` unless `scale` is
 *   given; `maxScoresBytes` bounds the f32 scores held at once (default 256 MiB)
 * @returns `[batch·seq, heads·headDim]` in the inputs' dtype
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../mod.ts";
 * import { causalAttention } from "./attention.ts";
 * await initGPU();
 * // 2 query heads share 1 kv head (GQA); batch 2, seq 3, headDim 4
 * using q = Tensor.randn([6, 8], { seed: 1 });
 * using k = Tensor.randn([6, 4], { seed: 2 });
 * using v = Tensor.randn([6, 4], { seed: 3 });
 * using o = causalAttention(q, k, v, { batch: 2, seq: 3, heads: 2, kvHeads: 1, headDim: 4 });
 * console.log(o.shape); // [6, 8]
 * ```
 */
export function causalAttention(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  dims: AttentionDims & { scale?: number; maxScoresBytes?: number },
): Tensor {
  const { batch: B, seq: T, heads: H, kvHeads: KV, headDim: D } = dims;
  checkHeads("causalAttention", H, KV);
  const check = (t: Tensor, name: string, cols: number) => {
    if (t.rank !== 2 || t.shape[0] !== B * T || t.shape[1] !== cols) {
      throw new RangeError(
        `causalAttention: ${name} ${t} must have shape [${B * T}, ${cols}] ` +
          `(batch·seq, ${name === "q" ? "heads" : "kvHeads"}·headDim)`,
      );
    }
    if (t.dtype !== q.dtype) {
      throw new TypeError(`causalAttention: ${name} ${t} must have q's dtype ${q.dtype}`);
    }
  };
  check(q, "q", H * D);
  check(k, "k", KV * D);
  check(v, "v", KV * D);
  const out = attend(q, k, v, { ...dims, keys: T, kvStride: T * KV * D });
  // The backward (attention_grad.ts) recomputes the probabilities from q and k.
  const saved = { ...dims, scale: dims.scale ?? 1 / Math.sqrt(D) };
  return record(
    "causalAttention",
    [q, k, v],
    out,
    [q, k, v],
    (g, [q, k, v]) => causalAttentionGrad(g, q, k, v, saved),
  );
}

/**
 * Attention of new query tokens against a key/value cache (decoding): the
 * `seq` queries of each sequence are at positions `past … past+seq−1` and
 * attend to the cached positions `0 … past+seq−1` (their own keys and values
 * already written there), query i seeing keys j ≤ past + i:
 *
 * ```text
 * P = softmax_f32(Q_h·K_g[0:past+seq]ᵀ / √headDim + causal mask)      O_h = P·V_g[0:past+seq]
 * ```
 *
 * The cache keeps each sequence's rows contiguous, `[batch, maxLength,
 * kvHeads·headDim]` (`model/kv_cache.ts`), so one head of one sequence is a
 * strided `[past+seq, headDim]` matrix that the GEMM reads in place, as in
 * {@link causalAttention} (which this equals when `past` is 0). Cache
 * positions from `past + seq` on are never read.
 *
 * Reference: `tests/reference/attention.ts`.
 *
 * @param q queries `[batch·seq, heads·headDim]` (RoPE applied at their positions)
 * @param k cached keys `[batch, maxLength, kvHeads·headDim]`, valid up to `past + seq`
 * @param v cached values, same shape
 * @param dims the shape, with `past`, the number of positions cached before these queries
 * @returns `[batch·seq, heads·headDim]` in the inputs' dtype
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../mod.ts";
 * import { cachedAttention } from "./attention.ts";
 * await initGPU();
 * // one sequence, cache of 4 positions holding 2; the query at position 1 sees both values
 * using k = Tensor.fromArray([[[0, 0], [0, 0], [9, 9], [9, 9]]]); // [1, 4, 2]
 * using v = Tensor.fromArray([[[1, 2], [3, 4], [9, 9], [9, 9]]]);
 * using q = Tensor.fromArray([[1, 0]]);
 * using o = cachedAttention(q, k, v, { batch: 1, seq: 1, past: 1, heads: 1, kvHeads: 1, headDim: 2 });
 * console.log(await o.data()); // Float32Array [2, 3]
 * ```
 */
export function cachedAttention(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  dims: AttentionDims & { past: number; scale?: number; maxScoresBytes?: number },
): Tensor {
  const op = "cachedAttention";
  const { batch: B, seq: T, heads: H, kvHeads: KV, headDim: D, past } = dims;
  checkHeads(op, H, KV);
  if (!Number.isInteger(past) || past < 0) {
    throw new RangeError(`${op}: past ${past} must be an integer ≥ 0 (positions already cached)`);
  }
  if (q.rank !== 2 || q.shape[0] !== B * T || q.shape[1] !== H * D) {
    throw new RangeError(
      `${op}: q ${q} must have shape [${B * T}, ${H * D}] (batch·seq, heads·headDim)`,
    );
  }
  const L = k.shape[1];
  for (const [name, t] of [["k", k], ["v", v]] as const) {
    if (t.rank !== 3 || t.shape[0] !== B || t.shape[1] !== L || t.shape[2] !== KV * D) {
      throw new RangeError(
        `${op}: ${name} ${t} must have shape [${B}, maxLength, ${KV * D}] ` +
          `(batch, maxLength, kvHeads·headDim) like k`,
      );
    }
    if (t.dtype !== q.dtype) {
      throw new TypeError(`${op}: ${name} ${t} must have q's dtype ${q.dtype}`);
    }
  }
  if (past + T > L) {
    throw new RangeError(
      `${op}: positions up to ${past + T} (past ${past} + seq ${T}) do not fit the cache of ` +
        `${L}; make the cache longer`,
    );
  }
  return attend(q, k, v, { ...dims, keys: past + T, kvStride: L * KV * D });
}

function checkHeads(op: string, H: number, KV: number): void {
  if (!(KV > 0) || H % KV !== 0) {
    throw new RangeError(`${op}: kvHeads ${KV} must divide heads ${H}`);
  }
}

/**
 * The shared body: per query head, scores `[seq, keys]` = Q_h·K_gᵀ·scale, the
 * causal softmax (the queries are the last `seq` of the `keys` positions),
 * then P·V_g into the head's columns of the output. K and V rows of sequence
 * b start at `b·kvStride` elements.
 */
function attend(
  q: Tensor,
  k: Tensor,
  v: Tensor,
  d: AttentionDims & { keys: number; kvStride: number; scale?: number; maxScoresBytes?: number },
): Tensor {
  const { batch: B, seq: T, heads: H, kvHeads: KV, headDim: D, keys: S, kvStride } = d;
  const dtype = q.dtype;
  const rep = H / KV;
  const scale = d.scale ?? 1 / Math.sqrt(D);
  const out = Tensor.empty([B * T, H * D], dtype);
  if (out.size === 0) return out;
  // Sequences per pass, so that one head's f32 scores stay within a budget.
  const perPass = Math.max(
    1,
    Math.min(B, Math.floor((d.maxScoresBytes ?? SCORES_BUDGET) / (T * S * 4))),
  );
  for (let b0 = 0; b0 < B; b0 += perPass) {
    const nb = Math.min(perPass, B - b0);
    // Head `col` of the queries or the output `[B·T, H·D]`, for sequences b0 … b0+nb−1.
    const qHead = (t: Tensor, col: number): MatrixView => ({
      buffer: t.buffer,
      offset: b0 * T * H * D + col * D,
      ld: H * D,
      batchStride: T * H * D,
      dtype,
    });
    // Head `g` of keys or values: rows of KV·D, sequences kvStride apart.
    const kvHead = (t: Tensor, g: number): MatrixView => ({
      buffer: t.buffer,
      offset: b0 * kvStride + g * D,
      ld: KV * D,
      batchStride: kvStride,
      dtype,
    });
    for (let h = 0; h < H; h++) {
      const g = Math.floor(h / rep);
      using scores = Tensor.empty([nb, T, S], "f32");
      gemm({
        a: qHead(q, h),
        b: { ...kvHead(k, g), trans: true },
        c: { buffer: scores.buffer, offset: 0, ld: S, batchStride: T * S, dtype: "f32" },
        M: T,
        N: S,
        K: D,
        batch: nb,
        alpha: scale,
        // square scores: the causal softmax never reads the upper triangle
        lowerOnly: S === T,
      });
      using p32 = softmax(scores, { causal: true });
      using p16 = dtype === "f32" ? undefined : cast(p32, dtype);
      const p = p16 ?? p32;
      gemm({
        a: { buffer: p.buffer, offset: 0, ld: S, batchStride: T * S, dtype },
        b: kvHead(v, g),
        c: qHead(out, h),
        M: T,
        N: D,
        K: S,
        batch: nb,
      });
    }
  }
  return out;
}
