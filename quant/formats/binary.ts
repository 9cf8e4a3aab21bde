/**
 * Binary weights: sign(w) times a scale α = mean |w| (the L1-optimal scale for fixed signs).
 *
 * Source: Rastegari et al., "XNOR-Net: ImageNet Classification Using Binary Convolutional
 * Neural Networks", ECCV 2016, §3.1 (B = sign(W), α = ‖W‖₁ / n); Wang et al., "BitNet: Scaling
 * 1-bit Transformers for Large Language Models", 2023 (sign weights with a mean-|W| scale;
 * BitNet also centres W by its mean first, which this format does not do).
 *
 * Exact rules: sign(0) = sign(−0) = +1. Code 0 → +1, code 1 → −1 (the sign bit). The scale is
 * f32(mean |w|) summed in binary64; an all-zero block has scale 0 and dequantizes to zeros.
 * 1 bit per weight (+ 32 per block).
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
  type FormatFamily,
} from "./format.ts";
import { BINARY } from "../../kernels/lowbit/binary.ts";
import { maxValueScales } from "./codebook.ts";

/**
 * The binary family: scale = clip (maxValue 1) or the mean magnitude
 * (XNOR-Net's α = mean |W|); the kernels store one sign bit per weight
 * (`kernels/lowbit/binary.ts`).
 */
export const BINARY_FAMILY: FormatFamily = {
  name: "binary",
  scale: maxValueScales(),
  storage: () => BINARY,
};

const BINARY_VALUES = new Float32Array([1, -1]);

/**
 * The binary element: code 0 = +1, code 1 = −1; encode is the sign bit with sign(0) = +1.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { binaryElement } from "./binary.ts";
 * assert(binaryElement.encode(0) === 0 && binaryElement.encode(-0) === 0);
 * assert(binaryElement.encode(-1e-30) === 1 && binaryElement.decode(1) === -1);
 * ```
 */
export const binaryElement: ElementFormat = {
  family: BINARY_FAMILY,
  name: "binary",
  bits: 1,
  values: BINARY_VALUES,
  maxValue: 1,
  reserved: [],
  encode(x: number): number {
    checkNotNaN(x, "binary");
    return x < 0 ? 1 : 0;
  },
  decode(code: number): number {
    checkCode(code, 1, "binary");
    return BINARY_VALUES[code];
  },
};

/**
 * A binary block format with α = mean |w| per `blockSize` elements (0, the default: one α for
 * the whole tensor).
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { binaryFormat } from "./binary.ts";
 * const fmt = binaryFormat();
 * const q = fmt.quantize([1, -3, 0, 2]); // α = 1.5
 * assert(Array.from(fmt.dequantize(q)).join() === "1.5,-1.5,1.5,1.5");
 * ```
 */
export function binaryFormat(blockSize = 0): BlockFormat {
  const name = `binary${blockSize ? `_g${blockSize}` : ""}`;
  return f32ScaledFormat(name, {
    element: binaryElement,
    blockSize,
    decode: (c) => BINARY_VALUES[c],
    check: (x) => checkedAmax(x, name),
    block(x, start, end, codes) {
      let sum = 0;
      for (let i = start; i < end; i++) {
        sum += Math.abs(x[i]);
        codes[i] = binaryElement.encode(x[i]);
      }
      return end > start ? sum / (end - start) : 0;
    },
  });
}

/** Per-tensor binary (sign × mean |w|). */
export const binary: BlockFormat = binaryFormat();
