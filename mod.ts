/**
 * lowbit — quantization research on WebGPU. The main workflow: start the GPU,
 * load a model, build quantizers, quantize the model with any method
 * (`quantizeModel`), measure it, save and load it on the packed low-bit
 * kernels. Everything else lives in the sub-entries: `./kernels` (tensors,
 * ops, packed layouts), `./formats` (number formats), `./methods` (every
 * method's own entry points), `./model` (checkpoints, the Llama family),
 * `./calib` (observers, Arrow tables), `./viz` (charts).
 *
 * @example
 * ```ts
 * import { initGPU, int, loadModel, perplexity, quantizeModel } from "./mod.ts";
 * await initGPU();
 * using model = await loadModel();
 * const r = await quantizeModel(model, { method: "rtn", quantizer: int(4, { group: 32 }) });
 * const text = (await Deno.readTextFile("data/corpus/valid.txt")).slice(0, 512);
 * console.log(r.bitsPerWeight, (await perplexity(model, text)).perplexity < 5); // 4.5 true
 * ```
 * @module
 */
// the GPU and tensors
export { gpu, initGPU } from "./kernels/gpu.ts";
export { sync } from "./kernels/runtime.ts";
export { Tensor } from "./kernels/tensor.ts";
export type { DType } from "./kernels/dtype.ts";
export * as ops from "./kernels/ops/mod.ts";

// quantizers and quantized weights
export {
  binary,
  bitsPerWeight,
  describe,
  fp,
  fromJSON,
  int,
  mxfp4,
  nf4,
  nvfp4,
  type Quantizer,
  quantizer,
  type QuantizerOptions,
  type RangeSetting,
  ternary,
} from "./quant/quantizer.ts";
export { fakeQuant } from "./quant/quantize.ts";
export { quantize, QuantizedWeight } from "./quant/weight.ts";
export { QuantLinear } from "./quant/linear.ts";
export { errorMetrics, kernelFraction, quantError } from "./quant/metrics.ts";

// the driver, its report, checkpoints
export {
  type QuantizeConfig,
  quantizeModel,
  type QuantMethod,
  registerMethod,
} from "./quant/model.ts";
export type { QuantReport } from "./quant/report.ts";
export { loadQuantized, packModel, saveQuantized } from "./quant/checkpoint.ts";

// models, calibration, evaluation
export { loadModel } from "./model/load.ts";
export { LlamaModel } from "./model/llama.ts";
export { randomLlama } from "./model/random_llama.ts";
export { generate } from "./model/generate.ts";
export { DenseLinear, type Linear } from "./model/linear.ts";
export { calibrationSequences, captureLayerInputs } from "./model/capture.ts";
export { compareModels, perplexity } from "./model/eval.ts";

// claims: what a notebook states, measured, checked against its stored outcome
export { checkStored, markdown, Scorecard } from "./viz/claim.ts";
export type { ClaimRecord, ClaimSide } from "./viz/claim.ts";

// gradients and training: valueAndGrad, customGrad, checkpoint …; optimizers, schedules,
// the trainer; quantization-aware training (STE, LSQ, PACT, QatLinear)
export * as autograd from "./kernels/autograd.ts";
export * as train from "./train/mod.ts";
export * as qat from "./quant/qat/mod.ts";

// namespaces: number formats, statistics, transforms, allocation, methods, charts
export * as formats from "./quant/formats/mod.ts";
export * as calib from "./quant/calib/mod.ts";
export * as transforms from "./quant/transforms/mod.ts";
export * as alloc from "./quant/alloc/mod.ts";
export * as methods from "./quant/methods/mod.ts";
export * as viz from "./viz/mod.ts";
// notebook displays of a Quantizer and a QuantReport (plain data): lb.show.quantizer(q)
export * as show from "./quant/show.ts";
