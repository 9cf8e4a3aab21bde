/**
 * Pure-TS references for quant/calib/ and quant/metrics.ts: the whole
 * activation matrix at once (no streaming), two-pass moments in f64, exact
 * percentiles by sorting, XᵀX by triple loop. Obviously correct and slow.
 * @module
 */

/** Per-channel statistics of a row-major [tokens, channels] matrix, in f64. */
export interface RefChannelStats {
  min: number[];
  max: number[];
  absmax: number[];
  absmean: number[];
  mean: number[];
  /** Population variance (÷n). */
  variance: number[];
  std: number[];
  /** Pearson kurtosis m4/m2² (3 for a normal); NaN for a constant channel. */
  kurtosis: number[];
}

/** Column `c` of a row-major [t, ch] matrix. */
export function column(x: ArrayLike<number>, t: number, ch: number, c: number): number[] {
  return Array.from({ length: t }, (_, i) => x[i * ch + c]);
}

/** Two-pass per-channel statistics. */
export function refChannelStats(x: ArrayLike<number>, t: number, ch: number): RefChannelStats {
  const out: RefChannelStats = {
    min: [],
    max: [],
    absmax: [],
    absmean: [],
    mean: [],
    variance: [],
    std: [],
    kurtosis: [],
  };
  for (let c = 0; c < ch; c++) {
    const v = column(x, t, ch, c);
    const mean = v.reduce((a, b) => a + b, 0) / t;
    let m2 = 0, m4 = 0;
    for (const e of v) {
      m2 += (e - mean) ** 2;
      m4 += (e - mean) ** 4;
    }
    m2 /= t;
    m4 /= t;
    out.min.push(Math.min(...v));
    out.max.push(Math.max(...v));
    out.absmax.push(Math.max(...v.map(Math.abs)));
    out.absmean.push(v.reduce((a, b) => a + Math.abs(b), 0) / t);
    out.mean.push(mean);
    out.variance.push(m2);
    out.std.push(Math.sqrt(m2));
    out.kurtosis.push(m2 > 0 ? m4 / (m2 * m2) : NaN);
  }
  return out;
}

/** The nearest-rank percentile of |v|: the ⌈p·n⌉-th smallest (1-based), by sorting. */
export function refAbsPercentile(v: ArrayLike<number>, p: number): number {
  const s = Array.from(v, Math.abs).sort((a, b) => a - b);
  // ⌈p·n⌉ with p·n rounded first, so 0.99·100 is 99, not 100 (float error).
  const k = Math.max(1, Math.ceil(Number((p * s.length).toPrecision(12))));
  return s[Math.min(k, s.length) - 1];
}

/** Median (mean of the two middle values for an even count). */
export function refMedian(v: ArrayLike<number>): number {
  const s = Array.from(v).sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Channels whose absmax exceeds k × the median channel absmax. */
export function refOutliers(absmax: ArrayLike<number>, k: number): boolean[] {
  const med = refMedian(absmax);
  return Array.from(absmax, (a) => a > k * med);
}

/** The GPTQ Hessian proxy 2/n·XᵀX of a row-major [n, k] matrix, in f64. */
export function refHessian(x: ArrayLike<number>, n: number, k: number): Float64Array {
  const h = new Float64Array(k * k);
  for (let i = 0; i < k; i++) {
    for (let j = 0; j < k; j++) {
      let s = 0;
      for (let t = 0; t < n; t++) s += x[t * k + i] * x[t * k + j];
      h[i * k + j] = (2 / n) * s;
    }
  }
  return h;
}

/** Error metrics of q against x, in f64, straight from the definitions. */
export function refErrorMetrics(x: ArrayLike<number>, q: ArrayLike<number>): {
  mse: number;
  sqnr: number;
  cosine: number;
  maxAbsError: number;
  kernelFraction: number;
} {
  let se = 0, sx = 0, sq = 0, dot = 0, mae = 0, nz = 0, kern = 0;
  for (let i = 0; i < x.length; i++) {
    const d = x[i] - q[i];
    se += d * d;
    sx += x[i] * x[i];
    sq += q[i] * q[i];
    dot += x[i] * q[i];
    mae = Math.max(mae, Math.abs(d));
    if (x[i] !== 0) {
      nz++;
      if (q[i] === 0) kern++;
    }
  }
  return {
    mse: se / x.length,
    sqnr: 10 * Math.log10(sx / se),
    cosine: dot / Math.sqrt(sx * sq),
    maxAbsError: mae,
    kernelFraction: nz ? kern / nz : 0,
  };
}
