/**
 * LQER — low-rank quantization error reconstruction.
 *
 * C. Zhang, J. Cheng, G. A. Constantinides, Y. Zhao, "LQER: Low-Rank
 * Quantization Error Reconstruction for LLMs", ICML 2024, arXiv 2402.02446.
 *
 * Algorithm (per linear layer; the paper writes y = x·W with W ∈ ℝ^{in×out},
 * here W is stored [out, in] and Eᵀ is the paper's E_q):
 *   1. W_q = Q(W);  E_q = W − W_q                       (the quantization error)
 *   2. L²QER: S = diag(s), s_i = mean |x_i| over calibration tokens
 *      (activation-induced scales; plain LQER uses S = I)
 *   3. S·E_qᵀ ≈ U_k Σ_k V_kᵀ  (truncated SVD, rank k)
 *   4. A_k = S⁻¹·U_k (in×k),  B_k = Σ_k·V_kᵀ (k×out);   W ≈ W_q + A_k·B_k
 *   5. y = x·W_qᵀ + (x·A_k)·B_k — a `QuantLinear` with a low-rank part; the factors
 *      are stored in f16 and counted in bits per weight.
 * In this library's [out, in] layout the correction is stored as
 * `a` = B_kᵀ [out, k] and `b` = A_kᵀ [k, in]: W ≈ W_q + a·b.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { DenseLinear } from "../../model/linear.ts";
 * import { int } from "../quantizer.ts";
 * import { lqerLinear } from "./lqer.ts";
 * await initGPU();
 * using dense = new DenseLinear(Tensor.randn([16, 32], { seed: 0 }));
 * using lin = await lqerLinear(dense, int(3, { group: 16 }), { rank: 4 });
 * console.log(lin.rank, lin.bitsPerWeight.toFixed(2)); // 4 8.00
 * ```
 * @module
 */
import { Tensor } from "../../kernels/tensor.ts";
import { mul, sub } from "../../kernels/ops/elementwise.ts";
import { transpose } from "../../kernels/ops/layout.ts";
import { truncatedSvd } from "../../kernels/ops/svd.ts";
import type { LayerMethod } from "../model.ts";
import { quantizeParts, type QuantLinear, type WeightedLinear, withParts } from "../linear.ts";
import { quantError } from "../metrics.ts";
import type { Quantizer } from "../quantizer.ts";
import { type MethodWrapper, wrapMethod, type WrapperOptions } from "./_wrap.ts";

/**
 * Rank-k factors of E·diag(s) mapped back: E ≈ a·b with a = U_k·Σ_k `[out, k]`,
 * b = V_kᵀ·diag(s)⁻¹ `[k, in]` (steps 3–4; s = 1 when omitted).
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { lowRankError } from "./lqer.ts";
 * await initGPU();
 * using e = Tensor.fromArray([[2, 0], [0, 0.5]]);
 * const { a, b } = await lowRankError(e, 1);
 * console.log(await a.data(), await b.data()); // a ≈ [2, 0], b ≈ [1, 0] (up to sign)
 * a.dispose();
 * b.dispose();
 * ```
 */
export async function lowRankError(
  e: Tensor,
  rank: number,
  scales?: Tensor,
  options: { seed?: number } = {},
): Promise<{ a: Tensor; b: Tensor }> {
  const [out, inF] = e.shape;
  let m = e;
  if (scales) {
    if (scales.size !== inF) {
      throw new RangeError(`lowRankError: ${scales} must have ${inF} scales`);
    }
    using s2 = scales.reshape([1, inF]);
    m = mul(e, s2);
  }
  try {
    const { u, s, v } = await truncatedSvd(m, Math.min(rank, out, inF), { seed: options.seed });
    using _u = u;
    using _v = v;
    using sig = Tensor.fromArray(s, [1, s.length]);
    const a = mul(u, sig); // U_k·Σ_k  [out, k]
    let b: Tensor;
    if (scales) {
      using inv = Tensor.fromArray(
        Float32Array.from(await scales.data(), (x) => (x > 0 ? 1 / x : 0)),
        [inF, 1],
      );
      using vs = mul(v, inv); // diag(s)⁻¹·V_k  [in, k]
      b = transpose(vs);
    } else {
      b = transpose(v);
    }
    return { a, b };
  } finally {
    if (m !== e) m.dispose();
  }
}

