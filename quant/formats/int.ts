/**
 * Integer codes: signed (two's complement, full or restricted range) and unsigned, 1–8 bits,
 * with symmetric (scale only) and asymmetric (scale + zero point) quantization helpers.
 *
 * Source: Jacob et al., "Quantization and Training of Neural Networks for Efficient
 * Integer-Arithmetic-Only Inference", CVPR 2018 (affine map r = S·(q − Z), exact zero);
 * Krishnamoorthi, "Quantizing deep convolutional networks for efficient inference: A
 * whitepaper", 2018 (symmetric vs asymmetric; restricted range [−(2^(b−1)−1), 2^(b−1)−1]).
 *
 * Ranges: signed full [−2^(b−1), 2^(b−1)−1] (int4: [−8, 7]); signed restricted
 * [−(2^(b−1)−1), 2^(b−1)−1] (int4r: [−7, 7], symmetric so that −x and x round alike; its
 * code −2^(b−1) is reserved: it still decodes to −2^(b−1) but is never produced); unsigned
 * [0, 2^b−1]. Codes of signed formats are the two's complement bit pattern (int4: −1 ↔ 0xF).
 *
 * Rounding: round half to even, then clamp (saturate). Scaled helpers compute x/scale as one
 * correctly rounded f32 division (`Math.fround`), so an f32 kernel can match them bit for bit.
 *
 * The int family ({@link INT_FAMILY}): symmetric groups get scale = amax / qmax
 * ({@link symmetricScale}), asymmetric ones scale and zero point over [min, max]
 * ({@link affineParams}); the packed kernels store `int<b>` bit streams
 * (`kernels/lowbit/int.ts`, two's complement, or unsigned with zero points).
 *
 * @module
 */

import type { Storage } from "../../kernels/lowbit/codegen.ts";
import { intStorage } from "../../kernels/lowbit/int.ts";
import {
  checkCode,
  checkNotNaN,
  type ElementFormat,
  floatScales,
  type FormatFamily,
  type GroupScales,
  roundHalfEven,
  type ScaleRule,
  type ScaleRuleInput,
} from "./format.ts";

/** Options for {@link intFormat}. */
export interface IntOptions {
  /** Two's complement signed (default true) or unsigned. */
  signed?: boolean;
  /** "full" (default) or "restricted" (signed only: drops −2^(b−1)). */
  range?: "full" | "restricted";
}

/** An integer element format: the code value is the integer itself. */
export interface IntFormat extends ElementFormat {
  /** Whether codes are two's complement. */
  readonly signed: boolean;
  /** Smallest integer `encode` produces. */
  readonly qmin: number;
  /** Largest integer `encode` produces. */
  readonly qmax: number;
}

/**
 * Builds an integer format of 1–8 bits. Names: `int<b>`, `int<b>r` (restricted), `uint<b>`.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { intFormat } from "./int.ts";
 * const int4 = intFormat(4);
 * assert(int4.qmin === -8 && int4.encode(-8.2) === 0x8 && int4.decode(0xf) === -1);
 * const int4r = intFormat(4, { range: "restricted" });
 * assert(int4r.qmin === -7 && int4r.encode(-100) === 0x9); // −7
 * ```
 */
