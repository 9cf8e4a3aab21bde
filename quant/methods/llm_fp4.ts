/**
 * LLM-FP4 — 4-bit floating-point weights and activations with a searched
 * format (exponent/mantissa split) and clipping value per layer.
 *
 * S.-y. Liu, Z. Liu, X. Huang, P. Dong, K.-T. Cheng, "LLM-FP4: 4-Bit
 * Floating-Point Quantized Transformers", EMNLP 2023 (arXiv:2310.16836).
 *
 * The paper's FP-PTQ baseline searches, for every layer, the exponent bits
 * of the FP format (for 4 bits: E1M2, E2M1, E3M0) and the maximum value
 * (clipping range) of its weights (per output channel) and its input
 * activations (per tensor, static), minimising the layer's output error.
 * Its second idea, per-channel activation scales folded into the weights as
 * pre-shifted exponent biases, is not implemented here.
 *
 *   for each layer, with calibration inputs X and weights W ∈ ℝ^{out×in}:
 *     weights:  for f ∈ formats, for each row r and ratio β:
 *                 m_r = β·max|W_r|;  Ŵ_r = Q_f(W_r; m_r)
 *               e_f = Σ_r min_β err(Ŵ_r);   keep f* = argmin e_f with each row's best β
 *     inputs:   for f ∈ formats, β: m = β·max|X|,  X̂ = Q_f(X; m) (one static scale)
 *               keep the (f, β) with the smallest output error given Ŵ
 *
 * Output error: the paper evaluates ‖X̂Ŵᵀ − XWᵀ‖². To keep the search cheap
 * on any GPU we use its diagonal approximation, dropping cross-channel
 * terms: err(Ŵ_r) = Σ_j (Ŵ_rj − W_rj)²·E[x_j²] for weights and
 * Σ_t Σ_j (X̂_tj − X_tj)²·‖W_{:,j}‖² for activations.
 *
 * Formats: E2M1 is OCP's FP4; E1M2 (bias 0: a uniform grid of step 0.5 up
 * to 3.5) and E3M0 (powers of two, ±{0, ¼, …, 16}) are built here and
 * registered with `registerFormat`; `fpFormat` (`quant/fp_format.ts`) builds any ExMy.
 *
 * @example
 * ```ts
 * import { fpFormat } from "./llm_fp4.ts";
 * console.log(fpFormat("e1m2").maxValue, fpFormat("e3m0").maxValue); // 3.5 16
 * ```
 * @module
 */
import { Tensor } from "../../kernels/tensor.ts";
import { add, mul, sub } from "../../kernels/ops/elementwise.ts";
import { absmax, absmaxAll, sum, sumAll } from "../../kernels/ops/reduce.ts";
import { matmul } from "../../kernels/ops/matmul.ts";
import { captureLayerInputs } from "../../model/capture.ts";
import { LAYER_LINEARS, LAYER_TOPOLOGY, type LlamaModel, sharedInput } from "../../model/llama.ts";
import type { ModelMethod } from "../model.ts";
import { bitsPerWeight, fp } from "../quantizer.ts";
import { quantError } from "../metrics.ts";
import { type QuantLinear, type WeightedLinear, withParts } from "../linear.ts";
import { QuantizedWeight } from "../weight.ts";
import { fpFormat } from "../fp_format.ts";
import { type ActQuant, quantizeRows, quantizeRowsPass, quantizeStatic } from "../activation.ts";
import { denseWeight, InputRecorder } from "./_sites.ts";
import { meanBitsPerWeight, type QuantReport } from "./rtn.ts";
import { calibratedRecord, type CalibratedWrapper, wrapCalibrated } from "./_wrap.ts";

export { type ActQuant, quantizeStatic } from "../activation.ts";
export { fpFormat } from "../fp_format.ts";

/** The 4-bit FP formats LLM-FP4 searches. */
export const FP4_FORMATS = ["e1m2", "e2m1", "e3m0"] as const;

/** Options of {@link searchWeight}. */
export interface WeightSearchOptions {
  /** Candidate formats. Default {@link FP4_FORMATS}. */
  formats?: readonly string[];
  /** Candidate clip ratios β (of each row's absmax). Default [1, 0.9, 0.8, 0.7, 0.6, 0.5]. */
  ratios?: readonly number[];
}

/** A searched weight quantization. */
export interface WeightSearchResult {
  /** The chosen format. */
  format: string;
  /** Each row's maximum value m_r. */
  maxValues: Float32Array;
  /** The dequantized weight (owned by the caller). */
  weight: Tensor;
  /** Proxy output error of each candidate format (with its best per-row ratios). */
  errors: Record<string, number>;
}

/**
 * LLM-FP4's weight search for one layer: format and per-row maximum value
 * minimising Σ_j (Ŵ_rj − W_rj)²·h_j, with `h` `[in]` = E[x_j²] of the layer's input.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { searchWeight } from "./llm_fp4.ts";
 * await initGPU();
 * using w = Tensor.randn([8, 32], { seed: 0 });
 * using h = Tensor.full([32], 1);
 * const r = await searchWeight(w, h);
 * console.log(Object.keys(r.errors), r.weight.shape); // ["e1m2", "e2m1", "e3m0"] [8, 32]
 * r.weight.dispose();
 * ```
 */