/** Options of {@link lqerLinear}. */
export interface LqerLinearOptions {
  /** Rank k of the correction. */
  rank: number;
  /** Per-input-channel activation magnitudes s (L²QER); omitted: plain LQER (S = I). */
  scales?: Tensor;
  /** SVD seed (default 0). */
  seed?: number;
  /** Per-token activation quantizer of the quantized part. */
  act?: Quantizer;
}

/**
 * LQER on one layer: W_q = Q(W) and a rank-k (L²)QER correction of W − W_q.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { DenseLinear } from "../../model/linear.ts";
 * import { int } from "../quantizer.ts";
 * import { lqerLinear } from "./lqer.ts";
 * await initGPU();
 * using dense = new DenseLinear(Tensor.randn([8, 16], { seed: 1 }));
 * using s = Tensor.rand([16], { seed: 2 });
 * using lin = await lqerLinear(dense, int(4), { rank: 2, scales: s });
 * console.log(lin.toString());
 * ```
 */
export async function lqerLinear(
  layer: WeightedLinear,
  q: Quantizer,
  options: LqerLinearOptions,
): Promise<QuantLinear> {
  const { codes, values } = await quantizeParts(layer.weight, q);
  using e = sub(layer.weight, values);
  const { a, b } = await lowRankError(e, options.rank, options.scales, { seed: options.seed });
  return withParts(layer, { codes, values, quantizer: q, lowRank: { a, b } }, {
    act: options.act,
  });
}

/** Options of {@link lqer} (`act`: per-token activation quantizer of the quantized part). */
export interface LqerOptions extends WrapperOptions {
  /** Rank k of every layer's correction. */
  rank: number;
  /**
   * Calibration sequences for L²QER's activation scales (e.g.
   * `calibrationSequences(text, { n: 16, seqLen: 128 })`); omitted: plain LQER.
   */
  sequences?: readonly ArrayLike<number>[];
}

/** LQER's own facts, in its report's `details`: the weight error before and after correction. */
export interface LqerDetails {
  /** Per layer: SQNR (dB) of W_q alone and of W_q + a·b, against W. */
  correction: { name: string; sqnrQuantDb: number; sqnrCorrectedDb: number }[];
}

/**
 * L²QER (or LQER without `sequences`) on every decoder linear of `model`,
 * in place: each becomes a `QuantLinear` with a low-rank part.
 *
 * @example
 * ```ts
 * import { initGPU } from "../../mod.ts";
 * import { randomLlama } from "../../model/random_llama.ts";
 * await initGPU();
 * using model = randomLlama(); // 1 layer, hidden 32, N(0, 0.2²) weights
 * const sequences = [[1, 2, 3, 4, 5, 6, 7, 8], [9, 10, 11, 12, 13, 14, 15, 0]];
 * import { int } from "../quantizer.ts";
 * import { lqer } from "./lqer.ts";
 * const r = await lqer(model, int(4, { group: 32 }), { rank: 2, sequences });
 * console.log(r.bitsPerWeight > 4.5, r.details.correction.length); // true 7
 * ```
 */
export const lqer: MethodWrapper<LqerOptions, LqerDetails> = wrapMethod("lqer");

/**
 * LQER's record in the method registry: options `{ rank, seed? }`; with
 * calibration it is L²QER (s = mean |x| per input channel, floored at 1e-6).
 */
export const LQER: LayerMethod = {
  name: "lqer",
  needs: ["absmean?"],
  solve: async (t) => {
    const o = t.options as { rank: number; seed?: number };
    if (!Number.isInteger(o.rank) || o.rank < 1) {
      throw new RangeError(`lqer: options.rank must be a positive integer, got ${o.rank}`);
    }
    using scales = t.absmean
      ? Tensor.fromArray(Float32Array.from(t.absmean, (v) => Math.max(v, 1e-6)))
      : undefined;
    const w = t.layer.weight;
    const linear = await lqerLinear(t.layer, t.quantizer, {
      rank: o.rank,
      seed: o.seed,
      scales,
      act: t.act as Quantizer | undefined,
    });
    using eff = await linear.effectiveWeight();
    const before = await quantError(w, linear.weight!);
    const after = await quantError(w, eff);
    return {
      linear,
      sqnrDb: after.sqnr,
      facts: { correction: { sqnrQuantDb: before.sqnr, sqnrCorrectedDb: after.sqnr } },
    };
  },
};
