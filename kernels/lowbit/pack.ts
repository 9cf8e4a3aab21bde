/**
 * Packing codes into a GPU {@link PackedWeight}: one generic helper,
 * {@link packCodes}, that takes the format (a built-in name or a
 * `Storage` from codegen.ts), and thin per-family wrappers that add only what is
 * particular to a family (its name from `bits`, its default group size).
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { packCodes } from "./pack.ts";
 * import { lowbitMatmul } from "./kernel.ts";
 * await initGPU();
 * using w = packCodes([1, 3, 0, 1], [1, 4], { format: "ternary", scales: [2] }); // [+1, −1, 0, +1] × 2
 * using x = Tensor.fromArray([[1, 10, 100, 1000]]);
 * using y = lowbitMatmul(x, w);
 * console.log(await y.data()); // Float32Array [1982]
 * ```
 * @module
 */
import { NF4_GROUP } from "./nf4.ts";
import {
  createPackedWeight,
  type LowbitFormat,
  type PackedWeight,
  type PackedWeightInit,
  packWeights,
} from "./layout.ts";

type Shape = readonly [number, number] | readonly number[];

/** Options of {@link packCodes}: everything {@link createPackedWeight} takes except the words. */
export interface PackCodesOptions extends Omit<PackedWeightInit, "shape" | "words" | "scales"> {
  /** Scales `[N, K/groupSize]` (float values, or the 8-bit scale codes of nvfp4/mxfp4). */
  scales: ArrayLike<number>;
}

/**
 * Packs unsigned storage codes (row-major `[N, K]`) in `options.format` and
 * uploads them with their scales (and zero points, tensor scale or codebook
 * where the format has them).
 *
 * @example
 * ```ts
 * import { initGPU } from "../../mod.ts";
 * import { packCodes } from "./pack.ts";
 * await initGPU();
 * using w = packCodes(new Array(64).fill(0), [2, 32], { format: "int4", groupSize: 16, scales: [1, 1, 1, 1] });
 * console.log(w.format, w.codes.shape); // "int4" [2, 4]
 * ```
 */
export function packCodes(
  codes: ArrayLike<number>,
  shape: Shape,
  options: PackCodesOptions,
): PackedWeight {
  return createPackedWeight({
    ...options,
    shape,
    words: packWeights(codes, shape, options.format),
  });
}

/** The name of a `bits`-bit format of a family (`lo`…8 bits), or a RangeError. */
function bitsFormat(
  op: string,
  family: "int" | "codebook",
  bits: number,
  lo: number,
): LowbitFormat {
  if (!Number.isInteger(bits) || bits < lo || bits > 8) {
    throw new RangeError(`${op}: bits must be an integer ${lo}…8, got ${bits}`);
  }
  return `${family}${bits}` as LowbitFormat;
}

/** Float scales of a family wrapper: per group, row-major `[N, K/groupSize]`. */
interface Scaled {
  /** Codes per scale group along K (default K: one scale per row). */
  groupSize?: number;
  /** Scales, row-major `[N, K/groupSize]`. */
  scales: ArrayLike<number>;
  /** Dtype of the scales (and zeros) on the GPU (default f16). */
  scaleDtype?: "f16" | "f32";
}

/** Options of {@link packInt}. */
export interface PackIntOptions extends Scaled {
  /** Bits per code, 2–8. */
  bits: number;
  /** Zero points (asymmetric); codes are then read unsigned. */
  zeros?: ArrayLike<number>;
}

/**
 * Integer codes (two's complement, or unsigned with `zeros`), 2–8 bits.
 *
 * @example
 * ```ts
 * import { initGPU } from "../../mod.ts";
 * import { packInt } from "./pack.ts";
 * await initGPU();
 * using w = packInt([0, 3, 1, 2], [2, 2], { bits: 2, scales: [1, 2], zeros: [1, 1] });
 * console.log(w.format, w.zeros?.shape); // "int2" [2, 1]
 * ```
 */
export function packInt(
  codes: ArrayLike<number>,
  shape: Shape,
  options: PackIntOptions,
): PackedWeight {
  const format = bitsFormat("packInt", "int", options.bits, 2);
  return packCodes(codes, shape, { ...options, format });
}

/** Options of {@link packTernary}. */
export interface PackTernaryOptions extends Scaled {
  /** Use 5 trits per byte (1.6 bits) instead of 2-bit codes. */
  fiveTritsPerByte?: boolean;
}

/**
 * Ternary codes (0, 1, 3 = 0, +1, −1).
 *
 * @example
 * ```ts
 * import { initGPU } from "../../mod.ts";
 * import { packTernary } from "./pack.ts";
 * await initGPU();
 * using w = packTernary([1, 3, 0], [1, 3], { scales: [1], fiveTritsPerByte: true });
 * console.log(w.format); // "ternary5"
 * ```
 */
