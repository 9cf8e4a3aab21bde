/**
 * Per-channel absolute-maximum bar chart with outlier channels highlighted —
 * the picture behind LLM.int8(), SmoothQuant and AWQ.
 *
 * @example
 * ```ts
 * import { channelChart } from "./channels.ts";
 * const fig = channelChart([1, 1.2, 0.9, 20, 1.1], { threshold: 6 });
 * if (!fig.title.includes("1 outlier")) throw new Error(fig.title);
 * ```
 * @module
 */

import { Figure } from "../figure.ts";
import { type Numbers, numbers } from "../data.ts";
import { baseLayout, type ChartOptions, COLORS } from "./common.ts";

/** Options of {@linkcode channelChart}. */
export interface ChannelChartOptions extends ChartOptions {
  /**
   * Channels whose absmax exceeds this are outliers. Default: 6 × the median
   * absmax (a relative rule; LLM.int8() uses an absolute 6.0 on activations).
   */
  threshold?: number;
}

function median(v: Float64Array): number {
  const s = Float64Array.from(v.filter(Number.isFinite)).sort();
  if (s.length === 0) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * Indices of the channels above `threshold` (the default rule as in
 * {@linkcode ChannelChartOptions.threshold}); non-finite values count as outliers.
 *
 * @example
 * ```ts
 * import { outlierChannels } from "./channels.ts";
 * if (outlierChannels([1, 50, 1, 1]).join() !== "1") throw new Error("wrong outliers");
 * ```
 */
export function outlierChannels(absmax: Numbers, threshold?: number): number[] {
  const v = numbers(absmax, "absmax per channel");
  const t = threshold ?? 6 * median(v);
  const out: number[] = [];
  v.forEach((x, i) => {
    if (!(x <= t)) out.push(i);
  });
  return out;
}

/**
 * Bar chart of absmax per channel; outliers in red, the threshold as a dashed line.
 *
 * @example
 * ```ts
 * import { channelChart } from "./channels.ts";
 * const fig = channelChart(new Float32Array([0.5, 0.4, 9]), { threshold: 1, title: "q_proj input" });
 * if (fig.data.length !== 2) throw new Error("two traces expected");
 * ```
 */
export function channelChart(absmax: Numbers, options: ChannelChartOptions = {}): Figure {
  const v = numbers(absmax, "absmax per channel");
  const threshold = options.threshold ?? 6 * median(v);
  const outliers = new Set(outlierChannels(v, threshold));
  const idx = Array.from(v, (_, i) => i);
  const normal = idx.filter((i) => !outliers.has(i));
  const out = idx.filter((i) => outliers.has(i));
  const pct = v.length ? (100 * out.length / v.length).toFixed(2) : "0";
  const note = `${out.length} outlier channel${out.length === 1 ? "" : "s"} of ${v.length} ` +
    `(${pct}%) above ${threshold.toPrecision(3)}`;
  const layout = baseLayout(options, { xTitle: "channel", yTitle: "max |x|" });
  layout.title = { text: options.title ? `${options.title}<br><sub>${note}</sub>` : note };
  layout.margin = { t: 60, r: 20, b: 50, l: 60 };
  layout.bargap = 0;
  layout.shapes = [{
    type: "line",
    xref: "paper",
    yref: "y",
    x0: 0,
    x1: 1,
    y0: threshold,
    y1: threshold,
    line: { color: COLORS[3], width: 1, dash: "dash" },
  }];
  return new Figure([
    {
      type: "bar",
      name: "channel",
      x: normal,
      y: normal.map((i) => v[i]),
      marker: { color: COLORS[0] },
    },
    {
      type: "bar",
      name: "outlier",
      x: out,
      y: out.map((i) => v[i]),
      marker: { color: COLORS[3] },
    },
  ], layout);
}