export function intFormat(bits: number, options: IntOptions = {}): IntFormat {
  const signed = options.signed ?? true;
  const range = options.range ?? "full";
  if (!Number.isInteger(bits) || bits < 1 || bits > 8) {
    throw new RangeError(`intFormat: bits must be an integer in [1, 8], got ${bits}`);
  }
  if (range === "restricted" && (!signed || bits < 2)) {
    throw new RangeError("intFormat: the restricted range needs a signed format of ≥ 2 bits");
  }
  const size = 1 << bits;
  const qmax = signed ? size / 2 - 1 : size - 1;
  const qmin = signed ? (range === "restricted" ? -qmax : -size / 2) : 0;
  const name = signed ? `int${bits}${range === "restricted" ? "r" : ""}` : `uint${bits}`;
  const values = new Float32Array(size);
  for (let c = 0; c < size; c++) values[c] = signed && c >= size / 2 ? c - size : c;
  const toCode = (q: number): number => (q < 0 ? q + size : q);
  return {
    name,
    family: INT_FAMILY,
    bits,
    values,
    maxValue: Math.max(qmax, -qmin),
    reserved: range === "restricted" ? [size / 2] : [],
    signed,
    qmin,
    qmax,
    encode(x: number): number {
      checkNotNaN(x, name);
      return toCode(Math.min(qmax, Math.max(qmin, roundHalfEven(x))));
    },
    decode(code: number): number {
      checkCode(code, bits, name);
      return values[code];
    },
  };
}

/**
 * The symmetric rule of integer formats: scale = {@link symmetricScale}(clip)
 * (a "mean" range is the scale, at least `eps`).
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { int4r, intScales } from "./int.ts";
 * const r = intScales()(int4r, {
 *   kind: "clip", clip: Float32Array.of(3.5), min: new Float32Array(1), max: new Float32Array(1),
 *   store: (s) => s,
 * });
 * assert(r.decode[0] === 0.5);
 * ```
 */
export function intScales(eps = 0): ScaleRule {
  return (element, ranges) =>
    floatScales(ranges, (clip) => symmetricScale(clip, element as IntFormat), eps);
}

/**
 * The asymmetric rule: {@link affineParams} of each group's [min, max], the
 * scale stored as its scale format holds it.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { affineScales, uint4 } from "./int.ts";
 * const r = affineScales(uint4, {
 *   kind: "clip", clip: new Float32Array(1), min: Float32Array.of(-1), max: Float32Array.of(2),
 *   store: (s) => s,
 * });
 * assert(r.decode[0] === Math.fround(0.2) && r.zeros![0] === 5);
 * ```
 */
export function affineScales(element: ElementFormat, ranges: ScaleRuleInput): GroupScales {
  const n = ranges.min.length;
  const decode = new Float32Array(n);
  const zeros = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const { scale, zero } = affineParams(ranges.min[i], ranges.max[i], element as IntFormat);
    decode[i] = ranges.store(scale, i);
    zeros[i] = zero;
  }
  return { encode: decode.slice(), mode: "div", decode, zeros, tensorScale: 1 };
}

const storages = new Map<number, Storage>();

/** The int family: symmetric and affine scale rules, `int<b>` kernel storage (2–8 bits). */
export const INT_FAMILY: FormatFamily = {
  name: "int",
  scale: intScales(),
  affine: affineScales,
  storage(element) {
    const b = element.bits;
    if (b < 2 || b > 8) return undefined;
    let s = storages.get(b);
    if (!s) storages.set(b, s = intStorage(b));
    return s;
  },
};

/** int8, full range [−128, 127]. */
export const int8: IntFormat = intFormat(8);
/** int8, restricted range [−127, 127]. */
export const int8r: IntFormat = intFormat(8, { range: "restricted" });
/** int4, full range [−8, 7]. */
export const int4: IntFormat = intFormat(4);
/** int4, restricted range [−7, 7]. */
export const int4r: IntFormat = intFormat(4, { range: "restricted" });
/** int3, full range [−4, 3]. */
export const int3: IntFormat = intFormat(3);
/** int2, full range [−2, 1]. */
export const int2: IntFormat = intFormat(2);
/** uint8 [0, 255]. */
export const uint8: IntFormat = intFormat(8, { signed: false });
/** uint4 [0, 15]. */
export const uint4: IntFormat = intFormat(4, { signed: false });

/**
 * Symmetric scale that maps `amax` to `fmt.qmax`: f32(amax / qmax); 1 when amax is 0
 * (a zero-range channel gets a defined scale, never a division by zero).
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { int4r, symmetricScale } from "./int.ts";
 * assert(symmetricScale(3.5, int4r) === 0.5 && symmetricScale(0, int4r) === 1);
 * ```
 */
