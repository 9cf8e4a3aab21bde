/**
 * NF4 (4-bit NormalFloat, QLoRA): codes index 16 fixed levels in [−1, 1],
 * times an absmax scale per block of 64 (f16 or f32; double quantization of
 * the scales is not modelled). Levels come from a workgroup-memory table.
 *
 * Source of the levels: Dettmers et al., "QLoRA: Efficient Finetuning of
 * Quantized LLMs", 2023, Appendix E.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { packNf4 } from "./pack.ts";
 * import { lowbitMatmul } from "./kernel.ts";
 * await initGPU();
 * const codes = new Array(64).fill(7); // 0.0
 * codes[0] = 15; // 1.0
 * using w = packNf4(codes, [1, 64], { scales: [3] });
 * using x = Tensor.fromArray([new Array(64).fill(2)]);
 * using y = lowbitMatmul(x, w);
 * console.log(await y.data()); // Float32Array [6]
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

/** The 16 NF4 levels of QLoRA Appendix E, by code (ascending; code 7 is 0). */
export const NF4_LEVELS: Float32Array = Float32Array.from([
  -1.0,
  -0.6961928009986877,
  -0.5250730514526367,
  -0.39491748809814453,
  -0.28444138169288635,
  -0.18477343022823334,
  -0.09105003625154495,
  0.0,
  0.07958029955625534,
  0.16093020141124725,
  0.24611230194568634,
  0.33791524171829224,
  0.44070982933044434,
  0.5626170039176941,
  0.7229568362236023,
  1.0,
]);

/** QLoRA's block size. */
export const NF4_GROUP = 64;

/**
 * WGSL decoding of NF4 codes through the workgroup table.
 *
 * @example
 * ```ts
 * import { nf4Codegen } from "./nf4.ts";
 * console.log(nf4Codegen(4).lut?.length); // 16
 * ```
 */
export function nf4Codegen(stride: number): Codegen {
  return {
    lut: NF4_LEVELS,
    unit: (words) => bitstreamUnit(words, 4, 8),
    value: (c) => `lut[${c}]`,
    rawFn: bitstreamRawFn(4, stride),
    rawValue: (r) => `lut[${r}]`,
  };
}

/**
 * The storage of NF4: 4-bit codes indexing {@link NF4_LEVELS}.
 *
 * @example
 * ```ts
 * import { NF4 } from "./nf4.ts";
 * console.log(NF4.name, NF4.unitCodes); // "nf4" 8
 * ```
 */
export const NF4: Storage = bitstreamStorage("nf4", 4, (stride) => nf4Codegen(stride));
