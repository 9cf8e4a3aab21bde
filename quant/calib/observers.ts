/**
 * Per-channel calibration observers over streamed activations `[tokens, channels]`:
 *
 * - {@link MinMaxObserver}: min, max, absmax per channel.
 * - {@link MomentsObserver}: mean, variance/std, kurtosis, mean |x| per channel,
 *   merged across batches with Chan et al.'s pairwise update extended to the
 *   third and fourth central moments (Pébay 2008), so uneven batches give the
 *   same numbers as one pass over all tokens, without cancellation.
 * - {@link OutlierObserver} / {@link outlierChannels}: channels whose absmax
 *   exceeds k × the median channel absmax, and the max-to-mean ratio.
 * - {@link PercentileObserver} (in `percentile.ts`): histogram percentiles of |x|.
 * - {@link ChannelStatsObserver}: all of the above, the rows of the per-channel
 *   and per-layer Arrow tables (`table.ts`).
 *
 * All but the percentile observer run on the GPU: each batch is reduced along
 * the token axis (`kernels/ops/reduce.ts`) into `[channels]` tensors, merged
 * with elementwise ops into running `[channels]` state, and nothing is read
 * back until `finish()`. NaN/±Inf are tracked per channel and batch on the
 * GPU and make `finish()` throw a {@link NonFiniteError}.
 *
 * References: T. F. Chan, G. H. Golub, R. J. LeVeque, "Updating formulae and a
 * pairwise algorithm for computing sample variances", 1979; P. Pébay, "Formulas
 * for robust, one-pass parallel computation of covariances and arbitrary-order
 * statistical moments", Sandia report SAND2008-6212.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { MomentsObserver } from "./observers.ts";
 * await initGPU();
 * const obs = new MomentsObserver("layers.0.mlp.up_proj");
 * using a = Tensor.fromArray([[1, 10], [3, 10]]);
 * using b = Tensor.fromArray([[5, 10]]);
 * obs.observe(a);
 * obs.observe(b);
 * const m = await obs.finish();
 * console.log(m.mean, m.variance); // Float64Array [3, 10] Float64Array [2.6666…, 0]
 * ```
 * @module
 */
import type { Tensor } from "../../kernels/tensor.ts";
import { binary, unary } from "../../kernels/ops/elementwise.ts";
import { max as reduceMax, min as reduceMin } from "../../kernels/ops/reduce.ts";
import { BatchObserver, NonFiniteTracker, type Observer } from "./observer.ts";
import { PercentileObserver, type PercentileResult } from "./percentile.ts";

export { NonFiniteError } from "./observer.ts";
export type { Observer } from "./observer.ts";
export { PercentileObserver } from "./percentile.ts";
import { MomentsObserver, type MomentsResult } from "./moments.ts";
export { MomentsObserver, type MomentsOptions, type MomentsResult } from "./moments.ts";

/** Per-channel range of a layer's activations. */
export interface MinMaxResult {
  /** The layer's name. */
  layer: string;
  /** Tokens observed. */
  tokens: number;
  /** Channels (the last dimension). */
  channels: number;
  /** Per-channel minimum. */
  min: Float32Array;
  /** Per-channel maximum. */
  max: Float32Array;
  /** max(|min|, |max|) per channel. */
  absmax: Float32Array;
}

/**
 * Running per-channel min and max (absmax follows) on the GPU: two axis-0
 * reductions per batch, merged with elementwise min/max.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { MinMaxObserver } from "./observers.ts";
 * await initGPU();
 * const obs = new MinMaxObserver("q_proj");
 * using x = Tensor.fromArray([[1, -7], [-2, 3]]);
 * obs.observe(x);
 * const r = await obs.finish();
 * console.log(r.min, r.max, r.absmax); // [-2, -7] [1, 3] [2, 7]
 * ```
 */
export class MinMaxObserver extends BatchObserver<MinMaxResult> {
  #min?: Tensor;
  #max?: Tensor;
  #bad = new NonFiniteTracker();

