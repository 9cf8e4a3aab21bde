/**
 * Norm Tweaking — after a layer's weights are quantized, adjust only the
 * weights of its normalization layers so the quantized layer's outputs
 * match the float ones.
 *
 * L. Li, Q. Li, B. Zhang, X. Chu, "Norm Tweaking: High-performance Low-bit
 * Quantization of Large Language Models", AAAI 2024 (arXiv:2309.02772).
 *
 * The paper quantizes a block (GPTQ), then updates the block's LayerNorm
 * weights γ by gradient steps on a channel-wise distribution loss between
 * the float and the quantized block outputs; nothing else changes, so the
 * weights stay on their grid. We keep that structure (quantize, then tweak
 * γ only, layer by layer on the quantized model's own activations) but use
 * a loss whose optimum has a closed form, so no autograd is needed:
 *
 *   an RMSNorm weight γ feeds linears W_l (q,k,v or gate,up); their input is
 *   x = x̃ ⊙ γ. Writing the tweak as γ' = γ ⊙ ρ, the quantized outputs are
 *   Ŵ_l·diag(x)·ρ, linear in ρ. Minimise over ρ
 *     Σ_t Σ_l ‖Ŵ_l·diag(x_t)·ρ − W_l·x_t‖² + λ‖ρ − 1‖²
 *   ⇒ (A + λI)·ρ = b + λ·1  with  A = Σ_l (Ŵ_lᵀŴ_l) ⊙ H,  b = Σ_l rowsum((Ŵ_lᵀW_l) ⊙ H),
 *   H = Σ_t x_t x_tᵀ (the layer-input Hessian), ⊙ the elementwise product.
 *
 * This is an L2 (output-matching) loss on the norm's consumers rather than
 * the paper's per-channel mean/std loss on the block output; λ = damp ·
 * mean(diag A) plays the role of the paper's small learning rate (a small
 * step away from γ).
 *
 * @example
 * ```ts
 * import { initGPU, int, Tensor } from "../../mod.ts";
 * import { fakeQuant } from "../quantize.ts";
 * import { tweakScales } from "./norm_tweaking.ts";
 * await initGPU();
 * using w = Tensor.randn([16, 8], { seed: 0 });
 * using wq = await fakeQuant(int(2), w);
 * using x = Tensor.randn([64, 8], { seed: 1 });
 * using h = (await import("../../kernels/ops/matmul.ts")).matmul(x, x, { transA: true });
 * using rho = await tweakScales([w], [wq], h);
 * console.log(rho.shape); // [8]
 * ```
 * @module
 */
import { Tensor } from "../../kernels/tensor.ts";
import { add, mul } from "../../kernels/ops/elementwise.ts";
import { sum, sumAll } from "../../kernels/ops/reduce.ts";
import { matmul } from "../../kernels/ops/matmul.ts";
import { spdInverse } from "../../kernels/ops/linalg.ts";
import { captureLayerInputs } from "../../model/capture.ts";
import { LAYER_LINEARS, LAYER_TOPOLOGY, type LlamaModel, sharedInput } from "../../model/llama.ts";
import type { ModelMethod } from "../model.ts";
import { HessianObserver } from "../calib/hessian.ts";
import { bitsPerWeight, type Quantizer } from "../quantizer.ts";
import { quantError } from "../metrics.ts";
import { quantizeParts, withParts } from "../linear.ts";
import type { QuantizedWeight } from "../weight.ts";
import { gptq } from "./gptq.ts";
import { denseWeight, SITES } from "./_sites.ts";
import { meanBitsPerWeight, type QuantReport } from "./rtn.ts";
import { calibratedRecord, type CalibratedWrapper, wrapCalibrated } from "./_wrap.ts";

/**
 * The closed-form tweak ρ `[in]` (γ' = γ ⊙ ρ) for float weights `w`,
 * quantized weights `wq` (each `[out_l, in]`) sharing the input whose
 * Hessian is `h` `[in, in]`; `damp` sets λ = damp · mean(diag A).
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { tweakScales } from "./norm_tweaking.ts";
 * await initGPU();
 * // Ŵ = W/2 exactly: the best tweak doubles every channel (λ → 0)
 * using w = Tensor.fromArray([[1, 2], [3, -1]]);
 * using wq = Tensor.fromArray([[0.5, 1], [1.5, -0.5]]);
 * using h = Tensor.fromArray([[2, 0.5], [0.5, 1]]);
 * using rho = await tweakScales([w], [wq], h, 1e-6);
 * console.log(Array.from(await rho.data(), (v) => v.toFixed(3))); // ["2.000", "2.000"]
 * ```
 */
export async function tweakScales(
  w: readonly Tensor[],
  wq: readonly Tensor[],
  h: Tensor,
  damp = 0.01,
): Promise<Tensor> {
  const n = h.shape[0];
  let a = Tensor.zeros([n, n]);
  let b = Tensor.zeros([n]);
  for (let l = 0; l < w.length; l++) {
    using qq = matmul(wq[l], wq[l], { transA: true }); // ŴᵀŴ
    using qw = matmul(wq[l], w[l], { transA: true }); // ŴᵀW
    using aTerm = mul(qq, h);
    using bMat = mul(qw, h);
    using bTerm = sum(bMat, 1);
    const a2 = add(a, aTerm), b2 = add(b, bTerm);
    a.dispose(), b.dispose();
    [a, b] = [a2, b2];
  }
  using eye = Tensor.fromArray(
    Float32Array.from({ length: n * n }, (_, i) => (i % (n + 1) ? 0 : 1)),
    [n, n],
  );
  using diagA = mul(a, eye);
  using trace = sumAll(diagA);
  const lambda = Math.max(damp * (await trace.item()) / n, 1e-12);
  using aDamp0 = mul(eye, lambda);
  using aDamp = add(a, aDamp0);
  using bDamp = add(b, lambda);
  a.dispose(), b.dispose();
  using inv = spdInverse(aDamp);
  using b2 = bDamp.reshape([n, 1]);
  using rho = matmul(inv, b2);
  return rho.reshape([n]);
}

