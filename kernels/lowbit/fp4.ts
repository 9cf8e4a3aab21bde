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
 * import { packFp4 } from "./pack.ts";
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
import {
  bitstreamRawFn,
  bitstreamStorage,
  bitstreamUnit,
  type Codegen,
  type Storage,
} from "./codegen.ts";

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

const fp4 = (stride: number) => fp4Codegen(stride);

/**
 * The storages of E2M1 codes: `FP4` (float scales), `NVFP4` (E4M3 scale
 * codes and a tensor scale) and `MXFP4` (E8M0 scale codes).
 *
 * @example
 * ```ts
 * import { MXFP4, NVFP4 } from "./fp4.ts";
 * console.log(NVFP4.scale, NVFP4.tensorScale, MXFP4.scale); // "e4m3" true "e8m0"
 * ```
 */
export const FP4: Storage = bitstreamStorage("fp4", 4, fp4);
/** NVFP4: E2M1 codes, an E4M3 scale code per group, an f32 tensor scale. */
export const NVFP4: Storage = bitstreamStorage("nvfp4", 4, fp4, {
  scale: "e4m3",
  tensorScale: true,
});
/** MXFP4: E2M1 codes, an E8M0 scale code per group. */
export const MXFP4: Storage = bitstreamStorage("mxfp4", 4, fp4, { scale: "e8m0" });
