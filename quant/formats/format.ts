/**
 * The common shape of every number format in `quant/formats/`, and the few exact
 * helpers they share (round half to even, exact floor(log2), finite-input checks).
 *
 * Source: this file is lowbit's own interface; the rounding rule is IEEE 754-2019
 * roundTiesToEven, and the f32 emulation (`Math.fround` after every operation) relies on
 * double rounding being innocuous for +, −, ×, ÷ of binary32 operands computed in binary64
 * (Figueroa, "When is double rounding innocuous?", SIGNUM 1995).
 *
 * Conventions shared by all formats:
 * - A *code* is an unsigned integer `0 ≤ code < 2^bits`, as it is stored (unpacked).
 * - `values[code]` is the exact value of a code (Float32Array; every value here is an f32).
 * - `encode` is saturating: |x| beyond `maxValue` (including ±Infinity) gives the largest
 *   finite code of that sign. NaN input throws a RangeError; it never becomes a NaN code.
 * - `reserved` lists codes `encode` never returns (NaN and infinity codes, the −2^(b−1) code of
 *   restricted-range integers, negative zero of sign-magnitude formats). Every other code `c`
 *   satisfies `encode(decode(c)) === c`.
 *
 * The format records also say how the packed kernels store codes
 * ({@link FormatFamily}.storage): that is the one thing `quant/formats/`
 * takes from `kernels/` (the storage records of `kernels/lowbit/`, pure-TS
 * WGSL generators); the encoders and decoders here use none of it.
 *
 * @module
 */
import type { Storage } from "../../kernels/lowbit/codegen.ts";

/** A scalar code format of at most 8 bits, with its full value table. */
export interface ElementFormat {
  /** Short name, also the key in the `formats` registry: "int4", "e2m1", "nf4", … */
  readonly name: string;
  /** Bits per code. */
  readonly bits: number;
  /** Value of every code, indexed by code (length 2^bits); NaN for NaN codes. */
  readonly values: Float32Array;
  /** Largest finite magnitude. */
  readonly maxValue: number;
  /** Codes that `encode` never produces (see the module doc). Sorted ascending. */
  readonly reserved: readonly number[];
  /** The code nearest to `x` under the format's documented rounding rule (saturating). */
  encode(x: number): number;
  /** The value of `code` (`values[code]`); throws on a code outside `[0, 2^bits)`. */
  decode(code: number): number;
  /**
   * The format's family record: how a group's scale is computed and how the
   * packed kernels store the codes. Absent: the codebook family
   * (`quant/formats/codebook.ts`: scale = range / maxValue, codes decoded
   * through the `values` table).
   */
  readonly family?: FormatFamily;
}

/**
 * What a scale rule reads: the range of every group (from `quant/range.ts`)
 * and how a float scale is stored.
 */
export interface ScaleRuleInput {
  /** "clip": `clip` is a range limit; "mean": `clip` is a mean magnitude used as the scale. */
  readonly kind: "clip" | "mean";
  /** Per group: the clipping range (symmetric) or mean magnitude. */
  readonly clip: Float32Array;
  /** Per group: the minimum (asymmetric rules). */
  readonly min: Float32Array;
  /** Per group: the maximum (asymmetric rules). */
  readonly max: Float32Array;
  /** NVFP4: a calibrated tensor amax to use instead of the largest group range. */
  readonly tensorAmax?: number;
  /**
   * Rounds the float scale of group `group` to its storage (f16 or f32);
   * throws, naming the group, when the storage cannot hold it.
   */
  store(scale: number, group: number): number;
}

/** The scales a rule gives every group. */
export interface GroupScales {
  /** Per group: what each element is divided by ("div") or multiplied by ("mul") to encode. */
  readonly encode: Float32Array;
  /** How `encode` applies. */
  readonly mode: "div" | "mul";
  /** Per group: the decode multiplier, value = table[code] · decode · tensorScale. */
  readonly decode: Float32Array;
  /** Per group: integer zero points (asymmetric rules). */
  readonly zeros?: Float32Array;
  /** Per group: the stored scale bytes (E8M0, E4M3). */
  readonly scaleCodes?: Uint8Array;
  /** The per-tensor decode scale (NVFP4; 1 otherwise). */
  readonly tensorScale: number;
}

/** A scale rule: the scales of every group of codes of `element`. */
export type ScaleRule = (element: ElementFormat, ranges: ScaleRuleInput) => GroupScales;

/**
 * How scales are stored: a float format (f32, f16) that rounds each group's
 * scale, or a block-scale code format (E8M0, E4M3) with its own rule for the
 * groups of any element format.
 */
