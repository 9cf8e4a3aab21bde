/**
 * Evaluation of a causal LM on the GPU: {@link perplexity}, and against a
 * reference (usually the full-precision model) {@link klDivergence},
 * {@link top1Agreement}, or all of them in one pass with {@link compareModels}.
 * Log-softmax, the target log-probabilities, the per-token KL and the argmax
 * run on the GPU; only per-token numbers come back, never whole logits.
 *
 * **Windows.** A token stream (text, or flat ids) is cut into windows of
 * `seqLen` tokens starting every `stride` tokens; each window is an
 * independent sequence at positions 0..seqLen−1 (no BOS, nothing carried
 * over), and a trailing part that does not fill a window is dropped. Within a
 * window, the logits at position t predict token t+1. A target is scored only
 * the first time a window covers it:
 *
 * - `stride = seqLen` (default): non-overlapping windows, each scoring its
 *   seqLen−1 targets — exactly the protocol of `data/tiny/reference.json`
 *   (4096 bytes, seqLen 256 → 16 windows × 255 predictions).
 * - `stride < seqLen` (sliding window, as in HF's perplexity guide): the
 *   first window scores all its targets; each later one only the targets not
 *   scored before (its last `stride`), which are thereby predicted with at
 *   least seqLen − stride tokens of context.
 *
 * Rows given as `number[][]` are windows as they are (each scores positions
 * 0..T−2). KL and top-1 agreement are averaged over the same positions that
 * perplexity scores.
 *
 * @example
 * ```ts
 * import { initGPU } from "../mod.ts";
 * import { loadModel } from "./load.ts";
 * import { perplexity } from "./eval.ts";
 * await initGPU();
 * using model = await loadModel("data/tiny");
 * const text = (await Deno.readTextFile("data/corpus/valid.txt")).slice(0, 256);
 * const r = await perplexity(model, text, { seqLen: 64 });
 * console.log(r.windows, r.tokens); // 4 252
 * ```
 * @module
 */
import { Tensor } from "../kernels/tensor.ts";
import { mul, sub, unary } from "../kernels/ops/elementwise.ts";
import { argmax, sum } from "../kernels/ops/reduce.ts";
import { logSoftmax } from "../kernels/ops/softmax.ts";
import { indexSelect } from "../kernels/ops/gather.ts";
import { progress as progressBar } from "../viz/progress.ts";
import { firstNonFinite } from "./finite.ts";
import type { TokenIds } from "./llama.ts";
import { ByteTokenizer, type Tokenizer } from "./tokenizer.ts";

/** Anything that maps a batch of equal-length sequences to logits `[batch, seq, vocab]`. */
export interface LogitsSource {
  /** Vocabulary size: ids must be below it. */
  readonly config: { vocabSize: number };
  /** Logits (f32) for `ids` (rows of equal length); a new tensor the caller owns. */
  forward(ids: TokenIds, options?: { batch?: number }): Tensor;
  /** The first weight holding NaN or ±Inf (`name[i, j] = value`), for error reports. */
  findNonFinite?(): Promise<string | undefined>;
}

/** What to evaluate: text (tokenized), a flat token stream, or rows of equal-length windows. */
export type EvalInput = string | ArrayLike<number> | readonly ArrayLike<number>[];

/** Options of the evaluation functions. */
export interface EvalOptions {
  /** Window length in tokens. Default 256 (the tiny model's protocol). */
  seqLen?: number;
  /** Tokens between window starts; default `seqLen` (no overlap). See the module doc. */
  stride?: number;
  /**
   * Windows per forward pass. Default: as many as keep one batch's f32 logits
   * within 256 MiB, at most 8 (for a 128k vocabulary and seqLen 2048: 1).
   */
  batchSize?: number;
  /** Tokenizer for text input; default the byte tokenizer (vocab 256). */
  tokenizer?: Tokenizer;
  /** Show a progress bar over batches (true, or a label). Default false. */
  progress?: boolean | string;
}

