/**
 * lowbit number formats: pure-TypeScript reference encoders and decoders, exact to the bit,
 * against which the GPU kernels are tested. One file per format; this module re-exports them
 * and names them in two registries.
 *
 * Source: see each file's top comment (OCP MX v1.0, OFP8, NVIDIA NVFP4, QLoRA, BitNet b1.58,
 * XNOR-Net, Fairy2i, dINT, log quantization).
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { blockFormats, formats } from "./mod.ts";
 * assert(formats.e4m3.decode(0x7e) === 448);
 * const q = blockFormats.mxfp4.quantize(new Float32Array([1, 2, 3, 4]));
 * assert(blockFormats.mxfp4.dequantize(q)[2] === 3);
 * ```
 * @module
 */

import {
  type BlockFormat,
  type ElementFormat,
  F16_SCALES,
  F32_SCALES,
  type ScaleFormatRecord,
} from "./format.ts";
import { binary, binaryElement } from "./binary.ts";
import { dint4 } from "./dint.ts";
import { int2, int3, int4, int4r, int8, int8r, intFormat, uint4, uint8 } from "./int.ts";
import { log2x4, logFormat, logsqrt2x4 } from "./log2.ts";
import { e2m1, e2m3, e3m2, e4m3, e5m2, e8m0 } from "./minifloat.ts";
import {
  E8M0_SCALES,
  mxfp4,
  mxfp6e2m3,
  mxfp6e3m2,
  mxfp8e4m3,
  mxfp8e5m2,
  mxint8,
  mxint8Element,
} from "./mx.ts";
import { nf4, nf4Element } from "./nf4.ts";
import { E4M3_SCALES, nvfp4 } from "./nvfp4.ts";
import { ternaryAbsmean, ternaryAbsmedian, ternaryElement } from "./ternary.ts";

export {
  type BlockFormat,
  blockLayout,
  checkBlocks,
  checkCode,
  checkedAmax,
  checkNotNaN,
  type ElementFormat,
  F16_SCALES,
  F32_MAX,
  F32_SCALES,
  floatScales,
  floorLog2,
  type FormatFamily,
  type GroupScales,
  type QuantizedBlocks,
  roundHalfEven,
  type ScaleFormatRecord,
  type ScaleRule,
  type ScaleRuleInput,
} from "./format.ts";
export { CODEBOOK_FAMILY, familyOf, maxValueScales } from "./codebook.ts";
export {
  type AffineParams,
  affineParams,
  affineScales,
  decodeAffine,
  decodeSymmetric,
  encodeAffine,
  encodeSymmetric,
  int2,
  int3,
  int4,
  int4r,
  int8,
  int8r,
  INT_FAMILY,
  type IntFormat,
  intFormat,
  type IntOptions,
  intScales,
  symmetricScale,
  uint4,
  uint8,
} from "./int.ts";
export {
  e2m1,
  e2m3,
  e3m2,
  e4m3,
  e5m2,
  e8m0,
  type E8M0Format,
  FP4_FAMILY,
  minifloat,
  type MinifloatFormat,
  type MinifloatSpec,
  type Specials,
} from "./minifloat.ts";
export {
  E8M0_SCALES,
  MX_BLOCK_SIZE,
  type MxFormat,
  mxFormat,
  mxfp4,
  mxfp6e2m3,
  mxfp6e3m2,
  mxfp8e4m3,
  mxfp8e5m2,
  mxint8,
  mxint8Element,
  mxSharedExponent,
} from "./mx.ts";
export {
  E4M3_SCALES,
  nvfp4,
  NVFP4_BLOCK_SIZE,
  nvfp4Dequantize,
  type Nvfp4Options,
  nvfp4Quantize,
  nvfp4TensorEncodeScale,
} from "./nvfp4.ts";
export { nf4, NF4_BLOCK_SIZE, NF4_VALUES, nf4Element, nf4Format } from "./nf4.ts";
export { log2x4, type LogFormat, logFormat, type LogOptions, logsqrt2x4 } from "./log2.ts";
export {
  encodeTernary,
  TERNARY_ENTROPY_BITS,
  TERNARY_FAMILY,
  ternaryAbsmean,
  ternaryAbsmedian,
  ternaryElement,
  ternaryFormat,
  ternaryGamma,
  type TernaryOptions,
  type TernaryScale,
} from "./ternary.ts";
export { binary, BINARY_FAMILY, binaryElement, binaryFormat } from "./binary.ts";
export {
  COMPLEX_BITS_PER_WEIGHT,
  COMPLEX_CODEBOOK,
  dequantizeComplex,
  encodeComplex,
  quantizeComplex,
  type QuantizedComplex,
} from "./complex.ts";
export { dint4, type DintFormat, dintFormat } from "./dint.ts";

function byName<T extends { name: string }>(list: T[]): Readonly<Record<string, T>> {
  const out: Record<string, T> = {};
  for (const f of list) {
    if (out[f.name]) throw new Error(`duplicate format name ${f.name}`);
    out[f.name] = f;
  }
  return Object.freeze(out);
}

/** Every scalar element format (≤ 8 bits, full value table), by name. */
export const formats: Readonly<Record<string, ElementFormat>> = byName<ElementFormat>([
  int8,
  int8r,
  int4,
  int4r,
  int3,
  int2,
  intFormat(2, { range: "restricted" }),
  uint8,
  uint4,
  e2m1,
  e3m2,
  e2m3,
  e4m3,
  e5m2,
  e8m0,
  mxint8Element,
  nf4Element,
  log2x4,
  logFormat(4, { rounding: "linear" }),
  logsqrt2x4,
  logFormat(4, { base: "sqrt2", rounding: "linear" }),
  logFormat(3),
  logFormat(8),
  ternaryElement,
  binaryElement,
  dint4,
]);

/** Every block format (element codes + per-block scales), by name. */
export const blockFormats: Readonly<Record<string, BlockFormat>> = byName<BlockFormat>([
  mxfp4,
  mxfp6e3m2,
  mxfp6e2m3,
  mxfp8e4m3,
  mxfp8e5m2,
  mxint8,
  nvfp4,
  nf4,
  ternaryAbsmean,
  ternaryAbsmedian,
  binary,
]);

/** How a quantizer's scales are stored (its `scale` field), by name. */
export const scaleFormats: Readonly<Record<string, ScaleFormatRecord>> = byName([
  F32_SCALES,
  F16_SCALES,
  E8M0_SCALES,
  E4M3_SCALES,
]);

// the quantizer's parts (the builders are in the root mod.ts)
export type { Granularity, Rounding, ScaleFormat } from "../quantizer.ts";
export type { QuantizeOptions } from "../quantize.ts";
export type { ErrorMetrics } from "../metrics.ts";
export type { QuantizedWeightInit } from "../weight.ts";
