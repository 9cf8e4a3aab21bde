/**
 * AQAS — activation-quantization-aware scaling for W4A8.
 *
 * J. Lee, M. Kim, S. Baek, S. J. Hwang, W. Sung, J. Choi, "Enhancing
 * Computation Efficiency in Large Language Models through Weight and
 * Activation Quantization", EMNLP 2023 (arXiv:2311.05161). The paper also
 * proposes SLAC (calibrate on sequences as long as the target task's: here
 * simply the `seqLen` of `calibrationSequences`) and the dINT format
 * (`quant/formats/dint.ts`, usable as `quantizer("dint4")`).
 *
 * Smoothing methods move quantization difficulty between the activations X
 * and the weights W with per-input-channel scales s: X·Wᵀ = (X·diag(s)⁻¹)·(W·diag(s))ᵀ.
 * SmoothQuant fixes s by a migration strength α; AWQ searches s for the
 * weight-only error. AQAS searches s for the error of quantizing BOTH:
 *
 *   for each site (input_layernorm → q,k,v; post_attention_layernorm → gate,up; up → down):
 *     a_j = max_t |X_tj|,  w_j = max_{l,i} |W_l[i, j]|
 *     candidates: s = 1, and s_j = a_j^α / w_j^(1−α) for α in the grid
 *     s* = argmin_s Σ_l ‖ Q_a(X·diag(s)⁻¹) · Q_w(W_l·diag(s))ᵀ − X·W_lᵀ ‖²
 *     fold s* into the preceding op (the float network is unchanged),
 *     then quantize the layer: W4 weights, per-token A8 activations (QuantLinear)
 *
 * Layers are processed in order with `captureLayerInputs`, so layer i+1 is
 * calibrated on the outputs of the already-quantized layer i.
 *
 * @example
 * ```ts
 * import { initGPU, int, Tensor } from "../../mod.ts";
 * import { aqasSearch } from "./aqas.ts";
 * await initGPU();
 * using x = Tensor.randn([32, 16], { seed: 0 });
 * using w = Tensor.randn([8, 16], { seed: 1 });
 * const r = await aqasSearch(x, [w], { weight: int(4), act: int(8, { per: "token" }) });
 * console.log(r.errors.length, r.s.shape); // 4 [16]
 * r.s.dispose();
 * ```
 * @module
 */
import { Tensor } from "../../kernels/tensor.ts";
import { binary, div } from "../../kernels/ops/elementwise.ts";
import { absmax } from "../../kernels/ops/reduce.ts";
import { linear } from "../../kernels/ops/matmul.ts";
import type { LlamaModel } from "../../model/llama.ts";
import type { ModelMethod } from "../model.ts";
import { captureLayerInputs } from "../../model/capture.ts";
import { LAYER_LINEARS } from "../../model/llama.ts";
import type { Quantizer } from "../quantizer.ts";
import { fakeQuant } from "../quantize.ts";
import { mse, quantError } from "../metrics.ts";
import { quantizeLinear, QuantLinear } from "../linear.ts";
import { scaleColumns } from "../transforms/smoothing.ts";
import { denseWeight, foldScales, InputRecorder, type SiteName, SITES } from "./_sites.ts";
import { meanBitsPerWeight, type QuantReport } from "./rtn.ts";
import { calibratedRecord, type CalibratedWrapper, wrapCalibrated } from "./_wrap.ts";

export type { SiteName } from "./_sites.ts";

/** Options of {@link aqasSearch}. */
export interface AqasSearchOptions {
  /** Weight quantizer (e.g. `int(4)`). */
  weight: Quantizer;
  /** Per-token activation quantizer (e.g. `int(8, { per: "token" })`); omit for weight-only (AWQ-like) error. */
  act?: Quantizer;
  /** Migration strengths to try besides s = 1. Default [0.25, 0.5, 0.75]. */
  alphas?: readonly number[];
}