export interface ScaleFormatRecord {
  /** "f32", "f16", "e8m0", "e4m3". */
  readonly name: string;
  /** Float scales: rounds a scale to what is stored (absent: stored as is). */
  store?(scale: number): number;
  /** Block scales: the rule of every symmetric group, replacing the family's. */
  readonly rule?: ScaleRule;
}

/**
 * A format family: the scale rule of its groups and the kernel storage of its
 * codes. The quantizer and the weight read it; nothing else looks at a
 * format's name.
 */
export interface FormatFamily {
  /** "int", "fp4", "ternary", "binary", "codebook". */
  readonly name: string;
  /** Symmetric groups with float scales. */
  readonly scale: ScaleRule;
  /** Asymmetric groups (scale and zero point); absent when the family has none. */
  readonly affine?: ScaleRule;
  /**
   * How the packed low-bit kernels store codes of `element` whose scales are
   * stored as `scale`; undefined when no kernel runs them.
   */
  storage(element: ElementFormat, scale: ScaleFormatRecord): Storage | undefined;
}

const fr = Math.fround;

/**
 * The symmetric float-scale loop every family shares: a group's scale is
 * `scale(clip)` for a range limit, or the mean magnitude itself (at least
 * `eps`) for a "mean" range; each is stored (`ranges.store`), and a zero
 * scale (binary of an all-zero group) gets the finite encode divisor 1.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { floatScales } from "./format.ts";
 * const r = floatScales({
 *   kind: "clip", clip: Float32Array.of(6, 0), min: new Float32Array(2), max: new Float32Array(2),
 *   store: (s) => s,
 * }, (clip) => clip / 2);
 * assert(Array.from(r.decode).join() === "3,0" && Array.from(r.encode).join() === "3,1");
 * ```
 */
export function floatScales(
  ranges: ScaleRuleInput,
  scale: (clip: number) => number,
  eps = 0,
): GroupScales {
  const n = ranges.clip.length;
  const encode = new Float32Array(n);
  const decode = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const c = ranges.clip[i];
    const s = ranges.kind === "mean" ? fr(Math.max(c, eps)) : scale(c);
    const stored = ranges.store(s, i);
    decode[i] = stored;
    encode[i] = stored > 0 ? stored : 1;
  }
  return { encode, mode: "div", decode, tensorScale: 1 };
}

/**
 * Float scales stored as f32: kept as they are.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { F32_SCALES } from "./format.ts";
 * assert(F32_SCALES.store!(0.1) === 0.1);
 * ```
 */
export const F32_SCALES: ScaleFormatRecord = { name: "f32", store: (s) => s };

/**
 * Float scales stored as f16: rounded to the nearest f16 (an overflow gives
 * Infinity, which the quantizer reports); a positive scale that would
 * underflow to 0 keeps the smallest f16, 2⁻²⁴, so codes never all saturate.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { F16_SCALES } from "./format.ts";
 * assert(F16_SCALES.store!(1e-9) === 2 ** -24 && F16_SCALES.store!(1e5) === Infinity);
 * ```
 */
export const F16_SCALES: ScaleFormatRecord = {
  name: "f16",
  store(s: number): number {
    const h = Float16Array.of(s)[0];
    return h === 0 && s > 0 ? 2 ** -24 : h;
  },
};

/** The result of quantizing a tensor with a {@link BlockFormat}: codes and per-block scales. */
export interface QuantizedBlocks {
  /** Name of the block format that produced it. */
  readonly format: string;
  /** Number of elements in the original tensor. */
  readonly length: number;
  /** Elements per block actually used (the last block may be shorter). */
  readonly blockSize: number;
  /** One unpacked code per element. */
  readonly codes: Uint8Array;
  /** One scale per block: a code of `scaleFormat`, or an f32 when `scaleFormat` is null. */
  readonly scales: Uint8Array | Float32Array;
  /** Per-tensor f32 decode scale (NVFP4 only); values = element × block scale × tensorScale. */
  readonly tensorScale?: number;
}

/** An element format plus a shared scale per block of elements. */
export interface BlockFormat {
  /** Short name, also the key in the `blockFormats` registry: "mxfp4", "nvfp4", "nf4", … */
  readonly name: string;
  /** The per-element code format. */
  readonly element: ElementFormat;
  /** The format of the stored block scales; null means an f32 per block. */
  readonly scaleFormat: ElementFormat | null;
  /** Elements per block; 0 means one block spans the whole tensor. */
  readonly blockSize: number;
  /** Storage cost: element bits + scale bits / blockSize (per-tensor scales excluded). */
  readonly bitsPerWeight: number;
  /** Quantizes `x`; throws a RangeError naming the index of the first NaN/Inf. */
  quantize(x: ArrayLike<number>): QuantizedBlocks;
  /** The f32 values the codes and scales stand for. */
  dequantize(q: QuantizedBlocks): Float32Array;
}

