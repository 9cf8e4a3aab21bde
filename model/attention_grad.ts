/**
 * The backward rule of {@link causalAttention} (`attention.ts` records it).
 * Per query head `h` with kv head `g = ⌊h / rep⌋`, the probabilities are
 * recomputed from Q and K (the forward keeps no `[T, T]` per head), then
 *
 * ```text
 * P  = softmax(scale·Q_h·K_gᵀ + causal mask)
 * dV_g += Pᵀ·dO_h            dP = dO_h·V_gᵀ
 * dS = P ⊙ (dP − rowsum(dP ⊙ P))                  (kernels/ops/softmax_backward.ts)
 * dQ_h  = scale·dS·K_g       dK_g += scale·dSᵀ·Q_h
 * ```
 *
 * dK and dV sum over the `rep` query heads of a group (HF's `repeat_kv` is a
 * broadcast, its gradient a sum). Every product is the forward's strided
 * `gemm` on the heads in place (no transposes, no repeated K/V); only the
 * score tiles on or below the diagonal are computed, and the causal softmax
 * backward never reads the others. Gradients are accumulated in f32 and
 * rounded once to the inputs' dtype; for f16 inputs P and dS are rounded to
 * f16 before their products, as the forward rounds P.
 *
 * Reference: `tests/model/attention_grad_test.ts` (f64 finite differences).
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../mod.ts";
 * import { causalAttentionGrad } from "./attention_grad.ts";
 * await initGPU();
 * // one token attends only to itself: dV = dO, dQ = dK = 0
 * using q = Tensor.fromArray([[1, 2]]);
 * using k = Tensor.fromArray([[3, 4]]);
 * using v = Tensor.fromArray([[5, 6]]);
 * using dO = Tensor.fromArray([[1, -1]]);
 * const [dq, dk, dv] = causalAttentionGrad(dO, q, k, v, {
 *   batch: 1, seq: 1, heads: 1, kvHeads: 1, headDim: 2,
 * });
 * console.log(await dq.data(), await dk.data(), await dv.data());
 * // Float32Array [0, 0] Float32Array [0, 0] Float32Array [1, -1]
 * for (const t of [dq, dk, dv]) t.dispose();
 * ```
 * @module
 */
import { Tensor } from "../kernels/tensor.ts";
import { gemm, type MatrixView } from "../kernels/ops/matmul.ts";
import { softmax } from "../kernels/ops/softmax.ts";
import { softmaxBackward } from "../kernels/ops/softmax_backward.ts";
import { cast } from "../kernels/ops/elementwise.ts";
import type { AttentionDims } from "./attention.ts";

/** Bytes of f32 scores one pass may hold (one head, several sequences): 256 MiB. */
const SCORES_BUDGET = 256 * 2 ** 20;

/**
 * Gradients `[dQ, dK, dV]` of `causalAttention(q, k, v, dims)` given the
 * output gradient `dO` (`[batch·seq, heads·headDim]`). New tensors in the
 * inputs' shapes and dtype, owned by the caller.
 */
export function causalAttentionGrad(
  dO: Tensor,
  q: Tensor,
  k: Tensor,
  v: Tensor,
  dims: AttentionDims & { scale?: number; maxScoresBytes?: number },
): [Tensor, Tensor, Tensor] {
  const { batch: B, seq: T, heads: H, kvHeads: KV, headDim: D } = dims;
  const dtype = q.dtype;
  if (dO.rank !== 2 || dO.shape[0] !== B * T || dO.shape[1] !== H * D) {
    throw new RangeError(
      `causalAttentionGrad: the output gradient ${dO} must have shape [${B * T}, ${H * D}]`,
    );
  }
  const rep = H / KV;
  const scale = dims.scale ?? 1 / Math.sqrt(D);
  using go = dO.dtype === dtype ? dO.share() : cast(dO, dtype);
  // f32 accumulators: dK and dV sum over the heads of a group.
  const dq = Tensor.zeros([B * T, H * D], "f32");
  const dk = Tensor.zeros([B * T, KV * D], "f32");
  const dv = Tensor.zeros([B * T, KV * D], "f32");
  const perPass = Math.max(
    1,
    Math.min(B, Math.floor((dims.maxScoresBytes ?? SCORES_BUDGET) / (T * T * 4))),
  );
  const toDtype = (t: Tensor) => (t.dtype === dtype ? t.share() : cast(t, dtype));
  for (let b0 = 0; b0 < B; b0 += perPass) {
    const nb = Math.min(perPass, B - b0);
    const head = (t: Tensor, width: number, col: number): MatrixView => ({
      buffer: t.buffer,
      offset: b0 * T * width * D + col * D,
      ld: width * D,
      batchStride: T * width * D,
      dtype: t.dtype,
    });
    const sq = (t: Tensor, trans = false): MatrixView => ({
      buffer: t.buffer,
      offset: 0,
      ld: T,
      batchStride: T * T,
      dtype: t.dtype,
      trans,
    });
    for (let h = 0; h < H; h++) {
      const g = Math.floor(h / rep);
      // P = softmax(scale·Q_h·K_gᵀ), recomputed.
      using scores = Tensor.empty([nb, T, T], "f32");
      gemm({
        a: head(q, H, h),
        b: { ...head(k, KV, g), trans: true },
        c: sq(scores),
        M: T,
        N: T,
        K: D,
        batch: nb,
        alpha: scale,
        lowerOnly: true,
      });
      using p32 = softmax(scores, { causal: true });
      using p = toDtype(p32);
      // dV_g += Pᵀ·dO_h
      gemm({
        a: sq(p, true),
        b: head(go, H, h),
        c: head(dv, KV, g),
        M: T,
        N: D,
        K: T,
        batch: nb,
        accumulate: true,
      });
      // dP = dO_h·V_gᵀ (lower tiles only: the causal backward reads no others)
      using dp = Tensor.empty([nb, T, T], "f32");
      gemm({
        a: head(go, H, h),
        b: { ...head(v, KV, g), trans: true },
        c: sq(dp),
        M: T,
        N: T,
        K: D,
        batch: nb,
        lowerOnly: true,
      });
      // dS = P ⊙ (dP − rowsum(dP ⊙ P)), from the f32 probabilities.
      using ds32 = softmaxBackward(p32, dp, { causal: true });
      using ds = toDtype(ds32);
      // dQ_h = scale·dS·K_g;  dK_g += scale·dSᵀ·Q_h
      gemm({
        a: sq(ds),
        b: head(k, KV, g),
        c: head(dq, H, h),
        M: T,
        N: D,
        K: T,
        batch: nb,
        alpha: scale,
      });
      gemm({
        a: sq(ds, true),
        b: head(q, H, h),
        c: head(dk, KV, g),
        M: T,
        N: D,
        K: T,
        batch: nb,
        alpha: scale,
        accumulate: true,
      });
    }
  }
  if (dtype === "f32") return [dq, dk, dv];
  try {
    return [cast(dq, dtype), cast(dk, dtype), cast(dv, dtype)];
  } finally {
    dq.dispose();
    dk.dispose();
    dv.dispose();
  }
}
