/**
 * Text generation with a key/value cache: the prompt is run once (prefill),
 * filling every layer's cache, then each new token is one forward step of a
 * single position per sequence that attends to the cache
 * (`model/kv_cache.ts`, `cachedAttention` in `model/attention.ts`).
 *
 * ```text
 * cache ← KVCache(maxLength = prompt + maxNewTokens − 1)
 * logits ← model(prompt, cache)[last]                       prefill: positions 0 … P−1
 * repeat maxNewTokens times:
 *   tᵦ ← sampleToken(logitsᵦ, rngᵦ, { temperature, topK })   per sequence b (model/sampling.ts)
 *   stop when every sequence has emitted a stop token
 *   logits ← model([t], cache)                               one position, P + step
 * ```
 *
 * Only the last position's hidden state goes through the final norm and
 * `lm_head`. Any `Linear` works (dense or quantized): the model's
 * projections are called as in `model.forward`, with `batch` rows per step.
 * Randomness: sequence b draws from its own `Rng`, seeded from `seed` (the
 * same seed gives the same tokens; greedy uses none).
 *
 * @example
 * ```ts
 * import { initGPU } from "../mod.ts";
 * import { loadModel } from "./load.ts";
 * import { generate } from "./generate.ts";
 * await initGPU();
 * using model = await loadModel("data/tiny");
 * const prompt = Array.from(new TextEncoder().encode("And God said, Let"));
 * const { tokens } = await generate(model, [prompt], { maxNewTokens: 12 });
 * console.log(new TextDecoder().decode(new Uint8Array(tokens[0]))); // " me go, I pr"
 * ```
 * @module
 */
import { Rng } from "../kernels/random.ts";
import { indexSelect } from "../kernels/ops/gather.ts";
import { KVCache } from "./kv_cache.ts";
import type { LlamaModel } from "./llama.ts";
import { checkSampleOptions, type SampleOptions, sampleToken } from "./sampling.ts";
import type { TokenIds } from "./tokens.ts";

/** Options of {@link generate}. */
export interface GenerateOptions extends SampleOptions {
  /** Tokens to generate per sequence (at most; fewer when a stop token comes). */
  maxNewTokens: number;
  /** Seed of the sampling generators. Default 0. */
  seed?: number;
  /**
   * Token id(s) that end a sequence: it is kept as the sequence's last token
   * and that sequence generates nothing more; generation ends when every
   * sequence has stopped. Default: none.
   */
  stop?: number | readonly number[];
  /** Return the logits each step's tokens were chosen from. Default false. */
  returnLogits?: boolean;
}

/** What {@link generate} returns. */
export interface GenerateResult {
  /** Per sequence, the generated ids (the prompt not included). */
  tokens: number[][];
  /**
   * With `returnLogits`: per step, the f32 logits `[batch · vocab]` (row b =
   * sequence b) the step's tokens were chosen from, before temperature and top-k.
   */
  logits?: Float32Array[];
}

/**
 * Generates up to `maxNewTokens` tokens after each prompt of a batch of
 * equal-length prompts, with a key/value cache.
 *
 * @param model the model (its linears may be quantized; it is not modified)
 * @param promptIds one prompt (flat ids) or rows of equal length
 * @param options length, temperature (0 = greedy), top-k, seed, stop tokens
 *
 * @example
 * ```ts
 * import { initGPU } from "../mod.ts";
 * import { randomLlama } from "./random_llama.ts";
 * import { generate } from "./generate.ts";
 * await initGPU();
 * using model = randomLlama({}, { std: 0.5 });
 * const opts = { maxNewTokens: 5, temperature: 1, topK: 4, seed: 7 };
 * const a = await generate(model, [[1, 2], [3, 4]], opts);
 * const b = await generate(model, [[1, 2], [3, 4]], opts);
 * console.log(a.tokens.length, JSON.stringify(a.tokens) === JSON.stringify(b.tokens)); // 2 true
 * ```
 */
