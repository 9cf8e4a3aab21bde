/**
 * NF4 (4-bit NormalFloat): 16 fixed levels in [−1, 1] that are quantiles of N(0, 1), with an
 * f32 absmax scale per block of 64.
 *
 * Source: Dettmers et al., "QLoRA: Efficient Finetuning of Quantized LLMs", NeurIPS 2023,
 * §3 (NormalFloat, block-wise absmax with block size 64) and Appendix E (the 16 NF4 values,
 * copied below as published). Double quantization of the absmax scales (§3) is not applied
 * here: the scales stay f32, so bits per weight = 4 + 32/64 = 4.5.
 *
 * Encoding: x / absmax is computed as one f32 division, then mapped to the level nearest in
 * linear distance (binary64 distances between f32 numbers; an exact tie — not reachable from
 * f32 inputs for these constants in practice — goes to the lower code). Values outside
 * [−1, 1] saturate. An all-zero block gets scale 0 and the code of 0 (7).
 *
 * @module
 */

import {
  type BlockFormat,
  checkCode,
  checkedAmax,
  checkNotNaN,
  type ElementFormat,
  f32ScaledFormat,
} from "./format.ts";

/**
 * The 16 NF4 levels of QLoRA Appendix E, indexed by code (sorted ascending; code 7 is 0). The
 * packed kernels get this table from the weight (`QuantizedWeight` runs NF4 as a 4-bit
 * codebook), so the reference imports nothing from `kernels/`.
 */
export const NF4_VALUES: Float32Array = Float32Array.from([
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

/**
 * NF4 as an element format over [−1, 1]: nearest level, ties to the lower code.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { nf4Element } from "./nf4.ts";
 * assert(nf4Element.encode(0) === 7 && nf4Element.encode(-3) === 0);
 * assert(nf4Element.encode(0.5) === 12); // 0.4407 is nearer than 0.5626
 * ```
 */
export const nf4Element: ElementFormat = {
  name: "nf4",
  bits: 4,
  values: NF4_VALUES,
  maxValue: 1,
  reserved: [],
  encode(x: number): number {
    checkNotNaN(x, "nf4");
    const y = Math.min(1, Math.max(-1, x)); // saturate (also makes ±Infinity finite)
    let best = 0;
    let bestDist = Infinity;
    for (let c = 0; c < 16; c++) {
      const d = Math.abs(y - NF4_VALUES[c]);
      if (d < bestDist) [best, bestDist] = [c, d];
    }
    return best;
  },
  decode(code: number): number {
    checkCode(code, 4, "nf4");
    return NF4_VALUES[code];
  },
};

/** NF4 block size of QLoRA. */
export const NF4_BLOCK_SIZE = 64;

/**
 * NF4 block format with an f32 absmax per `blockSize` elements (default 64).
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { nf4Format } from "./nf4.ts";
 * const fmt = nf4Format();
 * const q = fmt.quantize([2, -2, 0, 1]);
 * assert(q.scales[0] === 2 && Array.from(q.codes).join() === "15,0,7,12");
 * assert(fmt.bitsPerWeight === 4.5);
 * ```
 */
export function nf4Format(blockSize = NF4_BLOCK_SIZE): BlockFormat {
  const name = blockSize === NF4_BLOCK_SIZE ? "nf4" : `nf4_g${blockSize}`;
  return f32ScaledFormat(name, {
    element: nf4Element,
    blockSize,
    decode: (c) => NF4_VALUES[c],
    block(x, start, end, codes) {
      const absmax = Math.fround(checkedAmax(x, name, start, end));
      for (let i = start; i < end; i++) {
        codes[i] = absmax === 0 ? 7 : nf4Element.encode(Math.fround(x[i] / absmax));
      }
      return absmax;
    },
  });
}

/** NF4 with absmax blocks of 64 (QLoRA's setting, without double quantization). */
export const nf4: BlockFormat = nf4Format();
