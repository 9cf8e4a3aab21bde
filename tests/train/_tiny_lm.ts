/**
 * A tiny differentiable byte language model for the trainer's tests, built
 * only from ops with recorded gradients (matmul, tanh, add):
 * logits = tanh(onehot(ids) · E) · Wᵀ + b, E [256, d], W [256, d], b [256].
 * It predicts the next byte from the current one (a bigram model with a
 * bottleneck) — enough for the loss to fall within a few dozen steps.
 * @module
 */
import { Tensor } from "../../kernels/tensor.ts";
import { unary } from "../../kernels/ops/elementwise.ts";
import { linear, matmul } from "../../kernels/ops/matmul.ts";
import type { TrainableModel } from "../../train/trainer.ts";

/** The model; `dispose` frees its weights. */
export interface TinyLm extends TrainableModel, Disposable {
  dispose(): void;
}

/** A tiny byte LM with hidden size `d`, weights N(0, 0.5²) from `seed`, bias 0. */
export function tinyLm(d = 16, seed = 1): TinyLm {
  const V = 256;
  const params = new Map<string, Tensor>([
    ["embed", Tensor.randn([V, d], { seed, std: 0.5 })],
    ["head", Tensor.randn([V, d], { seed: seed + 1, std: 0.5 })],
    ["bias", Tensor.zeros([V])],
  ]);
  const dispose = () => {
    for (const t of params.values()) t.dispose();
  };
  return {
    parameters: () => params,
    forward(ids: Int32Array, { batch }: { batch: number }): Tensor {
      const oh = new Float32Array(ids.length * V);
      ids.forEach((id, i) => (oh[i * V + id] = 1));
      using x = Tensor.fromArray(oh, [ids.length, V]);
      using h0 = matmul(x, params.get("embed")!);
      using h = unary("tanh", h0);
      using y = linear(h, params.get("head")!, params.get("bias")!);
      return y.reshape([batch, ids.length / batch, V]);
    },
    dispose,
    [Symbol.dispose]: dispose,
  };
}
