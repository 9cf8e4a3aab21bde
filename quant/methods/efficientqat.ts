/**
 * EfficientQAT. M. Chen, W. Shao, P. Xu, J. Wang, P. Gao, K. Zhang, P. Luo,
 * "EfficientQAT: Efficient Quantization-Aware Training for Large Language
 * Models", arXiv:2407.11670 (ACL 2025).
 *
 * Two stages, on uniform asymmetric group quantization (step s and zero
 * point z per group; quantizer and gradients in `quant/qat/efficientqat_linear.ts`):
 *
 *   Stage 1, Block-AP (block-wise training of all parameters):
 *     X_fp ← X_q ← embeddings of the calibration windows
 *     for each decoder block i:
 *       Y_fp ← block_i(X_fp)                      (the float block on float inputs)
 *       s, z ← a min-max (or the quantizer's range) initialisation per group
 *       for t = 1 … T₁ (AdamW, cosine learning rates, weight decay 0):
 *         minimise ‖block_i(X_q; Ŵ(W, s, z)) − Y_fp‖² over W, s, z
 *       freeze: q ← clamp(⌊W/s⌉ + ⌊z⌉, 0, 2^b − 1)
 *       X_q ← block_i(X_q) (now quantized),  X_fp ← Y_fp
 *   Stage 2, E2E-QP (end-to-end training of the quantization parameters):
 *     for t = 1 … T₂: minimise the language-model loss over the steps s only,
 *     with the codes q and zero points z fixed (Ŵ = (q − z)·s).
 *   Result: the codes with the learned steps, packed (a `QuantizedWeight`).
 *
 * The inputs of block i are the outputs of the already-quantized blocks
 * before it, and its target is the float model's output of block i on float
 * inputs (as the authors' code does). Each block trains the weights and
 * quantization parameters of its seven linears; its RMSNorm weights stay
 * fixed.
 *
 * Departures (declared): E2E-QP trains on the same calibration windows as
 * Block-AP (the paper uses a separate, larger corpus); the step counts,
 * learning rates and full-batch steps are ours, sized for a tiny model on a
 * slow GPU (the paper: 2 epochs of 4096 × 2048-token samples per block, batch 2,
 * lr 1e-4 for s, z and 2e-5 for W, then 1 epoch of E2E-QP); zero points are
 * clamped to the code range so they store in b bits; learned steps are
 * rounded to f16 when the quantizer stores f16 scales.
 *
 * @example
 * ```ts
 * import { calibrationSequences, initGPU, int } from "../../mod.ts";
 * import { randomLlama } from "../../model/random_llama.ts";
 * import { efficientQat } from "./efficientqat.ts";
 * await initGPU();
 * using model = randomLlama({ hidden_size: 32, intermediate_size: 64, num_hidden_layers: 1, num_attention_heads: 2, num_key_value_heads: 1, vocab_size: 256, max_position_embeddings: 64 });
 * const seqs = calibrationSequences("the quick brown fox jumps over the lazy dog ".repeat(4), { n: 2, seqLen: 8 });
 * const r = await efficientQat(model, seqs, { weight: int(2, { group: 16, symmetric: false }), blockSteps: 2, e2eSteps: 1 });
 * console.log(r.layers.length, r.details.e2eLoss.length); // 7 1
 * ```
 * @module
 */
import type { Tensor } from "../../kernels/tensor.ts";
import { noGrad, valueAndGrad } from "../../kernels/autograd.ts";
import { mul, sub } from "../../kernels/ops/elementwise.ts";
import { meanAll } from "../../kernels/ops/reduce_all.ts";
import { crossEntropy } from "../../kernels/ops/cross_entropy.ts";
import { contiguous } from "../../kernels/ops/layout.ts";
import { AdamW } from "../../train/optim/adamw.ts";
import { LAYER_LINEARS, type LlamaModel } from "../../model/llama.ts";
import { checkSequences } from "../../model/capture.ts";
import { BlockApLinear, E2eQpLinear } from "../qat/efficientqat_linear.ts";
import type { ModelMethod } from "../model.ts";
import { elementFormat, type Quantizer } from "../quantizer.ts";
import { quantizePass } from "../quantize.ts";
import { quantError } from "../metrics.ts";
import { denseWeight } from "./_sites.ts";
import { meanBitsPerWeight, type QuantReport } from "./rtn.ts";
import { calibratedRecord, type CalibratedWrapper, wrapCalibrated } from "./_wrap.ts";