/** Largest finite f32. */
export const F32_MAX: number = 3.4028234663852886e38;

/**
 * Rounds to the nearest integer, ties to even (IEEE roundTiesToEven). Never returns −0.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { roundHalfEven } from "./format.ts";
 * assert(roundHalfEven(2.5) === 2 && roundHalfEven(3.5) === 4);
 * assert(roundHalfEven(-0.5) === 0 && roundHalfEven(-1.5) === -2);
 * ```
 */
export function roundHalfEven(x: number): number {
  let r = Math.round(x); // ties toward +Infinity
  if (r - x === 0.5 && r % 2 !== 0) r -= 1;
  return r + 0; // turns −0 into +0
}

const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);
const HI = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0; // little-endian: 1

/**
 * floor(log2(x)) for finite x > 0, computed exactly from the binary64 exponent field
 * (Math.log2 can be off by one next to powers of two).
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { floorLog2 } from "./format.ts";
 * assert(floorLog2(1) === 0 && floorLog2(0.75) === -1 && floorLog2(448) === 8);
 * assert(floorLog2(2 ** -149) === -149);
 * ```
 */
export function floorLog2(x: number): number {
  if (!(x > 0) || !Number.isFinite(x)) {
    throw new RangeError(`floorLog2 needs a finite x > 0, got ${x}`);
  }
  f64[0] = x;
  const e = (u32[HI] >>> 20) & 0x7ff;
  if (e === 0) return floorLog2(x * 2 ** 64) - 64; // binary64 subnormal
  return e - 1023;
}

/**
 * Throws a RangeError naming `name[i]` for the first NaN or ±Infinity in `x`;
 * otherwise returns max |x| (0 for an empty array).
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { checkedAmax } from "./format.ts";
 * assert(checkedAmax([1, -3, 2], "w") === 3);
 * let msg = "";
 * try { checkedAmax([0, NaN], "w"); } catch (e) { msg = (e as Error).message; }
 * assert(msg.includes("w[1]"));
 * ```
 */
export function checkedAmax(x: ArrayLike<number>, name: string, start = 0, end = x.length): number {
  let amax = 0;
  for (let i = start; i < end; i++) {
    const v = x[i];
    if (!Number.isFinite(v)) {
      throw new RangeError(
        `${name}[${i}] is ${v}; quantization needs finite inputs (clean or mask NaN/Inf first)`,
      );
    }
    const a = Math.abs(v);
    if (a > amax) amax = a;
  }
  return amax;
}

/**
 * Throws a RangeError unless `code` is an integer in `[0, 2^bits)`.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { checkCode } from "./format.ts";
 * checkCode(15, 4, "int4"); // fine
 * let threw = false;
 * try { checkCode(16, 4, "int4"); } catch { threw = true; }
 * assert(threw);
 * ```
 */
export function checkCode(code: number, bits: number, name: string): void {
  if (!Number.isInteger(code) || code < 0 || code >= 2 ** bits) {
    throw new RangeError(`${name}: code ${code} is not an integer in [0, ${2 ** bits})`);
  }
}

/**
 * Throws a RangeError for NaN input to a scalar `encode`.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { checkNotNaN } from "./format.ts";
 * checkNotNaN(1, "e2m1");
 * let threw = false;
 * try { checkNotNaN(NaN, "e2m1"); } catch { threw = true; }
 * assert(threw);
 * ```
 */
export function checkNotNaN(x: number, name: string): void {
  if (Number.isNaN(x)) throw new RangeError(`${name}.encode: input is NaN`);
}

/**
 * Splits `[0, length)` into blocks: returns the block size actually used
 * (`blockSize`, or `length` when `blockSize` is 0) and the number of blocks.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { blockLayout } from "./format.ts";
 * const { size, count } = blockLayout(70, 32);
 * assert(size === 32 && count === 3);
 * assert(blockLayout(70, 0).count === 1);
 * ```
 */
export function blockLayout(length: number, blockSize: number): { size: number; count: number } {
  if (!Number.isInteger(blockSize) || blockSize < 0) {
    throw new RangeError(`blockSize must be a non-negative integer, got ${blockSize}`);
  }
  const size = blockSize === 0 ? Math.max(length, 1) : blockSize;
  return { size, count: Math.ceil(length / size) };
}

