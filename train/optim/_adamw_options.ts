/**
 * AdamW's hyperparameters, their checks and the kernel scalars of one step,
 * shared by `adamw.ts` and `adamw8bit.ts` (private to `train/optim/`).
 *
 * @module
 */
import { type AdamWScalars, adamwScalars } from "../../kernels/optim/adamw_update.ts";
import { decayMatrices, type WeightDecayMask } from "./optimizer.ts";
import { checkRange } from "./_slots.ts";

/** AdamW hyperparameters (torch's defaults). */
export interface AdamWOptions {
  /** (β₁, β₂). Default [0.9, 0.999]. */
  betas?: readonly [number, number];
  /** ε. Default 1e-8. */
  eps?: number;
  /** Decoupled weight decay λ. Default 0.01. */
  weightDecay?: number;
  /** Which parameters are decayed. Default {@link decayMatrices} (rank ≥ 2). */
  weightDecayMask?: WeightDecayMask;
}

/** Checks AdamW's hyperparameters; returns them with defaults filled. */
export function adamwOptions(
  op: string,
  { betas = [0.9, 0.999], eps = 1e-8, weightDecay = 0.01, weightDecayMask = decayMatrices }:
    AdamWOptions,
): Required<AdamWOptions> {
  checkRange(op, "β₁", betas[0], 0, 1 - Number.EPSILON);
  checkRange(op, "β₂", betas[1], 0, 1 - Number.EPSILON);
  checkRange(op, "eps", eps, 0, Number.MAX_VALUE);
  checkRange(op, "weightDecay", weightDecay, 0, Number.MAX_VALUE);
  return { betas, eps, weightDecay, weightDecayMask };
}

/** The kernel scalars of one AdamW step of one tensor under options `o`. */
export function adamwStepScalars(
  o: Required<AdamWOptions>,
  step: number,
  lr: number,
  decay: boolean,
): AdamWScalars {
  return adamwScalars({
    lr,
    step,
    beta1: o.betas[0],
    beta2: o.betas[1],
    eps: o.eps,
    weightDecay: decay ? o.weightDecay : 0,
  });
}
