/**
 * `train(model, data, options)`: seeded, resumable language-model training.
 *
 * Each optimizer step, as `tools/train_tiny.py` does it:
 *   1. lr ← schedule(step)                       (step counts from 0)
 *   2. for each of the `microBatches` batches from `data`:
 *        loss_k ← crossEntropy(model.forward(inputs), targets) / microBatches
 *        grads += ∇ loss_k                        (`valueAndGrad` with `into`)
 *   3. clip the global gradient norm to `clip`   (`clipGradNorm`)
 *   4. optimizer.step(params, grads, lr)         (in place)
 * and a row of the loss curve (step, lr, train loss, eval loss, tokens,
 * seconds). Every `eval.every` steps the validation NLL is measured with the
 * perplexity protocol of `train_tiny.py` (`evaluate.ts`); every
 * `checkpointEvery` steps (and at the end) a checkpoint is written atomically
 * (`checkpoint.ts`), and `resume` continues from one to the same losses, bit
 * for bit: the weights, the optimizer state, the step and the data position
 * are all restored, and every kernel is deterministic.
 *
 * The trainer draws nothing itself: `progress` takes any object with
 * `tick()`/`finish()` (`viz`'s `Progress` draws in the terminal and in
 * Jupyter) and `onStep` receives each curve row as plain data.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../mod.ts";
 * import { matmul } from "../kernels/ops/matmul.ts";
 * import { randomWindows } from "./data.ts";
 * import { SGD } from "./optim/sgd.ts";
 * import { constantLr } from "./optim/schedule.ts";
 * import { train } from "./trainer.ts";
 * await initGPU();
 * // A bigram model: logits = onehot(ids) · W.
 * using w = Tensor.zeros([4, 4]);
 * const model = {
 *   parameters: () => new Map([["w", w]]),
 *   forward(ids: Int32Array, { batch }: { batch: number }) {
 *     const oh = new Float32Array(ids.length * 4).map((_, i) => ids[i >> 2] === (i & 3) ? 1 : 0);
 *     using x = Tensor.fromArray(oh, [batch, ids.length / batch, 4]);
 *     return matmul(x, w);
 *   },
 * };
 * const corpus = new Uint8Array(64).map((_, i) => i % 4); // 0 1 2 3 0 1 2 3 …
 * using opt = new SGD();
 * const { curve } = await train(model, randomWindows(corpus, { batch: 2, seqLen: 8 }), {
 *   optimizer: opt, schedule: constantLr(2), steps: 20,
 * });
 * console.log(curve.rows[0].trainLoss.toFixed(3), curve.rows[19].trainLoss < 0.5); // 1.386 true
 * ```
 * @module
 */
import { valueAndGrad } from "../kernels/autograd.ts";
import { copy } from "../kernels/runtime.ts";
import type { Tensor } from "../kernels/tensor.ts";
import { crossEntropy } from "../kernels/ops/cross_entropy.ts";
import { mul } from "../kernels/ops/elementwise.ts";
import { readTrainCheckpoint, writeTrainCheckpoint } from "./checkpoint.ts";
import { type CurveRow, LossCurve } from "./curve.ts";
import type { BatchSource } from "./data.ts";
import { evalNll, type EvalOptions, type LogitsModel } from "./evaluate.ts";
import { clipGradNorm } from "./optim/clip.ts";
import type { Optimizer } from "./optim/optimizer.ts";
import type { Schedule } from "./optim/schedule.ts";

/**
 * What the trainer needs of a model (`LlamaModel` has both): logits
 * `[batch, seq, vocab]` for flat ids, differentiable when a tape watches
 * `parameters()`, whose tensors the optimizer updates in place.
 */
export interface TrainableModel extends LogitsModel {
  /** The trainable tensors by name (the model's own, updated in place). */
  parameters(): Map<string, Tensor>;
}

/** Anything that counts steps, such as `viz`'s `Progress`. */
export interface ProgressSink {
  /** One more step done. */
  tick(n?: number): void;
  /** The run ended. */
  finish(): void;
}

/** Options of {@link train}. */
export interface TrainOptions {
  /** Updates the parameters in place (e.g. `AdamW`). */
  optimizer: Optimizer;
  /** Learning rate of step s (from 0), e.g. `warmupCosine`. */
  schedule: Schedule;
  /** Train until this many optimizer steps are done (counted from the start of the run). */
  steps: number;
  /** Batches (drawn from `data`) whose gradients are accumulated per step. Default 1. */
  microBatches?: number;
  /** Clip the global gradient norm to this. Default: no clipping. */
  clip?: number;
  /** Validation NLL every `every` steps (and after the last) on `corpus`. Default: none. */
  eval?: EvalOptions & { every: number; corpus: Uint8Array };
  /** Write checkpoints into this folder (replaced atomically each time). */
  checkpointDir?: string;
  /** Steps between checkpoints. Default: only at the end. */
  checkpointEvery?: number;
  /** A checkpoint folder to continue from (the model, optimizer and data built as before). */
  resume?: string;
  /** Free-form facts stored in every checkpoint's `trainer.json`. */
  meta?: Record<string, unknown>;
  /** Called with every curve row. */
  onStep?: (row: CurveRow) => void;
  /** Ticked once per step; finished at the end. */
  progress?: ProgressSink;
}

