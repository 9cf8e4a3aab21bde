/**
 * Histogram percentiles of |x| per channel and over the whole tensor, for
 * percentile range calibration (clip at p99.9 instead of the absmax).
 *
 * Binning runs on the CPU: it needs a scatter-add (histogram) kernel that
 * `kernels/ops` does not have yet. Each batch is transposed on the GPU to
 * `[channels, tokens]` and read back (both encoded in `observe`, so the caller
 * may dispose the batch at once), then binned asynchronously, in batch order;
 * `finish()` waits for the queue. Nothing throttles `observe`: a producer much
 * faster than the binning queues batches in memory until they are binned. Each
 * channel gets an {@link AbsHistogram} with a power-of-two range grown by
 * exact re-binning; the estimate is within `range/bins < 2·absmax/bins` of the
 * exact nearest-rank percentile (see `histogram.ts`).
 *
 * NaN/±Inf are found exactly here (token and channel) and make `finish()`
 * throw a {@link NonFiniteError}.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { PercentileObserver } from "./percentile.ts";
 * await initGPU();
 * const obs = new PercentileObserver("down_proj", { percentiles: [0.5, 1] });
 * using x = Tensor.fromArray([[1, -4], [2, 8], [-3, 0]]);
 * obs.observe(x);
 * const r = await obs.finish();
 * console.log(r.channel.p100, r.tensor.p100); // Float64Array [3, 8] 8
 * ```
 * @module
 */
import type { Tensor } from "../../kernels/tensor.ts";
import { transpose } from "../../kernels/ops/layout.ts";
import { AbsHistogram } from "./histogram.ts";
import { BatchObserver, NonFiniteError } from "./observer.ts";

/** Options of {@link PercentileObserver}. */
export interface PercentileOptions {
  /** Percentiles as fractions in (0, 1] (default [0.99, 0.999]). */
  percentiles?: number[];
  /** Bins per channel histogram (default 512; memory channels × bins × 8 B). 0 skips them. */
  channelBins?: number;
  /** Bins of the whole-tensor histogram (default 4096). */
  tensorBins?: number;
}

/** Percentiles of |x| by column name: 0.99 → "p99", 0.999 → "p999", 0.5 → "p50", 1 → "p100". */
export interface PercentileResult {
  /** The layer's name. */
  layer: string;
  /** Tokens observed. */
  tokens: number;
  /** Channels (the last dimension). */
  channels: number;
  /** The fractions asked for. */
  percentiles: number[];
  /** Per channel, one array per percentile (by {@link percentileName}). */
  channel: Record<string, Float64Array>;
  /** Over the whole tensor. */
  tensor: Record<string, number>;
  /** Per channel: the bound on |estimate − exact| (one bin width). */
  channelErrorBound: Float64Array;
  /** The whole-tensor bound. */
  tensorErrorBound: number;
}

/**
 * The column name of a percentile: "p" and its digits in percent.
 *
 * @example
 * ```ts
 * import { percentileName } from "./percentile.ts";
 * console.log(percentileName(0.999), percentileName(0.5)); // "p999" "p50"
 * ```
 */
export function percentileName(p: number): string {
  return "p" + String(Number((p * 100).toPrecision(12))).replace(".", "");
}

/**
 * Streams batches into per-channel and whole-tensor histograms of |x|.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { PercentileObserver } from "./percentile.ts";
 * await initGPU();
 * const obs = new PercentileObserver("x", { percentiles: [0.99] });
 * using x = Tensor.randn([1000, 2], { seed: 0 });
 * obs.observe(x);
 * const r = await obs.finish();
 * console.log(r.tensor.p99 > 2 && r.tensor.p99 < 3); // true
 * ```
 */
export class PercentileObserver extends BatchObserver<PercentileResult> {
  /** The fractions estimated. */
  readonly percentiles: number[];
  readonly #channelBins: number;
  readonly #tensor: AbsHistogram;
  #channels: AbsHistogram[] = [];
  #queue: Promise<void> = Promise.resolve();
  #error: unknown;

  /**
   * An observer with nothing observed yet.
   *
   * @param layer the layer's name
   * @param options percentiles and histogram sizes
   */
  constructor(layer: string, options: PercentileOptions = {}) {
    super(layer);
    this.percentiles = options.percentiles ?? [0.99, 0.999];
    for (const p of this.percentiles) {
      if (!(p > 0 && p <= 1)) {
        throw new RangeError(
          `PercentileObserver "${layer}": percentile ${p} is not a fraction in (0, 1] ` +
            `(write 0.99 for p99)`,
        );
      }
    }
    this.#channelBins = options.channelBins ?? 512;
    this.#tensor = new AbsHistogram(options.tensorBins ?? 4096);
  }

  /**
   * Encodes a transpose to `[channels, tokens]` (so each channel is contiguous
   * for the CPU loop) and its readback now; bins the values when they arrive,
   * in batch order.
   */
  protected accumulate(x: Tensor, batch: number): void {
    const [t, c] = x.shape;
    const start = this.batchStarts[batch];
    using xt = transpose(x);
    const data = xt.data(); // the copy is encoded here, before the caller can dispose x
    this.#queue = this.#queue.then(async () => {
      const d = await data;
      if (this.#error) return;
      try {
        // AbsHistogram.add checks for NaN/Inf before it changes anything.
        this.#tensor.add(d);
      } catch {
        const i = d.findIndex((v) => !Number.isFinite(v));
        throw new NonFiniteError({
          layer: this.layer,
          kind: Number.isNaN(d[i]) ? "NaN" : "Inf",
          channels: [Math.floor(i / t)],
          batch,
          tokens: [start, start + t],
          token: start + (i % t),
        });
      }
      if (this.#channelBins) {
        if (!this.#channels.length) {
          this.#channels = Array.from({ length: c }, () => new AbsHistogram(this.#channelBins));
        }
        for (let ch = 0; ch < c; ch++) this.#channels[ch].add(d.subarray(ch * t, (ch + 1) * t));
      }
    }).catch((e) => {
      this.#error ??= e; // kept for finish(); never an unhandled rejection
    });
  }

  /** Waits for the queued batches and reads the percentiles off the histograms. */
  protected async result(): Promise<PercentileResult> {
    await this.#queue;
    if (this.#error) throw this.#error;
    const channel: Record<string, Float64Array> = {};
    const tensor: Record<string, number> = {};
    for (const p of this.percentiles) {
      const name = percentileName(p);
      channel[name] = Float64Array.from(this.#channels, (h) => h.quantile(p));
      tensor[name] = this.#tensor.quantile(p);
    }
    return {
      layer: this.layer,
      tokens: this.tokens,
      channels: this.channels ?? 0,
      percentiles: [...this.percentiles],
      channel,
      tensor,
      channelErrorBound: Float64Array.from(this.#channels, (h) => h.errorBound),
      tensorErrorBound: this.#tensor.errorBound,
    };
  }
}
