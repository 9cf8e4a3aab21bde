/**
 * The contract between a format family (int.ts, ternary.ts, fp4.ts, …) and the
 * GEMV/GEMM generators: how a unit of packed words turns into code values in
 * WGSL ({@link Codegen}), and the storage facts a packed weight carries with
 * its decoder ({@link Storage}). Each family file exports its storages; the
 * kernels read the storage from the weight and never look at a format's name,
 * so a format defined elsewhere (e.g. in `quant/formats/`) plugs in by
 * handing `createPackedWeight` its own {@link Storage}.
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

/**
 * How a format stores its codes and scales, and its WGSL decoder: everything
 * the packer (layout.ts) and the matmul generators need to know about a
 * format. A weight carries its storage; nothing dispatches on `name`.
 */
export interface Storage {
  /** The format's name (labels and errors only). */
  readonly name: string;
  /** Bits per stored code (ternary5 reports 1.6: 5 codes per byte). */
  readonly bits: number;
  /** Codes per decode unit (a unit never straddles a scale group). */
  readonly unitCodes: number;
  /** u32 words per decode unit. */
  readonly unitWords: number;
  /** How scales are stored: float (f16/f32 tensor), or 8-bit E4M3 / E8M0 codes. */
  readonly scale: "float" | "e4m3" | "e8m0";
  /** Codes that are not valid for the format (rejected by `packWeights`). */
  readonly invalid?: (code: number) => boolean;
  /** Exclusive upper bound of a code (default 2^bits). */
  readonly codeLimit?: number;
  /** Codes are the integers themselves: two's complement, or unsigned with zero points. */
  readonly integer?: boolean;
  /** Accepts per-group zero points (then codes are read unsigned). */
  readonly zeros?: boolean;
  /** Number of f32 codebook values the weight must carry (codebook formats). */
  readonly codebookSize?: number;
  /** Carries an f32 per-tensor scale multiplying every output (NVFP4). */
  readonly tensorScale?: boolean;
  /** A layout other than the bit stream: packs row-major codes into `out` (rows of `stride` words). */
  packRows?(codes: ArrayLike<number>, N: number, K: number, stride: number, out: Uint32Array): void;
  /** The inverse of `packRows`. */
  unpackRows?(words: Uint32Array, N: number, K: number, stride: number, out: Uint8Array): void;
  /** The WGSL decoder for rows of `stride` words; `zeros`: the weight has zero points. */
  codegen(stride: number, zeros: boolean): Codegen;
  /**
   * The paired GEMV applies (2/4/8-bit bit-stream codes with float scales):
   * code bits, and whether codes are two's complement when there are no zero points.
   */
  readonly paired?: { readonly bits: number; readonly signed: boolean };
}

/**
 * A bit-stream storage: `bits`-bit codes packed little-endian along each
 * row, `32 / gcd(32, bits)` codes per unit of `bits / gcd(32, bits)` words.
 *
 * @example
 * ```ts
 * import { bitstreamStorage, bitstreamUnit } from "./codegen.ts";
 * const s = bitstreamStorage("int3", 3, (stride) => ({ unit: (w) => bitstreamUnit(w, 3, 32), rawFn: "", rawValue: (r) => r }));
 * console.log(s.unitCodes, s.unitWords); // 32 3
 * ```
 */
export function bitstreamStorage(
  name: string,
  bits: number,
  codegen: Storage["codegen"],
  extra: Partial<Omit<Storage, "name" | "bits" | "codegen">> = {},
): Storage {
  const g = gcd(32, bits);
  return { name, bits, unitCodes: 32 / g, unitWords: bits / g, scale: "float", codegen, ...extra };
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}