export async function searchWeight(
  w: Tensor,
  h: Tensor,
  options: WeightSearchOptions = {},
): Promise<WeightSearchResult> {
  const formats = options.formats ?? FP4_FORMATS;
  const ratios = options.ratios ?? [1, 0.9, 0.8, 0.7, 0.6, 0.5];
  const [rows, cols] = w.shape;
  using amaxT = absmax(w, 1);
  const amax = await amaxT.data() as Float32Array;
  using hCol = h.reshape([cols, 1]);
  const errors: Record<string, number> = {};
  let best: { format: string; m: Float32Array; err: number } | undefined;
  for (const name of formats) {
    const fmt = fpFormat(name);
    const bestErr = new Float64Array(rows).fill(Infinity);
    const bestM = new Float32Array(rows);
    for (const beta of ratios) {
      const m = amax.map((a) => a * beta);
      using wq = quantizeRows(w, fmt, m);
      using d = sub(wq, w);
      using d2 = mul(d, d);
      using e = matmul(d2, hCol); // [rows, 1]
      const err = await e.data() as Float32Array;
      for (let r = 0; r < rows; r++) {
        if (err[r] < bestErr[r]) [bestErr[r], bestM[r]] = [err[r], m[r]];
      }
    }
    const total = bestErr.reduce((a, b) => a + b, 0);
    errors[name] = total;
    if (!best || total < best.err) best = { format: name, m: bestM, err: total };
  }
  return {
    format: best!.format,
    maxValues: best!.m,
    weight: quantizeRows(w, fpFormat(best!.format), best!.m),
    errors,
  };
}

/**
 * LLM-FP4's activation search for one input shared by `weights`: the format
 * and static maximum value minimising Σ_t Σ_j (X̂_tj − X_tj)²·Σ_l ‖W_l[:, j]‖².
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { searchActivation } from "./llm_fp4.ts";
 * await initGPU();
 * using x = Tensor.randn([64, 16], { seed: 1 });
 * using w = Tensor.randn([4, 16], { seed: 2 });
 * const r = await searchActivation(x, [w]);
 * console.log(r.maxValue > 0, typeof r.format); // true string
 * ```
 */
export async function searchActivation(
  x: Tensor,
  weights: readonly Tensor[],
  options: WeightSearchOptions = {},
): Promise<ActQuant & { errors: Record<string, number> }> {
  const formats = options.formats ?? FP4_FORMATS;
  const ratios = options.ratios ?? [1, 0.8, 0.6, 0.45, 0.3, 0.2];
  const cols = x.shape[1];
  // c_j = Σ_l ‖W_l[:, j]‖²
  let c = Tensor.zeros([cols]);
  for (const w of weights) {
    using w2 = mul(w, w);
    using cw = sum(w2, 0);
    const next = add(c, cw);
    c.dispose();
    c = next;
  }
  using cCol = c.reshape([cols, 1]);
  c.dispose();
  using amaxT = absmaxAll(x);
  const amax = await amaxT.item();
  const errors: Record<string, number> = {};
  let best: (ActQuant & { err: number }) | undefined;
  for (const format of formats) {
    errors[format] = Infinity;
    for (const beta of ratios) {
      const a = { format, maxValue: amax * beta };
      using xq = quantizeStatic(x, a);
      using d = sub(xq, x);
      using d2 = mul(d, d);
      using e = matmul(d2, cCol);
      using tot = sumAll(e);
      const err = await tot.item();
      errors[format] = Math.min(errors[format], err);
      if (!best || err < best.err) best = { ...a, err };
    }
  }
  return { format: best!.format, maxValue: best!.maxValue, errors };
}

/**
 * A `QuantLinear` with the searched FP weight (per-row maximum values `m`,
 * f32 scales m_r / max(format)) and an optional static FP input quantizer.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { DenseLinear } from "../../model/linear.ts";
 * import { fpLinear } from "./llm_fp4.ts";
 * await initGPU();
 * using dense = new DenseLinear(Tensor.fromArray([[0.3, -5, 12, 1]]));
 * using q = await fpLinear(dense, "e2m1", Float32Array.of(12), { format: "e2m1", maxValue: 6 });
 * console.log(await q.weight!.data()); // Float32Array [0, -4, 12, 1]
 * ```
 */
export async function fpLinear(
  layer: WeightedLinear,
  format: string,
  maxValues: Float32Array,
  act?: ActQuant,
): Promise<QuantLinear> {
  const pass = quantizeRowsPass(layer.weight, fpFormat(format), maxValues);
  try {
    const codes = await QuantizedWeight.fromPass({
      quantizer: fp(format, { per: "channel", scale: "f32" }),
      shape: layer.weight.shape,
      groupSize: layer.inFeatures,
      codes: pass.codes,
      scales: pass.scales,
      tensorScale: 1,
    });
    return withParts(layer, {
      codes,
      values: pass.dequantized,
      act: act && { kind: "static", format: act.format, maxValue: act.maxValue },
      quantizer: fp(format, { per: "channel" }),
      bitsPerWeight: bitsPerWeight(fp(format, { per: "channel" }), layer.weight.shape),
    });
  } catch (e) {
    pass.dequantized.dispose();
    throw e;
  } finally {
    pass.codes.dispose();
  }
}

