/**
 * Mixed-precision bit allocation by integer programming, with optional
 * layer-wise calibration.
 *
 * I. Hubara, Y. Nahshan, Y. Hanani, R. Banner, D. Soudry, "Improving Post
 * Training Neural Quantization: Layer-wise Calibration and Integer
 * Programming", 2020 (arXiv:2006.10518).
 *
 *   1. sensitivity: for every layer l and bit width b ∈ B, quantize only l to
 *      b bits and measure the degradation ΔL_{l,b} (here the KL of the
 *      next-token distributions to the full-precision model, or the NLL increase)
 *   2. integer program: minimise Σ_l ΔL_{l,b_l} subject to
 *      Σ_l n_l·bpw(b_l) ≤ budget · Σ_l n_l  (exact DP, `quant/alloc/ip.ts`)
 *   3. quantize every layer at its b_l: round to nearest, or — the paper's
 *      layer-wise calibration step — minimise each layer's reconstruction
 *      error on calibration data (here with COMQ's coordinate descent in
 *      place of the paper's AdaQuant gradient steps; bias tuning is not done)
 *
 * The paper's integer program also admits activation bits and a latency
 * constraint; only the weight-size budget is implemented.
 *
 * @example
 * ```ts
 * import { initGPU, int, loadModel } from "../../mod.ts";
 * import { layerwiseIp } from "./layerwise_ip.ts";
 * await initGPU();
 * using model = await loadModel();
 * // a precomputed sensitivity: every layer equally sensitive except one MLP projection
 * const sensitivity = [...model.linears().entries()].flatMap(([layer, l]) =>
 *   [2, 4].map((bits) => ({
 *     layer, bits, params: l.inFeatures * l.outFeatures, bitsPerWeight: bits + 0.5,
 *     kl: (layer === "layers.0.mlp.down_proj" ? 10 : 1) / bits, dNll: 0,
 *   }))
 * );
 * const r = await layerwiseIp(model, { avgBits: 2.7, sensitivity });
 * console.log(r.details.allocation.picks.find((p) => p.name === "layers.0.mlp.down_proj")!.bits); // 4
 * ```
 * @module
 */
import type { LlamaModel } from "../../model/llama.ts";
import { type Allocation, ipAllocate } from "../alloc/ip.ts";
import { greedyAllocate } from "../alloc/greedy.ts";
import { layerSensitivity, type SensitivityRow, toAllocItems } from "../alloc/sensitivity.ts";
import { int, type Quantizer } from "../quantizer.ts";
import { comq } from "./comq.ts";
import { type QuantReport, rtn } from "./rtn.ts";
import { type ModelMethod, taskPerTokenAct, taskSequences } from "../model.ts";

export * as alloc from "../alloc/mod.ts";
export type { Allocation, AllocItem, AllocOption } from "../alloc/ip.ts";
export type { SensitivityRow } from "../alloc/sensitivity.ts";

/** Options of {@link layerwiseIp}. */
export interface LayerwiseIpOptions {
  /** Budget: mean stored bits per weight over the quantized layers (scales included). */
  avgBits: number;
  /** Windows for the sensitivity measurement (needed unless `sensitivity` is given). */
  evalRows?: readonly ArrayLike<number>[];
  /** A sensitivity table measured before (skips step 1). */
  sensitivity?: SensitivityRow[];
  /** Bit widths to choose from (default [2, 3, 4, 8]). */
  bits?: number[];
  /** The quantizer of b bits (default `int(b, { group: 32 })`). */
  quantizer?: (bits: number) => Quantizer;
  /** Degradation measure (default "kl"). */
  metric?: "kl" | "dNll";
  /** Solver: the exact integer program (default) or the greedy heuristic. */
  solver?: "ip" | "greedy";
  /** Layer-wise calibration (step 3 with COMQ) on these windows; default: round to nearest. */
  calibration?: readonly ArrayLike<number>[];
  /** Per-token activation quantizer of the resulting layers. */
  act?: Quantizer;
  /** Show progress bars (default false). */
  progress?: boolean;
}

/** Layer-wise IP's own facts, in its report's `details`. */
export interface LayerwiseIpDetails {
  /** The sensitivity table used. */
  sensitivity: SensitivityRow[];
  /** The chosen bits per layer. */
  allocation: Allocation;
}

/**
 * Measures (or takes) the per-layer sensitivity, solves the allocation under
 * `avgBits`, and quantizes `model` in place accordingly.
 */
export async function layerwiseIp(
  model: LlamaModel,
  options: LayerwiseIpOptions,
): Promise<QuantReport<LayerwiseIpDetails>> {
  const makeQ = options.quantizer ?? ((b: number) => int(b, { group: 32 }));
  let sensitivity = options.sensitivity;
  if (!sensitivity) {
    if (!options.evalRows) {
      throw new TypeError("layerwiseIp: give evalRows (to measure sensitivity) or sensitivity");
    }
    sensitivity = await layerSensitivity(model, options.evalRows, {
      bits: options.bits,
      quantizer: makeQ,
      progress: options.progress,
    });
  }
  const items = toAllocItems(sensitivity, options.metric ?? "kl");
  const allocation = (options.solver ?? "ip") === "ip"
    ? ipAllocate(items, options.avgBits)
    : greedyAllocate(items, options.avgBits);
  const bitsOf = new Map(allocation.picks.map((p) => [p.name, p.bits]));
  const choose = (name: string) => bitsOf.has(name) ? makeQ(bitsOf.get(name)!) : null;
  const r = options.calibration
    ? await comq(model, choose, {
      calibration: options.calibration,
      act: options.act,
      progress: options.progress,
    })
    : await rtn(model, choose, { act: options.act });
  return { layers: r.layers, bitsPerWeight: r.bitsPerWeight, details: { sensitivity, allocation } };
}

/**
 * Layer-wise IP's record in the method registry. Options: `avgBits`
 * (required), `bits`, `metric`, `solver`, `sensitivity` (as
 * {@link LayerwiseIpOptions}), `group` (the group size of the `int(b)`
 * quantizers, default 32) and `calibrate` (true: step 3 with COMQ on the
 * calibration windows; default round to nearest). The calibration windows
 * also measure the sensitivity when none is given; act: per token.
 */
export const LAYERWISE_IP: ModelMethod = {
  name: "layerwise_ip",
  needs: ["model"],
  solve: (t) => {
    const o = t.options as Partial<LayerwiseIpOptions> & { group?: number; calibrate?: boolean };
    if (typeof o.avgBits !== "number") {
      throw new TypeError(
        "quantizeModel layerwise_ip: options.avgBits (the bit budget) is required",
      );
    }
    const group = o.group ?? 32;
    return layerwiseIp(t.model, {
      avgBits: o.avgBits,
      bits: o.bits,
      metric: o.metric,
      solver: o.solver,
      sensitivity: o.sensitivity,
      quantizer: (b) => int(b, { group }),
      evalRows: t.sequences,
      calibration: o.calibrate ? taskSequences(t, "layerwise_ip") : undefined,
      act: taskPerTokenAct(t, "layerwise_ip"),
      progress: !!t.progress,
    });
  },
};
