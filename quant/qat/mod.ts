/**
 * Quantization-aware training: differentiable fake quantization through any
 * `Quantizer` with the straight-through estimator (`fakeQuantSte`, on the
 * grid `quantGrid` finds), learned step sizes (LSQ, LSQ+: `lsqQuantize`,
 * `lsqInit`), learned clipping (PACT: `pact`), and `QatLinear`, a `Linear`
 * that trains its weight and quantization parameters.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { valueAndGrad } from "../../kernels/autograd.ts";
 * import { sumAll } from "../../kernels/ops/reduce_all.ts";
 * import { lsqQuantize } from "./mod.ts";
 * await initGPU();
 * using w = Tensor.fromArray([0.4, -0.9, 0.05]);
 * using s = Tensor.fromArray([0.25]);
 * const { value, grads } = valueAndGrad(() => {
 *   using wq = lsqQuantize(w, s, { bits: 3 });
 *   return sumAll(wq);
 * }, { w, s });
 * console.log(await value.item(), await grads.get("w")!.data()); // -0.5 Float32Array [1, 1, 1]
 * value.dispose();
 * for (const g of grads.values()) g.dispose();
 * ```
 * @module
 */
export { fakeQuantSte } from "./fake_quant.ts";
export type { FakeQuantSteOptions, SteKind } from "./fake_quant.ts";
export { lsqInit, lsqQuantize, lsqRange } from "./lsq.ts";
export type { LsqInitOptions, LsqOptions } from "./lsq.ts";
export { pact } from "./pact.ts";
export type { PactOptions } from "./pact.ts";
export { QatLinear } from "./qat_linear.ts";
export type { ActivationQat, QatLinearOptions, WeightQat } from "./qat_linear.ts";
export { applyGrid, quantGrid } from "../quantize.ts";
export type { QuantGrid } from "../quantize.ts";
export { absmaxActivationSte, BitLinear, PackedBitLinear, ternaryWeightSte } from "./bitlinear.ts";
export type { BitLinearOptions } from "./bitlinear.ts";
export { type BitNetModel, packBitNet, toBitNet } from "./bitnet.ts";
export { OneBitLinear, signSte } from "./onebit_linear.ts";
export type { OneBitLinearOptions } from "./onebit_linear.ts";
export { distillOneBit, exportOneBit, oneBitParameters, oneBitStudent } from "./onebit_distill.ts";
export type { DistillOptions } from "./onebit_distill.ts";
export { BlockApLinear, E2eQpLinear, efficientQuant } from "./efficientqat_linear.ts";
export type { EfficientQuantOptions, FrozenCodes } from "./efficientqat_linear.ts";
