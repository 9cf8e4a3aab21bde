/**
 * Plotly figures and one-call chart builders. Builders take plain arrays,
 * typed arrays or Arrow vectors (use {@linkcode column} for a table's column),
 * never lowbit tensors: pass `await t.data()`.
 *
 * @example
 * ```ts
 * import { histogram, paretoFront } from "./plot.ts";
 * const h = histogram(new Float32Array([0.1, 0.2, -0.4]), { grid: [-0.5, 0, 0.5] });
 * const p = paretoFront([{ name: "int4", bits: 4, error: 0.1 }]);
 * if (!String(h).startsWith("Figure") || p.data.length !== 2) throw new Error("bad figures");
 * ```
 * @module
 */

export {
  Figure,
  type Layout,
  PLOTLY_MIME,
  plotlyInit,
  plotlyPath,
  plotlySource,
  type Trace,
} from "./figure.ts";
export {
  type ArrayConvertible,
  column,
  type ColumnSource,
  type Labels,
  type Numbers,
} from "./data.ts";
export type { ChartOptions } from "./charts/common.ts";
export { type Binned, binValues, histogram, type HistogramOptions } from "./charts/histogram.ts";
export { channelChart, type ChannelChartOptions, outlierChannels } from "./charts/channels.ts";
export {
  type BitsSeries,
  errorVsBits,
  linePlot,
  type LinePlotOptions,
  type LineSeries,
} from "./charts/lines.ts";
export { heatmap, type HeatmapOptions } from "./charts/heatmap.ts";
export {
  lossCurveFigure,
  type LossCurveOptions,
  type LossCurveSeries,
} from "./charts/loss_curve.ts";
export { nondominated, paretoFront, type ParetoPoint } from "./charts/pareto.ts";
export { bar, type BarOptions, scatter, type ScatterOptions } from "./charts/basic.ts";
