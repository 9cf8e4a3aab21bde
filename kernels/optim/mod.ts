/**
 * The optimizers' GPU kernels: fused in-place updates of one f32 tensor
 * (SGD, AdamW, block-wise 8-bit AdamW) and the scaling half of gradient
 * clipping. They know nothing of parameter names or schedules (`train/optim/`).
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { sgdUpdate } from "./mod.ts";
 * await initGPU();
 * using p = Tensor.fromArray([1]);
 * using g = Tensor.fromArray([2]);
 * sgdUpdate(p, g, undefined, { lr: 0.25 });
 * console.log(await p.data()); // Float32Array [0.5]
 * ```
 * @module
 */
export {
  type AdamWScalars,
  adamwScalars,
  type AdamWStepOptions,
  adamwUpdate,
} from "./adamw_update.ts";
export { adamw8bitUpdate, BLOCK, type Blockwise8bitState } from "./adamw8bit_update.ts";
export { type SgdStepOptions, sgdUpdate } from "./sgd_update.ts";
export { clipCoefficient, scaleInPlace } from "./clip_scale.ts";