export function packTernary(
  codes: ArrayLike<number>,
  shape: Shape,
  options: PackTernaryOptions,
): PackedWeight {
  return packCodes(codes, shape, {
    ...options,
    format: options.fiveTritsPerByte ? "ternary5" : "ternary",
  });
}

/** Options of {@link packBinary}. */
export type PackBinaryOptions = Scaled;

/**
 * Binary codes (0 → +1, 1 → −1).
 *
 * @example
 * ```ts
 * import { initGPU } from "../../mod.ts";
 * import { packBinary } from "./pack.ts";
 * await initGPU();
 * using w = packBinary(new Array(64).fill(1), [2, 32], { scales: [1, 1] });
 * console.log(w.codes.shape); // [2, 4]
 * ```
 */
export function packBinary(
  codes: ArrayLike<number>,
  shape: Shape,
  options: PackBinaryOptions,
): PackedWeight {
  return packCodes(codes, shape, { ...options, format: "binary" });
}

/** Options of {@link packNf4}. */
export interface PackNf4Options extends Scaled {
  /** Block size (default 64, or K when K < 64). */
  groupSize?: number;
  /** The 16 NF4 levels by code, e.g. `formats.NF4_VALUES` (the kernels hold no table). */
  codebook: ArrayLike<number>;
}

/**
 * NF4 codes with absmax scales per block of 64, decoded through the 16 levels
 * given as `options.codebook`.
 *
 * @example
 * ```ts
 * import { formats, initGPU } from "../../mod.ts";
 * import { packNf4 } from "./pack.ts";
 * await initGPU();
 * using w = packNf4(new Array(128).fill(7), [1, 128], { scales: [1, 1], codebook: formats.NF4_VALUES });
 * console.log(w.groupSize); // 64
 * ```
 */
export function packNf4(
  codes: ArrayLike<number>,
  shape: Shape,
  options: PackNf4Options,
): PackedWeight {
  const groupSize = options.groupSize ?? Math.min(NF4_GROUP, shape[1]);
  return packCodes(codes, shape, { ...options, groupSize, format: "nf4" });
}

/** Options of {@link packCodebook}. */
export interface PackCodebookOptions extends Scaled {
  /** Bits per code, 1–8. */
  bits: number;
  /** The 2^bits values. */
  codebook: ArrayLike<number>;
}

/**
 * Codebook indices into 2^bits f32 values.
 *
 * @example
 * ```ts
 * import { initGPU } from "../../mod.ts";
 * import { packCodebook } from "./pack.ts";
 * await initGPU();
 * using w = packCodebook([0, 7], [1, 2], { bits: 3, codebook: [0, 1, 2, 3, 4, 5, 6, 7], scales: [1] });
 * console.log(w.format); // "codebook3"
 * ```
 */
export function packCodebook(
  codes: ArrayLike<number>,
  shape: Shape,
  options: PackCodebookOptions,
): PackedWeight {
  const format = bitsFormat("packCodebook", "codebook", options.bits, 1);
  return packCodes(codes, shape, { ...options, format });
}

/** Options of {@link packFp4}. */
export interface PackFp4Options extends Scaled {
  /** "fp4" (float scales), "nvfp4" (E4M3 per 16 + tensor scale) or "mxfp4" (E8M0 per 32). */
  scheme: "fp4" | "nvfp4" | "mxfp4";
  /** Group size (default 16 for nvfp4, 32 for mxfp4, K for fp4). */
  groupSize?: number;
  /** fp4: float scales; nvfp4: E4M3 codes; mxfp4: E8M0 codes (row-major `[N, K/groupSize]`). */
  scales: ArrayLike<number>;
  /** nvfp4 per-tensor f32 scale (default 1). */
  tensorScale?: number;
}

/**
 * E2M1 codes with the scheme's scales.
 *
 * @example
 * ```ts
 * import { initGPU } from "../../mod.ts";
 * import { packFp4 } from "./pack.ts";
 * await initGPU();
 * using w = packFp4(new Array(32).fill(2), [2, 16], { scheme: "nvfp4", scales: [0x38, 0x38], tensorScale: 0.5 });
 * console.log(w.format, w.groupSize, w.tensorScale); // "nvfp4" 16 0.5
 * ```
 */
export function packFp4(
  codes: ArrayLike<number>,
  shape: Shape,
  options: PackFp4Options,
): PackedWeight {
  const { scheme } = options;
  const groupSize = options.groupSize ??
    (scheme === "nvfp4" ? 16 : scheme === "mxfp4" ? 32 : undefined);
  return packCodes(codes, shape, { ...options, groupSize, format: scheme });
}
