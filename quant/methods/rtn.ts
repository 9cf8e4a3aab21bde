/**
 * RTN — round to nearest, the baseline every other method is compared with.
 *
 * Nagel et al., "A White Paper on Neural Network Quantization" (2021), §3:
 * each weight is rounded to the nearest grid point of a uniform quantizer
 * whose scale comes from a range setting (min-max, percentile, MSE-optimal
 * clipping); granularity per tensor, per channel or per group. Krishnamoorthi,
 * "Quantizing deep convolutional networks for efficient inference: A
 * whitepaper" (2018) for per-channel weights and per-token activations.
 *
 * Algorithm (per linear layer W ∈ ℝ^{out×in}):
 *   1. for each group G: choose the range r_G (range setting), scale s_G = r_G / q_max
 *   2. Ŵ = s_G · clamp(round(W / s_G), q_min, q_max)
 *   3. replace the layer by one computing with Ŵ (and, for WxAy, with
 *      per-token fake-quantized inputs)
 *
 * @example
 * ```ts
 * import { initGPU } from "../../mod.ts";
 * import { loadModel } from "../../model/load.ts";
 * import { int } from "../quantizer.ts";
 * import { rtn } from "./rtn.ts";
 * await initGPU();
 * using model = await loadModel();
 * const report = await rtn(model, int(4, { group: 32 }));
 * console.log(report.layers.length, report.bitsPerWeight.toFixed(3)); // 28 4.500
 * ```
 * @module
 */
import type { LlamaModel } from "../../model/llama.ts";
import type { Quantizer } from "../quantizer.ts";
import { quantError } from "../metrics.ts";
import { quantizeLinear, type WeightedLinear } from "../linear.ts";

/** What a model-level quantization did, layer by layer. */
export interface QuantReport {
  /** One row per quantized layer. */
  layers: { name: string; out: number; in: number; bitsPerWeight: number; sqnrDb: number }[];
  /** Parameter-weighted mean bits per weight over the quantized layers. */
  bitsPerWeight: number;
}

/**
 * Parameter-weighted mean bits per weight of a report's layers (0 for none).
 *
 * @example
 * ```ts
 * import { meanBitsPerWeight } from "./rtn.ts";
 * const layers = [
 *   { name: "a", out: 4, in: 8, bitsPerWeight: 4, sqnrDb: 20 },
 *   { name: "b", out: 4, in: 24, bitsPerWeight: 8, sqnrDb: 40 },
 * ];
 * console.log(meanBitsPerWeight(layers)); // 7
 * ```
 */
export function meanBitsPerWeight(layers: readonly QuantReport["layers"][number][]): number {
  let bits = 0, params = 0;
  for (const l of layers) {
    bits += l.bitsPerWeight * l.out * l.in;
    params += l.out * l.in;
  }
  return params ? bits / params : 0;
}

/** Options of {@link rtn}. */
export interface RtnOptions {
  /** Per-token activation quantizer (e.g. `int(8, { per: "token" })` for W8A8). */
  act?: Quantizer;
  /** Also quantize `lm_head` (default false, as is usual). */
  includeHead?: boolean;
  /** Layers to leave in full precision (names, e.g. "layers.0.mlp.down_proj"). */
  skip?: string[];
}

/**
 * Quantizes every linear layer of `model` in place with round-to-nearest.
 * `q` may be one quantizer or a function choosing one per layer (null: skip).
 */
export async function rtn(
  model: LlamaModel,
  q: Quantizer | ((name: string) => Quantizer | null),
  options: RtnOptions = {},
): Promise<QuantReport> {
  const choose = typeof q === "function" ? q : () => q;
  const layers: QuantReport["layers"] = [];
  for (const [name, lin] of model.linears({ includeHead: options.includeHead })) {
    const quantizer = choose(name);
    if (!quantizer || options.skip?.includes(name)) continue;
    const layer = lin as WeightedLinear;
    if (!layer.weight) {
      throw new TypeError(`rtn: layer ${name} has no float weight (already quantized?)`);
    }
    const ql = await quantizeLinear(layer, quantizer, { name: `${name}.weight`, act: options.act });
    const err = await quantError(layer.weight, ql.weight);
    layers.push({
      name,
      out: ql.outFeatures,
      in: ql.inFeatures,
      bitsPerWeight: ql.bitsPerWeight,
      sqnrDb: err.sqnr,
    });
    model.setLinear(name, ql);
  }
  return { layers, bitsPerWeight: meanBitsPerWeight(layers) };
}
