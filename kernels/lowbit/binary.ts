/**
 * Binary weights ±1 × a per-group scale (XNOR-Net / BitNet style): 1 bit per
 * weight, code 0 → +1, code 1 → −1, 32 per word. The GEMV is
 * multiplication-free: each activation is added or subtracted with `select`,
 * and the scale is applied once per group.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { packBinary } from "./pack.ts";
 * import { lowbitMatmul } from "./kernel.ts";
 * await initGPU();
 * using w = packBinary([0, 1, 1], [1, 3], { scales: [0.5] }); // [+1, −1, −1] × 0.5
 * using x = Tensor.fromArray([[4, 2, 1]]);
 * using y = lowbitMatmul(x, w);
 * console.log(await y.data()); // Float32Array [0.5]
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
 * WGSL decoding of binary codes (row stride `stride` words).
 *
 * @example
 * ```ts
 * import { binaryCodegen } from "./binary.ts";
 * console.log(binaryCodegen(4).contrib!("c", "x")); // "select(x, -x, c != 0u)"
 * ```
 */
export function binaryCodegen(stride: number): Codegen {
  return {
    unit: (words) => bitstreamUnit(words, 1, 32),
    contrib: (c, x) => `select(${x}, -${x}, ${c} != 0u)`,
    rawFn: bitstreamRawFn(1, stride),
    rawValue: (r) => `(1.0 - 2.0 * f32(${r}))`,
  };
}

/**
 * The storage of binary weights: 1 bit per code, 32 per word.
 *
 * @example
 * ```ts
 * import { BINARY } from "./binary.ts";
 * console.log(BINARY.unitCodes); // 32
 * ```
 */
export const BINARY: Storage = bitstreamStorage("binary", 1, (stride) => binaryCodegen(stride));
