/**
 * Range setting: the clipping range of each scale group. From the
 * per-group statistics for min-max and absmean; from the data for
 * percentile, absmedian and KL; by a GPU grid search for MSE-optimal
 * clipping ("A White Paper on Neural Network Quantization", Nagel et al.
 * 2021, §3.5; TensorRT's entropy calibration for KL).
 *
 * @example
 * ```ts
 * import { klThreshold } from "./range.ts";
 * const x = Float32Array.from({ length: 4096 }, (_, i) => Math.sin(i) * (i % 97 === 0 ? 20 : 1));
 * const t = klThreshold(x, 127);
 * console.log(t > 0.5 && t < 20); // true: the rare ±20 outliers are clipped
 * ```
 * @module
 */
import type { Tensor } from "../kernels/tensor.ts";
import { GROUP_STATS_WIDTH, mseClipSearch } from "../kernels/ops/quantize.ts";
import { Tensor as T } from "../kernels/tensor.ts";
import { elementFormat, isInt, MAX_KL_BINS, type Quantizer } from "./quantizer.ts";
import { decisionTable } from "./table.ts";

/** Per-group ranges: `clip` (symmetric magnitude, or the mean magnitude for absmean/absmedian) and min/max. */
export interface GroupRanges {
  /** "clip": clip is a range limit; "mean": clip is a mean magnitude used directly as the scale. */
  kind: "clip" | "mean";
  clip: Float32Array;
  min: Float32Array;
  max: Float32Array;
}

/**
 * The range of every group of `x` under `q`'s range setting, given the
 * {@link groupStats} table already read back.
 */
export async function groupRanges(
  q: Quantizer,
  x: Tensor,
  stats: Float32Array,
  { groupSize, groups, name }: { groupSize: number; groups: number; name: string },
): Promise<GroupRanges> {
  const col = (c: number) =>
    Float32Array.from({ length: groups }, (_, i) => stats[i * GROUP_STATS_WIDTH + c]);
  const perTensor = q.granularity.kind === "tensor";
  let clip = col(0);
  let min = col(1);
  let max = col(2);
  let kind: "clip" | "mean" = "clip";
  const everywhere = (v: number) => new Float32Array(groups).fill(v);
  if (perTensor) {
    clip = everywhere(clip.reduce((a, b) => Math.max(a, b), 0));
    min = everywhere(min.reduce((a, b) => Math.min(a, b), Infinity));
    max = everywhere(max.reduce((a, b) => Math.max(a, b), -Infinity));
  }
  const r = q.range;
  switch (r.kind) {
    case "minmax":
      break;
    case "absmean": {
      kind = "mean";
      const sumAbs = col(4);
      if (perTensor) clip = everywhere(sumAbs.reduce((a, b) => a + b, 0) / (groups * groupSize));
      else clip = sumAbs.map((s) => s / groupSize);
      break;
    }
    case "absmedian": {
      kind = "mean";
      clip = await perGroupOfData(x, groupSize, groups, perTensor, (v) => median(v.map(Math.abs)));
      break;
    }
    case "percentile": {
      const p = r.p;
      if (q.symmetric) {
        clip = await perGroupOfData(
          x,
          groupSize,
          groups,
          perTensor,
          (v) => quantile(v.map(Math.abs), p),
        );
      } else {
        min = await perGroupOfData(x, groupSize, groups, perTensor, (v) => quantile(v, 100 - p));
        max = await perGroupOfData(x, groupSize, groups, perTensor, (v) => quantile(v, p));
      }
      break;
    }
    case "kl": {
      const fmt = elementFormat(q.format);
      const levels = isInt(fmt) ? fmt.qmax : (decisionTable(fmt).values.length - 1) / 2;
      if (!q.symmetric) throw new RangeError(`${name}: KL range setting is symmetric only`);
      clip = await perGroupOfData(
        x,
        groupSize,
        groups,
        perTensor,
        (v) => klThreshold(v, levels, r.bins),
      );
      break;
    }
    case "mse": {
      const fmt = elementFormat(q.format);
      const ratios = Array.from(
        { length: r.grid },
        (_, i) => 1 - (1 - r.minRatio) * i / Math.max(1, r.grid - 1),
      );
      if (!q.symmetric || perTensor) {
        // one search over the whole tensor (or shrinking [min, max]) on the CPU
        const best = await cpuMseRatio(q, x, groupSize, groups, perTensor, ratios, clip, min, max);
        clip = clip.map((c, i) => c * best[i]);
        min = min.map((m, i) => m * best[i]);
        max = max.map((m, i) => m * best[i]);
      } else {
        const maxValue = isInt(fmt) ? fmt.qmax : fmt.maxValue;
        using amax = T.fromArray(clip);
        using idx = mseClipSearch(x, {
          groupSize,
          table: decisionTable(fmt),
          amax,
          maxValue,
          ratios,
        });
        const best = await idx.data();
        clip = clip.map((c, i) => c * ratios[best[i]]);
      }
      break;
    }
  }
  return { kind, clip, min, max };
}

