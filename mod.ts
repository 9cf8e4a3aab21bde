/**
 * lowbit — quantization research on WebGPU: tensors and kernels, number
 * formats and quantizers, real models from safetensors, and notebook charts.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor, ops } from "./mod.ts";
 * await initGPU();
 * using w = Tensor.randn([4, 8], { seed: 0 });
 * using a = ops.unary("abs", w);
 * console.log(a.shape); // [4, 8]
 * ```
 * @module
 */
export { gpu, GPUFailureError, GPUUnavailableError, initGPU } from "./kernels/gpu.ts";
export type { GPUContext } from "./kernels/gpu.ts";
export { numel, Tensor } from "./kernels/tensor.ts";
export type { NestedArray, RandomOptions, TensorSummary } from "./kernels/tensor.ts";
export type { DType } from "./kernels/dtype.ts";
export { Rng } from "./kernels/random.ts";
export { runtimeStats, sync, trimPool } from "./kernels/runtime.ts";
export * as ops from "./kernels/ops/mod.ts";
