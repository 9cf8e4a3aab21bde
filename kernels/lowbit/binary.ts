/**
 * Binary weights ±1 × a per-group scale (XNOR-Net / BitNet style): 1 bit per
 * weight, code 0 → +1, code 1 → −1, 32 per word. The GEMV is
 * multiplication-free: each activation is added or subtracted with `select`,
 * and the scale is applied once per group.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { packBinary } from "./binary.ts";
 * import { lowbitMatmul } from "./kernel.ts";
 * await initGPU();
 * using w = packBinary([0, 1, 1], [1, 3], { scales: [0.5] }); // [+1, −1, −1] × 0.5
 * using x = Tensor.fromArray([[4, 2, 1]]);
 * using y = lowbitMatmul(x, w);
 * console.log(await y.data()); // Float32Array [0.5]
 * ```
 * @module
 */
import { bitstreamRawFn, bitstreamUnit, type Codegen } from "./codegen.ts";
import { createPackedWeight, type PackedWeight, packWeights } from "./layout.ts";

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

/** Options of {@link packBinary}. */
export interface PackBinaryOptions {
  /** Codes per scale group (default K). */
  groupSize?: number;
  /** Scales `[N, K/groupSize]`. */
  scales: ArrayLike<number>;
  /** Dtype of the scales on the GPU (default f16). */
  scaleDtype?: "f16" | "f32";
}

/**
 * Packs binary codes (0 → +1, 1 → −1; row-major `[N, K]`).
 *
 * @example
 * ```ts
 * import { initGPU } from "../../mod.ts";
 * import { packBinary } from "./binary.ts";
 * await initGPU();
 * using w = packBinary(new Array(64).fill(1), [2, 32], { scales: [1, 1] });
 * console.log(w.codes.shape); // [2, 4]
 * ```
 */
export function packBinary(
  codes: ArrayLike<number>,
  shape: readonly [number, number] | readonly number[],
  options: PackBinaryOptions,
): PackedWeight {
  return createPackedWeight({
    format: "binary",
    shape,
    groupSize: options.groupSize,
    words: packWeights(codes, shape, "binary"),
    scales: options.scales,
    scaleDtype: options.scaleDtype,
  });
}
