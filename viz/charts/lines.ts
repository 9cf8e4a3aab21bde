/**
 * Line plots: generic `linePlot` and `errorVsBits` (error against bits per
 * weight, one line per method).
 *
 * @example
 * ```ts
 * import { errorVsBits } from "./lines.ts";
 * const fig = errorVsBits([{ name: "RTN", bits: [2, 3, 4], error: [1, 0.3, 0.1] }]);
 * if (fig.data[0].name !== "RTN") throw new Error("series name lost");
 * ```
 * @module
 */

import { Figure, type Trace } from "../figure.ts";
import { type Numbers, numbers, sameLength } from "../data.ts";
import { baseLayout, type ChartOptions, COLORS } from "./common.ts";

/** One line of a {@linkcode linePlot}. */
export interface LineSeries {
  /** Legend name. */
  name: string;
  /** x values. */
  x: Numbers;
  /** y values, same length as `x`. */
  y: Numbers;
}

/** Options of {@linkcode linePlot}. */
export interface LinePlotOptions extends ChartOptions {
  /** Draw markers on the points (default true). */
  markers?: boolean;
}

/**
 * One line per series.
 *
 * @example
 * ```ts
 * import { linePlot } from "./lines.ts";
 * const fig = linePlot([{ name: "loss", x: [0, 1, 2], y: [3, 2, 1.5] }], { yTitle: "loss" });
 * if (fig.data.length !== 1) throw new Error("one line expected");
 * ```
 */
export function linePlot(series: LineSeries[], options: LinePlotOptions = {}): Figure {
  const traces: Trace[] = series.map((s, k) => {
    const x = numbers(s.x, `${s.name}.x`), y = numbers(s.y, `${s.name}.y`);
    sameLength({ [`${s.name}.x`]: x, [`${s.name}.y`]: y });
    return {
      type: "scatter",
      mode: options.markers === false ? "lines" : "lines+markers",
      name: s.name,
      x,
      y,
      line: { color: COLORS[k % COLORS.length] },
    };
  });
  return new Figure(traces, baseLayout(options));
}

/** One method's curve for {@linkcode errorVsBits}. */
export interface BitsSeries {
  /** Method name. */
  name: string;
  /** Bits per weight. */
  bits: Numbers;
  /** Error (MSE, perplexity, KL, …) at each bit width. */
  error: Numbers;
}

/**
 * Error against bits per weight, one line per method; log y by default.
 *
 * @example
 * ```ts
 * import { errorVsBits } from "./lines.ts";
 * const fig = errorVsBits([{ name: "GPTQ", bits: [3, 4], error: [0.2, 0.05] }], { yTitle: "MSE" });
 * if ((fig.layout.yaxis as { type: string }).type !== "log") throw new Error("not log");
 * ```
 */
export function errorVsBits(series: BitsSeries[], options: LinePlotOptions = {}): Figure {
  return linePlot(
    series.map((s) => ({ name: s.name, x: s.bits, y: s.error })),
    { xTitle: "bits per weight", yTitle: "error", logY: true, ...options },
  );
}
