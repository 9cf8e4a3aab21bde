/**
 * Moved: the quantization kernels live in `kernels/quantize/`
 * (`group_stats.ts`, `decision_table.ts`, `affine.ts`, `mse_clip.ts`,
 * `fake_quant.ts`). This file keeps the old import path working; import from
 * `kernels/quantize/mod.ts` in new code.
 *
 * @example
 * ```ts
 * import { GROUP_STATS_WIDTH } from "./quantize.ts";
 * console.log(GROUP_STATS_WIDTH); // 8
 * ```
 * @module
 */
export {
  affineQuantize,
  fakeQuantRows,
  GROUP_STATS,
  GROUP_STATS_WIDTH,
  groupStats,
  mseClipSearch,
  tableDequantize,
  tableQuantize,
} from "../quantize/mod.ts";
export type {
  AffineQuantizeOptions,
  DecisionTable,
  TableQuantized,
  TableQuantizeOptions,
} from "../quantize/mod.ts";