async function perGroupOfData(
  x: Tensor,
  groupSize: number,
  groups: number,
  perTensor: boolean,
  f: (v: Float64Array) => number,
): Promise<Float32Array<ArrayBuffer>> {
  const data = await x.data();
  if (perTensor) return new Float32Array(groups).fill(f(Float64Array.from(data)));
  const out = new Float32Array(groups);
  for (let g = 0; g < groups; g++) {
    out[g] = f(Float64Array.from(data.subarray(g * groupSize, (g + 1) * groupSize)));
  }
  return out;
}

function median(v: Float64Array): number {
  return quantile(v, 50);
}

/**
 * The p-th percentile (0–100) of `v` by linear interpolation between order
 * statistics (NumPy's default).
 *
 * @example
 * ```ts
 * import { quantile } from "./range.ts";
 * console.log(quantile(Float64Array.of(1, 2, 3, 4), 50)); // 2.5
 * ```
 */
export function quantile(v: Float64Array, p: number): number {
  if (v.length === 0) return 0;
  const s = Float64Array.from(v).sort();
  const pos = (p / 100) * (s.length - 1);
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, s.length - 1);
  return s[lo] + (s[hi] - s[lo]) * (pos - lo);
}

/**
 * KL-divergence calibration (TensorRT-style): the clipping threshold of |x|
 * whose `levels`-level quantized histogram is closest in KL divergence to the
 * clipped reference histogram of `bins` bins (1 ≤ bins ≤ {@link MAX_KL_BINS}).
 *
 * For each candidate threshold (the first i bins, i = levels + 1 … bins):
 * P is the histogram clipped at bin i (the outliers added to bin i − 1); Q
 * merges those i bins into levels + 1 runs and spreads each run's count over
 * its nonzero bins; the score is KL(P ‖ Q), with a missing bin of Q costing
 * 30 nats per unit of P's mass. With prefix sums of the counts, of c·ln c and
 * of the nonzero bins, each run's share of the sum is found in constant
 * time, so the search takes O(bins · levels) work, not O(bins²).
 *
 * @example
 * ```ts
 * import { klThreshold } from "./range.ts";
 * console.log(klThreshold(Float32Array.of(0, 0, 0), 127)); // 0
 * ```
 */
