/**
 * Generic codebook weights: `bits`-bit codes (1–8) index a table of 2^bits
 * f32 values (k-means / learned codebooks, log2, power-of-√2, any ≤ 8-bit
 * scalar format), times a per-group scale. The table is copied into
 * workgroup memory once per workgroup.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { packCodebook } from "./pack.ts";
 * import { lowbitMatmul } from "./kernel.ts";
 * await initGPU();
 * using w = packCodebook([0, 1, 2, 3], [1, 4], { bits: 2, codebook: [-2, -0.5, 0.5, 2], scales: [1] });
 * using x = Tensor.fromArray([[1, 1, 1, 1]]);
 * using y = lowbitMatmul(x, w);
 * console.log(await y.data()); // Float32Array [0]
 * ```
 * @module
 */
import {
  bitstreamRawFn,
  bitstreamStorage,
  bitstreamUnit,
  type Codegen,
  type Storage,
} from "./codegen.ts";

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

/**
 * The storage of `bits`-bit codebook indices (1–8) into a table of 2^bits
 * f32 values that the weight carries.
 *
 * @example
 * ```ts
 * import { codebookStorage } from "./codebook.ts";
 * console.log(codebookStorage(3).codebookSize); // 8
 * ```
 */
export function codebookStorage(bits: number): Storage {
  return bitstreamStorage(`codebook${bits}`, bits, (stride) => codebookCodegen(bits, stride), {
    codebookSize: 2 ** bits,
  });
}
