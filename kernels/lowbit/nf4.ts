/**
 * NF4 (4-bit NormalFloat, QLoRA) as packed storage: 4-bit codes index the 16
 * levels that the weight carries as its `codebook` (decoded exactly as
 * `codebook4`), times an absmax scale per block of 64 (f16 or f32; double
 * quantization of the scales is not modelled). The kernels hold no level
 * values: the table is data, given by the caller (the reference values are
 * `formats.NF4_VALUES` in quant/, from Dettmers et al., "QLoRA: Efficient
 * Finetuning of Quantized LLMs", 2023, Appendix E).
 *
 * @example
 * ```ts
 * import { formats, initGPU, Tensor } from "../../mod.ts";
 * import { packNf4 } from "./pack.ts";
 * import { lowbitMatmul } from "./kernel.ts";
 * await initGPU();
 * const codes = new Array(64).fill(7); // 0.0
 * codes[0] = 15; // 1.0
 * using w = packNf4(codes, [1, 64], { scales: [3], codebook: formats.NF4_VALUES });
 * using x = Tensor.fromArray([new Array(64).fill(2)]);
 * using y = lowbitMatmul(x, w);
 * console.log(await y.data()); // Float32Array [6]
 * ```
 * @module
 */
import { bitstreamStorage, type Storage } from "./codegen.ts";
import { codebookCodegen } from "./codebook.ts";

/** QLoRA's block size. */
export const NF4_GROUP = 64;

/**
 * The storage of NF4: 4-bit codes indexing the 16 levels the weight carries.
 *
 * @example
 * ```ts
 * import { NF4 } from "./nf4.ts";
 * console.log(NF4.name, NF4.unitCodes, NF4.codebookSize); // "nf4" 8 16
 * ```
 */
export const NF4: Storage = bitstreamStorage("nf4", 4, (stride) => codebookCodegen(4, stride), {
  codebookSize: 16,
});
