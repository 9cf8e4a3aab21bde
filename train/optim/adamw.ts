/**
 * AdamW exactly as `torch.optim.AdamW` (single-tensor path), one fused kernel
 * per tensor per step. I. Loshchilov, F. Hutter, "Decoupled Weight Decay
 * Regularization", ICLR 2019, arXiv:1711.05101 (Algorithm 2). For each
 * parameter with gradient g, at its step t:
 *
 *   1. p = p·(1 − lr·λ)                       (decoupled decay, first)
 *   2. m = β₁·m + (1 − β₁)·g,  v = β₂·v + (1 − β₂)·g²
 *   3. m̂ = m / (1 − β₁ᵗ),  v̂ = v / (1 − β₂ᵗ)
 *   4. p = p − lr·m̂ / (√v̂ + ε)
 *
 * NaN: a NaN gradient makes that element's m, v and parameter NaN (torch
 * propagates it too); other elements are unaffected. Departure from torch:
 * weight decay applies only where `weightDecayMask` says so (default:
 * matrices, as `tools/train_tiny.py`'s two param groups). State: slots
 * `exp_avg` and `exp_avg_sq`, f32, 8 bytes per parameter.
 *
 * Reference: `tests/reference/optim.ts`.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { AdamW } from "./adamw.ts";
 * await initGPU();
 * using w = Tensor.fromArray([[1, 2], [3, 4]]);
 * using g = Tensor.fromArray([[1, 1], [-1, 0]]);
 * using opt = new AdamW({ betas: [0.9, 0.95], weightDecay: 0.1 });
 * opt.step(new Map([["w", w]]), new Map([["w", g]]), 0.01);
 * console.log(await w.data(), opt.memoryBytes()); // Float32Array [0.9890000224113464, 1.9880000352859497, 3.006999969482422, 3.996000051498413] 32
 * ```
 * @module
 */
import { Tensor } from "../../kernels/tensor.ts";
import { adamwUpdate } from "../../kernels/optim/adamw_update.ts";
import { SlotOptimizer, SlotState } from "./_slots.ts";
import { type AdamWOptions, adamwOptions, adamwStepScalars } from "./_adamw_options.ts";

export type { AdamWOptions };

/** AdamW over named f32 parameters. */
export class AdamW extends SlotOptimizer {
  /** (β₁, β₂). */
  readonly betas: readonly [number, number];
  /** ε. */
  readonly eps: number;
  /** Decoupled weight decay λ. */
  readonly weightDecay: number;

  /** An AdamW optimizer; options default to torch's. */
  constructor(options: AdamWOptions = {}) {
    super();
    const o = adamwOptions("AdamW", options);
    this.betas = o.betas;
    this.eps = o.eps;
    this.weightDecay = o.weightDecay;
    this.slots = new SlotState("AdamW", o.weightDecayMask, {
      slotNames: ["exp_avg", "exp_avg_sq"],
      layout: (p) => {
        const l = { shape: p.shape, dtype: "f32" } as const;
        return { exp_avg: l, exp_avg_sq: l };
      },
      create: (p) => ({ exp_avg: Tensor.zeros(p.shape), exp_avg_sq: Tensor.zeros(p.shape) }),
      update: (p, g, slots, step, lr, decay) =>
        adamwUpdate(p, g, slots.exp_avg, slots.exp_avg_sq, adamwStepScalars(o, step, lr, decay)),
    });
  }
}
