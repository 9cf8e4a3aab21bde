/**
 * Differentiable fake quantization through any {@link Quantizer}: the forward
 * is the library's quantize→dequantize pass (the grid of scales a quantizer
 * gives the tensor, then the GPU rounding pass), the backward is the
 * straight-through estimator (Y. Bengio, N. Léonard, A. Courville,
 * "Estimating or Propagating Gradients Through Stochastic Neurons",
 * arXiv:1308.3432, 2013): the rounding is treated as the identity,
 * ∂x̂/∂x := 1; or the clipped STE, ∂x̂/∂x := 1 where lo_g ≤ x ≤ hi_g (the
 * representable range of x's group, bounds included) and 0 elsewhere.
 *
 * The forward runs in two parts because a training step must be synchronous
 * (the tape records while `valueAndGrad`'s function runs) while finding the
 * scales reads statistics back from the GPU: `await quantGrid(q, w)` finds the
 * scales of the current weight (once per optimizer step), and
 * {@link fakeQuantSte} applies them inside the step. Given the grid of the same
 * tensor, its forward equals `fakeQuant(q, w)` of `quant/quantize.ts` bit for
 * bit. NaN in x gives a NaN gradient. The range [lo_g, hi_g] is that of the
 * stored scale: with f16 scales it may end a rounding error short of the
 * group's max |x|, whose clipped-STE gradient is then 0 (it is clipped).
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { valueAndGrad } from "../../kernels/autograd.ts";
 * import { sumAll } from "../../kernels/ops/reduce_all.ts";
 * import { int } from "../quantizer.ts";
 * import { quantGrid } from "../quantize.ts";
 * import { fakeQuantSte } from "./fake_quant.ts";
 * await initGPU();
 * using w = Tensor.fromArray([0.7, -0.2, 0.1]);
 * const grid = await quantGrid(int(3), w);
 * const { value, grads } = valueAndGrad(() => {
 *   using wq = fakeQuantSte(w, grid);
 *   return sumAll(wq);
 * }, { w });
 * console.log(await grads.get("w")!.data()); // Float32Array [1, 1, 1]
 * value.dispose();
 * grads.get("w")!.dispose();
 * ```
 * @module
 */
import { Tensor } from "../../kernels/tensor.ts";
import { customGrad } from "../../kernels/autograd.ts";
import { steGrad } from "../../kernels/quantize/ste_grad.ts";
import { applyGrid, type QuantGrid } from "../quantize.ts";

/** Which straight-through estimator the backward uses. */
export type SteKind = "ste" | "clipped-ste";

/** Options of {@link fakeQuantSte}. */
export interface FakeQuantSteOptions {
  /** "ste" (identity, the default) or "clipped-ste" (zero outside the group's range). */
  grad?: SteKind;
}

/**
 * Fake-quantizes `x` on the scales of `grid` (found by `quantGrid(q, x)` on
 * this tensor's current values) and records the straight-through gradient.
 * `x` must have the grid's shape. Returns a new tensor the caller owns
 * (f32, or f16 for an f16 `x`).
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { valueAndGrad } from "../../kernels/autograd.ts";
 * import { sumAll } from "../../kernels/ops/reduce_all.ts";
 * import { int } from "../quantizer.ts";
 * import { quantGrid } from "../quantize.ts";
 * import { fakeQuantSte } from "./fake_quant.ts";
 * await initGPU();
 * using w = Tensor.fromArray([0.7, -0.2, 0.1]);
 * const grid = await quantGrid(int(3), w); // range ±0.7
 * using x = Tensor.fromArray([0.9, -0.2, 0.1]); // same shape: 0.9 lies outside
 * const { value, grads } = valueAndGrad(() => {
 *   using xq = fakeQuantSte(x, grid, { grad: "clipped-ste" });
 *   return sumAll(xq);
 * }, { x });
 * console.log(await value.item(), await grads.get("x")!.data()); // 0.466552734375 Float32Array [0, 1, 1]
 * value.dispose();
 * grads.get("x")!.dispose();
 * ```
 */
export function fakeQuantSte(
  x: Tensor,
  grid: QuantGrid,
  options: FakeQuantSteOptions = {},
): Tensor {
  const grad = options.grad ?? "ste";
  if (grad !== "ste" && grad !== "clipped-ste") {
    throw new RangeError(`fakeQuantSte: grad must be "ste" or "clipped-ste", got "${grad}"`);
  }
  return customGrad(
    `fakeQuant ${grad}`,
    (x: Tensor) => applyGrid(grid, x),
    (gy, [x]) => {
      const layout = grid.transposed
        ? { groupSize: x.shape[0], columns: true }
        : { groupSize: grid.groupSize };
      if (grad === "ste") return [steGrad(gy, x, layout)];
      using lo = Tensor.fromArray(grid.lo);
      using hi = Tensor.fromArray(grid.hi);
      return [steGrad(gy, x, { ...layout, lo, hi })];
    },
  )(x);
}