/** The result of {@link perplexity}. */
export interface PerplexityResult {
  /** exp(mean NLL). */
  perplexity: number;
  /** Mean negative log-likelihood per scored token, in nats. */
  meanNll: number;
  /** Number of scored predictions. */
  tokens: number;
  /** Number of windows run. */
  windows: number;
}

/** The result of {@link compareModels}. */
export interface ComparisonResult {
  /** Mean KL(P_ref ‖ P_model) per scored position, in nats. */
  kl: number;
  /** Fraction of scored positions where both argmaxes agree. */
  top1: number;
  /** The reference's perplexity on the same predictions. */
  refPerplexity: number;
  /** The model's perplexity on the same predictions. */
  perplexity: number;
  /** Number of scored positions. */
  tokens: number;
  /** Number of windows run. */
  windows: number;
}

/** A window: its ids and the first position whose next token is scored. */
interface Window {
  ids: Int32Array;
  scoreFrom: number;
}

/**
 * Cuts a token stream into the windows described in the module doc.
 *
 * @returns each window's start and the first position t (0-based, in the
 *   window) whose target t+1 is scored
 *
 * @example
 * ```ts
 * import { planWindows } from "./eval.ts";
 * console.log(planWindows(10, 4, 4)); // [{ start: 0, scoreFrom: 0 }, { start: 4, scoreFrom: 0 }]
 * console.log(planWindows(8, 4, 2).map((w) => w.scoreFrom)); // [0, 1, 1]
 * ```
 */
export function planWindows(
  n: number,
  seqLen: number,
  stride = seqLen,
): { start: number; scoreFrom: number }[] {
  if (!Number.isInteger(seqLen) || seqLen < 2) {
    throw new RangeError(`seqLen ${seqLen} must be an integer ≥ 2`);
  }
  if (!Number.isInteger(stride) || stride < 1 || stride > seqLen) {
    throw new RangeError(`stride ${stride} must be an integer in [1, seqLen = ${seqLen}]`);
  }
  const out: { start: number; scoreFrom: number }[] = [];
  let scored = 0; // targets at absolute index ≤ scored are done (index 0 is never a target)
  for (let start = 0; start + seqLen <= n; start += stride) {
    const scoreFrom = Math.max(0, scored - start);
    out.push({ start, scoreFrom });
    scored = start + seqLen - 1;
  }
  return out;
}

function toWindows(input: EvalInput, vocab: number, o: EvalOptions): Window[] {
  const first = typeof input === "string" ? undefined : (input as ArrayLike<unknown>)[0];
  if (typeof input !== "string" && typeof first === "object" && first !== null) {
    return Array.from(input as readonly ArrayLike<number>[], (r, i) => {
      const n = r?.length ?? 0;
      if (!(n >= 2)) {
        throw new RangeError(
          `row ${i} has ${n} tokens; a window needs at least 2 (one to predict from, one to score)`,
        );
      }
      return { ids: Int32Array.from(r), scoreFrom: 0 };
    });
  }
  let ids: ArrayLike<number>;
  if (typeof input === "string") {
    const tok = o.tokenizer ?? new ByteTokenizer();
    if (tok.vocabSize > vocab) {
      throw new RangeError(
        `the tokenizer's vocabulary (${tok.vocabSize}) exceeds the model's (${vocab}); pass the ` +
          `model's tokenizer as { tokenizer }`,
      );
    }
    ids = tok.encode(input);
  } else ids = input as ArrayLike<number>;
  const seqLen = o.seqLen ?? 256;
  const plan = planWindows(ids.length, seqLen, o.stride ?? seqLen);
  if (plan.length === 0) {
    throw new RangeError(
      `the input has ${ids.length} tokens, fewer than one window of seqLen ${seqLen}`,
    );
  }
  return plan.map(({ start, scoreFrom }) => ({
    ids: Int32Array.from(Array.prototype.slice.call(ids, start, start + seqLen) as number[]),
    scoreFrom,
  }));
}