/** Options of {@link quantizeBlocks}. */
export interface QuantizeBlocksOptions {
  /** The block format's name, recorded in the result. */
  name: string;
  /** Elements per block; 0 means one block over the whole input. */
  blockSize: number;
  /** How scales are stored: f32 values, or 8-bit codes of a scale format. */
  scales: "f32" | "code";
  /** Writes the codes of `x[start, end)` into `codes` and returns the block's scale. */
  block(start: number, end: number, codes: Uint8Array): number;
}

/**
 * The per-block loop every block format shares: splits `x` with
 * {@link blockLayout}, lets `options.block` encode each block and give its
 * scale, and returns the codes and scales as {@link QuantizedBlocks}.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { quantizeBlocks } from "./format.ts";
 * const q = quantizeBlocks([1, 2, 3], {
 *   name: "demo", blockSize: 2, scales: "f32",
 *   block: (start, end, codes) => { codes.fill(1, start, end); return end - start; },
 * });
 * assert(Array.from(q.scales).join() === "2,1" && q.codes.join() === "1,1,1");
 * ```
 */
export function quantizeBlocks(
  x: ArrayLike<number>,
  options: QuantizeBlocksOptions,
): QuantizedBlocks {
  const { size, count } = blockLayout(x.length, options.blockSize);
  const codes = new Uint8Array(x.length);
  const scales = options.scales === "f32" ? new Float32Array(count) : new Uint8Array(count);
  for (let b = 0; b < count; b++) {
    const start = b * size;
    scales[b] = options.block(start, Math.min(start + size, x.length), codes);
  }
  return { format: options.name, length: x.length, blockSize: size, codes, scales };
}

/** Options of {@link f32ScaledFormat}. */
export interface F32ScaledFormatOptions {
  /** The element format of the codes; its `bits` plus 32 per block give the bits per weight. */
  element: ElementFormat;
  /** Elements per block; 0 means one block over the whole input. */
  blockSize: number;
  /** The value of a code (default `element.decode`). */
  decode?: (code: number) => number;
  /** Checks the whole input before any block is encoded. */
  check?: (x: ArrayLike<number>) => void;
  /** Writes the codes of `x[start, end)` into `codes` and returns the block's f32 scale. */
  block(x: ArrayLike<number>, start: number, end: number, codes: Uint8Array): number;
}

/**
 * A block format with one f32 scale per block (`scaleFormat` null), as binary,
 * ternary and NF4 are: {@link quantizeBlocks} with `options.block`, and
 * values = decode(code) × scale of the block.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { f32ScaledFormat } from "./format.ts";
 * import { binaryElement } from "./binary.ts";
 * const sign = f32ScaledFormat("sign", {
 *   element: binaryElement, blockSize: 0,
 *   block: (x, start, end, codes) => { for (let i = start; i < end; i++) codes[i] = binaryElement.encode(x[i]); return 2; },
 * });
 * assert(Array.from(sign.dequantize(sign.quantize([3, -1]))).join() === "2,-2" && sign.bitsPerWeight === 1);
 * ```
 */
export function f32ScaledFormat(name: string, options: F32ScaledFormatOptions): BlockFormat {
  const { element, blockSize, check, block } = options;
  const decode = options.decode ?? ((c: number) => element.decode(c));
  return {
    name,
    element,
    scaleFormat: null,
    blockSize,
    bitsPerWeight: element.bits + (blockSize ? 32 / blockSize : 0),
    quantize(x: ArrayLike<number>): QuantizedBlocks {
      check?.(x);
      return quantizeBlocks(x, {
        name,
        blockSize,
        scales: "f32",
        block: (start, end, codes) => block(x, start, end, codes),
      });
    },
    dequantize(q: QuantizedBlocks): Float32Array {
      checkBlocks(q, name);
      const out = new Float32Array(q.length);
      for (let i = 0; i < q.length; i++) {
        out[i] = decode(q.codes[i]) * q.scales[Math.floor(i / q.blockSize)];
      }
      return out;
    },
  };
}

/**
 * Throws a TypeError unless `q` was produced by the block format named `name`.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { checkBlocks } from "./format.ts";
 * const q = { format: "nf4", length: 0, blockSize: 64, codes: new Uint8Array(), scales: new Float32Array() };
 * checkBlocks(q, "nf4");
 * let threw = false;
 * try { checkBlocks(q, "mxfp4"); } catch { threw = true; }
 * assert(threw);
 * ```
 */
export function checkBlocks(q: QuantizedBlocks, name: string): void {
  if (q.format !== name) {
    throw new TypeError(`cannot dequantize "${q.format}" data with the "${name}" format`);
  }
  if (q.codes.length !== q.length) {
    throw new RangeError(`${name}: ${q.codes.length} codes for ${q.length} elements`);
  }
}