export function klThreshold(x: ArrayLike<number>, levels: number, bins = 2048): number {
  if (!Number.isSafeInteger(bins) || bins < 1 || bins > MAX_KL_BINS) {
    throw new RangeError(
      `klThreshold: bins is ${bins}; expected an integer from 1 to ${MAX_KL_BINS} (e.g. 2048)`,
    );
  }
  if (!(levels >= 0 && levels <= MAX_KL_BINS)) {
    throw new RangeError(
      `klThreshold: levels is ${levels}; expected a number in [0, ${MAX_KL_BINS}]`,
    );
  }
  let amax = 0;
  for (let i = 0; i < x.length; i++) amax = Math.max(amax, Math.abs(x[i]));
  if (amax === 0) return 0;
  const hist = new Float64Array(bins);
  const width = amax / bins;
  for (let i = 0; i < x.length; i++) hist[Math.min(bins - 1, Math.floor(Math.abs(x[i]) / width))]++;
  // prefix sums: counts, c·ln c and nonzero bins of hist[0, j)
  const count = new Float64Array(bins + 1);
  const clnc = new Float64Array(bins + 1);
  const nonzero = new Float64Array(bins + 1);
  for (let j = 0; j < bins; j++) {
    const c = hist[j];
    count[j + 1] = count[j] + c;
    clnc[j + 1] = clnc[j] + (c > 0 ? c * Math.log(c) : 0);
    nonzero[j + 1] = nonzero[j] + (c > 0 ? 1 : 0);
  }
  const total = count[bins];
  const nq = Math.max(1, Math.round(levels) + 1);
  let best = bins;
  let bestKl = Infinity;
  for (let i = nq; i <= bins; i++) {
    // Σ over nonzero p_j with q_j > 0 of p_j·(ln p_j − ln q_j), the mass there, and the
    // mass where q_j = 0 (only the last bin can have p > 0 = q: the outliers on an empty bin)
    const sq = count[i];
    if (sq === 0) continue;
    let plogpq = 0, matched = 0, missing = 0;
    const per = i / nq;
    for (let k = 0; k < nq; k++) {
      const last = k === nq - 1;
      const start = Math.floor(k * per);
      const end = last ? i : Math.floor((k + 1) * per);
      const runTotal = count[end] - count[start];
      // q_j = runTotal / (nonzero bins of the run) on the run's nonzero bins, 0 elsewhere
      const lnq = runTotal > 0 ? Math.log(runTotal / (nonzero[end] - nonzero[start])) : 0;
      // bins [start, stop) have p = hist; the last bin i − 1 also takes the outliers
      const stop = last ? i - 1 : end;
      const inRun = count[stop] - count[start];
      plogpq += clnc[stop] - clnc[start] - inRun * lnq;
      matched += inRun;
      if (last) {
        const p = hist[i - 1] + (total - count[i]);
        if (p > 0 && hist[i - 1] > 0) {
          plogpq += p * (Math.log(p) - lnq);
          matched += p;
        } else missing += p;
      }
    }
    // KL = Σ (p/sp)·ln((p/sp)/(q/sq)) + 30·missing/sp, with sp = total
    const kl = (plogpq + matched * (Math.log(sq) - Math.log(total))) / total + 30 * missing / total;
    if (kl < bestKl) {
      bestKl = kl;
      best = i;
    }
  }
  return (best + 0.5) * width;
}

async function cpuMseRatio(
  q: Quantizer,
  x: Tensor,
  groupSize: number,
  groups: number,
  perTensor: boolean,
  ratios: number[],
  clip: Float32Array,
  min: Float32Array,
  max: Float32Array,
): Promise<Float32Array> {
  const fmt = elementFormat(q.format);
  const data = await x.data();
  const err = (lo: number, hi: number, c: number, r: number, from: number, to: number) => {
    let e = 0;
    if (!q.symmetric && isInt(fmt)) {
      const a = Math.min(lo * r, 0), b = Math.max(hi * r, 0);
      const s = b === a ? 1 : (b - a) / (fmt.qmax - fmt.qmin);
      const z = Math.round(fmt.qmin - a / s);
      for (let i = from; i < to; i++) {
        const qv = Math.min(fmt.qmax, Math.max(fmt.qmin, Math.round(data[i] / s) + z));
        e += (data[i] - (qv - z) * s) ** 2;
      }
    } else {
      const maxValue = isInt(fmt) ? fmt.qmax : fmt.maxValue;
      const s = c === 0 ? 1 : (c * r) / maxValue;
      for (let i = from; i < to; i++) e += (data[i] - fmt.values[fmt.encode(data[i] / s)] * s) ** 2;
    }
    return e;
  };
  const out = new Float32Array(groups).fill(1);
  const spans = perTensor
    ? [[0, 0, data.length]]
    : Array.from({ length: groups }, (_, g) => [g, g * groupSize, (g + 1) * groupSize]);
  for (const [g, from, to] of spans) {
    let best = 0, bestErr = Infinity;
    ratios.forEach((r, k) => {
      const e = err(min[g], max[g], clip[g], r, from, to);
      if (e < bestErr) {
        bestErr = e;
        best = k;
      }
    });
    if (perTensor) out.fill(ratios[best]);
    else out[g] = ratios[best];
  }
  return out;
}
