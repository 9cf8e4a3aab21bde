/**
 * Histogram of values, pre-binned here so that a million weights become a
 * few hundred numbers in the notebook, with a format's representable values
 * overlaid as vertical lines.
 *
 * @example
 * ```ts
 * import { histogram } from "./histogram.ts";
 * const fig = histogram([0.1, -0.3, 0.25, 0.9], { grid: [-1, -0.5, 0, 0.5, 1], bins: 8 });
 * if (fig.data.length !== 1) throw new Error("one bar trace expected");
 * ```
 * @module
 */

import { Figure, type Trace } from "../figure.ts";
import { type Numbers, numbers } from "../data.ts";
import { baseLayout, type ChartOptions, COLORS } from "./common.ts";

/** Options of {@linkcode histogram}. */
export interface HistogramOptions extends ChartOptions {
  /** Representable values (a quantization grid), drawn as vertical lines. */
  grid?: Numbers;
  /** Number of bins (default 100). */
  bins?: number;
}

/** Counts of a binned sample. */
export interface Binned {
  /** Left edge of the first bin. */
  start: number;
  /** Bin width. */
  width: number;
  /** Count per bin. */
  counts: Float64Array;
  /** Finite values counted. */
  n: number;
  /** NaN and ±Inf values skipped. */
  nonFinite: number;
}

/**
 * Bins finite values into `bins` equal bins spanning [min, max].
 *
 * @example
 * ```ts
 * import { binValues } from "./histogram.ts";
 * const b = binValues(new Float32Array([0, 1, 1, NaN]), 2);
 * if (b.counts[1] !== 2 || b.nonFinite !== 1) throw new Error("wrong counts");
 * ```
 */
export function binValues(values: Float64Array | Float32Array, bins: number): Binned {
  if (!Number.isInteger(bins) || bins < 1) throw new RangeError(`bins must be ≥ 1, got ${bins}`);
  let lo = Infinity, hi = -Infinity, n = 0;
  for (const v of values) {
    if (!Number.isFinite(v)) continue;
    n++;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  if (n === 0) {
    return { start: 0, width: 1, counts: new Float64Array(bins), n, nonFinite: values.length };
  }
  if (hi === lo) {
    lo -= 0.5;
    hi += 0.5;
  }
  const width = (hi - lo) / bins;
  const counts = new Float64Array(bins);
  for (const v of values) {
    if (!Number.isFinite(v)) continue;
    counts[Math.min(bins - 1, Math.floor((v - lo) / width))]++;
  }
  return { start: lo, width, counts, n, nonFinite: values.length - n };
}

/**
 * A histogram figure; `grid` values are drawn as thin vertical lines.
 *
 * @example
 * ```ts
 * import { histogram } from "./histogram.ts";
 * const fig = histogram(new Float32Array([1, 2, 2, 3]), { title: "w", grid: [1, 2, 3], logY: true });
 * if ((fig.layout.shapes as unknown[]).length !== 3) throw new Error("grid lines missing");
 * ```
 */
export function histogram(values: Numbers, options: HistogramOptions = {}): Figure {
  const v = numbers(values, "histogram values");
  const b = binValues(v, options.bins ?? 100);
  const x = Array.from(b.counts, (_, i) => b.start + (i + 0.5) * b.width);
  const trace: Trace = {
    type: "bar",
    name: "count",
    x,
    y: b.counts,
    width: b.width,
    marker: { color: COLORS[0], line: { width: 0 } },
    hovertemplate: "%{x:.4g}: %{y}<extra></extra>",
  };
  const grid = options.grid ? numbers(options.grid, "histogram grid") : new Float64Array();
  const shapes = Array.from(grid, (g) => ({
    type: "line",
    xref: "x",
    yref: "paper",
    x0: g,
    x1: g,
    y0: 0,
    y1: 1,
    line: { color: COLORS[3], width: 1, dash: "dot" },
    opacity: 0.6,
  }));
  const note = `n = ${b.n}` + (b.nonFinite ? `, ${b.nonFinite} non-finite skipped` : "") +
    (grid.length ? `, ${grid.length} grid values (dotted)` : "");
  const layout = baseLayout(options, { xTitle: "value", yTitle: "count" });
  layout.title = { text: options.title ? `${options.title}<br><sub>${note}</sub>` : note };
  layout.margin = { t: 60, r: 20, b: 50, l: 60 };
  layout.shapes = shapes;
  layout.bargap = 0;
  layout.showlegend = false;
  return new Figure([trace], layout);
}
