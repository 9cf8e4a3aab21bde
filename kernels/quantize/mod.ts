/**
 * The quantization kernels: per-group statistics, quantization against a
 * format's decision table or the affine integer grid, dequantization, the
 * MSE clipping search, dynamic per-row fake quantization of activations, and
 * the inner loops of GPTQ and of the coordinate-descent methods (COMQ, GPFQ).
 * They know numbers and tables, never a format's name.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { groupStats } from "./mod.ts";
 * await initGPU();
 * using s = groupStats(Tensor.fromArray([2, -5]), 2);
 * console.log((await s.data())[0]); // 5
 * ```
 * @module
 */
export { GROUP_STATS, GROUP_STATS_WIDTH, groupStats } from "./group_stats.ts";
export { tableDequantize, tableQuantize } from "./decision_table.ts";
export type { DecisionTable, TableQuantized, TableQuantizeOptions } from "./decision_table.ts";
export { affineQuantize } from "./affine.ts";
export type { AffineQuantizeOptions } from "./affine.ts";
export { mseClipSearch } from "./mse_clip.ts";
export { fakeQuantRows } from "./fake_quant.ts";
export { diagonal, gptqColumns, setDiagonal } from "./gptq.ts";
export type { GptqColumnQuant, GptqColumnsArgs, GptqColumnsOut } from "./gptq.ts";
export { coordinateSweep } from "./coordinate.ts";
export type { CoordinateSweepOptions, CoordinateSweepResult } from "./coordinate.ts";
