/**
 * CrossQuant — activation quantization with a per-element scale built from
 * both the row (token) and the column (channel) absolute maxima.
 *
 * "CrossQuant: A Post-Training Quantization Method with Smaller Quantization
 * Kernel for Precise Large Language Model Compression", 2024 (arXiv preprint;
 * the definition below is ours from the paper's description: check α there).
 *
 * The paper's *quantization kernel* is the set of activations that quantize
 * to zero; the fraction of nonzero activations in it (`kernelFraction` in
 * `quant/metrics.ts`) tracks the accuracy loss of activation quantization.
 * Per-token quantization uses one scale per row, set by the row's largest
 * element — in LLMs often an outlier channel — so the row's small elements
 * fall into the kernel. CrossQuant shrinks the step of those elements:
 *
 *   X ∈ ℝ^{T×C};  t_i = max_j |X_ij| (rows),  c_j = max_i |X_ij| (columns)
 *   Δ_ij = t_i^α · c_j^(1−α) / q_max                (α ∈ [0, 1]; α = 1 is per-token)
 *   X̂_ij = Δ_ij · clamp(round(X_ij / Δ_ij), −q_max, q_max)
 *
 * Since |X_ij| ≤ min(t_i, c_j) ≤ t_i^α c_j^(1−α), nothing is clipped. The
 * column factor c^(1−α) can be folded into the weight's input columns, so a
 * deployment keeps one scale per token; here (fake quantization) the kernel
 * composes ops: absmax per row and column, pow, a broadcast product, and the
 * table quantizer with one group per element. Default α = 0.15 (the
 * paper's setting as we read it; {@link crossQuantize} takes any α).
 *
 * Column maxima: by default c is taken from the input itself (dynamic), which
 * mixes every token of a batch into every other token's step, so it cannot be
 * folded into a weight and a later token changes an earlier prediction. With
 * `columns` (static c, calibrated, e.g. by {@link crossquant} with
 * `sequences`) each token's quantization depends only on itself; values above
 * the calibrated step range are clipped. {@link crossquant} with `sequences`
 * also folds c^(1−α) into the weight before quantizing it, so the weight
 * error is that of the deployed (folded) weight.
 *
 * @example
 * ```ts
 * import { initGPU, int, kernelFraction, Tensor } from "../../mod.ts";
 * import { crossQuantize, perTokenQuantize } from "./crossquant.ts";
 * await initGPU();
 * using x = Tensor.fromArray([[100, 0.5, -0.3, 0.2], [80, 0.1, 0.4, -0.6]]); // channel 0 is an outlier
 * using a = perTokenQuantize(x, int(4, { per: "token" }));
 * using b = crossQuantize(x, { act: int(4, { per: "token" }) });
 * console.log(await kernelFraction(x, a), await kernelFraction(x, b)); // 0.75 0
 * ```
 * @module
 */
import { Tensor } from "../../kernels/tensor.ts";
import type { LlamaModel } from "../../model/llama.ts";
import { captureLayerInputs } from "../../model/capture.ts";
import { type ModelMethod, quantizeModel, taskPerTokenAct, taskQuantizer } from "../model.ts";
import type { Quantizer } from "../quantizer.ts";
import { quantError } from "../metrics.ts";
import { quantizeLinear, quantizeParts, QuantLinear, type WeightedLinear } from "../linear.ts";
import type { CrossQuantOptions } from "../activation.ts";
import { MinMaxObserver } from "../calib/observers.ts";
import { scaleColumns } from "../transforms/smoothing.ts";
import { meanBitsPerWeight, type QuantReport } from "./rtn.ts";

export { crossQuantize, type CrossQuantOptions, perTokenQuantize } from "../activation.ts";

/** Options of {@link crossquant}. */
export interface CrossQuantModelOptions extends Omit<CrossQuantOptions, "columns"> {
  /**
   * Calibration sequences: when given, every linear input's column maxima
   * are measured once on the float model and kept static, and c^(1−α) is
   * folded into the weight before it is quantized (deployable). Default:
   * dynamic column maxima of each input batch, weight quantized unfolded.
   */
  sequences?: readonly ArrayLike<number>[];
}

