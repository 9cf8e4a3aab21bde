/**
 * lowbit — quantization research on WebGPU: tensors and kernels, number
 * formats and quantizers, real models from safetensors, calibration
 * statistics as Arrow tables, quantization methods, and notebook charts.
 *
 * @example
 * ```ts
 * import { fakeQuant, initGPU, int, quantError, Tensor } from "./mod.ts";
 * await initGPU();
 * using w = Tensor.randn([64, 128], { seed: 0 });
 * using q = await fakeQuant(int(4, { group: 32 }), w);
 * console.log((await quantError(w, q)).sqnr > 15); // true
 * ```
 * @module
 */
// kernels: the GPU, tensors and ops
export { gpu, GPUFailureError, GPUUnavailableError, initGPU } from "./kernels/gpu.ts";
export type { GPUContext } from "./kernels/gpu.ts";
export { numel, Tensor } from "./kernels/tensor.ts";
export type { NestedArray, RandomOptions, TensorSummary } from "./kernels/tensor.ts";
export type { AnyTypedArray, DType } from "./kernels/dtype.ts";
export type { LowbitFormat, PackedWeight } from "./kernels/lowbit/layout.ts";
export type {
  BlockFormat,
  ElementFormat,
  IntFormat,
  QuantizedBlocks,
} from "./quant/formats/index.ts";
export { Rng } from "./kernels/random.ts";
export { runtimeStats, sync, trimPool } from "./kernels/runtime.ts";
export * as ops from "./kernels/ops/mod.ts";

// quant: formats, quantizers, calibration, methods
export * as formats from "./quant/formats/index.ts";
export * from "./quant/quantizer.ts";
export * from "./quant/quantize.ts";
export * from "./quant/linear.ts";
export * from "./quant/weight.ts";
export * from "./quant/activation.ts";
export * from "./quant/checkpoint.ts";
export * from "./quant/metrics.ts";
export * as calib from "./quant/calib/mod.ts";
export * as transforms from "./quant/transforms/mod.ts";
export * from "./quant/methods/mod.ts";

// model: checkpoints, the Llama family, evaluation
export * from "./model/safetensors.ts";
export * from "./model/config.ts";
export * from "./model/tokenizer.ts";
export * from "./model/linear.ts";
export * from "./model/llama.ts";
export * from "./model/load.ts";
export * from "./model/eval.ts";
export * from "./model/capture.ts";

// viz: figures, tables, progress
export * as viz from "./viz/mod.ts";
