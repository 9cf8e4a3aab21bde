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
 * registered with `registerFormat`; {@link fpFormat} builds any ExMy.
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
import { linear, matmul } from "../../kernels/ops/matmul.ts";
import { tableQuantize } from "../../kernels/ops/quantize.ts";
import type { Linear } from "../../model/linear.ts";
import { captureLayerInputs } from "../../model/capture.ts";
import { LAYER_LINEARS, type LlamaModel } from "../../model/llama.ts";
import type { ElementFormat } from "../formats/format.ts";
import { minifloat } from "../formats/minifloat.ts";
import { bitsPerWeight, elementFormat, fp, registerFormat } from "../quantizer.ts";
import { decisionTable } from "../table.ts";
import { quantError } from "../metrics.ts";
import { denseWeight, InputRecorder } from "./_sites.ts";
import { meanBitsPerWeight, type QuantReport } from "./rtn.ts";

/**
 * A sign + exponent-only format (no mantissa bits): ±{0} ∪ ±{2^(e−bias) : e = 1…2^E−1}.
 * Encoding rounds to the nearest value, ties to the even code.
 */
function exponentOnly(name: string, ebits: number): ElementFormat {
  const bias = 2 ** (ebits - 1) - 1;
  const n = 1 << ebits;
  const bits = 1 + ebits;
  const values = new Float32Array(1 << bits);
  for (let c = 0; c < values.length; c++) {
    const e = c & (n - 1);
    const v = e === 0 ? 0 : 2 ** (e - bias);
    values[c] = c & n ? -v : v;
  }
  const maxValue = 2 ** (n - 1 - bias);
  const encode = (x: number): number => {
    if (Number.isNaN(x)) throw new RangeError(`${name}: cannot encode NaN`);
    const sign = x < 0 || Object.is(x, -0) ? n : 0;
    const a = Math.abs(x);
    let best = 0;
    for (let e = 1; e < n; e++) {
      const d = Math.abs(values[e] - a), db = Math.abs(values[best] - a);
      if (d < db || (d === db && e % 2 === 0)) best = e;
    }
    return sign | best;
  };
  return {
    name,
    bits,
    values,
    maxValue,
    reserved: [],
    encode,
    decode(code: number): number {
      if (!Number.isInteger(code) || code < 0 || code >= values.length) {
        throw new RangeError(`${name}: code ${code} outside [0, ${values.length})`);
      }
      return values[code];
    },
  };
}

/**
 * The FP element format `e<E>m<M>` (known formats as registered; others
 * built as an OCP-style finite minifloat, or exponent-only for M = 0, and
 * registered so quantizers can name them).
 *
 * @example
 * ```ts
 * import { fpFormat } from "./llm_fp4.ts";
 * console.log(Array.from(fpFormat("e3m0").values.slice(0, 8))); // [0, 0.25, 0.5, 1, 2, 4, 8, 16]
 * ```
 */
export function fpFormat(name: string): ElementFormat {
  try {
    return elementFormat(name);
  } catch {
    const m = /^e(\d)m(\d)$/.exec(name);
    if (!m) throw new RangeError(`fpFormat: "${name}" is not of the form e<E>m<M>`);
    const [ebits, mbits] = [Number(m[1]), Number(m[2])];
    return registerFormat(
      mbits === 0 ? exponentOnly(name, ebits) : minifloat({ name, ebits, mbits }),
    );
  }
}

/** The 4-bit FP formats LLM-FP4 searches. */
export const FP4_FORMATS = ["e1m2", "e2m1", "e3m0"] as const;

/** Quantizes each row of `x` `[rows, cols]` to `fmt` with the per-row maximum `m` (`[rows]`). */
function quantizeRows(x: Tensor, fmt: ElementFormat, m: Float32Array): Tensor {
  const s = Float32Array.from(m, (v) => (v > 0 ? v / fmt.maxValue : 1));
  using scale = Tensor.fromArray(s);
  const q = tableQuantize(x, {
    groupSize: x.shape[1],
    table: decisionTable(fmt),
    encode: scale,
    mode: "div",
    decode: scale,
  });
  q.codes.dispose();
  return q.dequantized;
}

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

/** A static per-tensor FP activation quantizer: X̂ = Q_f(X; m). */
export interface ActQuant {
  /** Format name. */
  format: string;
  /** Maximum value m (the clip). */
  maxValue: number;
}

/**
 * Fake-quantizes `x` with a static per-tensor FP quantizer.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { quantizeStatic } from "./llm_fp4.ts";
 * await initGPU();
 * using y = quantizeStatic(Tensor.fromArray([[0.3, -5, 12]]), { format: "e2m1", maxValue: 6 });
 * console.log(await y.data()); // Float32Array [0.5, -4, 6]
 * ```
 */
