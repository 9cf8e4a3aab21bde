/**
 * Moved: the coordinate-descent sweep (COMQ, GPFQ) lives in
 * `kernels/quantize/coordinate.ts`. This file keeps the old import path
 * working; import from `kernels/quantize/mod.ts` in new code.
 *
 * @example
 * ```ts
 * import { coordinateSweep } from "./coordinate.ts";
 * console.log(typeof coordinateSweep); // "function"
 * ```
 * @module
 */
export { coordinateSweep } from "../quantize/coordinate.ts";
export type { CoordinateSweepOptions, CoordinateSweepResult } from "../quantize/coordinate.ts";
