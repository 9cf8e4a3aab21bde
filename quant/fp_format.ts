/**
 * FP element formats by name, `e<E>m<M>`: the registered ones (e2m1, e3m2,
 * e4m3, …), or any other built on demand as an OCP-style finite minifloat, or
 * exponent-only for M = 0 (E3M0: powers of two ±{0, ¼, …, 16}), and
 * registered so quantizers can name them. LLM-FP4 searches E1M2, E2M1, E3M0.
 *
 * @example
 * ```ts
 * import { fpFormat } from "./fp_format.ts";
 * console.log(fpFormat("e1m2").maxValue, fpFormat("e3m0").maxValue); // 3.5 16
 * ```
 * @module
 */
import type { ElementFormat } from "./formats/format.ts";
import { minifloat } from "./formats/minifloat.ts";
import { elementFormat, registerFormat } from "./quantizer.ts";

/**
 * A sign + exponent-only format (no mantissa bits): ±{0} ∪ ±{2^(e−bias) : e = 1…2^E−1}.
 * Encoding rounds to the nearest value, ties to the even code.
 */
function exponentOnly(name: string, ebits: number): ElementFormat {
  const bias = 2 ** (ebits - 1) - 1;
  const n = 1 << ebits;
  const bits = 1 + ebits;
  const values = new Float32Array(1 << bits);
  for (let c = 0; c < values.length; c++) {
    const e = c & (n - 1);
    const v = e === 0 ? 0 : 2 ** (e - bias);
    values[c] = c & n ? -v : v;
  }
  const maxValue = 2 ** (n - 1 - bias);
  const encode = (x: number): number => {
    if (Number.isNaN(x)) throw new RangeError(`${name}: cannot encode NaN`);
    const sign = x < 0 || Object.is(x, -0) ? n : 0;
    const a = Math.abs(x);
    let best = 0;
    for (let e = 1; e < n; e++) {
      const d = Math.abs(values[e] - a), db = Math.abs(values[best] - a);
      if (d < db || (d === db && e % 2 === 0)) best = e;
    }
    return sign | best;
  };
  return {
    name,
    bits,
    values,
    maxValue,
    reserved: [],
    encode,
    decode(code: number): number {
      if (!Number.isInteger(code) || code < 0 || code >= values.length) {
        throw new RangeError(`${name}: code ${code} outside [0, ${values.length})`);
      }
      return values[code];
    },
  };
}

/**
 * The FP element format `e<E>m<M>` (known formats as registered; others
 * built as an OCP-style finite minifloat, or exponent-only for M = 0, and
 * registered so quantizers can name them).
 *
 * @example
 * ```ts
 * import { fpFormat } from "./fp_format.ts";
 * console.log(Array.from(fpFormat("e3m0").values.slice(0, 8))); // [0, 0.25, 0.5, 1, 2, 4, 8, 16]
 * ```
 */
export function fpFormat(name: string): ElementFormat {
  try {
    return elementFormat(name);
  } catch {
    const m = /^e(\d)m(\d)$/.exec(name);
    if (!m) throw new RangeError(`fpFormat: "${name}" is not of the form e<E>m<M>`);
    const [ebits, mbits] = [Number(m[1]), Number(m[2])];
    return registerFormat(
      mbits === 0 ? exponentOnly(name, ebits) : minifloat({ name, ebits, mbits }),
    );
  }
}