function batchSizeFor(windows: Window[], model: LogitsSource, o: EvalOptions): number {
  if (o.batchSize !== undefined) return o.batchSize;
  const bytes = windows[0].ids.length * model.config.vocabSize * 4;
  return Math.max(1, Math.min(8, Math.floor(2 ** 28 / bytes)));
}

function* batches(windows: Window[], size: number): Generator<Window[]> {
  if (!Number.isInteger(size) || size < 1) {
    throw new RangeError(`batchSize ${size} must be a positive integer`);
  }
  // Windows of different lengths (rows input) go in separate batches.
  let cur: Window[] = [];
  for (const w of windows) {
    if (cur.length && (cur.length === size || cur[0].ids.length !== w.ids.length)) {
      yield cur;
      cur = [];
    }
    cur.push(w);
  }
  if (cur.length) yield cur;
}

function iterate<T>(items: T[], o: EvalOptions, label: string): Iterable<T> {
  if (!o.progress) return items;
  return progressBar(items, { label: typeof o.progress === "string" ? o.progress : label });
}

/** Flat indices into `[B·T·V]` of each scored position's target, and the count. */
function targetIndices(batch: Window[], vocab: number): Int32Array {
  const T = batch[0].ids.length;
  const idx: number[] = [];
  batch.forEach((w, b) => {
    for (let t = w.scoreFrom; t < T - 1; t++) idx.push((b * T + t) * vocab + w.ids[t + 1]);
  });
  if (batch.length * T * vocab > 2 ** 31) {
    throw new RangeError(
      `a batch of ${batch.length} windows × ${T} tokens × vocab ${vocab} is too large to index; ` +
        `lower batchSize`,
    );
  }
  return Int32Array.from(idx);
}

/** Positions (flat b·T + t) that are scored, in order. */
function scoredPositions(batch: Window[]): number[] {
  const T = batch[0].ids.length;
  const pos: number[] = [];
  batch.forEach((w, b) => {
    for (let t = w.scoreFrom; t < T - 1; t++) pos.push(b * T + t);
  });
  return pos;
}

/** Σ −log p(target) over the scored positions of a batch, from logits [B, T, V]; `bad` is
 * the first scored position (window in the batch, position) whose log-probability is not finite. */
async function batchNll(
  logits: Tensor,
  batch: Window[],
): Promise<{ sum: number; n: number; bad?: [number, number] }> {
  const V = logits.shape[logits.rank - 1];
  const idx = targetIndices(batch, V);
  if (idx.length === 0) return { sum: 0, n: 0 };
  using logp = logSoftmax(logits);
  using flat = logp.reshape([logp.size]);
  using picked = indexSelect(flat, 0, idx);
  const lp = await picked.data();
  let s = 0;
  for (const v of lp) s -= v;
  if (Number.isFinite(s)) return { sum: s, n: idx.length };
  const k = firstNonFinite(lp);
  const T = batch[0].ids.length;
  const p = scoredPositions(batch)[k];
  return { sum: s, n: idx.length, bad: [Math.floor(p / T), p % T] };
}

/**
 * The error for a loss that is not finite: where it happened, and which weight
 * of `model` holds NaN or ±Inf, if one does.
 */
async function nonFiniteLoss(
  op: string,
  model: LogitsSource | undefined,
  what: string,
  windowIndex: number,
  position: number,
): Promise<RangeError> {
  const at = `${what} gives a non-finite log-probability at window ${windowIndex}, position ` +
    `${position}`;
  if (!model) {
    return new RangeError(`${op}: ${at}; the reference logits hold NaN or ±Inf there`);
  }
  const weight = model.findNonFinite ? await model.findNonFinite() : undefined;
  return new RangeError(
    weight
      ? `${op}: ${at}: its weight ${weight}; weights must be finite (reload the checkpoint, ` +
        `or find the step that wrote it)`
      : `${op}: ${at}, though ${
        model.findNonFinite ? "every weight is finite" : "its weights could not be checked"
      }: the forward pass overflowed (in f16? evaluate in f32)`,
  );
}

