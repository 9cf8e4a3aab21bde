/**
 * dINT: a signed integer grid with extra "denormal" levels ±d (d = 0.5 by default) next to
 * zero, so that small values are not all rounded to zero.
 *
 * Source: Lee et al., "Enhancing Computation Efficiency in Large Language Models through
 * Weight and Activation Quantization", EMNLP 2023 (arXiv:2311.05161), which introduces dINT,
 * "a hybrid data format combining integer and denormal representations, to address the
 * underflow issue in W4A8 quantization, where small values are rounded to zero". The bit
 * layout below is lowbit's reading of that description, NOT a confirmed copy of the paper's
 * code assignment (only its abstract was at hand): check it against the paper before
 * comparing numbers with it.
 *
 * Layout (b bits, sign-magnitude): magnitude field m ∈ [0, M], M = 2^(b−1) − 1, stands for
 * 0 (m = 0), d (m = 1) or the integer m − 1 (m ≥ 2). For b = 4: ±{0, 0.5, 1, 2, 3, 4, 5, 6},
 * 15 distinct values; the negative-zero code (sign bit alone) is reserved. Compared with
 * int4r (±7), the top level 7 is given up for ±0.5.
 *
 * Rounding on |x|, the sign kept for nonzero results: |x| ≤ d/2 → 0; d/2 < |x| < (1+d)/2 → d;
 * otherwise roundHalfEven(|x|) clamped to [1, M − 1] — i.e. the integer range rounds exactly like
 * INT (ties to even), and the two ties next to the denormal go to 0 and to 1.
 *
 * @module
 */

import { checkCode, checkNotNaN, type ElementFormat, roundHalfEven } from "./format.ts";

/** A dINT element format. */
export interface DintFormat extends ElementFormat {
  /** The denormal level d. */
  readonly denormal: number;
}

/**
 * Builds a b-bit (3–8) dINT format with denormal level `denormal` ∈ (0, 1). Name: `dint<b>`.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { dintFormat } from "./dint.ts";
 * const d4 = dintFormat(4);
 * assert(d4.maxValue === 6 && d4.decode(1) === 0.5 && d4.decode(9) === -0.5);
 * assert(d4.encode(0.3) === 1 && d4.encode(0.2) === 0 && d4.encode(-2.5) === 11);
 * ```
 */
export function dintFormat(bits = 4, denormal = 0.5): DintFormat {
  if (!Number.isInteger(bits) || bits < 3 || bits > 8) {
    throw new RangeError(`dintFormat: bits must be an integer in [3, 8], got ${bits}`);
  }
  if (!(denormal > 0 && denormal < 1)) {
    throw new RangeError(`dintFormat: denormal must be in (0, 1), got ${denormal}`);
  }
  const name = `dint${bits}${denormal === 0.5 ? "" : `_d${denormal}`}`;
  const signBit = 1 << (bits - 1);
  const top = signBit - 1;
  const level = (m: number): number => (m === 0 ? 0 : m === 1 ? denormal : m - 1);
  const values = new Float32Array(1 << bits);
  for (let m = 0; m <= top; m++) {
    values[m] = level(m);
    values[signBit | m] = -level(m);
  }
  const maxValue = top - 1;
  return {
    name,
    bits,
    values,
    maxValue,
    reserved: [signBit],
    denormal: Math.fround(denormal),
    encode(x: number): number {
      checkNotNaN(x, name);
      const a = Math.abs(x);
      let m: number;
      if (a <= denormal / 2) return 0;
      if (a < (1 + denormal) / 2) m = 1;
      else m = Math.min(maxValue, Math.max(1, roundHalfEven(a))) + 1;
      return (x < 0 ? signBit : 0) | m;
    },
    decode(code: number): number {
      checkCode(code, bits, name);
      return values[code];
    },
  };
}

/** dINT4: ±{0, 0.5, 1, …, 6}. */
export const dint4: DintFormat = dintFormat(4);
