/**
 * LQ-LoRA — low-rank plus quantized matrix decomposition.
 *
 * H. Guo, P. Greengard, E. P. Xing, Y. Kim, "LQ-LoRA: Low-rank Plus
 * Quantized Matrix Decomposition for Efficient Language Model Finetuning",
 * ICLR 2024, arXiv 2311.12023.
 *
 * Algorithm (per weight W, rank k, NF-style quantizer Q; §3.1, an
 * alternating method in the spirit of robust PCA):
 *   L₁L₂ ← 0
 *   for t = 1 … T:
 *     Q_t ← Q(W − L₁L₂)                  (quantize what the low-rank part misses)
 *     L₁L₂ ← SVD_k(W − Q_t)              (best rank-k fit of the residual)
 *     keep the iterate with the smallest ‖W − (Q_t + L₁L₂)‖_F
 * W ≈ Q + L₁L₂: the quantized part stays frozen, L₁ and L₂ (f16) are the
 * LoRA adapters that fine-tuning would train. t = 1 is the "quantize, then
 * fit the error by SVD once" baseline (LQER with S = I). The paper's
 * data-aware variant (Fisher-weighted SVD) and the ILP bit allocation, and
 * the fine-tuning itself, are out of scope here.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { nf4 } from "../quantizer.ts";
 * import { lqLoraDecompose } from "./lq_lora.ts";
 * await initGPU();
 * using w = Tensor.randn([16, 32], { seed: 0 });
 * const d = await lqLoraDecompose(w, nf4({ group: 16 }), { rank: 2, iterations: 3 });
 * console.log(d.errors.length, d.best); // 3 and the best iteration
 * d.dispose();
 * ```
 * @module
 */
import type { Tensor } from "../../kernels/tensor.ts";
import { add, sub } from "../../kernels/ops/elementwise.ts";
import { matmul } from "../../kernels/ops/matmul.ts";
import { reduceAll } from "../../kernels/ops/reduce.ts";
import { quantizeParts, withParts } from "../linear.ts";
import type { LayerMethod } from "../model.ts";
import type { Quantizer } from "../quantizer.ts";
import type { QuantizedWeight } from "../weight.ts";
import { lowRankError } from "./lqer.ts";
import { type MethodWrapper, wrapMethod } from "./_wrap.ts";

/** Options of {@link lqLoraDecompose}. */
export interface LqLoraOptions {
  /** Rank k of L₁L₂. */
  rank: number;
  /** Alternating iterations T (default 10). */
  iterations?: number;
  /** SVD seed (default 0). */
  seed?: number;
}

/** W ≈ Q + a·b with the error history. */
export interface LqLoraDecomposition extends Disposable {
  /** The quantized part Q (dequantized values) `[out, in]`. */
  quantized: Tensor;
  /** Q's codes. */
  codes: QuantizedWeight;
  /** L₁ `[out, k]`. */
  a: Tensor;
  /** L₂ `[k, in]`. */
  b: Tensor;
  /** ‖W − (Q_t + L₁L₂)‖_F / ‖W‖_F after each iteration t = 1…T. */
  errors: number[];
  /** Index (0-based) of the kept iterate. */
  best: number;
  /** Frees the three tensors. */
  dispose(): void;
}

async function frobenius(x: Tensor): Promise<number> {
  using n = reduceAll("norm2", x);
  return await n.item();
}

/**
 * The LQ-LoRA decomposition of one weight (see the module doc).
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { int } from "../quantizer.ts";
 * import { lqLoraDecompose } from "./lq_lora.ts";
 * await initGPU();
 * using w = Tensor.randn([8, 8], { seed: 3 });
 * using d = await lqLoraDecompose(w, int(3), { rank: 1, iterations: 2 });
 * console.log(d.a.shape, d.b.shape); // [8, 1] [1, 8]
 * ```
 */