function forwardBatch(model: LogitsSource, batch: Window[]): Tensor {
  return model.forward(batch.map((w) => w.ids));
}

/**
 * Perplexity of `model` on text or tokens with the window protocol of the
 * module doc. With the defaults (seqLen 256, stride 256) on the first 4096
 * bytes of `data/corpus/valid.txt` it reproduces `data/tiny/reference.json`
 * (3.300741).
 *
 * @example
 * ```ts
 * import { initGPU } from "../mod.ts";
 * import { loadModel } from "./load.ts";
 * import { perplexity } from "./eval.ts";
 * await initGPU();
 * using model = await loadModel("data/tiny");
 * const text = await Deno.readTextFile("data/corpus/valid.txt");
 * const r = await perplexity(model, text.slice(0, 256), { seqLen: 64, stride: 32 });
 * console.log(r.windows, r.tokens); // 7 255
 * ```
 */
export async function perplexity(
  model: LogitsSource,
  input: EvalInput,
  options: EvalOptions = {},
): Promise<PerplexityResult> {
  const windows = toWindows(input, model.config.vocabSize, options);
  let total = 0, n = 0, done = 0;
  for (
    const batch of iterate(
      [...batches(windows, batchSizeFor(windows, model, options))],
      options,
      "perplexity",
    )
  ) {
    using logits = forwardBatch(model, batch);
    const r = await batchNll(logits, batch);
    if (r.bad) {
      throw await nonFiniteLoss("perplexity", model, "the model", done + r.bad[0], r.bad[1]);
    }
    total += r.sum;
    n += r.n;
    done += batch.length;
  }
  const meanNll = total / n;
  return { perplexity: Math.exp(meanNll), meanNll, tokens: n, windows: windows.length };
}

/**
 * Per-position KL(P_ref ‖ P_model) (`[B, T]`, nats) from two logits tensors
 * `[B, T, V]`, computed on the GPU.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../mod.ts";
 * import { klPerPosition } from "./eval.ts";
 * await initGPU();
 * using p = Tensor.fromArray([[[0, 0]]]);
 * using q = Tensor.fromArray([[[0, Math.log(3)]]]);
 * using kl = klPerPosition(p, q);
 * console.log((await kl.data())[0].toFixed(4)); // 0.1438
 * ```
 */
export function klPerPosition(refLogits: Tensor, logits: Tensor): Tensor {
  if (refLogits.shape.join() !== logits.shape.join()) {
    throw new RangeError(`klPerPosition: shapes differ (${refLogits} vs ${logits})`);
  }
  using lp = logSoftmax(refLogits);
  using lq = logSoftmax(logits);
  using d = sub(lp, lq);
  using p = unary("exp", lp);
  using pd = mul(p, d);
  return sum(pd, -1);
}

/**
 * KL divergence, top-1 agreement and both perplexities of `model` against
 * `reference` over the same windows, in one pass. `reference` is a model (or
 * any {@link LogitsSource}), or precomputed logits `[rows, T, V]` when
 * `input` is given as rows.
 *
 * @example
 * ```ts
 * import { initGPU } from "../mod.ts";
 * import { loadModel } from "./load.ts";
 * import { compareModels } from "./eval.ts";
 * await initGPU();
 * using ref = await loadModel("data/tiny");
 * using same = await loadModel("data/tiny");
 * const text = (await Deno.readTextFile("data/corpus/valid.txt")).slice(0, 128);
 * const r = await compareModels(ref, same, text, { seqLen: 64 });
 * console.log(r.kl < 1e-6, r.top1); // true 1
 * ```
 */