/** The result of {@link aqasSearch}. */
export interface AqasSearchResult {
  /** The chosen scales `[in]` (owned by the caller). */
  s: Tensor;
  /** The chosen α; null when s = 1 won. */
  alpha: number | null;
  /** Output MSE of every candidate: s = 1 first, then each α. */
  errors: number[];
}

/**
 * The smoothing candidate s_j = a_j^α / w_j^(1−α) from activation ranges
 * `a` `[in]` and weight ranges `w` `[in]` (zero ranges are floored at 1e-5).
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { smoothingScales } from "./aqas.ts";
 * await initGPU();
 * using s = smoothingScales(Tensor.fromArray([4, 1]), Tensor.fromArray([1, 4]), 0.5);
 * console.log(await s.data()); // Float32Array [2, 0.5]
 * ```
 */
export function smoothingScales(a: Tensor, w: Tensor, alpha: number): Tensor {
  using a1 = binary("max", a, 1e-5);
  using w1 = binary("max", w, 1e-5);
  using pa = binary("pow", a1, alpha);
  using pw = binary("pow", w1, 1 - alpha);
  return div(pa, pw);
}

/** Σ_l ‖Q_a(X/s)·Q_w(W_l·s)ᵀ − X·W_lᵀ‖² / n (s undefined: no scaling). */
async function outputError(
  x: Tensor,
  weights: readonly Tensor[],
  refs: readonly Tensor[],
  o: AqasSearchOptions,
  s?: Tensor,
): Promise<number> {
  using xs = s ? div(x, s.reshape([1, s.size])) : x.reshape(x.shape);
  let err = 0;
  for (let l = 0; l < weights.length; l++) {
    using ws = s ? scaleColumns(weights[l], s) : weights[l].reshape(weights[l].shape);
    using ql = new QuantLinear({
      values: await fakeQuant(o.weight, ws),
      quantizer: o.weight,
      act: o.act,
    });
    using y = ql.forward(xs);
    err += await mse(refs[l], y);
  }
  return err;
}

/**
 * AQAS's search at one site: the scales s (among s = 1 and the α grid) that
 * minimise the output error of the linears `weights` (each `[out, in]`,
 * sharing the input `x` `[tokens, in]`) when both the scaled weights and the
 * scaled activations are quantized.
 *
 * @example
 * ```ts
 * import { initGPU, int, Tensor } from "../../mod.ts";
 * import { aqasSearch } from "./aqas.ts";
 * await initGPU();
 * using x = Tensor.randn([16, 8], { seed: 2 });
 * using w = Tensor.randn([4, 8], { seed: 3 });
 * const r = await aqasSearch(x, [w], { weight: int(4), act: int(8, { per: "token" }), alphas: [0.5] });
 * console.log(r.errors.length, r.errors.every((e) => e >= Math.min(...r.errors))); // 2 true
 * r.s.dispose();
 * ```
 */
export async function aqasSearch(
  x: Tensor,
  weights: readonly Tensor[],
  o: AqasSearchOptions,
): Promise<AqasSearchResult> {
  const alphas = o.alphas ?? [0.25, 0.5, 0.75];
  const refs = weights.map((w) => linear(x, w));
  try {
    using a = absmax(x, 0);
    let wmax = absmax(weights[0], 0);
    for (const w of weights.slice(1)) {
      using m = absmax(w, 0);
      const next = binary("max", wmax, m);
      wmax.dispose();
      wmax = next;
    }
    using wr = wmax;
    const errors = [await outputError(x, weights, refs, o)];
    let best: Tensor | undefined, bestAlpha: number | null = null;
    for (const alpha of alphas) {
      const s = smoothingScales(a, wr, alpha);
      const e = await outputError(x, weights, refs, o, s);
      errors.push(e);
      if (e < Math.min(...errors.slice(0, -1))) {
        best?.dispose();
        [best, bestAlpha] = [s, alpha];
      } else s.dispose();
    }
    // s = 1 when no α beat the unscaled error
    return { s: best ?? Tensor.full([x.shape[1]], 1), alpha: bestAlpha, errors };
  } finally {
    for (const r of refs) r.dispose();
  }
}