/** Options of {@link efficientQat}. */
export interface EfficientQatOptions {
  /**
   * The weight quantizer: asymmetric integer (`int(b, { group, symmetric: false })`);
   * its group size, bits and scale storage are kept, its range initialises s and z.
   */
  weight: Quantizer;
  /** Block-AP steps per block (full batch of the calibration windows). Default 40. */
  blockSteps?: number;
  /** Block-AP peak learning rate of the weights. Default 1e-3. */
  weightLr?: number;
  /** Block-AP peak learning rate of the steps and zero points. Default 1e-3. */
  quantLr?: number;
  /** E2E-QP steps (full batch; 0 skips stage 2). Default 20. */
  e2eSteps?: number;
  /** E2E-QP peak learning rate of the steps. Default 2e-4. */
  e2eLr?: number;
  /** Show a progress line per block. Default false. */
  progress?: boolean;
}

/** EfficientQAT's own facts, in its report's `details`. */
export interface EfficientQatDetails {
  /** Per block: the reconstruction MSE at Block-AP's first step and after freezing. */
  blocks: { layer: number; before: number; after: number }[];
  /** The LM loss at each E2E-QP step (before its update). */
  e2eLoss: number[];
}

/**
 * Quantizes `model` in place with EfficientQAT (Block-AP, then E2E-QP) on the
 * calibration windows `sequences`; every linear of the decoder blocks ends as
 * a packed `QuantLinear` (codes, learned steps, zero points).
 */
export const efficientQat: CalibratedWrapper<EfficientQatOptions, EfficientQatDetails> =
  wrapCalibrated("efficientqat");

/** EfficientQAT's record in the method registry (options: {@link EfficientQatOptions}). */
export const EFFICIENTQAT: ModelMethod = calibratedRecord("efficientqat", runEfficientQat, {
  weight: true,
});

/** Cosine decay from `lr` to 0 over `total` steps (step t = 0 … total − 1). */
const cosine = (lr: number, t: number, total: number) =>
  0.5 * lr * (1 + Math.cos(Math.PI * t / Math.max(1, total)));

function checkOptions(o: EfficientQatOptions): { bits: number; groupSize?: number } {
  const q = o.weight;
  if (!q || q.symmetric || !q.format.startsWith("uint")) {
    throw new TypeError(
      `efficientQat: weight must be an asymmetric integer quantizer, e.g. ` +
        `int(2, { group: 64, symmetric: false }); got ${q ? q.format : "none"}`,
    );
  }
  const g = q.granularity;
  if (!(g.kind === "group" || (g.kind === "channel" && g.axis === 0))) {
    throw new TypeError(
      `efficientQat: the weight quantizer must be per group or per output channel, got ${g.kind}`,
    );
  }
  for (const k of ["blockSteps", "e2eSteps"] as const) {
    const v = o[k];
    if (v !== undefined && !(Number.isInteger(v) && v >= 0)) {
      throw new RangeError(`efficientQat: ${k} must be an integer ≥ 0, got ${v}`);
    }
  }
  for (const k of ["weightLr", "quantLr", "e2eLr"] as const) {
    const v = o[k];
    if (v !== undefined && !(v >= 0 && Number.isFinite(v))) {
      throw new RangeError(`efficientQat: ${k} must be a finite number ≥ 0, got ${v}`);
    }
  }
  return { bits: elementFormat(q.format).bits, groupSize: g.kind === "group" ? g.size : undefined };
}