export async function compareModels(
  reference: LogitsSource | Tensor,
  model: LogitsSource,
  input: EvalInput,
  options: EvalOptions = {},
): Promise<ComparisonResult> {
  const windows = toWindows(input, model.config.vocabSize, options);
  let klSum = 0, agree = 0, n = 0, nllRef = 0, nllModel = 0;
  const refTensor = reference instanceof Tensor ? reference : undefined;
  if (refTensor) {
    const T = windows[0].ids.length;
    if (
      refTensor.rank !== 3 || refTensor.shape[0] !== windows.length || refTensor.shape[1] !== T ||
      windows.some((w) => w.ids.length !== T)
    ) {
      throw new RangeError(
        `compareModels: reference logits ${refTensor} must be [rows, T, vocab] for rows of ` +
          `equal length T given as the input (got ${windows.length} windows of ${T})`,
      );
    }
  }
  const list = refTensor ? [windows] : [...batches(windows, batchSizeFor(windows, model, options))];
  let done = 0;
  for (const batch of iterate(list, options, "compare")) {
    using own = refTensor ? undefined : forwardBatch(reference as LogitsSource, batch);
    const ref = refTensor ?? own!;
    using logits = forwardBatch(model, batch);
    using kl = klPerPosition(ref, logits);
    using aRef = argmax(ref, -1);
    using aModel = argmax(logits, -1);
    const [klv, ar, am] = await Promise.all([kl.data(), aRef.data(), aModel.data()]);
    for (const p of scoredPositions(batch)) {
      klSum += klv[p];
      if (ar[p] === am[p]) agree++;
      n++;
    }
    const rRef = await batchNll(ref, batch);
    if (rRef.bad) {
      throw await nonFiniteLoss(
        "compareModels",
        refTensor ? undefined : reference as LogitsSource,
        "the reference",
        done + rRef.bad[0],
        rRef.bad[1],
      );
    }
    const rModel = await batchNll(logits, batch);
    if (rModel.bad) {
      throw await nonFiniteLoss(
        "compareModels",
        model,
        "the model",
        done + rModel.bad[0],
        rModel.bad[1],
      );
    }
    nllRef += rRef.sum;
    nllModel += rModel.sum;
    done += batch.length;
  }
  return {
    kl: klSum / n,
    top1: agree / n,
    refPerplexity: Math.exp(nllRef / n),
    perplexity: Math.exp(nllModel / n),
    tokens: n,
    windows: windows.length,
  };
}

/**
 * Mean KL(P_ref ‖ P_model) per scored position, in nats (see {@link compareModels}).
 *
 * @example
 * ```ts
 * import { initGPU } from "../mod.ts";
 * import { loadModel } from "./load.ts";
 * import { klDivergence } from "./eval.ts";
 * await initGPU();
 * using ref = await loadModel("data/tiny");
 * using half = await loadModel("data/tiny", { dtype: "f16" });
 * const text = (await Deno.readTextFile("data/corpus/valid.txt")).slice(0, 128);
 * console.log((await klDivergence(ref, half, text, { seqLen: 64 })) < 1e-3); // true
 * ```
 */
export async function klDivergence(
  reference: LogitsSource | Tensor,
  model: LogitsSource,
  input: EvalInput,
  options: EvalOptions = {},
): Promise<number> {
  return (await compareModels(reference, model, input, options)).kl;
}

/**
 * Fraction of scored positions where `model`'s argmax equals the
 * reference's (see {@link compareModels}).
 *
 * @example
 * ```ts
 * import { initGPU } from "../mod.ts";
 * import { loadModel } from "./load.ts";
 * import { top1Agreement } from "./eval.ts";
 * await initGPU();
 * using ref = await loadModel("data/tiny");
 * using half = await loadModel("data/tiny", { dtype: "f16" });
 * const text = (await Deno.readTextFile("data/corpus/valid.txt")).slice(0, 128);
 * console.log((await top1Agreement(ref, half, text, { seqLen: 64 })) > 0.9); // true
 * ```
 */
export async function top1Agreement(
  reference: LogitsSource | Tensor,
  model: LogitsSource,
  input: EvalInput,
  options: EvalOptions = {},
): Promise<number> {
  return (await compareModels(reference, model, input, options)).top1;
}
