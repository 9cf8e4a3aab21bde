/**
 * PACT: parameterized clipping activation. J. Choi, Z. Wang, S. Venkataramani,
 * P. I.-J. Chuang, V. Srinivasan, K. Gopalakrishnan, "PACT: Parameterized
 * Clipping Activation for Quantized Neural Networks", arXiv:1805.06085, 2018.
 *
 * A learnable clipping level α replaces ReLU, and the clipped activation is
 * quantized to k bits (eq. 1–2):
 *
 *   y = clip(x, 0, α),   y_q = ⌊y · (2^k − 1)/α⌉ · α/(2^k − 1)
 *
 * Gradients, with the straight-through estimator for the rounding (eq. 3):
 *
 *   ∂y_q/∂x = 1 if 0 ≤ x < α, else 0;   ∂y_q/∂α = 1 if x ≥ α, else 0
 *
 * α's gradient is summed over the elements that share it (α is [1]: one per
 * tensor, as in the paper). The paper's L2 regularisation of α belongs to the
 * loss and is not applied here. A NaN element gets a NaN x-gradient and adds
 * nothing to α's. ⌊·⌉ rounds half to even (the GPU's round).
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { valueAndGrad } from "../../kernels/autograd.ts";
 * import { sumAll } from "../../kernels/ops/reduce_all.ts";
 * import { pact } from "./pact.ts";
 * await initGPU();
 * using x = Tensor.fromArray([-1, 0.9, 3, 6]);
 * using alpha = Tensor.fromArray([3]);
 * const { value, grads } = valueAndGrad(() => {
 *   using y = pact(x, alpha, { bits: 2 }); // levels 0, 1, 2, 3
 *   return sumAll(y);
 * }, { x, alpha });
 * const gx = await grads.get("x")!.data(), ga = await grads.get("alpha")!.data();
 * console.log(await value.item(), gx, ga); // 7 Float32Array [0, 1, 0, 0] Float32Array [2]
 * value.dispose();
 * for (const g of grads.values()) g.dispose();
 * ```
 * @module
 */
import { Tensor } from "../../kernels/tensor.ts";
import { customGrad } from "../../kernels/autograd.ts";
import { binary, mul, unary, where } from "../../kernels/ops/elementwise.ts";
import { sumToShape } from "../../kernels/ops/elementwise_grad.ts";

/** Options of {@link pact}. */
export interface PactOptions {
  /** Bits k of the unsigned activation codes (1–16). */
  bits: number;
}

/**
 * PACT: clips `x` to [0, α] and quantizes it to `bits` unsigned levels, with
 * the paper's straight-through gradients for x and α. `alpha` is a positive
 * f32 tensor of shape [1]. Returns a new tensor the caller owns.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { pact } from "./pact.ts";
 * await initGPU();
 * using x = Tensor.fromArray([-0.5, 0.3, 0.6, 2]);
 * using alpha = Tensor.fromArray([1]);
 * using y = pact(x, alpha, { bits: 1 }); // levels 0 and 1
 * console.log(await y.data()); // Float32Array [0, 0, 1, 1]
 * ```
 */
export function pact(x: Tensor, alpha: Tensor, options: PactOptions): Tensor {
  const bits = options.bits;
  if (!Number.isInteger(bits) || bits < 1 || bits > 16) {
    throw new RangeError(`pact: bits must be an integer from 1 to 16, got ${bits}`);
  }
  if (alpha.size !== 1 || alpha.dtype !== x.dtype) {
    throw new RangeError(
      `pact: alpha ${alpha} must hold one value of x's dtype ${x.dtype} (the clipping level)`,
    );
  }
  const levels = 2 ** bits - 1;
  return customGrad(
    "pact",
    (x: Tensor, alpha: Tensor) => {
      using a = alpha.reshape([1]);
      using lo = binary("max", x, 0);
      using y = binary("min", lo, a);
      using s = mul(a, 1 / levels); // step α/(2^k − 1)
      using v = binary("div", y, s);
      using r = unary("round", v);
      return mul(r, s);
    },
    (gy, [x, alpha]) => {
      using a = alpha.reshape([1]);
      using zero = Tensor.zeros([1], gy.dtype);
      using one = Tensor.full([1], 1, gy.dtype);
      using atLeast0 = binary("ge", x, 0);
      using belowA = binary("lt", x, a);
      using inside = binary("mul", atLeast0, belowA);
      using nan = unary("isnan", x);
      using gxIn = where(inside, gy, zero);
      const gx = where(nan, x, gxIn);
      using above = binary("ge", x, a);
      using da = where(above, one, zero);
      using gaElem = mul(gy, da);
      using ga = sumToShape(gaElem, []);
      return [gx, ga.reshape(alpha.shape)];
    },
  )(x, alpha);
}
