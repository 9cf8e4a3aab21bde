/**
 * Training: optimizers (SGD, AdamW, 8-bit AdamW), schedules, clipping and
 * master weights (`optim/`). The trainer and its checkpoints will join here.
 *
 * @example
 * ```ts
 * import { constantLr, SGD } from "./mod.ts";
 * using opt = new SGD({ momentum: 0.9 });
 * console.log(opt.momentum, constantLr(0.1)(0)); // 0.9 0.1
 * ```
 * @module
 */
export {
  AdamW,
  AdamW8bit,
  type AdamW8bitOptions,
  type AdamWOptions,
  clipGradNorm,
  constantLr,
  decayMatrices,
  dynamicMap,
  dynamicMaps,
  MasterWeights,
  oneCycle,
  type OneCycleOptions,
  type Optimizer,
  type Schedule,
  SGD,
  type SgdOptions,
  warmupCosine,
  type WarmupCosineOptions,
  type WeightDecayMask,
} from "./optim/mod.ts";
