/**
 * The dense baseline: `y = x · Wᵀ` for an f16 (or f32) weight `[N, K]`, with
 * the same GEMV (batch ≤ 8) and tiled GEMM as the low-bit kernels, so that
 * benchmark ratios compare formats and not kernel styles. Accumulates in f32.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { denseMatmul } from "./dense.ts";
 * await initGPU();
 * using w = Tensor.fromArray([[1, 2], [3, 4]], undefined, "f16");
 * using x = Tensor.fromArray([[1, 1]]);
 * using y = denseMatmul(x, w);
 * console.log(await y.data()); // Float32Array [3, 7]
 * ```
 * @module
 */
import type { Tensor } from "../tensor.ts";
import { type LowbitMatmulOptions, planMatmul, run } from "../gemm/plan.ts";

/**
 * `y = x · Wᵀ (+ bias)` for a dense f16/f32 weight `W` `[N, K]`.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { denseMatmul } from "./dense.ts";
 * await initGPU();
 * using w = Tensor.randn([5, 8], { dtype: "f16", seed: 1 });
 * using x = Tensor.randn([20, 8], { seed: 2 });
 * using y = denseMatmul(x, w); // batch 20: the tiled GEMM
 * console.log(y.shape); // [20, 5]
 * ```
 */
export function denseMatmul(x: Tensor, w: Tensor, opts: LowbitMatmulOptions = {}): Tensor {
  return run(planMatmul(x, w, opts));
}
