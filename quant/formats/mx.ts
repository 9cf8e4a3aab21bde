/**
 * OCP Microscaling (MX) block formats: one E8M0 scale shared by a block of 32 elements.
 * MXFP8 (E4M3, E5M2), MXFP6 (E3M2, E2M3), MXFP4 (E2M1) and MXINT8.
 *
 * Source: OCP Microscaling Formats (MX) Specification v1.0 (2023), §5 (formats; MXINT8
 * elements are 8-bit two's complement with an implicit scale of 2^−6) and §6.3 (conversion):
 *
 *   shared_exp = floor(log2(max_i |V_i|)) − emax_elem,   X = 2^shared_exp (E8M0)
 *   P_i = quantize_to_element_format(V_i / X)   (round to nearest even, normals saturate)
 *
 * emax_elem is the exponent of the element format's largest normal: E4M3 8, E5M2 15, E3M2 4,
 * E2M3 2, E2M1 2, INT8 0 (max 127·2^−6 = 1.984375 < 2^1).
 *
 * Choices where the spec leaves room, all documented here:
 * - shared_exp is clamped to the E8M0 range [−127, 127] (finite f32 input never exceeds 127);
 *   an all-zero block gets shared_exp = −127 (scale code 0x00 = 2^−127) and all-zero codes,
 *   never the NaN scale 0xFF.
 * - MXINT8 elements saturate symmetrically to ±127 (as the Microsoft microxcaling reference
 *   library does); the code 0x80 (−2.0) is reserved: decoded, never produced.
 * - V_i / X is computed in binary64, where it is exact (a power-of-two scaling of an f32).
 * - A tensor whose length is not a multiple of the block size ends with one shorter block,
 *   scaled by its own amax.
 *
 * @module
 */

import {
  type BlockFormat,
  checkBlocks,
  checkCode,
  checkedAmax,
  checkNotNaN,
  type ElementFormat,
  floorLog2,
  quantizeBlocks,
  type QuantizedBlocks,
  roundHalfEven,
  type ScaleFormatRecord,
} from "./format.ts";
import { e2m1, e2m3, e3m2, e4m3, e5m2, e8m0 } from "./minifloat.ts";

/** MX block size of the OCP spec. */
export const MX_BLOCK_SIZE = 32;

const INT8_VALUES = (() => {
  const v = new Float32Array(256);
  for (let c = 0; c < 256; c++) v[c] = (c < 128 ? c : c - 256) / 64;
  return v;
})();

/**
 * The MXINT8 element: two's complement int8 times 2^−6 (values −2 … 1.984375), encode rounds
 * x·64 half to even and saturates to ±127 (code 0x80, −2, is reserved).
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { mxint8Element } from "./mx.ts";
 * assert(mxint8Element.decode(0x7f) === 1.984375 && mxint8Element.encode(-5) === 0x81);
 * ```
 */
export const mxint8Element: ElementFormat = {
  name: "mxint8_elem",
  bits: 8,
  values: INT8_VALUES,
  maxValue: 127 / 64,
  reserved: [0x80],
  encode(x: number): number {
    checkNotNaN(x, "mxint8_elem");
    const q = Math.min(127, Math.max(-127, roundHalfEven(x * 64)));
    return q < 0 ? q + 256 : q;
  },
  decode(code: number): number {
    checkCode(code, 8, "mxint8_elem");
    return INT8_VALUES[code];
  },
};

/** An MX block format, with the element emax its scale rule uses. */
export interface MxFormat extends BlockFormat {
  /** emax_elem of the element format: floor(log2(element.maxValue)). */
  readonly emax: number;
}

/**
 * The OCP shared exponent of a block with absolute maximum `amax`:
 * clamp(floor(log2(amax)) − emax, −127, 127), and −127 for amax = 0.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { mxSharedExponent } from "./mx.ts";
 * assert(mxSharedExponent(6, 2) === 0);   // e2m1: amax 6 → scale 1
 * assert(mxSharedExponent(7.9, 2) === 0); // 7.9 / 1 saturates to 6
 * assert(mxSharedExponent(8, 2) === 1 && mxSharedExponent(0, 2) === -127);
 * ```
 */
