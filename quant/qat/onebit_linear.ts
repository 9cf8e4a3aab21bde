/**
 * OneBit's trainable 1-bit linear layer (Y. Xu et al., "OneBit: Towards
 * Extremely Low-bit Large Language Models", NeurIPS 2024, arXiv:2402.11295,
 * §3.2, Eq. 5–6):
 *
 *   y = ((x ⊙ b) · sign(W)ᵀ) ⊙ a  (+ bias)
 *
 * with a latent f32 weight W whose sign is the 1-bit matrix, and the value
 * vectors a `[out]`, b `[in]`, all three trained. sign has the
 * straight-through gradient ∂sign(w)/∂w := 1 ({@link signSte}); a and b get
 * their exact gradients. The layer starts from SVID (`quant/methods/onebit.ts`):
 * W = the float weight, a·bᵀ = the rank-1 fit of |W|.
 *
 * Departures: a and b train in f32 and are rounded to f16 when the layer is
 * exported ({@link OneBitLinear.toQuantLinear}); the export runs on the packed
 * binary kernel (sign bits with scales a, input scales b).
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { OneBitLinear } from "./onebit_linear.ts";
 * await initGPU();
 * using w = Tensor.fromArray([[2, -4], [-1, 2]]);
 * using layer = await OneBitLinear.create(w);
 * using y = layer.forward(Tensor.fromArray([[1, 0]]));
 * console.log([...layer.parameters().keys()], Array.from(await y.data(), (v) => v.toFixed(2))); // [ "weight", "a", "b" ] [ "2.00", "-1.00" ]
 * ```
 * @module
 */
import { f32Copy, ParamSet } from "./_param_set.ts";
import { Tensor } from "../../kernels/tensor.ts";
import { customGrad } from "../../kernels/autograd.ts";
import { linear } from "../../kernels/ops/matmul.ts";
import { add, mul, sub, unary } from "../../kernels/ops/elementwise.ts";
import type { Linear } from "../../model/linear.ts";
import type { QuantLinear } from "../linear.ts";
import { oneBitBits, oneBitLayer, signCodes, svid } from "../methods/onebit.ts";

/**
 * sign(x) with sign(0) = +1 (the binary format's rule) and the
 * straight-through gradient ∂/∂x := 1. NaN in x gives NaN out and a NaN
 * gradient.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { valueAndGrad } from "../../kernels/autograd.ts";
 * import { sumAll } from "../../kernels/ops/reduce_all.ts";
 * import { signSte } from "./onebit_linear.ts";
 * await initGPU();
 * using x = Tensor.fromArray([-0.5, 0, 2]);
 * const { value, grads } = valueAndGrad(() => {
 *   using s = signSte(x);
 *   return sumAll(s);
 * }, { x });
 * console.log(await value.item(), await grads.get("x")!.data()); // 1 Float32Array [1, 1, 1]
 * value.dispose();
 * grads.get("x")!.dispose();
 * ```
 */
export const signSte: (x: Tensor) => Tensor = customGrad(
  "sign-ste",
  (x: Tensor) => {
    using s = unary("sign", x);
    using m = unary("abs", s);
    using d = sub(s, m); // −2 for x < 0, 0 for x ≥ 0
    using nan = mul(x, 0); // 0, or NaN where x is NaN/Inf
    using e = add(d, nan);
    return add(e, 1);
  },
  (gy, [x]) => {
    using nan = mul(x, 0);
    return [add(gy, nan)];
  },
);

/** Options of {@link OneBitLinear.create}. */
export interface OneBitLinearOptions {
  /** A bias `[out]` (copied; trained with the layer). */
  bias?: Tensor;
}

/** A `Linear` computing with diag(a)·sign(W)·diag(b), all trainable (see the module doc). */
export class OneBitLinear implements Linear {
  readonly #params = new ParamSet("OneBitLinear");

  private constructor() {}