export function symmetricScale(amax: number, fmt: IntFormat): number {
  if (!(amax >= 0) || !Number.isFinite(amax)) {
    throw new RangeError(`symmetricScale: amax must be finite and ≥ 0, got ${amax}`);
  }
  return amax === 0 ? 1 : Math.fround(amax / fmt.qmax);
}

/**
 * Symmetric encode: the code of clamp(roundHalfEven(f32(x / scale))).
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { encodeSymmetric, int4 } from "./int.ts";
 * assert(encodeSymmetric(1.25, 0.5, int4) === 2); // 2.5 → 2 (ties to even)
 * ```
 */
export function encodeSymmetric(x: number, scale: number, fmt: IntFormat): number {
  checkScale(scale);
  return fmt.encode(Math.fround(x / scale));
}

/**
 * Symmetric decode: f32(q · scale).
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { decodeSymmetric, int4 } from "./int.ts";
 * assert(decodeSymmetric(0xf, 0.5, int4) === -0.5);
 * ```
 */
export function decodeSymmetric(code: number, scale: number, fmt: IntFormat): number {
  return Math.fround(fmt.decode(code) * scale);
}

/** Scale and zero point of an asymmetric (affine) quantizer: x ≈ scale · (q − zero). */
export interface AffineParams {
  /** f32 step size (> 0). */
  scale: number;
  /** Integer zero point in [qmin, qmax]. */
  zero: number;
}

/**
 * Affine parameters covering [min, max], first widened to include 0 so that 0 is exact:
 * scale = f32((max − min) / (qmax − qmin)), zero = clamp(roundHalfEven(qmin − min / scale)).
 * A zero range (min = max = 0) gives scale 1 and the zero point of 0.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { affineParams, uint4 } from "./int.ts";
 * const { scale, zero } = affineParams(-1, 2, uint4);
 * assert(scale === Math.fround(0.2) && zero === 5);
 * ```
 */
export function affineParams(min: number, max: number, fmt: IntFormat): AffineParams {
  if (!Number.isFinite(min) || !Number.isFinite(max) || min > max) {
    throw new RangeError(`affineParams: need finite min ≤ max, got [${min}, ${max}]`);
  }
  const lo = Math.min(min, 0);
  const hi = Math.max(max, 0);
  const scale = hi === lo ? 1 : Math.fround((hi - lo) / (fmt.qmax - fmt.qmin));
  const zero = Math.min(fmt.qmax, Math.max(fmt.qmin, roundHalfEven(fmt.qmin - lo / scale)));
  return { scale, zero };
}

/**
 * Asymmetric encode: the code of clamp(roundHalfEven(f32(x / scale)) + zero).
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { encodeAffine, uint4 } from "./int.ts";
 * assert(encodeAffine(-1, 0.2, 5, uint4) === 0 && encodeAffine(9, 0.2, 5, uint4) === 15);
 * ```
 */
export function encodeAffine(x: number, scale: number, zero: number, fmt: IntFormat): number {
  checkScale(scale);
  checkNotNaN(x, fmt.name);
  const q = roundHalfEven(Math.fround(x / scale)) + zero;
  return fmt.encode(Math.min(fmt.qmax, Math.max(fmt.qmin, q)));
}

/**
 * Asymmetric decode: f32((q − zero) · scale).
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { decodeAffine, uint4 } from "./int.ts";
 * assert(decodeAffine(5, 0.2, 5, uint4) === 0);
 * ```
 */
export function decodeAffine(code: number, scale: number, zero: number, fmt: IntFormat): number {
  return Math.fround((fmt.decode(code) - zero) * scale);
}

function checkScale(scale: number): void {
  if (!(scale > 0) || !Number.isFinite(scale)) {
    throw new RangeError(`scale must be finite and > 0, got ${scale}`);
  }
}
