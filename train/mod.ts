/**
 * Training: optimizers (SGD, AdamW, 8-bit AdamW), schedules, clipping and
 * master weights (`optim/`); the trainer (`train`), its token-batch sources,
 * loss curve, evaluation and atomic, resumable checkpoints.
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
  type ParamState,
  type Schedule,
  SGD,
  type SgdOptions,
  type SlotLayout,
  SlotOptimizer,
  type SlotRule,
  SlotState,
  warmupCosine,
  type WarmupCosineOptions,
  type WeightDecayMask,
} from "./optim/mod.ts";
export {
  type ProgressSink,
  train,
  type TrainableModel,
  type TrainOptions,
  type TrainResult,
} from "./trainer.ts";
export {
  type BatchSource,
  type DataPosition,
  randomWindows,
  type RandomWindowsOptions,
  replayWindows,
  type TrainBatch,
} from "./data.ts";
export { type CurveRow, LossCurve } from "./curve.ts";
export { evalNll, type EvalOptions, evalWindows, type LogitsModel } from "./evaluate.ts";
export {
  CHECKPOINT_FILES,
  type LoadedCheckpoint,
  readTrainCheckpoint,
  type TrainState,
  writeTrainCheckpoint,
} from "./checkpoint.ts";