export function mxSharedExponent(amax: number, emax: number): number {
  if (!(amax >= 0) || !Number.isFinite(amax)) {
    throw new RangeError(`mxSharedExponent: amax must be finite and ≥ 0, got ${amax}`);
  }
  if (amax === 0) return -127;
  return Math.min(127, Math.max(-127, floorLog2(amax) - emax));
}

/**
 * E8M0 block scales (MX) as a quantizer's scale format: each group's shared
 * exponent by {@link mxSharedExponent} of its clipping range, elements
 * multiplied by 2^−shared to encode, values decoded × 2^shared, whatever the
 * element format.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { E8M0_SCALES } from "./mx.ts";
 * import { e2m1 } from "./minifloat.ts";
 * const r = E8M0_SCALES.rule!(e2m1, {
 *   kind: "clip", clip: Float32Array.of(12), min: new Float32Array(1), max: new Float32Array(1),
 *   store: (s) => s,
 * });
 * assert(r.scaleCodes![0] === 128 && r.decode[0] === 2 && r.mode === "mul");
 * ```
 */
export const E8M0_SCALES: ScaleFormatRecord = {
  name: "e8m0",
  rule(element, ranges) {
    const n = ranges.clip.length;
    const emax = floorLog2(element.maxValue);
    const scaleCodes = new Uint8Array(n);
    const encode = new Float32Array(n);
    const decode = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const shared = mxSharedExponent(ranges.clip[i], emax);
      scaleCodes[i] = e8m0.fromExponent(shared);
      encode[i] = 2 ** -shared;
      decode[i] = 2 ** shared;
    }
    return { encode, mode: "mul", decode, scaleCodes, tensorScale: 1 };
  },
};

/**
 * Builds an MX block format over `element` with an E8M0 scale per `blockSize` elements.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { mxFormat } from "./mx.ts";
 * import { e2m1 } from "./minifloat.ts";
 * const fmt = mxFormat("mxfp4", e2m1);
 * const q = fmt.quantize([12, -3, 0.7, 0]);
 * assert(q.scales[0] === 128); // 2^(floor(log2 12) − 2) = 2^1
 * assert(Array.from(fmt.dequantize(q)).join() === "12,-3,1,0");
 * ```
 */
export function mxFormat(
  name: string,
  element: ElementFormat,
  blockSize = MX_BLOCK_SIZE,
): MxFormat {
  const emax = floorLog2(element.maxValue);
  return {
    name,
    element,
    scaleFormat: e8m0,
    blockSize,
    bitsPerWeight: element.bits + 8 / blockSize,
    emax,
    quantize(x: ArrayLike<number>): QuantizedBlocks {
      return quantizeBlocks(x, {
        name,
        blockSize,
        scales: "code",
        block(start, end, codes) {
          const shared = mxSharedExponent(checkedAmax(x, name, start, end), emax);
          const inv = 2 ** -shared;
          for (let i = start; i < end; i++) codes[i] = element.encode(x[i] * inv);
          return e8m0.fromExponent(shared);
        },
      });
    },
    dequantize(q: QuantizedBlocks): Float32Array {
      checkBlocks(q, name);
      const out = new Float32Array(q.length);
      for (let i = 0; i < q.length; i++) {
        out[i] = element.decode(q.codes[i]) * e8m0.decode(q.scales[Math.floor(i / q.blockSize)]);
      }
      return out;
    },
  };
}

/** MXFP4: E2M1 elements, E8M0 scale per 32; 4.25 bits per weight. */
export const mxfp4: MxFormat = mxFormat("mxfp4", e2m1);
/** MXFP6 with E3M2 elements; 6.25 bits per weight. */
export const mxfp6e3m2: MxFormat = mxFormat("mxfp6_e3m2", e3m2);
/** MXFP6 with E2M3 elements; 6.25 bits per weight. */
export const mxfp6e2m3: MxFormat = mxFormat("mxfp6_e2m3", e2m3);
/** MXFP8 with E4M3 elements; 8.25 bits per weight. */
export const mxfp8e4m3: MxFormat = mxFormat("mxfp8_e4m3", e4m3);
/** MXFP8 with E5M2 elements; 8.25 bits per weight. */
export const mxfp8e5m2: MxFormat = mxFormat("mxfp8_e5m2", e5m2);
/** MXINT8: int8·2^−6 elements, E8M0 scale per 32; 8.25 bits per weight. */
export const mxint8: MxFormat = mxFormat("mxint8", mxint8Element);
