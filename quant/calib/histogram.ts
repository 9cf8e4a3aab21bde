/**
 * A streaming histogram of |x| whose range grows by re-binning, for
 * percentile calibration without keeping the values.
 *
 * The range `[0, range]` is always a power of two, so growing it (doubling,
 * or more) merges whole neighbouring bins exactly: bin edges of the old
 * histogram are edges of the new one, and no count moves across a value.
 * Values are binned as `floor(|v|·bins / range)` computed in f64, which is
 * exact for f32 inputs, so a value sits in the right bin even on an edge.
 *
 * **Error bound.** {@link AbsHistogram.quantile} returns a value inside the
 * bin that holds the requested order statistic (and never above the exact
 * maximum), so `|estimate − exact| ≤ range / bins` ({@link AbsHistogram.errorBound}).
 * Since `range` is the smallest power of two ≥ the largest |x| seen,
 * `range < 2·absmax` and the bound is below `2·absmax / bins` (0.1 % of the
 * absmax with the default 2048 bins).
 *
 * The percentile is the nearest-rank one: the `⌈p·n⌉`-th smallest |x| (1-based),
 * as the reference in `tests/reference/calib.ts` computes it exactly.
 *
 * @example
 * ```ts
 * import { AbsHistogram } from "./histogram.ts";
 * const h = new AbsHistogram(1024);
 * h.add([0.5, -1, 2, 3, -100]);
 * console.log(h.count, h.max); // 5 100
 * console.log(Math.abs(h.quantile(0.8) - 3) <= h.errorBound); // true
 * ```
 * @module
 */

/** Smallest power of two ≥ v (v > 0), exact in f64 over the whole f32 range. */
function pow2Ceil(v: number): number {
  let p = 2 ** Math.ceil(Math.log2(v));
  // Math.log2 may be off by one ulp near powers of two: fix up exactly.
  while (p < v) p *= 2;
  while (p / 2 >= v) p /= 2;
  return p;
}

/** A histogram of absolute values over `[0, range]` with a growing power-of-two range. */
export class AbsHistogram {
  /** Number of bins. */
  readonly bins: number;
  /** Count of nonzero |x| per bin (f64, exact up to 2^53 values). */
  counts: Float64Array;
  /** Upper end of the binned range: 0 until a nonzero value arrives, then a power of two. */
  range = 0;
  /** Number of values added. */
  count = 0;
  /** Largest |x| added (exact). */
  max = 0;
  /** Number of exact zeros added (kept out of the bins). */
  zeros = 0;

  /**
   * An empty histogram.
   *
   * @param bins number of bins (2 to 2^24); the error bound is `range / bins`.
   */
  constructor(bins = 2048) {
    if (!Number.isInteger(bins) || bins < 2 || bins > 2 ** 24) {
      throw new RangeError(`AbsHistogram: bins must be an integer in [2, 2^24], got ${bins}`);
    }
    this.bins = bins;
    this.counts = new Float64Array(bins);
  }

  /**
   * Adds |v| for every value of `values` (from `offset`, every `stride`-th
   * one: a channel of a row-major [tokens, channels] batch). NaN throws
   * (its position is in the message): callers check for it first.
   *
   * @example
   * ```ts
   * import { AbsHistogram } from "./histogram.ts";
   * const h = new AbsHistogram();
   * // channel 1 of a 2×3 batch [[1, 2, 3], [4, 5, 6]]
   * h.add([1, 2, 3, 4, 5, 6], 3, 1);
   * console.log(h.count, h.max); // 2 5
   * ```
   */
  add(values: ArrayLike<number>, stride = 1, offset = 0): void {
    let top = this.max;
    for (let i = offset; i < values.length; i += stride) {
      const a = Math.abs(values[i]);
      if (a > top) top = a;
      else if (!(a <= top)) {
        throw new RangeError(`AbsHistogram.add: NaN at index ${i}`);
      }
    }
    if (top === Infinity) throw new RangeError("AbsHistogram.add: an infinite value");
    if (top > this.range) this.grow(top);
    this.max = top;
    const { counts, bins } = this;
    const scale = this.range > 0 ? bins / this.range : 0;
    const last = bins - 1;
    let zeros = 0, n = 0;
    for (let i = offset; i < values.length; i += stride) {
      const a = Math.abs(values[i]);
      n++;
      if (a === 0) {
        zeros++; // exact zeros are counted apart: a percentile among them is exactly 0
        continue;
      }
      const b = (a * scale) | 0; // floor: 0 ≤ a·scale ≤ bins < 2^31
      counts[b < last ? b : last]++;
    }
    this.count += n;
    this.zeros += zeros;
  }

  /** Grows the range to the smallest power of two ≥ `v`, merging bins exactly. */
  private grow(v: number): void {
    const next = pow2Ceil(v);
    if (this.range === 0) {
      this.range = next; // only zeros so far (they are not binned)
      return;
    }
    const factor = next / this.range; // a power of two ≥ 2
    const merged = new Float64Array(this.bins);
    for (let i = 0; i < this.bins; i++) {
      if (this.counts[i]) merged[Math.floor(i / factor)] += this.counts[i];
    }
    this.counts = merged;
    this.range = next;
  }

  /** The guaranteed bound on `|quantile(p) − exact|`: one bin width, `range / bins`. */
  get errorBound(): number {
    return this.range / this.bins;
  }

  /**
   * The nearest-rank percentile of |x|: an estimate of the `⌈p·n⌉`-th
   * smallest value, interpolated linearly inside its bin and capped at the
   * exact maximum; within {@link errorBound} of the exact value. `p` in
   * (0, 1]; NaN when no values were added.
   *
   * @example
   * ```ts
   * import { AbsHistogram } from "./histogram.ts";
   * const h = new AbsHistogram(256);
   * h.add(Array.from({ length: 1000 }, (_, i) => i / 1000));
   * console.log(Math.abs(h.quantile(0.99) - 0.989) <= h.errorBound); // true
   * ```
   */
  quantile(p: number): number {
    if (!(p > 0 && p <= 1)) {
      throw new RangeError(`AbsHistogram.quantile: p must be in (0, 1], got ${p}`);
    }
    if (this.count === 0) return NaN;
    // ⌈p·n⌉ with p·n rounded to 12 digits first, so 0.99·100 is 99, not 100.
    const k = Math.max(1, Math.ceil(Number((p * this.count).toPrecision(12))));
    if (k >= this.count) return this.max;
    if (k <= this.zeros || this.range === 0) return 0;
    const width = this.range / this.bins;
    let cum = this.zeros;
    for (let j = 0; j < this.bins; j++) {
      const c = this.counts[j];
      if (cum + c >= k) {
        const est = j * width + width * ((k - cum) / c);
        return Math.min(est, this.max);
      }
      cum += c;
    }
    return this.max;
  }
}
