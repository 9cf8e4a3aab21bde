/**
 * Logarithmic codes: sign + zero + powers of two (base 2) or powers of √2, the levels of
 * log quantization. A per-block or per-tensor scale (applied outside) sets the top level.
 *
 * Source: Miyashita, Lee & Murmann, "Convolutional Neural Networks using Logarithmic Data
 * Representation", 2016 (base-2 and base-√2 log quantization, rounding in the log domain);
 * Zhou et al., "Incremental Network Quantization", ICLR 2017 (powers of two plus zero);
 * Li, Dong & Wang, "Additive Powers-of-Two Quantization", ICLR 2020 (power-of-two levels and
 * their rigid resolution, the motivation for √2 steps).
 *
 * Layout: b bits, sign-magnitude. The magnitude field m ∈ [0, M], M = 2^(b−1) − 1, stands for
 * 0 (m = 0) or r^(m − M) (m ≥ 1), with r = 2 or √2, so the largest magnitude is 1. Levels are
 * rounded to f32 (the √2 ones are irrational). The negative-zero code (sign bit alone) is
 * reserved: zero always encodes as code 0.
 *
 * Rounding, chosen per format and exported as decision thresholds t_0 < … < t_(M−1) (binary64)
 * between magnitude m = k and m = k + 1:
 * - "log" (default): nearest in log distance, t_k = √(v_k · v_(k+1)), and for zero
 *   t_0 = v_1 / √r (zero acts as the level one step below the smallest);
 * - "linear": nearest in linear distance, t_k = (v_k + v_(k+1)) / 2, t_0 = v_1 / 2.
 * |x| > t_k moves up; |x| = t_k picks the even magnitude field (ties to even code).
 * Magnitudes above 1 saturate to 1.
 *
 * @module
 */

import { checkCode, checkNotNaN, type ElementFormat } from "./format.ts";

/** Options for {@link logFormat}. */
export interface LogOptions {
  /** Level ratio: 2 (powers of two, default) or "sqrt2" (powers of √2). */
  base?: 2 | "sqrt2";
  /** "log" (default) or "linear" nearest. */
  rounding?: "log" | "linear";
}

/** A logarithmic element format with its decision thresholds. */
export interface LogFormat extends ElementFormat {
  /** Ratio between consecutive levels. */
  readonly ratio: number;
  /** Rounding domain. */
  readonly rounding: "log" | "linear";
  /** Decision thresholds on |x| between magnitude fields k and k + 1. */
  readonly thresholds: Float64Array;
}

/**
 * Builds a b-bit (2–8) logarithmic format. Names: `log2_<b>` / `logsqrt2_<b>`, with `_lin`
 * appended for linear rounding.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { logFormat } from "./log2.ts";
 * const pot = logFormat(4);                       // ±{0, 2^-6, …, 2^-1, 1}
 * assert(pot.decode(7) === 1 && pot.decode(1) === 2 ** -6 && pot.decode(15) === -1);
 * assert(pot.encode(0.72) === 7); // 0.72 > √(0.5 · 1) ≈ 0.707 → 1
 * assert(logFormat(4, { rounding: "linear" }).encode(0.72) === 6); // 0.72 < 0.75 → 0.5
 * ```
 */
export function logFormat(bits: number, options: LogOptions = {}): LogFormat {
  const base = options.base ?? 2;
  const rounding = options.rounding ?? "log";
  if (!Number.isInteger(bits) || bits < 2 || bits > 8) {
    throw new RangeError(`logFormat: bits must be an integer in [2, 8], got ${bits}`);
  }
  const name = `${base === 2 ? "log2" : "logsqrt2"}_${bits}${rounding === "linear" ? "_lin" : ""}`;
  const signBit = 1 << (bits - 1);
  const top = signBit - 1; // M
  const ratio = base === 2 ? 2 : Math.SQRT2;
  const level = (m: number): number => {
    if (m === 0) return 0;
    const k = m - top; // ≤ 0
    if (base === 2 || k % 2 === 0) return 2 ** (base === 2 ? k : k / 2);
    return Math.SQRT2 * 2 ** ((k - 1) / 2);
  };
  const values = new Float32Array(1 << bits);
  for (let m = 0; m <= top; m++) {
    values[m] = level(m);
    values[signBit | m] = -level(m);
  }
  values[signBit] = -0;
  const thresholds = new Float64Array(top);
  for (let k = 0; k < top; k++) {
    const lo = values[k];
    const hi = values[k + 1];
    if (rounding === "linear") thresholds[k] = (lo + hi) / 2;
    else thresholds[k] = k === 0 ? hi / Math.sqrt(ratio) : Math.sqrt(lo * hi);
  }
  return {
    name,
    bits,
    values,
    maxValue: 1,
    reserved: [signBit],
    ratio,
    rounding,
    thresholds,
    encode(x: number): number {
      checkNotNaN(x, name);
      const a = Math.abs(x);
      let m = 0;
      for (let k = 0; k < top; k++) {
        const t = thresholds[k];
        if (a > t) m = k + 1;
        else {
          if (a === t && k % 2 === 1) m = k + 1;
          break;
        }
      }
      return m === 0 ? 0 : (x < 0 ? signBit : 0) | m;
    },
    decode(code: number): number {
      checkCode(code, bits, name);
      return values[code];
    },
  };
}

/** 4-bit powers of two ±{0, 2^−6 … 1}, log-domain rounding. */
export const log2x4: LogFormat = logFormat(4);
/** 4-bit powers of √2 ±{0, 2^−3, 2^−2.5 … 1}, log-domain rounding. */
export const logsqrt2x4: LogFormat = logFormat(4, { base: "sqrt2" });
