/**
 * Gradient clipping by total L2 norm, as `torch.nn.utils.clip_grad_norm_`:
 *
 *   norm = ‖(‖g₁‖, ‖g₂‖, …)‖₂,  coef = min(maxNorm / (norm + 1e-6), 1),  gₖ ← coef·gₖ
 *
 * Each gradient's norm is one GPU reduction; the total and the coefficient
 * stay on the GPU, the gradients are scaled in place, and the norm is read
 * back once. A NaN or Inf gradient gives a NaN/Inf norm and, as in torch
 * (without `error_if_nonfinite`), a NaN coefficient that turns every gradient
 * NaN; check the returned norm to skip such a step.
 *
 * Reference: `tests/reference/optim.ts`.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { clipGradNorm } from "./clip.ts";
 * await initGPU();
 * using a = Tensor.fromArray([3, 0]);
 * using b = Tensor.fromArray([[4]]);
 * const norm = await clipGradNorm(new Map([["a", a], ["b", b]]), 1);
 * console.log(norm, await a.data()); // 5 Float32Array [0.5999999046325684, 0]
 * ```
 * @module
 */
import { copy } from "../../kernels/runtime.ts";
import { Tensor } from "../../kernels/tensor.ts";
import { reduceAll } from "../../kernels/ops/reduce_all.ts";
import { clipCoefficient, scaleInPlace } from "../../kernels/optim/clip_scale.ts";

/**
 * Scales every gradient in place so that their total L2 norm is at most
 * `maxNorm`, and returns the total norm before clipping (0 for no gradients).
 * Gradients are f32 tensors, as a map (names as the parameters') or any iterable.
 */
export async function clipGradNorm(
  grads: ReadonlyMap<string, Tensor> | Iterable<Tensor>,
  maxNorm: number,
): Promise<number> {
  const op = "clipGradNorm";
  if (!(typeof maxNorm === "number" && maxNorm >= 0)) {
    throw new RangeError(`${op}: maxNorm is ${maxNorm}; it must be a number ≥ 0`);
  }
  const list = [...(grads instanceof Map ? grads.values() : grads as Iterable<Tensor>)]
    .filter((g) => g.size > 0);
  for (const g of list) {
    if (g.dtype !== "f32") {
      throw new TypeError(
        `${op}: ${g.toString()} is ${g.dtype}; gradients must be f32 (cast(g, "f32"))`,
      );
    }
  }
  if (list.length === 0) return 0;
  using norms = Tensor.empty([list.length]);
  list.forEach((g, k) => {
    using n = reduceAll("norm2", g);
    copy(n.buffer, 0, norms.buffer, 4 * k, 4);
  });
  using c = clipCoefficient(norms, maxNorm);
  for (const g of list) scaleInPlace(g, c, 1);
  return (await c.data())[0];
}
