/**
 * A Llama-family model as a BitNet b1.58: every decoder projection (q, k, v,
 * o, gate, up, down) becomes a {@link BitLinear}; the embeddings, the RMSNorm
 * gains and the LM head stay in full precision, as in the paper (Ma et al.,
 * arXiv:2402.17764; see `bitlinear.ts` for the layer and its departures).
 *
 * {@link toBitNet} swaps the layers into the model (which then owns them) and
 * returns a trainable view: `parameters()` lists the model's float tensors and
 * every BitLinear's master weight under its HF name, so
 * `train(bitnet, data, options)` trains the network from scratch with the
 * straight-through estimator. {@link packBitNet} replaces each BitLinear by
 * its packed ternary form ({@link PackedBitLinear}) for inference.
 *
 * @example
 * ```ts
 * import { initGPU, randomLlama } from "../../mod.ts";
 * import { packBitNet, toBitNet } from "./bitnet.ts";
 * await initGPU();
 * using model = randomLlama({}, { std: 0.1 });
 * const bitnet = toBitNet(model);
 * console.log(bitnet.layers.size, bitnet.parameters().size); // 7 11
 * await packBitNet(model);
 * console.log(model.getLinear("layers.0.mlp.up_proj").bitsPerWeight); // 2.015625
 * ```
 * @module
 */
import type { Tensor } from "../../kernels/tensor.ts";
import type { LlamaModel } from "../../model/llama.ts";
import { DenseLinear } from "../../model/linear.ts";
import { BitLinear, type BitLinearOptions } from "./bitlinear.ts";

/** A LlamaModel whose projections are BitLinears, as the trainer sees it. */
export interface BitNetModel {
  /** The model (it owns the BitLinears). */
  readonly model: LlamaModel;
  /** The BitLinears by layer name (`layers.0.self_attn.q_proj`, …). */
  readonly layers: Map<string, BitLinear>;
  /** The float parameters and every BitLinear's master weight, by HF name. */
  parameters(): Map<string, Tensor>;
  /** The model's forward (logits `[batch, seq, vocab]`). */
  forward(ids: Int32Array, options: { batch: number }): Tensor;
}

/**
 * Replaces every dense decoder projection of `model` by a BitLinear made
 * from its weight (copied; the dense layer is disposed). Biased projections
 * are refused (BitNet has none).
 *
 * @example
 * ```ts
 * import { initGPU, randomLlama } from "../../mod.ts";
 * import { toBitNet } from "./bitnet.ts";
 * await initGPU();
 * using model = randomLlama({}, { std: 0.1 });
 * const bitnet = toBitNet(model, { scale: "absmedian" });
 * console.log(String(bitnet.layers.get("layers.0.self_attn.q_proj"))); // BitLinear(32 → 32, absmedian, A8)
 * ```
 */
export function toBitNet(model: LlamaModel, options: BitLinearOptions = {}): BitNetModel {
  const dense = [...model.linears()];
  for (const [name, lin] of dense) {
    if (!(lin instanceof DenseLinear)) {
      throw new TypeError(`toBitNet: ${name} is ${lin}, not a DenseLinear; convert a float model`);
    }
    if (lin.bias) {
      throw new RangeError(`toBitNet: ${name} has a bias; BitNet projections have none`);
    }
  }
  const layers = new Map<string, BitLinear>();
  const edit = model.beginEdit();
  try {
    for (const [name, lin] of dense) {
      const bit = BitLinear.create((lin as DenseLinear).weight, options);
      layers.set(name, bit);
      model.setLinear(name, bit);
    }
    edit.commit();
  } catch (e) {
    edit.rollback();
    throw e;
  }
  return {
    model,
    layers,
    parameters() {
      const out = model.parameters();
      for (const [name, bit] of layers) out.set(`model.${name}.weight`, bit.weight);
      return out;
    },
    forward: (ids, o) => model.forward(ids, o),
  };
}

/**
 * Replaces every BitLinear of `model` by its packed ternary form (the
 * BitLinear is disposed). Returns the number of layers packed.
 *
 * @example
 * ```ts
 * import { initGPU, randomLlama } from "../../mod.ts";
 * import { packBitNet, toBitNet } from "./bitnet.ts";
 * await initGPU();
 * using model = randomLlama({}, { std: 0.1 });
 * toBitNet(model);
 * console.log(await packBitNet(model)); // 7
 * ```
 */
export async function packBitNet(model: LlamaModel): Promise<number> {
  let n = 0;
  for (const [name, lin] of model.linears()) {
    if (!(lin instanceof BitLinear)) continue;
    model.setLinear(name, await lin.pack());
    n++;
  }
  return n;
}