/** Options of {@link llmFp4}. */
export interface LlmFp4Options {
  /** Weight formats to search. Default {@link FP4_FORMATS}. */
  weightFormats?: readonly string[];
  /** Activation formats to search; null: weight-only. Default {@link FP4_FORMATS}. */
  actFormats?: readonly string[] | null;
  /** Weight clip ratios. */
  weightRatios?: readonly number[];
  /** Activation clip ratios. */
  actRatios?: readonly number[];
  /** Calibration tokens kept per input for the activation search. Default 512. */
  searchTokens?: number;
  /** Show a progress bar. Default false. */
  progress?: boolean;
}

/** What {@link llmFp4} chose, per layer: its report's `details`. */
export interface LlmFp4Details {
  /** Per linear: the weight format and, if quantized, the input format and maximum value. */
  choices: { name: string; weight: string; act?: ActQuant }[];
}

/**
 * LLM-FP4's search over the whole model, in place, layer by layer on the
 * quantized model's own activations: every decoder linear becomes an
 * `QuantLinear` (see {@link fpLinear}).
 *
 * @example
 * ```ts
 * import { initGPU, loadModel, calibrationSequences } from "../../mod.ts";
 * import { llmFp4 } from "./llm_fp4.ts";
 * await initGPU();
 * using model = await loadModel();
 * const seqs = calibrationSequences(await Deno.readTextFile("data/corpus/train.txt"), { n: 1, seqLen: 16 });
 * const r = await llmFp4(model, seqs, { weightFormats: ["e2m1"], weightRatios: [1], actFormats: null });
 * console.log(r.details.choices.length); // 28
 * ```
 */
export const llmFp4: CalibratedWrapper<LlmFp4Options, LlmFp4Details> = wrapCalibrated("llm_fp4");

/** LLM-FP4's record in the method registry (options: {@link LlmFp4Options}; no quantizer). */
export const LLM_FP4: ModelMethod = calibratedRecord("llm_fp4", runLlmFp4);

async function runLlmFp4(
  model: LlamaModel,
  sequences: readonly ArrayLike<number>[],
  options: LlmFp4Options = {},
): Promise<QuantReport<LlmFp4Details>> {
  const inputs: string[] = Object.values(LAYER_TOPOLOGY).map((g) => g.linears[0]);
  using rec = new InputRecorder(inputs, options.searchTokens ?? 512);
  const report: QuantReport<LlmFp4Details> = {
    layers: [],
    bitsPerWeight: 0,
    details: { choices: [] },
  };
  const actFormats = options.actFormats === undefined ? FP4_FORMATS : options.actFormats;
  await captureLayerInputs(model, sequences, {
    progress: options.progress ? "LLM-FP4" : false,
    onLinearInput: (name, x) => rec.observe(name, x),
    afterLayer: async (i) => {
      const xs = new Map<string, Tensor>();
      try {
        for (const n of inputs) xs.set(n, rec.take(`layers.${i}.${n}`));
        // activation search per shared input, on the float weights' sensitivities
        const acts = new Map<string, ActQuant>();
        if (actFormats) {
          for (const n of inputs) {
            const ws = LAYER_LINEARS.filter((l) => sharedInput(l) === n)
              .map((l) => denseWeight(model, `layers.${i}.${l}`).weight);
            const a = await searchActivation(xs.get(n)!, ws, {
              formats: actFormats,
              ratios: options.actRatios,
            });
            acts.set(n, { format: a.format, maxValue: a.maxValue });
          }
        }
        for (const l of LAYER_LINEARS) {
          const name = `layers.${i}.${l}`;
          const input = sharedInput(l);
          const x = xs.get(input)!;
          using x2 = mul(x, x);
          using h = sum(x2, 0);
          const lin = denseWeight(model, name);
          const r = await searchWeight(lin.weight, h, {
            formats: options.weightFormats,
            ratios: options.weightRatios,
          });
          r.weight.dispose();
          const ql = await fpLinear(lin, r.format, r.maxValues, acts.get(input));
          const err = await quantError(lin.weight, ql.weight!);
          report.layers.push({
            name,
            out: ql.outFeatures,
            in: ql.inFeatures,
            bitsPerWeight: ql.bitsPerWeight,
            sqnrDb: err.sqnr,
          });
          report.details.choices.push({ name, weight: r.format, act: acts.get(input) });
          model.setLinear(name, ql);
        }
      } finally {
        for (const t of xs.values()) t.dispose();
      }
    },
  });
  report.bitsPerWeight = meanBitsPerWeight(report.layers);
  return report;
}
