/**
 * The contract between a format family (int.ts, ternary.ts, fp4.ts, …) and the
 * GEMV/GEMM generator (kernel.ts): how a unit of packed words turns into code
 * values in WGSL. Each family file exports a {@link Codegen} factory.
 *
 * @example
 * ```ts
 * import { bitField } from "./codegen.ts";
 * console.log(bitField(["w0", "w1", "w2"], 10, 3)); // code 10 of an int3 unit straddles w0 and w1
 * ```
 * @module
 */

/** How one format is decoded in WGSL. */
export interface Codegen {
  /** WGSL helper declarations (module scope). */
  readonly decls?: string;
  /**
   * A value table copied into workgroup memory `lut` (f32): constant values,
   * or "tensor" to read them from the weight's codebook binding.
   */
  readonly lut?: Float32Array | "tensor";
  /** Signed ints: the offset `sbias` (declared by the kernel, opaque to the compiler). */
  readonly signBias?: number;
  /** Optional rewrite of unit word `i` (e.g. flipping sign bits) before extracting codes. */
  prepWord?(w: string, i: number): string;
  /** WGSL statements and per-code expressions for one unit of (prepared) words. */
  unit(words: string[], id: string): { pre: string; codes: string[] };
  /** f32 value of an extracted (prepared) code; `z` is the zero point expression or null. */
  value?(code: string, z: string | null): string;
  /** Multiplication-free formats: the contribution of activation `x` for this code. */
  contrib?(code: string, x: string): string;
  /** WGSL body of `fn wraw(n: u32, k: u32) -> u32` (raw, unprepared code of element (n, k)). */
  readonly rawFn: string;
  /** f32 value of a raw (unprepared) code from `wraw`. */
  rawValue(raw: string, z: string | null): string;
}

/**
 * WGSL expression of the `bits`-bit field `j` of a bit stream held in `words`
 * (a code may straddle two words).
 *
 * @example
 * ```ts
 * import { bitField } from "./codegen.ts";
 * console.log(bitField(["w"], 3, 4)); // "((w >> 12u) & 15u)"
 * ```
 */
export function bitField(words: string[], j: number, bits: number): string {
  const bit = j * bits;
  const i = bit >> 5;
  const off = bit & 31;
  const mask = `${2 ** bits - 1}u`;
  const lo = off === 0 ? words[i] : `(${words[i]} >> ${off}u)`;
  if (off + bits <= 32) return off + bits === 32 ? lo : `(${lo} & ${mask})`;
  return `((${lo} | (${words[i + 1]} << ${32 - off}u)) & ${mask})`;
}

/**
 * Codes of a bit-stream unit of `count` codes.
 *
 * @example
 * ```ts
 * import { bitstreamUnit } from "./codegen.ts";
 * console.log(bitstreamUnit(["w"], 4, 8).codes.length); // 8
 * ```
 */
export function bitstreamUnit(
  words: string[],
  bits: number,
  count: number,
): { pre: string; codes: string[] } {
  return { pre: "", codes: Array.from({ length: count }, (_, j) => bitField(words, j, bits)) };
}

/**
 * WGSL body of `wraw` for a bit-stream layout with `stride` words per row;
 * the weight is bound as `W: array<vec4<u32>>`.
 *
 * @example
 * ```ts
 * import { bitstreamRawFn } from "./codegen.ts";
 * console.log(bitstreamRawFn(4, 512).includes("4u")); // true
 * ```
 */
export function bitstreamRawFn(bits: number, stride: number): string {
  const straddle = 32 % bits !== 0;
  return `
  let bit = k * ${bits}u;
  let wi = n * ${stride}u + (bit >> 5u);
  let off = bit & 31u;
  var v = W[wi >> 2u][wi & 3u] >> off;
  ${
    straddle
      ? `if (off + ${bits}u > 32u) { let wj = wi + 1u; v = v | (W[wj >> 2u][wj & 3u] << (32u - off)); }`
      : ""
  }
  return v & ${2 ** bits - 1}u;`;
}

/**
 * A WGSL `vec4<f32>` literal-free constant array declaration of values.
 *
 * @example
 * ```ts
 * import { wgslF32 } from "./codegen.ts";
 * console.log(wgslF32(0.5), wgslF32(-1)); // "0.5" "-1.0"
 * ```
 */
export function wgslF32(v: number): string {
  if (Number.isNaN(v)) return "bitcast<f32>(0x7fc00000u)";
  const s = String(Math.fround(v));
  return /[.e]/.test(s) ? s : `${s}.0`;
}
