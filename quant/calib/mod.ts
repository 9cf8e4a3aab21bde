/**
 * Calibration statistics: observers that stream a layer's activations
 * `[tokens, channels]` and accumulate per-channel statistics on the GPU
 * (min/max, moments, kurtosis, outlier channels; histogram percentiles on the
 * CPU), the GPTQ Hessian XᵀX, and Arrow tables / IPC files of the results.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { ChannelStatsObserver, layerTable } from "./mod.ts";
 * await initGPU();
 * const obs = new ChannelStatsObserver("layers.0.mlp.down_proj");
 * for (let b = 0; b < 3; b++) {
 *   using x = Tensor.randn([16, 8], { seed: b });
 *   obs.observe(x);
 * }
 * const stats = await obs.finish();
 * console.log(layerTable([stats]).get(0)?.toJSON().tokens); // 48
 * ```
 * @module
 */
export {
  BatchObserver,
  F32_MAX,
  NonFiniteError,
  type NonFiniteSite,
  NonFiniteTracker,
  type Observer,
} from "./observer.ts";
export {
  ChannelStatsObserver,
  type ChannelStatsOptions,
  DEFAULT_OUTLIER_K,
  type LayerStats,
  MinMaxObserver,
  type MinMaxResult,
  MomentsObserver,
  type MomentsOptions,
  type MomentsResult,
  outlierChannels,
  OutlierObserver,
  type OutlierObserverResult,
  type OutlierResult,
  PercentileObserver,
} from "./observers.ts";
export { percentileName, type PercentileOptions, type PercentileResult } from "./percentile.ts";
export { AbsHistogram } from "./histogram.ts";
export { HessianObserver } from "./hessian.ts";
export {
  channelTable,
  hasArrowFileMagic,
  layerTable,
  readArrowIPC,
  tableToRecords,
  writeArrowIPC,
} from "./table.ts";
