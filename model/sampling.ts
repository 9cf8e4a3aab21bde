/**
 * Choosing the next token from a row of logits: greedy (temperature 0), or
 * a seeded draw from the tempered softmax, optionally restricted to the k
 * most likely tokens (top-k, as HF's `TopKLogitsWarper` then
 * `TemperatureLogitsWarper`, which commute):
 *
 * ```text
 * greedy:   argmax_i ℓᵢ                    (the first index among equal maxima)
 * sampled:  P(i) ∝ exp((ℓᵢ − max ℓ) / T)   for i in the top k (by ℓ; ties to the lower index), else 0
 *           i = the first index whose cumulative P exceeds u·ΣP,  u uniform in [0, 1) from the Rng
 * ```
 *
 * Computed in f64 on the CPU. One draw consumes exactly one number of the
 * generator; greedy (and top-1) consumes none.
 *
 * @example
 * ```ts
 * import { Rng } from "../kernels/random.ts";
 * import { sampleToken } from "./sampling.ts";
 * const logits = [0, 3, 1];
 * console.log(sampleToken(logits, new Rng(0))); // 1
 * console.log(sampleToken(logits, new Rng(0), { temperature: 1, topK: 1 })); // 1
 * ```
 * @module
 */
import type { Rng } from "../kernels/random.ts";

/** Options of {@link sampleToken}. */
export interface SampleOptions {
  /** Softmax temperature; 0 picks the most likely token (greedy). Default 0. */
  temperature?: number;
  /** Draw only among the `topK` most likely tokens. Default: all. */
  topK?: number;
}

/**
 * Checks sampling options; `what` names the caller in the message.
 *
 * @example
 * ```ts
 * import { checkSampleOptions } from "./sampling.ts";
 * try { checkSampleOptions({ temperature: -1 }, "generate"); } catch (e) { console.log((e as Error).name); } // RangeError
 * ```
 */
export function checkSampleOptions(options: SampleOptions, what: string): void {
  const { temperature = 0, topK } = options;
  if (typeof temperature !== "number" || !(temperature >= 0) || !Number.isFinite(temperature)) {
    throw new RangeError(
      `${what}: temperature ${temperature} must be a finite number ≥ 0 (0 = greedy)`,
    );
  }
  if (topK !== undefined && (!Number.isInteger(topK) || topK < 1)) {
    throw new RangeError(`${what}: topK ${topK} must be an integer ≥ 1 (or left out for all)`);
  }
}

/**
 * The next token for one row of logits (length = vocabulary). Logits must be
 * finite or −∞ (a masked token); NaN or +∞ throws, naming the index.
 *
 * @param logits one row of logits
 * @param rng the seeded generator a draw consumes one number of
 * @param options temperature (default 0 = greedy) and top-k
 *
 * @example
 * ```ts
 * import { Rng } from "../kernels/random.ts";
 * import { sampleToken } from "./sampling.ts";
 * const rng = new Rng(42);
 * const draws = Array.from({ length: 8 }, () => sampleToken([1, 1, -Infinity], rng, { temperature: 1 }));
 * console.log(draws.every((t) => t === 0 || t === 1)); // true
 * ```
 */
export function sampleToken(
  logits: ArrayLike<number>,
  rng: Rng,
  options: SampleOptions = {},
): number {
  checkSampleOptions(options, "sampleToken");
  const n = logits.length;
  if (n === 0) throw new RangeError("sampleToken: the logits are empty");
  let best = -1;
  for (let i = 0; i < n; i++) {
    const v = logits[i];
    if (Number.isNaN(v) || v === Infinity) {
      throw new RangeError(
        `sampleToken: logit ${i} is ${v}; logits must be finite or −∞ (check the model for NaN/Inf)`,
      );
    }
    if (v !== -Infinity && (best < 0 || v > logits[best])) best = i;
  }
  if (best < 0) throw new RangeError("sampleToken: every logit is −∞; no token can be chosen");
  const temperature = options.temperature ?? 0;
  const k = Math.min(options.topK ?? n, n);
  if (temperature === 0 || k === 1) return best;
  // The candidates: all, or the k largest (ties to the lower index), in index order.
  let candidates: number[];
  if (k === n) candidates = Array.from({ length: n }, (_, i) => i);
  else {
    const order = Array.from({ length: n }, (_, i) => i);
    order.sort((a, b) => logits[b] - logits[a] || a - b);
    candidates = order.slice(0, k).sort((a, b) => a - b);
  }
  const max = logits[best];
  const weights = candidates.map((i) => Math.exp((logits[i] - max) / temperature));
  let total = 0;
  for (const w of weights) total += w;
  const u = rng.next() * total;
  let cum = 0;
  let last = best;
  for (let j = 0; j < candidates.length; j++) {
    if (weights[j] === 0) continue;
    cum += weights[j];
    last = candidates[j];
    if (cum > u) return last;
  }
  return last; // rounding left u at the very top: the last token with weight
}
