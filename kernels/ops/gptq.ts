/**
 * Moved: GPTQ's column kernel lives in `kernels/quantize/gptq.ts`. This file
 * keeps the old import path working; import from `kernels/quantize/mod.ts` in
 * new code.
 *
 * @example
 * ```ts
 * import { gptqColumns } from "./gptq.ts";
 * console.log(typeof gptqColumns); // "function"
 * ```
 * @module
 */
export { diagonal, gptqColumns, setDiagonal } from "../quantize/gptq.ts";
export type { GptqColumnQuant, GptqColumnsArgs, GptqColumnsOut } from "../quantize/gptq.ts";