/** Options of {@link normTweaking}. */
export interface NormTweakingOptions {
  /** The weight quantizer of the base method. */
  weight: Quantizer;
  /** The base method: round-to-nearest (default) or GPTQ (uses the same Hessians). */
  base?: "rtn" | "gptq";
  /** Tweak the norms (default true); false gives the base method alone for comparison. */
  tweak?: boolean;
  /** λ as a fraction of mean(diag A). Default 0.01. */
  damp?: number;
  /** Show a progress bar. Default false. */
  progress?: boolean;
}

/** Norm Tweaking's own facts, in its report's `details`. */
export interface NormTweakingDetails {
  /** Per layer and norm: the tweak's range (min and max of ρ). */
  tweaks: { layer: number; norm: "input" | "post"; min: number; max: number }[];
}

/**
 * Quantizes `model` in place layer by layer (RTN or GPTQ on the Hessians of
 * `sequences`) and tweaks each layer's two RMSNorm weights after its
 * linears are quantized; later layers calibrate on the tweaked, quantized
 * layers' outputs.
 *
 * @example
 * ```ts
 * import { initGPU, int, loadModel, calibrationSequences } from "../../mod.ts";
 * import { normTweaking } from "./norm_tweaking.ts";
 * await initGPU();
 * using model = await loadModel();
 * const seqs = calibrationSequences(await Deno.readTextFile("data/corpus/train.txt"), { n: 1, seqLen: 32 });
 * const r = await normTweaking(model, seqs, { weight: int(3) });
 * console.log(r.layers.length, r.details.tweaks.length); // 28 8
 * ```
 */
export const normTweaking: CalibratedWrapper<NormTweakingOptions, NormTweakingDetails> =
  wrapCalibrated("norm_tweaking");

/** Norm Tweaking's record in the method registry (options: {@link NormTweakingOptions}). */
export const NORM_TWEAKING: ModelMethod = calibratedRecord("norm_tweaking", runNormTweaking, {
  weight: true,
});

async function runNormTweaking(
  model: LlamaModel,
  sequences: readonly ArrayLike<number>[],
  options: NormTweakingOptions,
): Promise<QuantReport<NormTweakingDetails>> {
  const q = options.weight;
  const report: QuantReport<NormTweakingDetails> = {
    layers: [],
    bitsPerWeight: 0,
    details: { tweaks: [] },
  };
  const hessians = new Map<string, HessianObserver>();
  const want: string[] = Object.values(LAYER_TOPOLOGY).map((g) => g.linears[0]);
  const inputOf = sharedInput;
  await captureLayerInputs(model, sequences, {
    progress: options.progress ? "norm tweaking" : false,
    observers: (name) => {
      if (!want.some((w) => name.endsWith(`.${w}`))) return undefined;
      const o = new HessianObserver(name);
      hessians.set(name, o);
      return o;
    },
    afterLayer: async (i) => {
      const hs = new Map<string, Tensor>();
      try {
        for (const w of want) hs.set(w, await hessians.get(`layers.${i}.${w}`)!.finish());
        const quantized = new Map<string, Tensor>();
        const codes = new Map<string, QuantizedWeight>();
        for (const l of LAYER_LINEARS) {
          const w = denseWeight(model, `layers.${i}.${l}`).weight;
          const p = options.base === "gptq"
            ? (await gptq(w, hs.get(inputOf(l))!, q, { name: `layers.${i}.${l}` })).toParts()
            : await quantizeParts(w, q);
          quantized.set(l, p.values);
          codes.set(l, p.codes);
        }
        if (options.tweak !== false) {
          for (const site of ["attn", "mlp"] as const) {
            const spec = SITES[site];
            const ws = spec.linears.map((l) => denseWeight(model, `layers.${i}.${l}`).weight);
            const wqs = spec.linears.map((l) => quantized.get(l)!);
            using rho = await tweakScales(ws, wqs, hs.get(spec.linears[0])!, options.damp);
            const r = await rho.data() as Float32Array;
            const norm = (spec.from as { norm: "input" | "post" }).norm; // attn and mlp fold into norms
            report.details.tweaks.push({
              layer: i,
              norm,
              min: Math.min(...r),
              max: Math.max(...r),
            });
            const g = model.layerNorm(i, norm);
            model.setLayerNorm(i, norm, mul(g, rho));
          }
        }
        for (const l of LAYER_LINEARS) {
          const name = `layers.${i}.${l}`;
          const lin = denseWeight(model, name);
          const wq = quantized.get(l)!;
          const err = await quantError(lin.weight, wq);
          report.layers.push({
            name,
            out: lin.outFeatures,
            in: lin.inFeatures,
            bitsPerWeight: bitsPerWeight(q, wq.shape),
            sqnrDb: err.sqnr,
          });
          model.setLinear(name, withParts(lin, { codes: codes.get(l), values: wq, quantizer: q }));
        }
      } finally {
        for (const h of hs.values()) h.dispose();
      }
    },
  });
  report.bitsPerWeight = meanBitsPerWeight(report.layers);
  return report;
}