export async function generate(
  model: LlamaModel,
  promptIds: TokenIds,
  options: GenerateOptions,
): Promise<GenerateResult> {
  const op = "generate";
  const c = model.config;
  const { maxNewTokens, seed = 0, returnLogits = false } = options ?? {};
  if (!Number.isInteger(maxNewTokens) || maxNewTokens < 0) {
    throw new RangeError(`${op}: maxNewTokens ${maxNewTokens} must be an integer ≥ 0`);
  }
  checkSampleOptions(options, op);
  if (!Number.isFinite(seed)) throw new RangeError(`${op}: seed ${seed} must be a finite number`);
  if (promptIds.length === 0 || (promptIds as ArrayLike<ArrayLike<number>>)[0]?.length === 0) {
    throw new RangeError(`${op}: the prompt is empty; give at least one token per sequence`);
  }
  const prompt = model.tokenBatch(promptIds);
  const stops = new Set(options.stop === undefined ? [] : [options.stop].flat());
  for (const s of stops) {
    if (!Number.isInteger(s) || s < 0 || s >= c.vocabSize) {
      throw new RangeError(`${op}: stop token ${s} is outside the vocabulary [0, ${c.vocabSize})`);
    }
  }
  const total = prompt.seq + maxNewTokens;
  if (total > c.maxPositionEmbeddings) {
    throw new RangeError(
      `${op}: prompt (${prompt.seq}) + maxNewTokens (${maxNewTokens}) = ${total} positions exceed ` +
        `max_position_embeddings ${c.maxPositionEmbeddings}; shorten the prompt or generate fewer tokens`,
    );
  }
  if (c.slidingWindow !== null && total > c.slidingWindow) {
    throw new RangeError(
      `${op}: ${total} positions exceed the sliding window (${c.slidingWindow}), which is not ` +
        `implemented; keep prompt + maxNewTokens ≤ ${c.slidingWindow}`,
    );
  }
  const B = prompt.batch, V = c.vocabSize;
  const tokens: number[][] = Array.from({ length: B }, () => []);
  const logits: Float32Array[] = [];
  if (maxNewTokens === 0) return returnLogits ? { tokens, logits } : { tokens };
  const master = new Rng(seed);
  const rngs = Array.from({ length: B }, () => new Rng(master.nextU32()));
  const done = new Array<boolean>(B).fill(false);
  // The last generated token is never fed back, so the cache needs total − 1 positions.
  using cache = new KVCache(c, { batch: B, maxLength: total - 1, dtype: model.dtype });
  let ids: Int32Array = prompt.ids;
  let seq = prompt.seq;
  for (let step = 0; step < maxNewTokens; step++) {
    const rows = await lastLogits(model, ids, B, seq, cache);
    if (returnLogits) logits.push(rows);
    const next = new Int32Array(B);
    for (let b = 0; b < B; b++) {
      if (done[b]) {
        next[b] = tokens[b].at(-1)!; // a stopped sequence idles on its stop token
        continue;
      }
      const row = rows.subarray(b * V, (b + 1) * V);
      let t: number;
      try {
        t = sampleToken(row, rngs[b], options);
      } catch (e) {
        throw new RangeError(
          `${op}: step ${step}, sequence ${b}: ${(e as Error).message}; ` +
            `look for non-finite weights with await model.findNonFinite()`,
        );
      }
      tokens[b].push(t);
      next[b] = t;
      if (stops.has(t)) done[b] = true;
    }
    if (done.every(Boolean)) break;
    ids = next;
    seq = 1;
  }
  return returnLogits ? { tokens, logits } : { tokens };
}

/** One cached forward step; the f32 logits of each sequence's last position, `[batch·vocab]`. */
async function lastLogits(
  model: LlamaModel,
  ids: Int32Array,
  batch: number,
  seq: number,
  cache: KVCache,
): Promise<Float32Array> {
  using h = model.forwardHidden({ ids, batch, seq }, { cache });
  const last = Array.from({ length: batch }, (_, b) => b * seq + seq - 1);
  using hLast = seq === 1 ? undefined : indexSelect(h, 0, last);
  using logits = model.head(hLast ?? h, batch, 1);
  return await logits.data() as Float32Array;
}
