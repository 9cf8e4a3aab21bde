/**
 * The GPTQ Hessian proxy of a linear layer's inputs, H = 2/n · Σ XᵀX over
 * every calibration token (the Hessian of the layer-wise squared error
 * ‖WX − ŴX‖² with respect to a row of W), accumulated on the GPU.
 *
 * Each batch `[tokens, K]` adds XᵀX into one running `[K, K]` f32 sum in
 * place (`gemm` with Aᵀ and β = 1, `kernels/ops/matmul.ts`); `finish()`
 * scales it by 2/n once. The reference GPTQ code keeps a running average
 * instead (H ← H·n/(n+t) + 2/(n+t)·XᵀX); in floating point both have the same
 * relative rounding per added term, and this way no [K, K] pass is spent per
 * batch. NaN/±Inf in a batch make `finish()` throw a {@link NonFiniteError}
 * naming the channel and batch (tracked on the GPU from per-channel sums).
 *
 * Reference: E. Frantar, S. Ashkboos, T. Hoefler, D. Alistarh, "GPTQ: Accurate
 * Post-Training Quantization for Generative Pre-trained Transformers", ICLR
 * 2023 (§3, H_F = 2·X_F·X_Fᵀ; `add_batch` in the authors' code).
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { HessianObserver } from "./hessian.ts";
 * await initGPU();
 * const h = new HessianObserver("layers.0.mlp.down_proj");
 * using a = Tensor.fromArray([[1, 2]]);
 * using b = Tensor.fromArray([[3, 0], [0, 1]]);
 * h.observe(a);
 * h.observe(b);
 * using H = await h.finish(); // 2/3 · [[1+9, 2], [2, 4+1]]
 * console.log(h.tokens, H.shape, await H.data()); // 3 [2, 2] Float32Array [6.67, 1.33, 1.33, 3.33]
 * ```
 * @module
 */
import { Tensor } from "../../kernels/tensor.ts";
import { mul } from "../../kernels/ops/elementwise.ts";
import { gemm } from "../../kernels/ops/matmul.ts";
import { sum as reduceSum } from "../../kernels/ops/reduce.ts";
import { BatchObserver, NonFiniteTracker } from "./observer.ts";

export { NonFiniteError } from "./observer.ts";

/**
 * Accumulates H = 2/n·Σ XᵀX of a layer's input batches `[tokens, K]` (or
 * `[..., K]`) on the GPU. `finish()` returns a new `[K, K]` f32 tensor that
 * the caller owns (dispose it).
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { HessianObserver } from "./hessian.ts";
 * await initGPU();
 * const h = new HessianObserver("q_proj");
 * using x = Tensor.fromArray([[1, 0, 2], [0, 1, 0]]);
 * h.observe(x);
 * using H = await h.finish();
 * console.log(H.shape, (await H.data())[0]); // [3, 3] 1
 * ```
 */
export class HessianObserver extends BatchObserver<Tensor> {
  #sum?: Tensor;
  #bad = new NonFiniteTracker();

  /** Adds XᵀX of one batch into the running sum. */
  protected accumulate(x: Tensor, batch: number): void {
    const [t, k] = x.shape;
    using colSum = reduceSum(x, 0);
    this.#bad.track(colSum, batch);
    this.#sum ??= Tensor.zeros([k, k]);
    gemm({
      a: { buffer: x.buffer, offset: 0, ld: k, trans: true }, // Xᵀ: X stored [t, k]
      b: { buffer: x.buffer, offset: 0, ld: k },
      c: { buffer: this.#sum.buffer, offset: 0, ld: k },
      M: k,
      N: k,
      K: t,
      accumulate: true,
    });
  }

  /** 2/n · the sum, as a new tensor. */
  protected async result(): Promise<Tensor> {
    await this.#bad.check(this.layer, this.batchStarts, this.tokens);
    const h = mul(this.#sum!, 2 / this.tokens);
    h.name = `H(${this.layer})`;
    return h;
  }

  /** Frees the running sum. */
  protected override release(): void {
    this.#sum?.dispose();
    this.#bad.dispose();
  }
}
