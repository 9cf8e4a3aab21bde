/**
 * The dynamic (tree) quantization maps of 8-bit optimizer states: 256 sorted
 * values in [-1, 1] (signed, for the first moment) or [0, 1] (unsigned, for
 * the second), dense near zero and spread over seven decades.
 *
 * T. Dettmers, M. Lewis, S. Shleifer, L. Zettlemoyer, "8-bit Optimizers via
 * Block-wise Quantization", ICLR 2022, arXiv:2110.02861 (§2, dynamic tree
 * quantization; T. Dettmers, "8-Bit Approximations for Parallelism in Deep
 * Learning", ICLR 2016). A code is a sign bit, then a run of zero bits giving
 * the decimal exponent, an indicator bit, and a linear fraction in the bits
 * left. With seven exponents e = 0 … 6 this gives, for the map used here (as
 * the bitsandbytes reference implementation builds it):
 *
 *   value = ±10^(e−6) · f,  f = the midpoints of 2^e equal steps of [0.1, 1]
 *
 * so 2^e values at exponent e (1 + 2 + … + 64 = 127 of each sign), plus 0 and
 * 1. The unsigned map spends the sign bit on the fraction: 2^(e+1) values per
 * exponent (254), plus 0 and 1.
 *
 * @example
 * ```ts
 * import { dynamicMap } from "./dynamic_map.ts";
 * const m = dynamicMap(true);
 * console.log(m.length, m[0].toFixed(5), m[127], m[255]); // 256 "-0.99297" 0 1
 * ```
 * @module
 */

/**
 * The 256 values of the signed (`true`) or unsigned (`false`) dynamic map,
 * sorted ascending, as f32. The index of a value is its 8-bit code.
 *
 * @example
 * ```ts
 * import { dynamicMap } from "./dynamic_map.ts";
 * const u = dynamicMap(false);
 * console.log(u[0], u[1].toExponential(3), u[255]); // 0 "3.250e-7" 1
 * ```
 */
export function dynamicMap(signed: boolean): Float32Array {
  const values: number[] = [0, 1];
  for (let e = 0; e < 7; e++) {
    const steps = signed ? 2 ** e : 2 ** (e + 1);
    const scale = 10 ** (e - 6);
    for (let k = 0; k < steps; k++) {
      // midpoint of the k-th of `steps` equal steps of [0.1, 1]
      const f = 0.1 + (0.9 * (k + 0.5)) / steps;
      values.push(scale * f);
      if (signed) values.push(-scale * f);
    }
  }
  return Float32Array.from(values).sort();
}

/**
 * Both maps in one f32 array of 512: the signed map, then the unsigned one
 * (the layout `adamw8bitUpdate` reads).
 *
 * @example
 * ```ts
 * import { dynamicMaps } from "./dynamic_map.ts";
 * const t = dynamicMaps();
 * console.log(t.length, t[256], t[511]); // 512 0 1
 * ```
 */
export function dynamicMaps(): Float32Array {
  const t = new Float32Array(512);
  t.set(dynamicMap(true), 0);
  t.set(dynamicMap(false), 256);
  return t;
}
