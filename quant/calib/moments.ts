/**
 * Per-channel moments of a layer's activations on the GPU: mean,
 * variance/std, kurtosis and mean |x| per channel, accumulated batch by
 * batch (shifted sums, so a large mean does not cancel the variance).
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { MomentsObserver } from "./moments.ts";
 * await initGPU();
 * const obs = new MomentsObserver("fc1");
 * using x = Tensor.fromArray([[1, -2], [3, 2]]);
 * obs.observe(x);
 * console.log((await obs.finish()).mean); // Float64Array [2, 0]
 * ```
 * @module
 */
import type { Tensor } from "../../kernels/tensor.ts";
import { add, mul, sub, unary } from "../../kernels/ops/elementwise.ts";
import { sum as reduceSum } from "../../kernels/ops/reduce.ts";
import { BatchObserver, NonFiniteTracker } from "./observer.ts";

/** Per-channel moments of a layer's activations (population statistics, ÷n). */
export interface MomentsResult {
  /** The layer's name. */
  layer: string;
  /** Tokens observed. */
  tokens: number;
  /** Channels (the last dimension). */
  channels: number;
  /** Per-channel mean. */
  mean: Float64Array;
  /** Population variance m2 = Σ(x − mean)²/n. */
  variance: Float64Array;
  /** √variance. */
  std: Float64Array;
  /**
   * Pearson kurtosis m4/m2² (3 for a normal distribution, not the excess);
   * NaN for a constant channel (std ≤ 4·ε_f32·|mean|, all-zero channels included).
   * Empty when the observer was made with `kurtosis: false`.
   */
  kurtosis: Float64Array;
  /** Mean |x| (the per-channel activation scale AWQ uses). */
  absmean: Float64Array;
}

/** Options of {@link MomentsObserver}. */
export interface MomentsOptions {
  /** Also accumulate the 3rd and 4th central moments for kurtosis (default true). */
  kurtosis?: boolean;
}

const EPS32 = 2 ** -23;

/**
 * Running per-channel mean, variance, kurtosis and mean |x| on the GPU.
 * Each batch: column sums give the batch mean, then the batch's central sums
 * Σd², Σd³, Σd⁴ (d = x − batch mean: two passes inside the batch, no
 * cancellation); batches merge by Chan/Pébay's pairwise formulas with the
 * token counts as f64 scalars. Kurtosis is reported as m4/m2².
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { MomentsObserver } from "./observers.ts";
 * await initGPU();
 * const obs = new MomentsObserver("fc1");
 * using x = Tensor.fromArray([[1], [-1], [1], [-1]]);
 * obs.observe(x);
 * const m = await obs.finish();
 * console.log(m.std, m.kurtosis); // Float64Array [1] Float64Array [1]
 * ```
 */
export class MomentsObserver extends BatchObserver<MomentsResult> {
  readonly #kurtosis: boolean;
  #n = 0;
  #mean?: Tensor;
  #m2?: Tensor;
  #m3?: Tensor;
  #m4?: Tensor;
  #abs?: Tensor;
  #bad = new NonFiniteTracker();

  /**
   * An observer with nothing observed yet.
   *
   * @param layer the layer's name
   * @param options whether to accumulate kurtosis
   */
  constructor(layer: string, options: MomentsOptions = {}) {
    super(layer);
    this.#kurtosis = options.kurtosis ?? true;
  }

