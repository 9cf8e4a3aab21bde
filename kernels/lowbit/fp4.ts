/**
 * FP4 (E2M1) weights: `fp4` with f16/f32 scales per group, NVFP4 (an E4M3
 * scale per 16 values and an f32 tensor scale) and MXFP4 (an E8M0 scale per
 * 32 values, OCP MX v1.0). Element values come from a 16-entry table in
 * workgroup memory; the 8-bit scales are decoded exactly in WGSL by
 * {@link E4M3_WGSL} and {@link E8M0_WGSL}.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { packFp4 } from "./fp4.ts";
 * import { lowbitMatmul } from "./kernel.ts";
 * await initGPU();
 * // E2M1 codes 2 (1.0) and 0xd (−3.0); MXFP4 scale code 128 = 2^1, block of 32
 * const codes = new Array(32).fill(0);
 * codes[0] = 2;
 * codes[1] = 0xd;
 * using w = packFp4(codes, [1, 32], { scheme: "mxfp4", scales: [128] });
 * using x = Tensor.fromArray([Array.from({ length: 32 }, () => 1)]);
 * using y = lowbitMatmul(x, w);
 * console.log(await y.data()); // Float32Array [-4]
 * ```
 * @module
 */
import { bitstreamRawFn, bitstreamUnit, type Codegen } from "./codegen.ts";
import { createPackedWeight, type LowbitFormat, type PackedWeight, packWeights } from "./layout.ts";

/** Values of the 16 E2M1 codes (sign bit 3, exponent bits 2–1, mantissa bit 0). */
export const E2M1_VALUES: Float32Array = Float32Array.from(
  [0, 0.5, 1, 1.5, 2, 3, 4, 6, -0, -0.5, -1, -1.5, -2, -3, -4, -6],
);

/**
 * WGSL `e4m3(b: u32) -> f32`: the exact value of an OCP E4M3 byte (bias 7,
 * subnormals m·2^−9, 0x7f/0xff NaN, no infinities). The 7 magnitude bits are
 * placed in an f16 (exponent bias 15) and scaled by 2^8, which is exact for
 * normals and subnormals alike.
 */
export const E4M3_WGSL = `
fn e4m3(b: u32) -> f32 {
  let h = ((b & 0x80u) << 8u) | ((b & 0x7fu) << 7u);
  let v = unpack2x16float(h).x * 256.0;
  return select(v, bitcast<f32>(0x7fc00000u), (b & 0x7fu) == 0x7fu);
}`;

/**
 * WGSL `e8m0(b: u32) -> f32`: 2^(b − 127), exactly (b = 0 is the f32
 * subnormal 2^−127, b = 255 NaN).
 */
export const E8M0_WGSL = `
fn e8m0(b: u32) -> f32 {
  let v = bitcast<f32>(select(b << 23u, 0x00400000u, b == 0u));
  return select(v, bitcast<f32>(0x7fc00000u), b == 255u);
}`;

/**
 * WGSL decoding of E2M1 codes through the workgroup table.
 *
 * @example
 * ```ts
 * import { fp4Codegen } from "./fp4.ts";
 * console.log(fp4Codegen(4).value!("c", null)); // "lut[c]"
 * ```
 */
export function fp4Codegen(stride: number): Codegen {
  return {
    lut: E2M1_VALUES,
    unit: (words) => bitstreamUnit(words, 4, 8),
    value: (c) => `lut[${c}]`,
    rawFn: bitstreamRawFn(4, stride),
    rawValue: (r) => `lut[${r}]`,
  };
}

/** Options of {@link packFp4}. */
export interface PackFp4Options {
  /** "fp4" (float scales), "nvfp4" (E4M3 per 16 + tensor scale) or "mxfp4" (E8M0 per 32). */
  scheme: "fp4" | "nvfp4" | "mxfp4";
  /** Group size (default 16 for nvfp4, 32 for mxfp4, K for fp4). */
  groupSize?: number;
  /** fp4: float scales; nvfp4: E4M3 codes; mxfp4: E8M0 codes (row-major `[N, K/groupSize]`). */
  scales: ArrayLike<number>;
  /** nvfp4 per-tensor f32 scale (default 1). */
  tensorScale?: number;
  /** Dtype of fp4's float scales (default f16). */
  scaleDtype?: "f16" | "f32";
}

/**
 * Packs E2M1 codes (row-major `[N, K]`) with the scheme's scales.
 *
 * @example
 * ```ts
 * import { initGPU } from "../../mod.ts";
 * import { packFp4 } from "./fp4.ts";
 * await initGPU();
 * using w = packFp4(new Array(32).fill(2), [2, 16], { scheme: "nvfp4", scales: [0x38, 0x38], tensorScale: 0.5 });
 * console.log(w.format, w.groupSize, w.tensorScale); // "nvfp4" 16 0.5
 * ```
 */
export function packFp4(
  codes: ArrayLike<number>,
  shape: readonly [number, number] | readonly number[],
  options: PackFp4Options,
): PackedWeight {
  const format: LowbitFormat = options.scheme;
  const groupSize = options.groupSize ??
    (format === "nvfp4" ? 16 : format === "mxfp4" ? 32 : undefined);
  return createPackedWeight({
    format,
    shape,
    groupSize,
    words: packWeights(codes, shape, format),
    scales: options.scales,
    scaleDtype: options.scaleDtype,
    tensorScale: options.tensorScale,
  });
}
