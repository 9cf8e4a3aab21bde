/**
 * Low-bit matmul `y = x · Wᵀ (+ bias)` for every packed format: a GEMV for
 * batch 1–8 (decode; memory bound) and a tiled GEMM for larger batches. The
 * kernels come from the one matmul generator in `kernels/gemm/` (plan.ts),
 * which reads the weight's storage decoder and never its format's name.
 *
 * - **GEMV** (batch ≤ 8): the paired GEMV (`kernels/gemm/paired.ts`; two
 *   codes per decode through f16 mantissas) for int2/int4/int8 and 2-bit
 *   ternary whenever a 16-byte chunk lies in one group, else the generic GEMV
 *   (`kernels/gemm/gemv.ts`; every format, multiplication-free for ternary and
 *   binary). Pass `gemv: "generic"` to force the latter.
 * - **GEMM**: the dense tiled GEMM (`kernels/gemm/tiled.ts`) whose B tile
 *   loader dequantizes the packed codes (scales and zeros applied).
 *
 * Reference: `tests/reference/lowbit.ts` (dequantize, then a dense matmul in f64).
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { packInt } from "./pack.ts";
 * import { lowbitMatmul } from "./kernel.ts";
 * await initGPU();
 * using w = packInt([1, 2, 3, 4, 0xf, 0xe, 0xd, 0xc], [2, 4], { bits: 4, scales: [1, 0.5] });
 * using x = Tensor.fromArray([[1, 1, 1, 1]]);
 * using bias = Tensor.fromArray([100, 200]);
 * using y = lowbitMatmul(x, w, { bias });
 * console.log(await y.data()); // Float32Array [110, 195]
 * ```
 * @module
 */
import type { Tensor } from "../tensor.ts";
import type { PackedWeight } from "./layout.ts";
import { type LowbitMatmulOptions, planMatmul, run } from "../gemm/plan.ts";

export { planMatmul, run } from "../gemm/plan.ts";
export type { KernelCall, LowbitMatmulOptions } from "../gemm/plan.ts";

/**
 * `y = x · Wᵀ (+ bias)` for a packed weight `W` `[N, K]` and activations `x`
 * `[…, K]` (f32 or f16); returns `[…, N]` (f32 unless `outDtype`).
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { packBinary } from "./pack.ts";
 * import { lowbitMatmul } from "./kernel.ts";
 * await initGPU();
 * using w = packBinary([0, 1, 0, 0], [2, 2], { scales: [1, 2] });
 * using x = Tensor.fromArray([[3, 1]], undefined, "f16");
 * using y = lowbitMatmul(x, w);
 * console.log(await y.data()); // Float32Array [2, 8]
 * ```
 */
export function lowbitMatmul(
  x: Tensor,
  w: PackedWeight,
  opts: LowbitMatmulOptions = {},
): Tensor {
  return run(planMatmul(x, w, opts));
}