/** Options of {@link aqas}. */
export interface AqasOptions extends AqasSearchOptions {
  /** Sites to scale in every layer. Default all: attn, mlp, down. */
  sites?: readonly SiteName[];
  /** Calibration tokens per site used by the search. Default 256. */
  searchTokens?: number;
  /**
   * The activation quantizer of the search objective: default `act` (AQAS); null searches
   * for the weight-only error (AWQ-like), for comparison. The model is quantized with `act`.
   */
  searchAct?: Quantizer | null;
  /** Quantize the model after scaling (default true); false only folds the scales. */
  quantize?: boolean;
  /** Show a progress bar. Default false. */
  progress?: boolean;
}

/** AQAS's own facts, in its report's `details`: every site's search. */
export interface AqasDetails {
  /** One row per layer and site. */
  sites: { layer: number; site: SiteName; alpha: number | null; errors: number[] }[];
}

/**
 * Runs AQAS on `model` in place: calibrates on `sequences` layer by layer,
 * folds the searched scales into each layer and (unless `quantize: false`)
 * replaces its linears by W`weight`·A`act` {@link QuantLinear}s.
 *
 * @example
 * ```ts
 * import { initGPU, int, loadModel, calibrationSequences } from "../../mod.ts";
 * import { aqas } from "./aqas.ts";
 * await initGPU();
 * using model = await loadModel();
 * const seqs = calibrationSequences(await Deno.readTextFile("data/corpus/train.txt"), { n: 1, seqLen: 16 });
 * const r = await aqas(model, seqs, { weight: int(4), act: int(8, { per: "token" }), alphas: [0.5], sites: ["down"] });
 * console.log(r.details.sites.length, r.layers.length); // 4 28
 * ```
 */
export const aqas: CalibratedWrapper<AqasOptions, AqasDetails> = wrapCalibrated("aqas");

/** AQAS's record in the method registry (options: {@link AqasOptions} without weight/act). */
export const AQAS: ModelMethod = calibratedRecord("aqas", runAqas, {
  weight: true,
  act: "required",
});

async function runAqas(
  model: LlamaModel,
  sequences: readonly ArrayLike<number>[],
  options: AqasOptions,
): Promise<QuantReport<AqasDetails>> {
  const sites = options.sites ?? (["attn", "mlp", "down"] as const);
  const firstOf = (site: SiteName) => SITES[site].linears[0];
  using rec = new InputRecorder(sites.map(firstOf), options.searchTokens ?? 256);
  const report: QuantReport<AqasDetails> = { layers: [], bitsPerWeight: 0, details: { sites: [] } };
  await captureLayerInputs(model, sequences, {
    onLinearInput: (name, x) => rec.observe(name, x),
    progress: options.progress ? "AQAS" : false,
    afterLayer: async (i) => {
      for (const site of sites) {
        using x = rec.take(`layers.${i}.${firstOf(site)}`);
        const ws = SITES[site].linears.map((l) => denseWeight(model, `layers.${i}.${l}`).weight);
        const act = options.searchAct === undefined ? options.act : options.searchAct ?? undefined;
        const r = await aqasSearch(x, ws, { ...options, act });
        report.details.sites.push({ layer: i, site, alpha: r.alpha, errors: r.errors });
        using s = r.s;
        foldScales(model, i, site, s);
      }
      if (options.quantize === false) return;
      for (const l of LAYER_LINEARS) {
        const name = `layers.${i}.${l}`;
        const lin = denseWeight(model, name);
        const ql = await quantizeLinear(lin, options.weight, { name, act: options.act });
        const err = await quantError(lin.weight, ql.weight!);
        report.layers.push({
          name,
          out: ql.outFeatures,
          in: ql.inFeatures,
          bitsPerWeight: ql.bitsPerWeight,
          sqnrDb: err.sqnr,
        });
        model.setLinear(name, ql);
      }
    },
  });
  report.bitsPerWeight = meanBitsPerWeight(report.layers);
  return report;
}
