/**
 * OneBit's knowledge distillation (Y. Xu et al., "OneBit: Towards Extremely
 * Low-bit Large Language Models", NeurIPS 2024, arXiv:2402.11295, §3.4):
 * the float model is the teacher, the student is the same model with every
 * linear layer (but lm_head) replaced by a {@link OneBitLinear} initialised
 * by SVID. Per batch of token windows:
 *
 *   L_CE  = −1/n · Σ_t Σ_c P_T(c | t) · log P_S(c | t)          (soft labels)
 *   L_MSE = 1/n · Σ_t Σ_l ‖ h_T,l,t/‖h_T,l,t‖ − h_S,l,t/‖h_S,l,t‖ ‖²  (every layer's output)
 *   L_KD  = L_CE + α · L_MSE
 *
 * and an AdamW step on the latent weights, a and b of every 1-bit layer
 * (n tokens, l over decoder layers, h the residual stream after layer l).
 *
 * Departures: only the 1-bit layers' parameters train (embeddings, norms and
 * lm_head stay as the teacher's); a constant learning rate, no weight decay
 * (decay would pull the latent weights, hence the signs, towards 0); byte
 * windows of a corpus instead of the paper's self-generated data.
 *
 * @example
 * ```ts
 * import { initGPU, randomLlama } from "../../mod.ts";
 * import { distillOneBit, oneBitStudent } from "./onebit_distill.ts";
 * await initGPU();
 * const config = { num_hidden_layers: 1 };
 * using teacher = randomLlama(config);
 * using student = randomLlama(config); // the same weights
 * await oneBitStudent(student);
 * const corpus = new Uint8Array(200).map((_, i) => (i * 7) % 16);
 * const r = await distillOneBit(teacher, student, corpus, { steps: 2, batch: 1, seqLen: 8 });
 * console.log(r.losses.length); // 2
 * ```
 * @module
 */
import { Tensor } from "../../kernels/tensor.ts";
import { noGrad, valueAndGrad } from "../../kernels/autograd.ts";
import { add, div, mul, sub } from "../../kernels/ops/elementwise.ts";
import { norm2 } from "../../kernels/ops/reduce.ts";
import { sumAll } from "../../kernels/ops/reduce_all.ts";
import { logSoftmax, softmax } from "../../kernels/ops/softmax.ts";
import type { LlamaModel } from "../../model/llama.ts";
import { AdamW } from "../../train/optim/adamw.ts";
import { randomWindows } from "../../train/data.ts";
import type { QuantReport } from "../report.ts";
import { meanBitsPerWeight } from "../report.ts";
import { OneBitLinear } from "./onebit_linear.ts";

/**
 * Replaces every linear layer of `model` but lm_head (and those in `skip`) by
 * a {@link OneBitLinear} initialised by SVID from its weight; returns the
 * names replaced.
 */
export async function oneBitStudent(
  model: LlamaModel,
  options: { skip?: string[] } = {},
): Promise<string[]> {
  const done: string[] = [];
  for (const [name, lin] of model.linears()) {
    if (options.skip?.includes(name)) continue;
    const w = (lin as { weight?: Tensor }).weight;
    if (!(w instanceof Tensor)) {
      throw new TypeError(
        `oneBitStudent: layer ${name} (${lin}) has no float weight to start from`,
      );
    }
    const bias = (lin as { bias?: Tensor }).bias;
    model.setLinear(name, await OneBitLinear.create(w, { bias }));
    done.push(name);
  }
  return done;
}

/** The trainable parameters of every {@link OneBitLinear} of `model`, as "<layer>.<param>". */
export function oneBitParameters(model: LlamaModel): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const [name, lin] of model.linears()) {
    if (!(lin instanceof OneBitLinear)) continue;
    for (const [p, t] of lin.parameters()) out.set(`${name}.${p}`, t);
  }
  if (out.size === 0) {
    throw new RangeError(
      "oneBitParameters: the model has no OneBitLinear; call oneBitStudent first",
    );
  }
  return out;
}

/**
 * Replaces every {@link OneBitLinear} of `model` by its exported
 * `QuantLinear` (sign bits, f16 a and b; fake-quant values, or `packed`)
 * and reports like `quantizeModel`.
 */
export async function exportOneBit(
  model: LlamaModel,
  options: { packed?: boolean } = {},
): Promise<QuantReport> {
  const layers: QuantReport["layers"] = [];
  for (const [name, lin] of model.linears()) {
    if (!(lin instanceof OneBitLinear)) continue;
    const q = await lin.toQuantLinear(options);
    // the float weight is the teacher's: the SQNR is not measured here (NaN)
    layers.push({
      name,
      out: lin.outFeatures,
      in: lin.inFeatures,
      bitsPerWeight: q.bitsPerWeight,
      sqnrDb: NaN,
    });
    model.setLinear(name, q);
  }
  return { method: "onebit+kd", layers, bitsPerWeight: meanBitsPerWeight(layers) };
}