/**
 * Quantizes every decoder linear of `model` in place: weights by
 * round-to-nearest with `weight`, inputs by CrossQuant (`options.act`, α).
 *
 * @example
 * ```ts
 * import { initGPU, int, loadModel } from "../../mod.ts";
 * import { crossquant } from "./crossquant.ts";
 * await initGPU();
 * using model = await loadModel();
 * const r = await crossquant(model, int(8), { act: int(8, { per: "token" }) });
 * console.log(r.layers.length, String(model.getLinear("layers.0.mlp.up_proj")));
 * ```
 */
export async function crossquant(
  model: LlamaModel,
  weight: Quantizer,
  options: CrossQuantModelOptions,
): Promise<QuantReport> {
  return await quantizeModel(model, {
    method: "crossquant",
    quantizer: weight,
    act: options.act,
    calibration: options.sequences ? { sequences: options.sequences } : undefined,
    options: { alpha: options.alpha },
  });
}

/**
 * CrossQuant's record in the method registry (options: `{ alpha }`; act: per
 * token; with calibration: static column maxima).
 */
export const CROSSQUANT: ModelMethod = {
  name: "crossquant",
  needs: ["model"],
  solve: (t) => {
    const act = taskPerTokenAct(t, "crossquant");
    if (!act) throw new TypeError("quantizeModel crossquant: needs an activation quantizer (act)");
    return runCrossquant(t.model, taskQuantizer(t, "crossquant"), {
      act,
      alpha: t.options.alpha as number | undefined,
      sequences: t.sequences,
    });
  },
};

async function runCrossquant(
  model: LlamaModel,
  weight: Quantizer,
  options: CrossQuantModelOptions,
): Promise<QuantReport> {
  const alpha = options.alpha ?? 0.15;
  const columns = new Map<string, Float32Array>();
  if (options.sequences) {
    const cap = await captureLayerInputs(model, options.sequences, {
      observers: (name) => new MinMaxObserver(name),
      progress: false,
    });
    for (const [name, obs] of cap.observers) {
      columns.set(name, (await (obs as MinMaxObserver).finish()).absmax);
    }
  }
  const layers: QuantReport["layers"] = [];
  for (const [name, lin] of model.linears()) {
    const layer = lin as WeightedLinear;
    if (!layer.weight) throw new TypeError(`crossquant: ${name} has no float weight`);
    const cols = columns.get(name);
    if (options.sequences && !cols) {
      throw new Error(`crossquant: calibration saw no input of ${name}`);
    }
    const act = { kind: "crossquant" as const, quantizer: options.act, alpha, columns: cols };
    let ql: QuantLinear;
    if (cols) {
      // fold c^(1−α) into the weight's columns, quantize, unfold (fake quant of the deployed
      // weight): the codes live in the folded basis, so the layer keeps them with the
      // transform diag(c^−(1−α)) (Ŵ = Q·diag(1/f)) next to the unfolded values
      const f = Float32Array.from(cols, (c) => Math.max(c, 1e-30) ** (1 - alpha));
      using s = Tensor.fromArray(f);
      const inv = Tensor.fromArray(f.map((v) => 1 / v));
      using folded = scaleColumns(layer.weight, s);
      const { codes, values: wq } = await quantizeParts(folded, weight, {
        name: `${name}.weight`,
      });
      using _wq = wq;
      ql = new QuantLinear({
        codes,
        values: scaleColumns(wq, inv),
        bias: layer.bias?.reshape(layer.bias.shape),
        act,
        transform: { kind: "scales", scales: inv },
        quantizer: weight,
      });
    } else {
      ql = await quantizeLinear(layer, weight, { name: `${name}.weight`, act });
    }
    const err = await quantError(layer.weight, ql.weight!);
    layers.push({
      name,
      out: lin.outFeatures,
      in: lin.inFeatures,
      bitsPerWeight: ql.bitsPerWeight,
      sqnrDb: err.sqnr,
    });
    model.setLinear(name, ql);
  }
  return { layers, bitsPerWeight: meanBitsPerWeight(layers) };
}