async function runEfficientQat(
  model: LlamaModel,
  sequences: readonly ArrayLike<number>[],
  options: EfficientQatOptions,
): Promise<QuantReport<EfficientQatDetails>> {
  const { bits } = checkOptions(options);
  checkSequences(sequences, model.config.vocabSize, { op: "efficientQat", minLength: 2 });
  const q = options.weight;
  const blockSteps = options.blockSteps ?? 40;
  const e2eSteps = options.e2eSteps ?? 20;
  const weightLr = options.weightLr ?? 1e-3, quantLr = options.quantLr ?? 1e-3;
  const e2eLr = options.e2eLr ?? 2e-4;
  const n = sequences.length, seq = sequences[0].length;
  const ids = new Int32Array(n * seq);
  sequences.forEach((s, i) => ids.set(Array.from(s), i * seq));
  const details: EfficientQatDetails = { blocks: [], e2eLoss: [] };
  const floats = new Map<string, Tensor>(); // float weights, for the report's SQNR
  const stage2 = new Map<string, E2eQpLinear>();
  try {
    // ---- Stage 1: Block-AP ----
    let xFp = noGrad(() => model.embed(ids));
    let xQ = xFp.share();
    try {
      for (let i = 0; i < model.numLayers; i++) {
        const yFp = noGrad(() => model.layerForward(i, xFp, n, seq));
        const blockParams = { w: new Map<string, Tensor>(), qp: new Map<string, Tensor>() };
        for (const l of LAYER_LINEARS) {
          const name = `layers.${i}.${l}`;
          const dense = denseWeight(model, name);
          if (dense.bias) {
            throw new TypeError(
              `efficientQat: ${name} has a bias; only bias-free linears are supported`,
            );
          }
          floats.set(name, noGrad(() => contiguous(dense.weight)));
          using pass = await quantizePass(q, dense.weight, { name });
          const layer = new BlockApLinear(dense.weight, pass.scales, pass.zeros!, { bits });
          model.setLinear(name, layer);
          for (const [k, t] of layer.parameters()) {
            (k === "weight" ? blockParams.w : blockParams.qp).set(`${name}.${k}`, t);
          }
        }
        const before = await trainBlock(model, i, xQ, yFp, n, seq, blockParams, {
          steps: blockSteps,
          weightLr,
          quantLr,
        });
        for (const l of LAYER_LINEARS) {
          const name = `layers.${i}.${l}`;
          const frozen = await (model.getLinear(name) as BlockApLinear).freeze();
          const e2e = new E2eQpLinear(frozen, { bits });
          stage2.set(name, e2e);
          model.setLinear(name, e2e);
        }
        const next = noGrad(() => model.layerForward(i, xQ, n, seq));
        const after = await blockMse(next, yFp);
        details.blocks.push({ layer: i, before, after });
        if (options.progress) {
          console.log(
            `efficientqat block ${i}: reconstruction MSE ${before.toExponential(3)} → ${
              after.toExponential(3)
            }`,
          );
        }
        xQ.dispose(), xFp.dispose();
        xQ = next, xFp = yFp;
      }
    } finally {
      xQ.dispose(), xFp.dispose();
    }
    // ---- Stage 2: E2E-QP ----
    if (e2eSteps > 0) {
      const targets = Int32Array.from(ids, (_, k) => (k % seq === seq - 1 ? -100 : ids[k + 1]));
      const steps = new Map<string, Tensor>();
      for (const [name, l] of stage2) steps.set(`${name}.scale`, l.parameters().get("scale")!);
      using opt = new AdamW({ weightDecay: 0 });
      for (let t = 0; t < e2eSteps; t++) {
        const { value, grads } = valueAndGrad(() => {
          using logits = model.forward(ids, { batch: n });
          return crossEntropy(logits, targets);
        }, steps);
        try {
          details.e2eLoss.push(await value.item());
          opt.step(steps, grads, cosine(e2eLr, t, e2eSteps));
        } finally {
          value.dispose();
          for (const g of grads.values()) g.dispose();
        }
      }
    }
    // ---- Result: packed codes with the learned steps ----
    const report: QuantReport<EfficientQatDetails> = { layers: [], bitsPerWeight: 0, details };
    for (const [name, l] of stage2) {
      const packed = await l.toQuantLinear(q);
      model.setLinear(name, packed);
      stage2.delete(name);
      using values = await packed.codes!.dequantize();
      const err = await quantError(floats.get(name)!, values);
      report.layers.push({
        name,
        out: packed.outFeatures,
        in: packed.inFeatures,
        bitsPerWeight: packed.bitsPerWeight,
        sqnrDb: err.sqnr,
      });
    }
    report.bitsPerWeight = meanBitsPerWeight(report.layers);
    return report;
  } finally {
    for (const t of floats.values()) t.dispose();
  }
}

/** Mean squared difference of two tensors. */
async function blockMse(y: Tensor, target: Tensor): Promise<number> {
  using m = noGrad(() => {
    using d = sub(y, target);
    using d2 = mul(d, d);
    return meanAll(d2);
  });
  return await m.item();
}

/** Block-AP's loop for block `i`; returns the reconstruction MSE before the first update. */
async function trainBlock(
  model: LlamaModel,
  i: number,
  x: Tensor,
  target: Tensor,
  n: number,
  seq: number,
  params: { w: Map<string, Tensor>; qp: Map<string, Tensor> },
  o: { steps: number; weightLr: number; quantLr: number },
): Promise<number> {
  const all = new Map([...params.w, ...params.qp]);
  using optW = new AdamW({ weightDecay: 0 });
  using optQ = new AdamW({ weightDecay: 0 });
  let first = NaN;
  if (o.steps === 0) {
    using y = noGrad(() => model.layerForward(i, x, n, seq));
    return await blockMse(y, target);
  }
  for (let t = 0; t < o.steps; t++) {
    const { value, grads } = valueAndGrad(() => {
      using y = model.layerForward(i, x, n, seq);
      using d = sub(y, target);
      using d2 = mul(d, d);
      return meanAll(d2);
    }, all);
    try {
      if (t === 0) first = await value.item();
      const pick = (m: Map<string, Tensor>) =>
        new Map([...m.keys()].map((k) => [k, grads.get(k)!]));
      optW.step(params.w, pick(params.w), cosine(o.weightLr, t, o.steps));
      optQ.step(params.qp, pick(params.qp), cosine(o.quantLr, t, o.steps));
    } finally {
      value.dispose();
      for (const g of grads.values()) g.dispose();
    }
  }
  return first;
}
