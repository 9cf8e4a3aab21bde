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
import { quantizeLinear } from "../linear.ts";
import { type LayerMethod, quantizeModel } from "../model.ts";
import type { QuantReport } from "../report.ts";

export { type LayerRow, meanBitsPerWeight, type QuantReport } from "../report.ts";

/** Options of {@link rtn}. */
export interface RtnOptions {
  /** Per-token activation quantizer (e.g. `int(8, { per: "token" })` for W8A8). */
  act?: Quantizer;
  /** Also quantize `lm_head` (default false, as is usual). */
  includeHead?: boolean;
  /** Layers to leave in full precision (names, e.g. "layers.0.mlp.down_proj"). */
  skip?: string[];
}

/** RTN's record in the method registry. */
export const RTN: LayerMethod = {
  name: "rtn",
  needs: [],
  solve: async (t) => ({
    linear: await quantizeLinear(t.layer, t.quantizer, { name: `${t.name}.weight`, act: t.act }),
  }),
};

/**
 * Quantizes every linear layer of `model` in place with round-to-nearest
 * (`quantizeModel` with method "rtn"). `q` may be one quantizer or a
 * function choosing one per layer (null: skip).
 */
export async function rtn(
  model: LlamaModel,
  q: Quantizer | ((name: string) => Quantizer | null),
  options: RtnOptions = {},
): Promise<QuantReport> {
  return await quantizeModel(model, {
    method: "rtn",
    quantizer: q,
    act: options.act,
    includeHead: options.includeHead,
    skip: options.skip,
  });
}
