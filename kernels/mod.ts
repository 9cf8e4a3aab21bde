/**
 * The GPU side of lowbit: device acquisition, `Tensor`, the op families
 * (`ops`), the packed low-bit weight layout and its matmul, and the runtime.
 *
 * @example
 * ```ts
 * import { initGPU, ops, Tensor } from "./mod.ts";
 * await initGPU();
 * using a = Tensor.fromArray([[1, 2]]);
 * using y = ops.matmul(a, a, { transB: true });
 * console.log(await y.data()); // Float32Array [5]
 * ```
 * @module
 */
export {
  gpu,
  type GPUContext,
  GPUFailureError,
  GPUUnavailableError,
  initGPU,
  throwIfFailed,
} from "./gpu.ts";
export {
  type NestedArray,
  numel,
  type RandomOptions,
  Tensor,
  type TensorSummary,
} from "./tensor.ts";
export {
  type AnyTypedArray,
  bytesPerElement,
  type DType,
  dtypeOf,
  isFloat,
  toTypedArray,
  type TypedArrayFor,
  viewAs,
  wgslType,
} from "./dtype.ts";
export { Rng } from "./random.ts";
export { runtimeStats, sync, trimPool } from "./runtime.ts";
export * as ops from "./ops/mod.ts";
export * as optim from "./optim/mod.ts";
export {
  checkGroup,
  createPackedWeight,
  type FormatInfo,
  formatInfo,
  type LowbitFormat,
  packBytes,
  type PackedWeight,
  type PackedWeightInit,
  packWeights,
  rowWords,
  unpackWeights,
} from "./lowbit/layout.ts";
export { lowbitMatmul, type LowbitMatmulOptions } from "./lowbit/kernel.ts";
export type { Codegen, Storage } from "./lowbit/codegen.ts";