/** Options of {@link distillOneBit}. */
export interface DistillOptions {
  /** Optimizer steps. */
  steps: number;
  /** Windows per batch. Default 4. */
  batch?: number;
  /** Tokens per window. Default 128. */
  seqLen?: number;
  /** Seed of the window draw. Default 0. */
  seed?: number;
  /** AdamW learning rate. Default 1e-3. */
  lr?: number;
  /** Weight α of the hidden-state loss. Default 1. */
  alpha?: number;
  /** Called after each step. */
  onStep?: (step: number, loss: { total: number; ce: number; mse: number }) => void;
}

/**
 * Trains `student` (made by {@link oneBitStudent}) to match `teacher` by
 * L_KD = L_CE + α·L_MSE (module doc) on random windows of `corpus` (bytes).
 * Returns the loss of every step. The teacher is not modified.
 */
export async function distillOneBit(
  teacher: LlamaModel,
  student: LlamaModel,
  corpus: Uint8Array,
  options: DistillOptions,
): Promise<{ losses: number[]; ce: number[]; mse: number[] }> {
  const { steps, batch = 4, seqLen = 128, seed = 0, lr = 1e-3, alpha = 1 } = options;
  if (!Number.isInteger(steps) || steps < 0) {
    throw new RangeError(`distillOneBit: steps is ${steps}; it must be an integer ≥ 0`);
  }
  if (teacher.numLayers !== student.numLayers) {
    throw new RangeError(
      `distillOneBit: the teacher has ${teacher.numLayers} layers, the student ` +
        `${student.numLayers}; the student must be the teacher's architecture`,
    );
  }
  const params = oneBitParameters(student);
  const opt = new AdamW({ weightDecay: 0 });
  const data = randomWindows(corpus, { batch, seqLen, seed });
  const losses: number[] = [], ceList: number[] = [], mseList: number[] = [];
  const tokens = batch * seqLen;
  const unit = (h: Tensor) => {
    using n = norm2(h, -1, { keepDims: true });
    return div(h, n);
  };
  for (let step = 0; step < steps; step++) {
    const b = data.next();
    // teacher: soft labels and normalised hidden states, no gradients
    const { probs, hidden } = noGrad(() => {
      const hidden: Tensor[] = [];
      let h = teacher.embed(b.inputs);
      for (let i = 0; i < teacher.numLayers; i++) {
        const next = teacher.layerForward(i, h, batch, seqLen);
        h.dispose();
        h = next;
        hidden.push(unit(h));
      }
      using logits = teacher.head(h, batch, seqLen);
      h.dispose();
      return { probs: softmax(logits), hidden };
    });
    let pending: Tensor[] = [];
    try {
      const { value, grads } = valueAndGrad(() => {
        let h = student.embed(b.inputs);
        let lossMse: Tensor | undefined;
        for (let i = 0; i < student.numLayers; i++) {
          const next = student.layerForward(i, h, batch, seqLen);
          h.dispose();
          h = next;
          using u = unit(h);
          using d = sub(u, hidden[i]);
          using d2 = mul(d, d);
          const s = sumAll(d2);
          if (lossMse) {
            using prev = lossMse;
            using _s = s;
            lossMse = add(prev, s);
          } else lossMse = s;
        }
        using logits = student.head(h, batch, seqLen);
        h.dispose();
        using logp = logSoftmax(logits);
        using pl = mul(probs, logp);
        using ceSum = sumAll(pl);
        using ceMean = mul(ceSum, -1 / tokens);
        using mseSum = lossMse!;
        using mseMean = mul(mseSum, alpha / tokens);
        pending = [ceMean.share(), mseMean.share()];
        return add(ceMean, mseMean);
      }, params);
      const total = await value.item();
      value.dispose();
      const ce = await pending[0].item();
      const mse = await pending[1].item() / alpha;
      if (!Number.isFinite(total)) {
        for (const g of grads.values()) g.dispose();
        throw new RangeError(
          `distillOneBit: the loss is ${total} at step ${step}; lower the learning rate (${lr})`,
        );
      }
      opt.step(params, grads, lr);
      for (const g of grads.values()) g.dispose();
      losses.push(total);
      ceList.push(ce);
      mseList.push(mse);
      options.onStep?.(step, { total, ce, mse });
    } finally {
      for (const t of pending) t.dispose();
      probs.dispose();
      for (const t of hidden) t.dispose();
    }
  }
  return { losses, ce: ceList, mse: mseList };
}
