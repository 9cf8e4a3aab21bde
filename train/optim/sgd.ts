/**
 * SGD with momentum, as `torch.optim.SGD` (single-tensor path): for each
 * parameter with gradient g,
 *
 *   1. d = g + λ·p                                  (weight decay λ, coupled, when λ ≠ 0)
 *   2. b = d on the first step, else μ·b + (1 − τ)·d  (momentum μ, dampening τ)
 *   3. d = d + μ·b with nesterov, else d = b        (steps 2–3 only when μ ≠ 0)
 *   4. p = p − lr·d
 *
 * Departure from torch: weight decay applies only where `weightDecayMask`
 * says so (default: matrices), as a param-group rule would.
 *
 * Reference: `tests/reference/optim.ts`.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { SGD } from "./sgd.ts";
 * await initGPU();
 * using w = Tensor.fromArray([1, 2]);
 * using g = Tensor.fromArray([1, 1]);
 * using opt = new SGD({ momentum: 0.9 });
 * const params = new Map([["w", w]]), grads = new Map([["w", g]]);
 * opt.step(params, grads, 0.1);
 * opt.step(params, grads, 0.1);
 * console.log(await w.data(), opt.memoryBytes()); // Float32Array [0.7099999785423279, 1.7100000381469727] 8
 * ```
 * @module
 */
import { Tensor } from "../../kernels/tensor.ts";
import { sgdUpdate } from "../../kernels/optim/sgd_update.ts";
import { decayMatrices, type WeightDecayMask } from "./optimizer.ts";
import { checkRange, type SlotLayout, SlotOptimizer, SlotState } from "./_slots.ts";

/** SGD hyperparameters (torch's defaults). */
export interface SgdOptions {
  /** Momentum μ. Default 0 (no momentum buffer). */
  momentum?: number;
  /** Dampening τ of the momentum. Default 0. */
  dampening?: number;
  /** Nesterov momentum (needs μ > 0 and τ = 0). Default false. */
  nesterov?: boolean;
  /** Weight decay λ, added to the gradient as λ·p. Default 0. */
  weightDecay?: number;
  /** Which parameters are decayed. Default {@link decayMatrices} (rank ≥ 2). */
  weightDecayMask?: WeightDecayMask;
}

/** SGD with momentum over named f32 parameters (slot `momentum_buffer` when μ ≠ 0). */
export class SGD extends SlotOptimizer {
  /** Momentum μ. */
  readonly momentum: number;
  /** Dampening τ. */
  readonly dampening: number;
  /** Nesterov momentum. */
  readonly nesterov: boolean;
  /** Weight decay λ. */
  readonly weightDecay: number;

  /** An SGD optimizer; options default to torch's. */
  constructor(
    {
      momentum = 0,
      dampening = 0,
      nesterov = false,
      weightDecay = 0,
      weightDecayMask = decayMatrices,
    }: SgdOptions = {},
  ) {
    super();
    checkRange("SGD", "momentum", momentum, 0, 1);
    checkRange("SGD", "dampening", dampening, 0, 1);
    checkRange("SGD", "weightDecay", weightDecay, 0, Number.MAX_VALUE);
    if (nesterov && (momentum <= 0 || dampening !== 0)) {
      throw new RangeError(
        `SGD: nesterov needs momentum > 0 and dampening 0 (got momentum ${momentum}, ` +
          `dampening ${dampening})`,
      );
    }
    this.momentum = momentum;
    this.dampening = dampening;
    this.nesterov = nesterov;
    this.weightDecay = weightDecay;
    this.slots = new SlotState("SGD", weightDecayMask, {
      slotNames: ["momentum_buffer"],
      layout: (p): Record<string, SlotLayout> =>
        momentum ? { momentum_buffer: { shape: p.shape, dtype: "f32" } } : {},
      // contents are never read: the first step overwrites the buffer with d
      create: (p): Record<string, Tensor> =>
        momentum ? { momentum_buffer: Tensor.zeros(p.shape) } : {},
      update: (p, g, slots, step, lr, decay) =>
        sgdUpdate(p, g, slots.momentum_buffer, {
          lr,
          momentum,
          dampening,
          nesterov,
          weightDecay: decay ? weightDecay : 0,
          first: step === 1,
        }),
    });
  }
}
