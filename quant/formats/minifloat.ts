/**
 * Generic sign + ExMy minifloats and the scale format E8M0.
 *
 * Source: OCP Microscaling Formats (MX) Specification v1.0 (2023), §5.3 (FP8 E4M3/E5M2,
 * FP6 E3M2/E2M3, FP4 E2M1) and §5.4 (E8M0); OCP 8-bit Floating Point Specification (OFP8)
 * rev 1.0 (E4M3: no infinities, NaN = S.1111.111; E5M2: IEEE-like infinities and NaNs).
 *
 * Value of a code (sign s, exponent field E, mantissa field M, bias b, m mantissa bits):
 * normal (E > 0): (−1)^s · 2^(E−b) · (1 + M/2^m); subnormal (E = 0): (−1)^s · 2^(1−b) · M/2^m.
 *
 * Encoding is round-to-nearest, ties to even mantissa (which is the even code), saturating
 * (|x| ≥ maxValue and ±Infinity give ±maxValue), and keeps the sign: −0 and negative values
 * that round to zero give the negative-zero code. NaN input throws.
 *
 * @module
 */

import {
  checkCode,
  checkNotNaN,
  type ElementFormat,
  F32_MAX,
  floorLog2,
  type FormatFamily,
  roundHalfEven,
} from "./format.ts";
import type { Storage } from "../../kernels/lowbit/codegen.ts";
import { FP4, MXFP4, NVFP4 } from "../../kernels/lowbit/fp4.ts";
import { maxValueScales } from "./codebook.ts";

/** Which codes at the top of the exponent range are special. */
export type Specials =
  /** every code is a finite number (E2M1, E3M2, E2M3) */
  | "finite"
  /** only S.1…1.1…1 is NaN; no infinities (OFP8 E4M3, "FN") */
  | "fn"
  /** the all-ones exponent holds ±Infinity (mantissa 0) and NaNs, as in IEEE 754 (E5M2) */
  | "ieee";

/** Parameters of a sign + ExMy minifloat. */
export interface MinifloatSpec {
  /** Format name. */
  name: string;
  /** Exponent bits (≥ 1). */
  ebits: number;
  /** Mantissa bits (≥ 1). */
  mbits: number;
  /** Exponent bias; default 2^(ebits−1) − 1. */
  bias?: number;
  /** Special codes; default "finite". */
  specials?: Specials;
  /**
   * Whether E = 0 holds subnormals (default true). Without them, E = 0 codes with M ≠ 0 are
   * reserved (they decode as if subnormal but are never produced) and |x| below the smallest
   * normal rounds to zero or to the smallest normal, the exact midpoint going to zero.
   */
  subnormals?: boolean;
}

/** A minifloat element format with its parameters. */
export interface MinifloatFormat extends ElementFormat {
  /** Exponent bits. */
  readonly ebits: number;
  /** Mantissa bits. */
  readonly mbits: number;
  /** Exponent bias. */
  readonly bias: number;
  /** Special-code scheme. */
  readonly specials: Specials;
  /** Whether subnormals exist. */
  readonly subnormals: boolean;
  /** floor(log2(maxValue)): the largest normal exponent (OCP MX's emax_elem). */
  readonly emax: number;
  /** Smallest positive value (subnormal when subnormals exist). */
  readonly minPositive: number;
}

/**
 * Builds a sign + ExMy minifloat format.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { minifloat } from "./minifloat.ts";
 * const fp4 = minifloat({ name: "e2m1", ebits: 2, mbits: 1 });
 * assert(fp4.maxValue === 6 && fp4.decode(0b0111) === 6);
 * assert(fp4.encode(2.5) === 0b0100); // tie between 2 (even code) and 3 → 2
 * ```
 */
export function minifloat(spec: MinifloatSpec): MinifloatFormat {
  const { name, ebits, mbits } = spec;
  const bias = spec.bias ?? 2 ** (ebits - 1) - 1;
  const specials = spec.specials ?? "finite";
  const subnormals = spec.subnormals ?? true;
  if (!Number.isInteger(ebits) || !Number.isInteger(mbits) || ebits < 1 || mbits < 1) {
    throw new RangeError(`${name}: ebits and mbits must be integers ≥ 1`);
  }
  const bits = 1 + ebits + mbits;
  if (bits > 8) throw new RangeError(`${name}: at most 8 bits, got ${bits}`);
  const signBit = 1 << (ebits + mbits);
  const mantCount = 1 << mbits;
  const expTop = (1 << ebits) - 1;

  const valueOf = (code: number): number => {
    const s = code & signBit ? -1 : 1;
    const e = (code >> mbits) & expTop;
    const m = code & (mantCount - 1);
    if (specials === "ieee" && e === expTop) return m === 0 ? s * Infinity : NaN;
    if (specials === "fn" && e === expTop && m === mantCount - 1) return NaN;
    if (e === 0) return s * 2 ** (1 - bias) * (m / mantCount);
    return s * 2 ** (e - bias) * (1 + m / mantCount);
  };

  const values = new Float32Array(1 << bits);
  const reserved: number[] = [];
  let maxValue = 0;
  let maxCode = 0;
  for (let c = 0; c < values.length; c++) {
    const v = valueOf(c);
    values[c] = v;
    const e = (c >> mbits) & expTop;
    const m = c & (mantCount - 1);
    if (!Number.isFinite(v) || (!subnormals && e === 0 && m !== 0)) reserved.push(c);
    else if (v > maxValue) [maxValue, maxCode] = [v, c];
  }
  const minNormal = 2 ** (1 - bias);
  const minPositive = subnormals ? minNormal / mantCount : minNormal;
  if (maxValue > F32_MAX) throw new RangeError(`${name}: values exceed f32`);

  const encode = (x: number): number => {
    checkNotNaN(x, name);
    const sign = x < 0 || Object.is(x, -0) ? signBit : 0;
    const a = Math.abs(x);
    if (a >= maxValue) return sign | maxCode;
    if (a < minNormal) {
      if (subnormals) return sign | roundHalfEven(a / minPositive); // M; M = 2^m is minNormal
      return sign | (a > minNormal / 2 ? mantCount : 0);
    }
    let e = floorLog2(a);
    let n = roundHalfEven(a / 2 ** (e - mbits)); // significand in [2^m, 2^(m+1)]
    if (n === 2 * mantCount) [n, e] = [mantCount, e + 1];
    return sign | ((e + bias) << mbits) | (n - mantCount);
  };

  return {
    name,
    bits,
    values,
    maxValue,
    reserved,
    ebits,
    mbits,
    bias,
    specials,
    subnormals,
    emax: floorLog2(maxValue),
    minPositive,
    encode,
    decode(code: number): number {
      checkCode(code, bits, name);
      return values[code];
    },
  };
}