  /**
   * Queues one batch's moments and the merge into the running state. Each
   * `[tokens, channels]` temporary is freed as soon as its reduction is
   * encoded, so at most three live beside the batch.
   */
  protected accumulate(x: Tensor, batch: number): void {
    const nb = x.shape[0];
    let meanB: Tensor, m2b: Tensor, absB: Tensor;
    let m3b: Tensor | undefined, m4b: Tensor | undefined;
    {
      using s = reduceSum(x, 0);
      this.#bad.track(s, batch);
      meanB = mul(s, 1 / nb);
    }
    {
      using d = sub(x, meanB);
      using d2 = unary("square", d);
      m2b = reduceSum(d2, 0);
      if (this.#kurtosis) {
        {
          using d3 = mul(d2, d);
          m3b = reduceSum(d3, 0);
        }
        using d4 = unary("square", d2);
        m4b = reduceSum(d4, 0);
      }
    }
    {
      using a = unary("abs", x);
      absB = reduceSum(a, 0);
    }
    if (this.#n === 0) {
      [this.#mean, this.#m2, this.#m3, this.#m4, this.#abs] = [meanB, m2b, m3b, m4b, absB];
      this.#n = nb;
      return;
    }
    const tmp: Tensor[] = [meanB, m2b, absB];
    if (m3b && m4b) tmp.push(m3b, m4b);
    try {
      this.#merge(nb, meanB, m2b, m3b, m4b, tmp);
      const abs = add(this.#abs!, absB);
      this.#abs!.dispose();
      this.#abs = abs;
    } finally {
      for (const y of tmp) y.dispose();
    }
  }

  /** Pébay's pairwise merge of (n_a, mean, M2, M3, M4) with a batch's. */
  #merge(
    nb: number,
    meanB: Tensor,
    m2b: Tensor,
    m3b: Tensor | undefined,
    m4b: Tensor | undefined,
    tmp: Tensor[],
  ): void {
    const t = (y: Tensor) => (tmp.push(y), y);
    const na = this.#n, n = na + nb;
    const [meanA, m2a, m3a, m4a] = [this.#mean!, this.#m2!, this.#m3, this.#m4];
    const delta = t(sub(meanB, meanA));
    const delta2 = t(unary("square", delta));
    // mean = mean_a + δ·n_b/n
    const mean = add(meanA, t(mul(delta, nb / n)));
    // M2 = M2a + M2b + δ²·n_a·n_b/n
    const m2 = add(t(add(m2a, m2b)), t(mul(delta2, (na * nb) / n)));
    let m3: Tensor | undefined, m4: Tensor | undefined;
    if (m3a && m4a && m3b && m4b) {
      // M3 = M3a + M3b + δ³·n_a·n_b·(n_a − n_b)/n² + 3δ·(n_a·M2b − n_b·M2a)/n
      const delta3 = t(mul(delta2, delta));
      const cross2 = t(sub(t(mul(m2b, na)), t(mul(m2a, nb))));
      m3 = add(
        t(add(t(add(m3a, m3b)), t(mul(delta3, (na * nb * (na - nb)) / (n * n))))),
        t(mul(t(mul(delta, cross2)), 3 / n)),
      );
      // M4 = M4a + M4b + δ⁴·n_a·n_b·(n_a² − n_a·n_b + n_b²)/n³
      //      + 6δ²·(n_a²·M2b + n_b²·M2a)/n² + 4δ·(n_a·M3b − n_b·M3a)/n
      const delta4 = t(unary("square", delta2));
      const w2 = t(add(t(mul(m2b, na * na)), t(mul(m2a, nb * nb))));
      const cross3 = t(sub(t(mul(m3b, na)), t(mul(m3a, nb))));
      const terms = [
        t(add(m4a, m4b)),
        t(mul(delta4, (na * nb * (na * na - na * nb + nb * nb)) / (n * n * n))),
        t(mul(t(mul(delta2, w2)), 6 / (n * n))),
        t(mul(t(mul(delta, cross3)), 4 / n)),
      ];
      m4 = add(t(add(terms[0], terms[1])), t(add(terms[2], terms[3])));
    }
    for (const old of [meanA, m2a, m3a, m4a]) old?.dispose();
    [this.#mean, this.#m2, this.#m3, this.#m4] = [mean, m2, m3, m4];
    this.#n = n;
  }

  /** Reads the moments back and finishes them in f64. */
  protected async result(): Promise<MomentsResult> {
    await this.#bad.check(this.layer, this.batchStarts, this.tokens);
    const n = this.#n;
    const [mean, m2, m4, abs] = (await Promise.all(
      [this.#mean, this.#m2, this.#m4, this.#abs].map((x) => x ? x.data() : undefined),
    )).map((d) => (d ? Float64Array.from(d) : new Float64Array(0)));
    const variance = m2.map((v) => Math.max(v, 0) / n);
    const std = variance.map(Math.sqrt);
    const kurtosis = this.#kurtosis
      ? variance.map((v, i) =>
        std[i] > 4 * EPS32 * Math.abs(mean[i]) && v > 0 ? (m4[i] / n) / (v * v) : NaN
      )
      : new Float64Array(0);
    return {
      layer: this.layer,
      tokens: this.tokens,
      channels: mean.length,
      mean,
      variance,
      std,
      kurtosis,
      absmean: abs.map((v) => v / n),
    };
  }

  /** Frees the GPU state. */
  protected override release(): void {
    for (const x of [this.#mean, this.#m2, this.#m3, this.#m4, this.#abs]) x?.dispose();
    this.#bad.dispose();
  }
}
