/**
 * The one interface through which a model runs its projections: a
 * {@link Linear} maps `[tokens, in]` to `[tokens, out]`. {@link DenseLinear}
 * holds a float weight `[out, in]` (PyTorch's layout) and an optional bias;
 * quantized layers (fake-quantized dense weights, or packed low-bit codes
 * running the low-bit kernels) implement the same interface and replace a
 * dense one with `model.setLinear(name, linear)`.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../mod.ts";
 * import { DenseLinear } from "./linear.ts";
 * await initGPU();
 * using lin = new DenseLinear(Tensor.fromArray([[1, 0], [0, 2], [1, 1]])); // out 3, in 2
 * using x = Tensor.fromArray([[3, 4]]);
 * using y = lin.forward(x);
 * console.log(lin.inFeatures, lin.outFeatures, await y.data()); // 2 3 Float32Array [3, 8, 7]
 * ```
 * @module
 */
import type { Tensor } from "../kernels/tensor.ts";
import { linear } from "../kernels/ops/matmul.ts";

/**
 * A linear layer `y = x·Wᵀ (+ b)` as the model sees it. Implementations:
 * {@link DenseLinear} here; quantized ones in `quant/`.
 *
 * Contract:
 * - `forward` takes `[tokens, inFeatures]` in the model's activation dtype
 *   (f32 or f16) and returns a new `[tokens, outFeatures]` tensor of the same
 *   dtype, owned by the caller. It never disposes its input.
 * - `dispose` frees what the layer owns (safe to call twice).
 */
export interface Linear {
  /** Input features (columns of the weight). */
  readonly inFeatures: number;
  /** Output features (rows of the weight). */
  readonly outFeatures: number;
  /** Storage bits per weight element (32 for f32 dense, 16 for f16, e.g. 4.25 for int4 g128). */
  readonly bitsPerWeight?: number;
  /** `[tokens, in]` → `[tokens, out]`, a new tensor the caller owns. */
  forward(x: Tensor): Tensor;
  /** Frees the layer's tensors. */
  dispose(): void;
}

/**
 * A dense float linear layer: weight `[out, in]` (f32 or f16) and an optional
 * bias `[out]` of the same dtype. Takes ownership of both tensors.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../mod.ts";
 * import { DenseLinear } from "./linear.ts";
 * await initGPU();
 * using lin = new DenseLinear(Tensor.fromArray([[1, 2]]), Tensor.fromArray([10]));
 * using x = Tensor.fromArray([[1, 1], [2, 0]]);
 * using y = lin.forward(x);
 * console.log(lin.bitsPerWeight, await y.data()); // 32 Float32Array [13, 12]
 * ```
 */
export class DenseLinear implements Linear {
  /** The weight `[out, in]`. */
  readonly weight: Tensor;
  /** The bias `[out]`, if any. */
  readonly bias?: Tensor;

  /**
   * Wraps a weight (and bias); checks their shapes and dtypes.
   *
   * @param weight `[out, in]`, f32 or f16 (owned from now on)
   * @param bias `[out]`, the weight's dtype (owned from now on)
   */
  constructor(weight: Tensor, bias?: Tensor) {
    if (weight.rank !== 2) {
      throw new RangeError(`DenseLinear: weight ${weight} must be 2-D [out, in]`);
    }
    if (weight.dtype !== "f32" && weight.dtype !== "f16") {
      throw new TypeError(`DenseLinear: weight ${weight} must be f32 or f16`);
    }
    if (bias && (bias.rank !== 1 || bias.shape[0] !== weight.shape[0])) {
      throw new RangeError(
        `DenseLinear: bias ${bias} must have shape [${weight.shape[0]}] (the weight's rows)`,
      );
    }
    if (bias && bias.dtype !== weight.dtype) {
      throw new TypeError(`DenseLinear: bias ${bias} must have the weight's dtype ${weight.dtype}`);
    }
    this.weight = weight;
    this.bias = bias;
  }

  /** Input features. */
  get inFeatures(): number {
    return this.weight.shape[1];
  }

  /** Output features. */
  get outFeatures(): number {
    return this.weight.shape[0];
  }

  /** 32 for f32 weights, 16 for f16. */
  get bitsPerWeight(): number {
    return this.weight.dtype === "f16" ? 16 : 32;
  }

  /**
   * `x·Wᵀ + b` for `x` of shape `[tokens, in]` (any leading dimensions work).
   *
   * @example
   * ```ts
   * import { initGPU, Tensor } from "../mod.ts";
   * import { DenseLinear } from "./linear.ts";
   * await initGPU();
   * using lin = new DenseLinear(Tensor.fromArray([[0, 1], [1, 0]]));
   * using x = Tensor.fromArray([[5, 6]]);
   * using y = lin.forward(x);
   * console.log(await y.data()); // Float32Array [6, 5]
   * ```
   */
  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias);
  }

  /** Frees the weight and bias. */
  dispose(): void {
    this.weight.dispose();
    this.bias?.dispose();
  }

  /** Disposes at the end of a `using` scope. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  /** `DenseLinear(in → out, f32)`. */
  toString(): string {
    return `DenseLinear(${this.inFeatures} → ${this.outFeatures}, ${this.weight.dtype}${
      this.bias ? ", bias" : ""
    })`;
  }
}
