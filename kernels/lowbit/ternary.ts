/**
 * Ternary (1.58-bit) weights {−1, 0, +1} × a per-group scale, as in BitNet
 * b1.58: `ternary` stores 2-bit codes (0 → 0, 1 → +1, 3 → −1; 16 per word),
 * `ternary5` stores 5 trits per byte (1.6 bits per weight, 20 per word,
 * decoded with shifts and adds only — see layout.ts).
 *
 * The GEMV is multiplication-free: each activation is added, subtracted or
 * skipped with `select`, and the scale is applied once per group. An
 * activation row containing NaN gives NaN in every output of that row (as
 * a dense product would), detected from the row's running sum.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { packTernary } from "./ternary.ts";
 * import { lowbitMatmul } from "./kernel.ts";
 * await initGPU();
 * using w = packTernary([1, 0, 3, 1], [1, 4], { scales: [2] }); // [+1, 0, −1, +1] × 2
 * using x = Tensor.fromArray([[1, 10, 100, 1000]]);
 * using y = lowbitMatmul(x, w);
 * console.log(await y.data()); // Float32Array [1802]
 * ```
 * @module
 */
import { bitstreamRawFn, bitstreamUnit, type Codegen } from "./codegen.ts";
import { createPackedWeight, type PackedWeight, packWeights } from "./layout.ts";

/**
 * WGSL decoding of 2-bit ternary codes (row stride `stride` words).
 *
 * @example
 * ```ts
 * import { ternaryCodegen } from "./ternary.ts";
 * console.log(ternaryCodegen(4).contrib!("c", "x").includes("select")); // true
 * ```
 */
export function ternaryCodegen(stride: number): Codegen {
  return {
    unit: (words) => bitstreamUnit(words, 2, 16),
    contrib: (c, x) => `select(select(0.0, ${x}, (${c} & 1u) != 0u), -${x}, ${c} > 1u)`,
    rawFn: bitstreamRawFn(2, stride),
    rawValue: (r) => `select(select(0.0, 1.0, (${r} & 1u) != 0u), -1.0, ${r} > 1u)`,
  };
}

/**
 * WGSL decoding of `ternary5` (5 trits per byte); digits are 0 (−1), 1 (0), 2 (+1).
 *
 * @example
 * ```ts
 * import { ternary5Codegen } from "./ternary.ts";
 * console.log(ternary5Codegen(4).unit(["w"], "a").codes.length); // 20
 * ```
 */
export function ternary5Codegen(stride: number): Codegen {
  return {
    unit: (words, id) => {
      const pre: string[] = [];
      const codes: string[] = [];
      for (let i = 0; i < 4; i++) {
        let r = `((${words[0]} >> ${8 * i}u) & 255u)`;
        for (let j = 0; j < 5; j++) {
          const q = `q${id}_${i}_${j}`;
          pre.push(`let ${q} = ${r} + (${r} << 1u);`); // byte · 3
          codes.push(`(${q} >> 8u)`);
          r = `(${q} & 255u)`;
        }
      }
      return { pre: pre.join(" "), codes };
    },
    contrib: (d, x) => `select(select(0.0, ${x}, ${d} == 2u), -${x}, ${d} == 0u)`,
    rawFn: `
  let wi = n * ${stride}u + k / 20u;
  var b = (W[wi >> 2u][wi & 3u] >> (((k % 20u) / 5u) * 8u)) & 255u;
  var d = 0u;
  for (var j = 0u; j <= k % 5u; j++) { let q = b * 3u; d = q >> 8u; b = q & 255u; }
  return d;`,
    rawValue: (r) => `(f32(${r}) - 1.0)`,
  };
}

/** Options of {@link packTernary}. */
export interface PackTernaryOptions {
  /** Codes per scale group (default K: one scale per row). */
  groupSize?: number;
  /** Scales `[N, K/groupSize]`. */
  scales: ArrayLike<number>;
  /** Dtype of the scales on the GPU (default f16). */
  scaleDtype?: "f16" | "f32";
  /** Use 5 trits per byte (1.6 bits) instead of 2-bit codes. */
  fiveTritsPerByte?: boolean;
}

/**
 * Packs ternary codes (0, 1, 3 = 0, +1, −1; row-major `[N, K]`).
 *
 * @example
 * ```ts
 * import { initGPU } from "../../mod.ts";
 * import { packTernary } from "./ternary.ts";
 * await initGPU();
 * using w = packTernary([1, 3, 0], [1, 3], { scales: [1], fiveTritsPerByte: true });
 * console.log(w.format); // "ternary5"
 * ```
 */
export function packTernary(
  codes: ArrayLike<number>,
  shape: readonly [number, number] | readonly number[],
  options: PackTernaryOptions,
): PackedWeight {
  const format = options.fiveTritsPerByte ? "ternary5" : "ternary";
  return createPackedWeight({
    format,
    shape,
    groupSize: options.groupSize,
    words: packWeights(codes, shape, format),
    scales: options.scales,
    scaleDtype: options.scaleDtype,
  });
}
