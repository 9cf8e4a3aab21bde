/**
 * Validation NLL with the perplexity protocol of `tools/train_tiny.py`: the
 * corpus is cut into consecutive non-overlapping windows of `seqLen` bytes
 * from offset 0 (a partial tail is dropped); each window is an independent
 * sequence whose logits at position t predict byte t + 1, so a window scores
 * seqLen − 1 predictions. NLL = Σ −ln p(byte) / number of predictions
 * (perplexity = exp(NLL)). `windows` takes the first n windows only.
 *
 * The shifted targets carry `ignoreIndex` at each window's last position, so
 * one `crossEntropy(…, { reduction: "sum" })` per batch scores a window exactly.
 *
 * @example
 * ```ts
 * import { evalWindows } from "./evaluate.ts";
 * const w = evalWindows(new TextEncoder().encode("abcdefghij"), { seqLen: 4 });
 * console.log(w.count, Array.from(w.targets.slice(0, 4))); // 2 [ 98, 99, 100, -100 ]
 * ```
 * @module
 */
import { noGrad } from "../kernels/autograd.ts";
import { crossEntropy } from "../kernels/ops/cross_entropy.ts";
import type { Tensor } from "../kernels/tensor.ts";

/** What {@link evalNll} needs of a model: logits `[batch, seq, vocab]` (f32) for flat ids. */
export interface LogitsModel {
  /** Logits `[batch, ids.length / batch, vocab]`, owned by the caller. */
  forward(ids: Int32Array, options: { batch: number }): Tensor;
}

/** Options of {@link evalNll} and {@link evalWindows}. */
export interface EvalOptions {
  /** Window length. Default 256 (train_tiny.py's SEQ_LEN). */
  seqLen?: number;
  /** Score only the first this many windows. Default all. */
  windows?: number;
  /** Windows per forward pass. Default 8. */
  batch?: number;
}

/** The protocol's windows as flat inputs and shifted targets (−100 at each window's end). */
export function evalWindows(
  corpus: Uint8Array,
  options: EvalOptions = {},
): { count: number; seqLen: number; inputs: Int32Array; targets: Int32Array } {
  const seqLen = options.seqLen ?? 256;
  if (!Number.isInteger(seqLen) || seqLen < 2) {
    throw new RangeError(`evalNll: seqLen ${seqLen} must be an integer ≥ 2`);
  }
  const all = Math.floor(corpus.length / seqLen);
  const count = Math.min(all, options.windows ?? all);
  if (count < 1) {
    throw new RangeError(
      `evalNll: the corpus (${corpus.length} bytes) holds no window of ${seqLen} bytes ` +
        `(or windows is ${options.windows}); pass a longer corpus or windows ≥ 1`,
    );
  }
  const inputs = Int32Array.from(corpus.subarray(0, count * seqLen));
  const targets = new Int32Array(count * seqLen);
  for (let w = 0; w < count; w++) {
    for (let t = 0; t < seqLen; t++) {
      targets[w * seqLen + t] = t + 1 < seqLen ? inputs[w * seqLen + t + 1] : -100;
    }
  }
  return { count, seqLen, inputs, targets };
}

/**
 * Mean NLL (nats per byte) of `model` on `corpus` under the protocol above,
 * with nothing recorded for gradients. Sums in f64 on the CPU across batches.
 */
export async function evalNll(
  model: LogitsModel,
  corpus: Uint8Array,
  options: EvalOptions = {},
): Promise<{ nll: number; predictions: number }> {
  const { count, seqLen, inputs, targets } = evalWindows(corpus, options);
  const batch = options.batch ?? 8;
  let total = 0;
  for (let w = 0; w < count; w += batch) {
    const n = Math.min(batch, count - w);
    const ids = inputs.subarray(w * seqLen, (w + n) * seqLen);
    const tg = targets.subarray(w * seqLen, (w + n) * seqLen);
    using s = noGrad(() => {
      using logits = model.forward(ids, { batch: n });
      return crossEntropy(logits, tg, { reduction: "sum" });
    });
    total += await s.item();
  }
  const predictions = count * (seqLen - 1);
  return { nll: total / predictions, predictions };
}
