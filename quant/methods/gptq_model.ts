/**
 * GPTQ over a whole model, layer by layer (Frantar et al., "GPTQ: Accurate
 * Post-Training Quantization for Generative Pre-trained Transformers", 2022,
 * arXiv:2210.17323, §4 "Full algorithm" and the authors' sequential driver):
 *
 *   for each decoder layer i:
 *     1. run the calibration sequences through layer i (inputs: the outputs
 *        of the already-quantized layers 0…i−1) and accumulate, per input,
 *        H = 2/n · Σ XᵀX  (q/k/v share one H; gate/up share one)
 *     2. quantize every linear of layer i with {@link gptq} and its H
 *     3. recompute layer i's outputs with the quantized linears.
 *
 * @example
 * ```ts
 * import { calibrationSequences, initGPU, int, loadModel } from "../../mod.ts";
 * import { gptqModel } from "./gptq_model.ts";
 * await initGPU();
 * using model = await loadModel();
 * const seqs = calibrationSequences(await Deno.readTextFile("data/corpus/train.txt"), { n: 2, seqLen: 32 });
 * const report = await gptqModel(model, int(4, { group: 32 }), seqs, { progress: false });
 * console.log(report.layers.length, report.bitsPerWeight.toFixed(3)); // 28 4.500
 * ```
 * @module
 */
import type { LlamaModel } from "../../model/llama.ts";
import { checkSequences } from "../../model/capture.ts";
import { withParts } from "../linear.ts";
import { type LayerMethod, quantizeModel } from "../model.ts";
import { quantError } from "../metrics.ts";
import type { Quantizer } from "../quantizer.ts";
import { gptq, type GptqOptions } from "./gptq.ts";
import type { QuantReport } from "../report.ts";

/** Options of {@link gptqModel}. */
export interface GptqModelOptions extends Omit<GptqOptions, "name"> {
  /** Per-token activation quantizer of the resulting layers (W·A·). */
  act?: Quantizer;
  /** Layers to leave in full precision (e.g. "layers.0.mlp.down_proj"). */
  skip?: string[];
  /** Show a progress bar over layers. Default true. */
  progress?: boolean;
}

/** GPTQ's own facts, in its report's `details`. */
export interface GptqDetails {
  /** Per quantized layer: GPTQ's proxy loss and the seconds its solve took. */
  loss: { name: string; loss: number; seconds: number }[];
}

/** GPTQ's record in the method registry (options: `GptqOptions`). */
export const GPTQ: LayerMethod = {
  name: "gptq",
  needs: ["hessian"],
  solve: async (t) => {
    const w = t.layer.weight;
    const t0 = performance.now();
    const r = await gptq(w, t.hessian!, t.quantizer, {
      ...t.options as GptqOptions,
      name: `${t.name}.weight`,
    });
    const seconds = (performance.now() - t0) / 1000;
    const err = await quantError(w, r.dequantized);
    const loss = r.stats.loss;
    const linear = withParts(t.layer, { ...r.toParts(), quantizer: t.quantizer }, { act: t.act });
    return { linear, sqnrDb: err.sqnr, facts: { loss: { loss, seconds } } };
  },
};

/**
 * Quantizes every decoder linear of `model` in place with GPTQ, calibrating
 * on `sequences` (equal-length token windows of at least 2 tokens, e.g.
 * from `calibrationSequences`; checked before any work): `quantizeModel`
 * with method "gptq". `q` may be one quantizer or a function choosing one per
 * layer (null: leave it).
 */
export async function gptqModel(
  model: LlamaModel,
  q: Quantizer | ((name: string) => Quantizer | null),
  sequences: readonly ArrayLike<number>[],
  options: GptqModelOptions = {},
): Promise<QuantReport<GptqDetails>> {
  checkSequences(sequences, model.config.vocabSize, { op: "gptqModel", minLength: 2 });
  const r = await quantizeModel(model, {
    method: "gptq",
    quantizer: q,
    act: options.act,
    skip: options.skip,
    calibration: { sequences },
    options: { ...options },
    progress: options.progress ?? true ? "gptq" : false,
  });
  return r as QuantReport<GptqDetails>;
}
