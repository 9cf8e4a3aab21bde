/**
 * Shared options and layout for the chart builders.
 *
 * @example
 * ```ts
 * import { baseLayout } from "./common.ts";
 * const l = baseLayout({ title: "t", xTitle: "x" });
 * if ((l.title as { text: string }).text !== "t") throw new Error("no title");
 * ```
 * @module
 */

import type { Layout } from "../figure.ts";

/** Options every chart builder takes. */
export interface ChartOptions {
  /** Chart title. */
  title?: string;
  /** x-axis title. */
  xTitle?: string;
  /** y-axis title. */
  yTitle?: string;
  /** Logarithmic x axis. */
  logX?: boolean;
  /** Logarithmic y axis. */
  logY?: boolean;
  /** Height in pixels (default 420). */
  height?: number;
  /** Extra layout entries, merged last. */
  layout?: Layout;
}

/** Colours used across the charts (plotly's default palette, first entries). */
export const COLORS: readonly string[] = [
  "#1f77b4",
  "#ff7f0e",
  "#2ca02c",
  "#d62728",
  "#9467bd",
  "#8c564b",
  "#e377c2",
  "#7f7f7f",
  "#bcbd22",
  "#17becf",
];

/**
 * A plotly layout from the common options.
 *
 * @example
 * ```ts
 * import { baseLayout } from "./common.ts";
 * const l = baseLayout({ logY: true });
 * if ((l.yaxis as { type: string }).type !== "log") throw new Error("not log");
 * ```
 */
export function baseLayout(o: ChartOptions, defaults: ChartOptions = {}): Layout {
  const opt = { ...defaults, ...o };
  const axis = (title: string | undefined, log: boolean | undefined) => ({
    title: { text: title ?? "" },
    type: log ? "log" : "-",
    automargin: true,
    zeroline: false,
  });
  return {
    title: { text: opt.title ?? "" },
    xaxis: axis(opt.xTitle, opt.logX),
    yaxis: axis(opt.yTitle, opt.logY),
    height: opt.height ?? 420,
    margin: { t: opt.title ? 50 : 20, r: 20, b: 50, l: 60 },
    legend: { orientation: "h", y: -0.2 },
    ...opt.layout,
  };
}
