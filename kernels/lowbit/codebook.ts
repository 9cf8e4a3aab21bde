/**
 * Generic codebook weights: `bits`-bit codes (1–8) index a table of 2^bits
 * f32 values (k-means / learned codebooks, log2, power-of-√2, any ≤ 8-bit
 * scalar format), times a per-group scale. The table is copied into
 * workgroup memory once per workgroup.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { packCodebook } from "./codebook.ts";
 * import { lowbitMatmul } from "./kernel.ts";
 * await initGPU();
 * using w = packCodebook([0, 1, 2, 3], [1, 4], { bits: 2, codebook: [-2, -0.5, 0.5, 2], scales: [1] });
 * using x = Tensor.fromArray([[1, 1, 1, 1]]);
 * using y = lowbitMatmul(x, w);
 * console.log(await y.data()); // Float32Array [0]
 * ```
 * @module
 */
import { bitstreamRawFn, bitstreamUnit, type Codegen } from "./codegen.ts";
import { createPackedWeight, type LowbitFormat, type PackedWeight, packWeights } from "./layout.ts";

/**
 * WGSL decoding of `bits`-bit codebook codes through the workgroup table.
 *
 * @example
 * ```ts
 * import { codebookCodegen } from "./codebook.ts";
 * console.log(codebookCodegen(3, 4).lut); // "tensor"
 * ```
 */
export function codebookCodegen(bits: number, stride: number): Codegen {
  const g = bits === 3 || bits === 5 || bits === 7 ? 1 : bits === 6 ? 2 : bits;
  return {
    lut: "tensor",
    unit: (words) => bitstreamUnit(words, bits, 32 / g),
    value: (c) => `lut[${c}]`,
    rawFn: bitstreamRawFn(bits, stride),
    rawValue: (r) => `lut[${r}]`,
  };
}

/** Options of {@link packCodebook}. */
export interface PackCodebookOptions {
  /** Bits per code, 1–8. */
  bits: number;
  /** The 2^bits values. */
  codebook: ArrayLike<number>;
  /** Codes per scale group (default K). */
  groupSize?: number;
  /** Scales `[N, K/groupSize]` (all 1 for a plain codebook). */
  scales: ArrayLike<number>;
  /** Dtype of the scales on the GPU (default f16). */
  scaleDtype?: "f16" | "f32";
}

/**
 * Packs codebook indices (row-major `[N, K]`).
 *
 * @example
 * ```ts
 * import { initGPU } from "../../mod.ts";
 * import { packCodebook } from "./codebook.ts";
 * await initGPU();
 * using w = packCodebook([0, 7], [1, 2], { bits: 3, codebook: [0, 1, 2, 3, 4, 5, 6, 7], scales: [1] });
 * console.log(w.format); // "codebook3"
 * ```
 */
export function packCodebook(
  codes: ArrayLike<number>,
  shape: readonly [number, number] | readonly number[],
  options: PackCodebookOptions,
): PackedWeight {
  const { bits } = options;
  if (!Number.isInteger(bits) || bits < 1 || bits > 8) {
    throw new RangeError(`packCodebook: bits must be an integer 1…8, got ${bits}`);
  }
  const format = `codebook${bits}` as LowbitFormat;
  return createPackedWeight({
    format,
    shape,
    groupSize: options.groupSize,
    words: packWeights(codes, shape, format),
    scales: options.scales,
    scaleDtype: options.scaleDtype,
    codebook: options.codebook,
  });
}
