/**
 * Optimizers for lowbit's training engine: the `Optimizer` contract, SGD,
 * AdamW, 8-bit AdamW (block-wise quantized moments), learning-rate schedules,
 * gradient-norm clipping and f32 master weights for f16 compute.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { AdamW, clipGradNorm, warmupCosine } from "./mod.ts";
 * await initGPU();
 * using w = Tensor.fromArray([[1, 2]]);
 * using g = Tensor.fromArray([[30, 40]]);
 * using opt = new AdamW();
 * const lr = warmupCosine({ lr: 1e-2, warmup: 1, total: 10 });
 * const norm = await clipGradNorm([g], 1);
 * opt.step(new Map([["w", w]]), new Map([["w", g]]), lr(0));
 * console.log(norm, opt.stepCount); // 50 1
 * ```
 * @module
 */
export { decayMatrices, type Optimizer, type WeightDecayMask } from "./optimizer.ts";
export {
  type ParamState,
  type SlotLayout,
  SlotOptimizer,
  type SlotRule,
  SlotState,
} from "./_slots.ts";
export { SGD, type SgdOptions } from "./sgd.ts";
export { AdamW, type AdamWOptions } from "./adamw.ts";
export { AdamW8bit, type AdamW8bitOptions } from "./adamw8bit.ts";
export { dynamicMap, dynamicMaps } from "./dynamic_map.ts";
export {
  constantLr,
  oneCycle,
  type OneCycleOptions,
  type Schedule,
  warmupCosine,
  type WarmupCosineOptions,
} from "./schedule.ts";
export { clipGradNorm } from "./clip.ts";
export { MasterWeights } from "./master.ts";
