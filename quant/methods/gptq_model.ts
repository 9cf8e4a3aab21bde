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
import type { Tensor } from "../../kernels/tensor.ts";
import type { LlamaModel } from "../../model/llama.ts";
import { captureLayerInputs, checkSequences } from "../../model/capture.ts";
import { HessianObserver } from "../calib/hessian.ts";
import { fromDequantized, type WeightedLinear } from "../linear.ts";
import { quantError } from "../metrics.ts";
import type { Quantizer } from "../quantizer.ts";
import { gptq, type GptqOptions } from "./gptq.ts";
import { meanBitsPerWeight, type QuantReport } from "./rtn.ts";

/** Options of {@link gptqModel}. */
export interface GptqModelOptions extends Omit<GptqOptions, "name"> {
  /** Per-token activation quantizer of the resulting layers (W·A·). */
  act?: Quantizer;
  /** Layers to leave in full precision (e.g. "layers.0.mlp.down_proj"). */
  skip?: string[];
  /** Show a progress bar over layers. Default true. */
  progress?: boolean;
}

/** {@link QuantReport} with GPTQ's proxy loss and timing per layer. */
export interface GptqReport extends QuantReport {
  /** One row per quantized layer, with GPTQ's proxy loss and its time. */
  layers: (QuantReport["layers"][number] & { loss: number; seconds: number })[];
  /** Wall time of the whole run, seconds. */
  seconds: number;
}

/** The linear whose input a layer shares (q/k/v read one tensor, and so do gate/up). */
function inputOf(name: string): string {
  return name.replace(/(k_proj|v_proj)$/, "q_proj").replace(/up_proj$/, "gate_proj");
}

/**
 * Quantizes every decoder linear of `model` in place with GPTQ, calibrating
 * on `sequences` (equal-length token windows of at least 2 tokens, e.g.
 * from `calibrationSequences`; checked before any work). `q` may be one quantizer or a function choosing
 * one per layer (null: leave it).
 */
export async function gptqModel(
  model: LlamaModel,
  q: Quantizer | ((name: string) => Quantizer | null),
  sequences: readonly ArrayLike<number>[],
  options: GptqModelOptions = {},
): Promise<GptqReport> {
  checkSequences(sequences, model.config.vocabSize, { op: "gptqModel", minLength: 2 });
  const choose = typeof q === "function" ? q : () => q;
  const start = performance.now();
  const layers: GptqReport["layers"] = [];
  const observers = new Map<string, HessianObserver>();
  const wanted = (name: string) => !options.skip?.includes(name) && choose(name) !== null;
  const needed = new Set([...model.linears().keys()].filter(wanted).map(inputOf));
  await captureLayerInputs(model, sequences, {
    progress: options.progress ?? true ? "gptq" : false,
    onLinearInput: (name, x) => {
      if (inputOf(name) !== name || !needed.has(name)) return; // one H per shared input
      let o = observers.get(name);
      if (!o) observers.set(name, o = new HessianObserver(name));
      o.observe(x);
    },
    afterLayer: async (i, m) => {
      const hessians = new Map<string, Tensor>();
      try {
        for (const [name, lin] of m.linears({ layer: i })) {
          const quantizer = choose(name);
          if (!quantizer || !wanted(name)) continue;
          const layer = lin as WeightedLinear;
          if (!layer.weight) throw new TypeError(`gptqModel: ${name} has no float weight`);
          const key = inputOf(name);
          let h = hessians.get(key);
          if (!h) {
            const o = observers.get(key);
            if (!o) throw new Error(`gptqModel: no inputs were captured for ${key}`);
            h = await o.finish();
            observers.delete(key);
            hessians.set(key, h);
          }
          const t0 = performance.now();
          const r = await gptq(layer.weight, h, quantizer, { ...options, name: `${name}.weight` });
          const seconds = (performance.now() - t0) / 1000;
          r.codes.dispose();
          const err = await quantError(layer.weight, r.dequantized);
          const ql = fromDequantized(layer, r.dequantized, quantizer, {
            act: options.act,
          });
          m.setLinear(name, ql);
          layers.push({
            name,
            out: ql.outFeatures,
            in: ql.inFeatures,
            bitsPerWeight: ql.bitsPerWeight,
            sqnrDb: err.sqnr,
            loss: r.stats.loss,
            seconds,
          });
        }
      } finally {
        for (const h of hessians.values()) h.dispose();
      }
    },
  });
  return {
    layers,
    bitsPerWeight: meanBitsPerWeight(layers),
    seconds: (performance.now() - start) / 1000,
  };
}