/** What {@link train} returns. */
export interface TrainResult {
  /** Every row, including those of the run resumed from. */
  curve: LossCurve;
  /** Optimizer steps done. */
  step: number;
}

function checkInt(what: string, v: number | undefined, min: number): void {
  if (v !== undefined && !(Number.isInteger(v) && v >= min)) {
    throw new RangeError(`train: ${what} is ${v}; it must be an integer ≥ ${min}`);
  }
}

/** Copies checkpointed weights into the model's own tensors (names and shapes must match). */
function loadWeights(params: Map<string, Tensor>, saved: Map<string, Tensor>, dir: string): void {
  for (const [name, p] of params) {
    const s = saved.get(name);
    if (!s || s.dtype !== p.dtype || s.shape.join() !== p.shape.join()) {
      throw new RangeError(
        `train: the checkpoint in ${dir} has ${s ? s.toString() : "no tensor"} for parameter ` +
          `"${name}" ${p.toString()}; resume with the model the checkpoint was made from`,
      );
    }
  }
  for (const [name, p] of params) copy(saved.get(name)!.buffer, 0, p.buffer, 0, p.byteLength);
}

/** Trains `model` on batches from `data`; see the module doc for the step. */
export async function train(
  model: TrainableModel,
  data: BatchSource,
  options: TrainOptions,
): Promise<TrainResult> {
  const { optimizer, schedule } = options;
  const micro = options.microBatches ?? 1;
  checkInt("steps", options.steps, 0);
  checkInt("microBatches", micro, 1);
  checkInt("checkpointEvery", options.checkpointEvery, 1);
  checkInt("eval.every", options.eval?.every, 1);
  if (options.clip !== undefined && !(options.clip > 0)) {
    throw new RangeError(`train: clip is ${options.clip}; it must be > 0 (omit it for none)`);
  }
  const params = model.parameters();
  let curve = new LossCurve();
  let step = 0;
  if (options.resume) {
    using ck = await readTrainCheckpoint(options.resume);
    loadWeights(params, ck.params, options.resume);
    await optimizer.loadState(ck.optimizer);
    data.restore(ck.data);
    curve = new LossCurve(ck.curve);
    step = ck.step;
  }
  const tokensPerStep = micro * data.batch * data.seqLen;
  let seconds = curve.rows.at(-1)?.seconds ?? 0;
  const save = async () => {
    if (!options.checkpointDir) return;
    const state = optimizer.state();
    try {
      await writeTrainCheckpoint(options.checkpointDir, {
        params,
        optimizer: state,
        step,
        data: data.position(),
        curve: curve.toJSON(),
        meta: options.meta,
      });
    } finally {
      for (const t of state.values()) t.dispose();
    }
  };
  while (step < options.steps) {
    const t0 = performance.now();
    const lr = schedule(step);
    const grads = new Map<string, Tensor>();
    let loss = 0;
    try {
      for (let k = 0; k < micro; k++) {
        const b = data.next();
        const { value } = valueAndGrad(
          () => {
            using logits = model.forward(b.inputs, { batch: b.batch });
            const l = crossEntropy(logits, b.targets);
            if (micro === 1) return l;
            using _l = l;
            return mul(l, 1 / micro);
          },
          params,
          { into: grads },
        );
        loss += await value.item();
        value.dispose();
      }
      if (options.clip !== undefined) await clipGradNorm(grads, options.clip);
      optimizer.step(params, grads, lr);
    } finally {
      for (const g of grads.values()) g.dispose();
    }
    step++;
    seconds += (performance.now() - t0) / 1000;
    const row: CurveRow = { step, lr, trainLoss: loss, tokens: step * tokensPerStep, seconds };
    const ev = options.eval;
    if (ev && (step % ev.every === 0 || step === options.steps)) {
      row.evalLoss = (await evalNll(model, ev.corpus, ev)).nll;
    }
    curve.push(row);
    options.onStep?.(row);
    options.progress?.tick();
    if (options.checkpointEvery && step % options.checkpointEvery === 0) await save();
  }
  options.progress?.finish();
  if (options.checkpointDir && !(options.checkpointEvery && step % options.checkpointEvery === 0)) {
    await save();
  }
  return { curve, step };
}