export async function lqLoraDecompose(
  w: Tensor,
  q: Quantizer,
  options: LqLoraOptions,
): Promise<LqLoraDecomposition> {
  const T = options.iterations ?? 10;
  if (!Number.isInteger(T) || T < 1) throw new RangeError(`lqLoraDecompose: iterations ${T} < 1`);
  const norm = await frobenius(w);
  const errors: number[] = [];
  let best: { quantized: Tensor; codes: QuantizedWeight; a: Tensor; b: Tensor } | undefined;
  let bestIndex = 0;
  let lowRank: Tensor | undefined; // L₁L₂
  try {
    for (let t = 0; t < T; t++) {
      let parts: { codes: QuantizedWeight; values: Tensor };
      if (lowRank) {
        using target = sub(w, lowRank);
        parts = await quantizeParts(target, q, { name: w.name });
      } else {
        parts = await quantizeParts(w, q, { name: w.name });
      }
      const { codes, values: quantized } = parts;
      using residual = sub(w, quantized);
      const { a, b } = await lowRankError(residual, options.rank, undefined, {
        seed: options.seed,
      });
      lowRank?.dispose();
      lowRank = matmul(a, b);
      using approx = add(quantized, lowRank);
      using diff = sub(w, approx);
      const err = norm > 0 ? (await frobenius(diff)) / norm : 0;
      errors.push(err);
      if (!best || err < errors[bestIndex]) {
        if (best) {
          best.quantized.dispose();
          best.codes.dispose();
          best.a.dispose();
          best.b.dispose();
        }
        best = { quantized, codes, a, b };
        bestIndex = t;
      } else {
        quantized.dispose();
        codes.dispose();
        a.dispose();
        b.dispose();
      }
    }
  } finally {
    lowRank?.dispose();
  }
  const kept = best!;
  const dispose = () => {
    kept.quantized.dispose();
    kept.codes.dispose();
    kept.a.dispose();
    kept.b.dispose();
  };
  return { ...kept, errors, best: bestIndex, dispose, [Symbol.dispose]: dispose };
}

/** LQ-LoRA's own facts, in its report's `details`. */
export interface LqLoraDetails {
  /** Per layer: the relative decomposition error after each iteration. */
  errors: { name: string; errors: number[]; best: number }[];
}

/**
 * LQ-LoRA initialisation of every decoder linear of `model`, in place: each
 * becomes a `QuantLinear` with a low-rank part (Q frozen, L₁/L₂ the adapters).
 *
 * @example
 * ```ts
 * import { initGPU } from "../../mod.ts";
 * import { randomLlama } from "../../model/random_llama.ts";
 * await initGPU();
 * using model = randomLlama(); // 1 layer, hidden 32, N(0, 0.2²) weights
 * const sequences = [[1, 2, 3, 4, 5, 6, 7, 8], [9, 10, 11, 12, 13, 14, 15, 0]];
 * import { nf4 } from "../quantizer.ts";
 * import { lqLora } from "./lq_lora.ts";
 * const r = await lqLora(model, nf4({ group: 32 }), { rank: 2, iterations: 2 });
 * console.log(r.details.errors.length); // 7
 * ```
 */
export const lqLora: MethodWrapper<LqLoraOptions & { skip?: string[] }, LqLoraDetails> = wrapMethod(
  "lq_lora",
);

/** LQ-LoRA's record in the method registry (options: {@link LqLoraOptions}). */
export const LQ_LORA: LayerMethod = {
  name: "lq_lora",
  needs: [],
  solve: async (t) => {
    const d = await lqLoraDecompose(
      t.layer.weight,
      t.quantizer,
      t.options as unknown as LqLoraOptions,
    );
    const linear = withParts(t.layer, {
      codes: d.codes,
      values: d.quantized,
      quantizer: t.quantizer,
      lowRank: { a: d.a, b: d.b },
    }, { act: t.act });
    const err = d.errors[d.best];
    return {
      linear,
      sqnrDb: err > 0 ? -20 * Math.log10(err) : Infinity,
      facts: { errors: { errors: d.errors, best: d.best } },
    };
  },
};