const FP4_STORAGE: Readonly<Record<string, Storage>> = { e4m3: NVFP4, e8m0: MXFP4 };

/**
 * The FP4 family (E2M1): float scales = clip / 6, or the block scales of
 * NVFP4 (E4M3) and MXFP4 (E8M0); the kernels decode E2M1 codes directly
 * (`kernels/lowbit/fp4.ts`: `fp4`, `nvfp4`, `mxfp4`).
 */
export const FP4_FAMILY: FormatFamily = {
  name: "fp4",
  scale: maxValueScales(),
  storage: (_element, scale) => FP4_STORAGE[scale.name] ?? FP4,
};

/** FP4 E2M1 (OCP MX): bias 1, no specials, max 6, values ±{0, 0.5, 1, 1.5, 2, 3, 4, 6}. */
export const e2m1: MinifloatFormat = {
  ...minifloat({ name: "e2m1", ebits: 2, mbits: 1 }),
  family: FP4_FAMILY,
};
/** FP6 E3M2 (OCP MX): bias 3, no specials, max 28, min subnormal 0.0625. */
export const e3m2: MinifloatFormat = minifloat({ name: "e3m2", ebits: 3, mbits: 2 });
/** FP6 E2M3 (OCP MX): bias 1, no specials, max 7.5, min subnormal 0.125. */
export const e2m3: MinifloatFormat = minifloat({ name: "e2m3", ebits: 2, mbits: 3 });
/** FP8 E4M3 (OFP8 "FN"): bias 7, no infinities, NaN 0x7F/0xFF, max 448 (0x7E), min 2^-9. */
export const e4m3: MinifloatFormat = minifloat({
  name: "e4m3",
  ebits: 4,
  mbits: 3,
  specials: "fn",
});
/** FP8 E5M2 (OFP8): bias 15, ±Inf 0x7C/0xFC, NaN 0x7D–0x7F/0xFD–0xFF, max 57344, min 2^-16. */
export const e5m2: MinifloatFormat = minifloat({
  name: "e5m2",
  ebits: 5,
  mbits: 2,
  specials: "ieee",
});

/** The unsigned power-of-two scale format E8M0 with its exponent helpers. */
export interface E8M0Format extends ElementFormat {
  /** Exponent bias (127): code c means 2^(c − 127). */
  readonly bias: 127;
  /** The code for 2^e, for an integer e in [−127, 127]. */
  fromExponent(e: number): number;
}

const E8M0_VALUES = (() => {
  const v = new Float32Array(256);
  for (let c = 0; c < 255; c++) v[c] = 2 ** (c - 127);
  v[255] = NaN;
  return v;
})();

/**
 * E8M0 (OCP MX §5.4): 8-bit unsigned exponent, value 2^(code − 127), code 0xFF = NaN, no zero,
 * no sign. `encode(x)` rounds x > 0 to the nearest power of two in linear distance (the midpoint
 * 1.5·2^k goes up, to the even code only when k+127 is odd — i.e. ties to even code), clamped
 * to [2^−127, 2^127]; x ≤ 0 gives code 0 (2^−127, the smallest value); NaN throws.
 * MX block scales do not use `encode`; they use {@link E8M0Format.fromExponent} of the OCP rule.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { e8m0 } from "./minifloat.ts";
 * assert(e8m0.decode(127) === 1 && e8m0.decode(0) === 2 ** -127);
 * assert(Number.isNaN(e8m0.decode(255)) && e8m0.fromExponent(-3) === 124);
 * ```
 */
export const e8m0: E8M0Format = {
  name: "e8m0",
  bits: 8,
  values: E8M0_VALUES,
  maxValue: 2 ** 127,
  reserved: [255],
  bias: 127,
  encode(x: number): number {
    checkNotNaN(x, "e8m0");
    if (!(x > 0)) return 0;
    if (x >= 2 ** 127) return 254;
    if (x <= 2 ** -127) return 0;
    const k = floorLog2(x);
    const r = x / 2 ** k; // in [1, 2)
    let e = k;
    if (r > 1.5 || (r === 1.5 && (k + 127) % 2 !== 0)) e = k + 1;
    return Math.min(254, Math.max(0, e + 127));
  },
  decode(code: number): number {
    checkCode(code, 8, "e8m0");
    return E8M0_VALUES[code];
  },
  fromExponent(e: number): number {
    if (!Number.isInteger(e) || e < -127 || e > 127) {
      throw new RangeError(`e8m0.fromExponent: ${e} is not an integer in [-127, 127]`);
    }
    return e + 127;
  },
};