export function quantizeStatic(x: Tensor, a: ActQuant): Tensor {
  const cols = x.shape.at(-1)!;
  const rows = x.size / cols;
  using x2 = x.reshape([rows, cols]);
  using y = quantizeRows(x2, fpFormat(a.format), new Float32Array(rows).fill(a.maxValue));
  return y.reshape(x.shape);
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

/** A linear layer with FP-quantized weights and static FP-quantized inputs. */
export class FPQuantLinear implements Linear {
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly bitsPerWeight: number;
  /** The dequantized weight `[out, in]` (owned). */
  readonly weight: Tensor;
  /** The weight format. */
  readonly weightFormat: string;
  /** The input quantizer; none: float inputs. */
  readonly act?: ActQuant;

  /**
   * An FP-quantized layer from an already-quantized weight.
   * @param weight dequantized weight `[out, in]` (owned from now on)
   * @param weightFormat its element format name
   * @param act the static input quantizer, if any
   */
  constructor(weight: Tensor, weightFormat: string, act?: ActQuant) {
    this.weight = weight;
    this.outFeatures = weight.shape[0];
    this.inFeatures = weight.shape[1];
    this.weightFormat = weightFormat;
    this.act = act;
    this.bitsPerWeight = bitsPerWeight(fp(weightFormat, { per: "channel" }), weight.shape);
  }

  /** `[tokens, in]` → `[tokens, out]`. */
  forward(x: Tensor): Tensor {
    if (!this.act) return linear(x, this.weight);
    using xq = quantizeStatic(x, this.act);
    return linear(xq, this.weight);
  }

  /** Frees the weight. */
  dispose(): void {
    this.weight.dispose();
  }

  /** Disposes at the end of a `using` scope. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  /** `FPQuantLinear(out×in, W e2m1, A e3m0 ≤ 4.1)`. */
  toString(): string {
    return `FPQuantLinear(${this.outFeatures}×${this.inFeatures}, W ${this.weightFormat}${
      this.act ? `, A ${this.act.format} ≤ ${this.act.maxValue.toPrecision(3)}` : ""
    })`;
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

/** What {@link llmFp4} chose, per layer. */
export interface LlmFp4Report extends QuantReport {
  /** Per linear: the weight format and, if quantized, the input format and maximum value. */
  choices: { name: string; weight: string; act?: ActQuant }[];
}

const SHARED: Record<string, string> = {
  "self_attn.k_proj": "self_attn.q_proj",
  "self_attn.v_proj": "self_attn.q_proj",
  "mlp.up_proj": "mlp.gate_proj",
};

/**
 * LLM-FP4's search over the whole model, in place, layer by layer on the
 * quantized model's own activations: every decoder linear becomes an
 * {@link FPQuantLinear}.
 *
 * @example
 * ```ts
 * import { initGPU, loadModel, calibrationSequences } from "../../mod.ts";
 * import { llmFp4 } from "./llm_fp4.ts";
 * await initGPU();
 * using model = await loadModel();
 * const seqs = calibrationSequences(await Deno.readTextFile("data/corpus/train.txt"), { n: 1, seqLen: 16 });
 * const r = await llmFp4(model, seqs, { weightFormats: ["e2m1"], weightRatios: [1], actFormats: null });
 * console.log(r.choices.length); // 28
 * ```
 */
export async function llmFp4(
  model: LlamaModel,
  sequences: readonly ArrayLike<number>[],
  options: LlmFp4Options = {},
): Promise<LlmFp4Report> {
  const inputs = ["self_attn.q_proj", "self_attn.o_proj", "mlp.gate_proj", "mlp.down_proj"];
  using rec = new InputRecorder(inputs, options.searchTokens ?? 512);
  const report: LlmFp4Report = { layers: [], bitsPerWeight: 0, choices: [] };
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
            const ws = LAYER_LINEARS.filter((l) => (SHARED[l] ?? l) === n)
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
          const input = SHARED[l] ?? l;
          const x = xs.get(input)!;
          using x2 = mul(x, x);
          using h = sum(x2, 0);
          const lin = denseWeight(model, name);
          const r = await searchWeight(lin.weight, h, {
            formats: options.weightFormats,
            ratios: options.weightRatios,
          });
          const ql = new FPQuantLinear(r.weight, r.format, acts.get(input));
          const err = await quantError(lin.weight, ql.weight);
          report.layers.push({
            name,
            out: ql.outFeatures,
            in: ql.inFeatures,
            bitsPerWeight: ql.bitsPerWeight,
            sqnrDb: err.sqnr,
          });
          report.choices.push({ name, weight: r.format, act: acts.get(input) });
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