  /**
   * A layer initialised by SVID from the float `weight` `[out, in]` (not kept
   * or modified): latent weight = an f32 copy, a·bᵀ = the rank-1 fit of |W|.
   */
  static async create(weight: Tensor, options: OneBitLinearOptions = {}): Promise<OneBitLinear> {
    if (weight.rank !== 2 || (weight.dtype !== "f32" && weight.dtype !== "f16")) {
      throw new RangeError(`OneBitLinear: weight ${weight} must be a 2-D f32/f16 [out, in]`);
    }
    const [out, inF] = weight.shape;
    const { bias } = options;
    if (bias && (bias.rank !== 1 || bias.shape[0] !== out)) {
      throw new RangeError(`OneBitLinear: bias ${bias} must have shape [${out}]`);
    }
    const layer = new OneBitLinear();
    try {
      const w = f32Copy(weight);
      layer.#params.set("weight", w);
      const { a, b } = svid(await w.data() as Float32Array, out, inF, { name: "OneBitLinear" });
      layer.#params.set("a", Tensor.fromArray(a));
      layer.#params.set("b", Tensor.fromArray(b));
      if (bias) layer.#params.set("bias", f32Copy(bias));
      return layer;
    } catch (e) {
      layer.dispose();
      throw e;
    }
  }

  /** Input features. */
  get inFeatures(): number {
    return this.#param("weight").shape[1];
  }

  /** Output features. */
  get outFeatures(): number {
    return this.#param("weight").shape[0];
  }

  /** Storage bits per weight once exported: 1 + 16·(in + out)/(in·out). */
  get bitsPerWeight(): number {
    return oneBitBits(this.outFeatures, this.inFeatures);
  }

  /** The trainable tensors: "weight" (latent), "a", "b", and "bias" if any; owned by the layer. */
  parameters(): Map<string, Tensor> {
    this.#params.check();
    return this.#params.all();
  }

  /** `[tokens, in]` → `[tokens, out]`: ((x ⊙ b) · sign(W)ᵀ) ⊙ a (+ bias), recorded for gradients. */
  forward(x: Tensor): Tensor {
    using s = signSte(this.#param("weight"));
    using xb = mul(x, this.#param("b"));
    using z = linear(xb, s);
    const bias = this.#params.optional("bias");
    if (!bias) return mul(z, this.#param("a"));
    using y = mul(z, this.#param("a"));
    return add(y, bias);
  }

  /**
   * The trained layer as a {@link QuantLinear}: sign bits of the latent
   * weight, a and b rounded to f16; fake-quant values, or `packed` (the binary
   * kernel). Saves and loads with `saveQuantized`.
   */
  async toQuantLinear(options: { packed?: boolean } = {}): Promise<QuantLinear> {
    this.#params.check();
    const f16 = async (t: Tensor) =>
      Float32Array.from(Float16Array.from(await t.data() as Float32Array));
    const w = await this.#param("weight").data() as Float32Array;
    for (let i = 0; i < w.length; i++) {
      if (Number.isNaN(w[i])) {
        throw new RangeError(
          `OneBitLinear.toQuantLinear: latent weight element [${
            Math.floor(i / this.inFeatures)
          }, ` +
            `${i % this.inFeatures}] is NaN; the training diverged (lower the learning rate)`,
        );
      }
    }
    const bias = this.#params.optional("bias");
    return oneBitLayer(
      {
        outFeatures: this.outFeatures,
        inFeatures: this.inFeatures,
        bias, // shared as a view
      },
      { signs: signCodes(w), a: await f16(this.#param("a")), b: await f16(this.#param("b")) },
      options,
    );
  }

  #param(name: string): Tensor {
    return this.#params.get(name);
  }

  /** Frees the parameters (safe to call twice). */
  dispose(): void {
    this.#params.dispose();
  }

  /** Same as `dispose()`, for `using`. */
  [Symbol.dispose](): void {
    this.dispose();
  }
}