  /** Queues one batch's reductions and merge. */
  protected accumulate(x: Tensor, batch: number): void {
    const mn = reduceMin(x, 0);
    const mx = reduceMax(x, 0);
    // absmax of the batch = max(−min, max): NaN if the channel held NaN, Inf if ±Inf.
    using neg = unary("neg", mn);
    using am = binary("max", neg, mx);
    this.#bad.track(am, batch);
    if (!this.#min || !this.#max) {
      this.#min = mn;
      this.#max = mx;
      return;
    }
    const nextMin = binary("min", this.#min, mn);
    const nextMax = binary("max", this.#max, mx);
    for (const t of [this.#min, this.#max, mn, mx]) t.dispose();
    this.#min = nextMin;
    this.#max = nextMax;
  }

  /** Reads min/max back. */
  protected async result(): Promise<MinMaxResult> {
    await this.#bad.check(this.layer, this.batchStarts, this.tokens);
    const [mn, mx] = await Promise.all([this.#min!.data(), this.#max!.data()]);
    const min = Float32Array.from(mn), max = Float32Array.from(mx);
    const absmax = min.map((v, i) => Math.max(-v, max[i]));
    return { layer: this.layer, tokens: this.tokens, channels: min.length, min, max, absmax };
  }

  /** Frees the GPU state. */
  protected override release(): void {
    this.#min?.dispose();
    this.#max?.dispose();
    this.#bad.dispose();
  }
}

/** Outlier channels of a layer by the median rule. */
export interface OutlierResult {
  /** The multiplier k. */
  k: number;
  /** Median channel absmax (mean of the middle two for an even count). */
  median: number;
  /** k × median: channels above it are outliers. */
  threshold: number;
  /** 1 for an outlier channel, else 0. */
  isOutlier: Uint8Array;
  /** Outlier channel indices, ascending. */
  indices: number[];
  /** Number of outlier channels. */
  count: number;
  /** Largest channel absmax (the layer's absmax). */
  maxAbsmax: number;
  /** Mean channel absmax. */
  meanAbsmax: number;
  /** maxAbsmax / meanAbsmax: how far the worst channel stands out (NaN when all are 0). */
  maxToMean: number;
}

/**
 * Default outlier multiplier. LLM.int8() (Dettmers et al., "LLM.int8(): 8-bit
 * Matrix Multiplication for Transformers at Scale", NeurIPS 2022, §3.2 / §4)
 * treats hidden-state features with magnitude ≥ 6 as outliers, an absolute
 * threshold for activations of roughly unit scale. lowbit makes the rule
 * scale-free, relative to the median channel absmax, and borrows the 6.
 */
export const DEFAULT_OUTLIER_K = 6;

/**
 * Channels whose absmax exceeds `k` × the median channel absmax. When the
 * median is 0 (most channels silent), every nonzero channel is an outlier.
 *
 * @example
 * ```ts
 * import { outlierChannels } from "./observers.ts";
 * const r = outlierChannels([1, 1.2, 0.9, 40, 1.1], 6);
 * console.log(r.indices, r.median, r.maxToMean.toFixed(2)); // [3] 1.1 "4.52"
 * ```
 */
export function outlierChannels(absmax: ArrayLike<number>, k = DEFAULT_OUTLIER_K): OutlierResult {
  if (!(k > 0)) throw new RangeError(`outlierChannels: k must be > 0, got ${k}`);
  const n = absmax.length;
  if (n === 0) throw new RangeError("outlierChannels: no channels");
  const sorted = Float64Array.from(absmax).sort();
  if (Number.isNaN(sorted[n - 1])) throw new RangeError("outlierChannels: absmax holds NaN");
  const mid = n >> 1;
  const median = n % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  const threshold = k * median;
  const isOutlier = new Uint8Array(n);
  const indices: number[] = [];
  let sum = 0;
  for (let c = 0; c < n; c++) {
    sum += absmax[c];
    if (absmax[c] > threshold) {
      isOutlier[c] = 1;
      indices.push(c);
    }
  }
  const meanAbsmax = sum / n;
  const maxAbsmax = sorted[n - 1];
  return {
    k,
    median,
    threshold,
    isOutlier,
    indices,
    count: indices.length,
    maxAbsmax,
    meanAbsmax,
    maxToMean: meanAbsmax > 0 ? maxAbsmax / meanAbsmax : NaN,
  };
}

/** {@link MinMaxResult} with the outlier analysis. */
export interface OutlierObserverResult extends MinMaxResult {
  /** Outlier channels by the median rule. */
  outliers: OutlierResult;
}

/**
 * Min/max per channel plus outlier channels (absmax > k × median) and the
 * max-to-mean ratio of channel absmax.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { OutlierObserver } from "./observers.ts";
 * await initGPU();
 * const obs = new OutlierObserver("o_proj", { k: 4 });
 * using x = Tensor.fromArray([[1, -1, 50, 1], [0.5, 1, 2, -1]]);
 * obs.observe(x);
 * console.log((await obs.finish()).outliers.indices); // [2]
 * ```
 */
export class OutlierObserver extends MinMaxObserver {
  /** The multiplier k. */
  readonly k: number;
  /**
   * An observer with nothing observed yet.
   *
   * @param layer the layer's name
   * @param options `k`, the multiplier of the median (default {@link DEFAULT_OUTLIER_K})
   */
  constructor(layer: string, options: { k?: number } = {}) {
    super(layer);
    this.k = options.k ?? DEFAULT_OUTLIER_K;
    if (!(this.k > 0)) throw new RangeError(`OutlierObserver: k must be > 0, got ${this.k}`);
  }

  /** Min/max and the outliers. */
  override finish(): Promise<OutlierObserverResult> {
    return super.finish().then((r) => ({ ...r, outliers: outlierChannels(r.absmax, this.k) }));
  }
}

/** Everything known about one layer's activations: the rows of the Arrow tables. */
export interface LayerStats extends MinMaxResult {
  /** Per-channel mean |x|. */
  absmean: Float64Array;
  /** Per-channel mean. */
  mean: Float64Array;
  /** Per-channel population standard deviation. */
  std: Float64Array;
  /** Per-channel Pearson kurtosis m4/m2² (NaN for a constant channel). */
  kurtosis: Float64Array;
  /** Per-channel percentiles of |x| by column name ("p99", "p999"); empty without percentiles. */
  percentiles: Record<string, Float64Array>;
  /** The same percentiles over the whole tensor. */
  tensorPercentiles: Record<string, number>;
  /** Largest per-channel percentile error bound (see `histogram.ts`); 0 without percentiles. */
  percentileErrorBound: number;
  /** Outlier channels by the median rule. */
  outliers: OutlierResult;
}

/** Options of {@link ChannelStatsObserver}. */
export interface ChannelStatsOptions {
  /** Outlier multiplier k (default 6). */
  k?: number;
  /** Percentiles of |x| to estimate, in (0, 1] (default [0.99, 0.999]); [] skips them (no CPU work). */
  percentiles?: number[];
  /** Histogram bins per channel (default 512; memory channels × bins × 8 B). */
  channelBins?: number;
  /** Histogram bins for the whole tensor (default 4096). */
  tensorBins?: number;
}

/**
 * All per-channel statistics of a layer at once: {@link MinMaxObserver},
 * {@link MomentsObserver} (GPU) and {@link PercentileObserver} (CPU
 * histograms) fed the same batches, plus the outlier analysis.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { ChannelStatsObserver } from "./observers.ts";
 * await initGPU();
 * const obs = new ChannelStatsObserver("layers.0.self_attn.q_proj");
 * using x = Tensor.randn([64, 8], { seed: 1 });
 * obs.observe(x);
 * const s = await obs.finish();
 * console.log(s.tokens, s.channels, Object.keys(s.percentiles)); // 64 8 ["p99", "p999"]
 * ```
 */
export class ChannelStatsObserver implements Observer<LayerStats> {
  /** The layer's name. */
  readonly layer: string;
  readonly #k: number;
  readonly #minmax: MinMaxObserver;
  readonly #moments: MomentsObserver;
  readonly #pct?: PercentileObserver;

  /**
   * An observer with nothing observed yet.
   *
   * @param layer the layer's name
   * @param options outlier k, percentiles and histogram sizes
   */
  constructor(layer: string, options: ChannelStatsOptions = {}) {
    this.layer = layer;
    this.#k = options.k ?? DEFAULT_OUTLIER_K;
    if (!(this.#k > 0)) throw new RangeError(`ChannelStatsObserver: k must be > 0, got ${this.#k}`);
    this.#minmax = new MinMaxObserver(layer);
    this.#moments = new MomentsObserver(layer);
    const ps = options.percentiles ?? [0.99, 0.999];
    if (ps.length) {
      this.#pct = new PercentileObserver(layer, {
        percentiles: ps,
        channelBins: options.channelBins ?? 512,
        tensorBins: options.tensorBins ?? 4096,
      });
    }
  }

  /** Tokens observed so far. */
  get tokens(): number {
    return this.#minmax.tokens;
  }

  /** Batches observed so far. */
  get batches(): number {
    return this.#minmax.batches;
  }

  /** Queues one batch in every part. */
  observe(x: Tensor): void {
    this.#minmax.observe(x); // validates first
    this.#moments.observe(x);
    this.#pct?.observe(x);
  }

  /** Reads everything back. NaN/Inf throw a {@link NonFiniteError}. */
  async finish(): Promise<LayerStats> {
    const settled = await Promise.allSettled([
      this.#minmax.finish(),
      this.#moments.finish(),
      this.#pct ? this.#pct.finish() : Promise.resolve(undefined),
    ]);
    for (const s of settled) if (s.status === "rejected") throw s.reason;
    const [mm, mo, pc] = settled.map((s) => (s as PromiseFulfilledResult<unknown>).value) as [
      MinMaxResult,
      MomentsResult,
      PercentileResult | undefined,
    ];
    return {
      layer: this.layer,
      tokens: mm.tokens,
      channels: mm.channels,
      min: mm.min,
      max: mm.max,
      absmax: mm.absmax,
      absmean: mo.absmean,
      mean: mo.mean,
      std: mo.std,
      kurtosis: mo.kurtosis,
      percentiles: pc?.channel ?? {},
      tensorPercentiles: pc?.tensor ?? {},
      percentileErrorBound: pc ? pc.channelErrorBound.reduce((a, b) => Math.max(a, b), 0) : 0,
      outliers: outlierChannels(mm.absmax, this.#k),
    };
  }
}
