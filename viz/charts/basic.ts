/**
 * Basic charts: `scatter` and `bar`.
 *
 * @example
 * ```ts
 * import { bar, scatter } from "./basic.ts";
 * const s = scatter([1, 2], [3, 4], { text: ["a", "b"] });
 * const b = bar(["q", "k"], [0.1, 0.2]);
 * if (s.data[0].type !== "scatter" || b.data[0].type !== "bar") throw new Error("wrong types");
 * ```
 * @module
 */

import { Figure } from "../figure.ts";
import { type Labels, labels, type Numbers, numbers, sameLength } from "../data.ts";
import { baseLayout, type ChartOptions, COLORS } from "./common.ts";

/** Options of {@linkcode scatter}. */
export interface ScatterOptions extends ChartOptions {
  /** Hover text per point. */
  text?: Labels;
  /** Also write `text` next to each point (default false: hover only). */
  showText?: boolean;
  /** Legend name. */
  name?: string;
}

/**
 * A scatter plot of `y` against `x`.
 *
 * @example
 * ```ts
 * import { scatter } from "./basic.ts";
 * const fig = scatter(new Float32Array([1, 2]), [0.5, 0.25], { xTitle: "scale", logY: true });
 * if ((fig.data[0].y as Float64Array).length !== 2) throw new Error("two points expected");
 * ```
 */
export function scatter(x: Numbers, y: Numbers, options: ScatterOptions = {}): Figure {
  const xs = numbers(x, "scatter x"), ys = numbers(y, "scatter y");
  const text = options.text ? labels(options.text, "scatter text") : undefined;
  sameLength(text ? { x: xs, y: ys, text } : { x: xs, y: ys });
  return new Figure([{
    type: "scatter",
    mode: options.showText && text ? "markers+text" : "markers",
    textposition: "top center",
    name: options.name ?? "",
    x: xs,
    y: ys,
    text,
    marker: { color: COLORS[0], size: 7 },
  }], baseLayout(options));
}

/** Options of {@linkcode bar}. */
export interface BarOptions extends ChartOptions {
  /** Horizontal bars (labels on the y axis). */
  horizontal?: boolean;
}

/**
 * A bar chart: one bar per label.
 *
 * @example
 * ```ts
 * import { bar } from "./basic.ts";
 * const fig = bar(["fp16", "int8", "int4"], [16, 8, 4], { yTitle: "bits", horizontal: true });
 * if (fig.data[0].orientation !== "h") throw new Error("not horizontal");
 * ```
 */
export function bar(x: Labels, y: Numbers, options: BarOptions = {}): Figure {
  const xs = labels(x, "bar labels"), ys = numbers(y, "bar values");
  sameLength({ labels: xs, values: ys });
  const h = options.horizontal ?? false;
  const layout = baseLayout(options);
  (layout[h ? "yaxis" : "xaxis"] as Record<string, unknown>).type = "category";
  return new Figure([{
    type: "bar",
    x: h ? ys : xs,
    y: h ? xs : ys,
    orientation: h ? "h" : "v",
    marker: { color: COLORS[0] },
  }], layout);
}
