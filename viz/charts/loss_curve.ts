/**
 * Training loss curves: loss against optimizer step, one line per run, and
 * optionally a second panel with each run's relative difference to a
 * reference run at the steps both logged (|loss − ref| / |ref|, in percent),
 * with a tolerance line, as a parity check against PyTorch needs.
 *
 * Pass plain arrays or Arrow columns, e.g. a trainer curve's table:
 * `{ name, steps: column(t, "step"), loss: column(t, "train_loss") }`.
 * Points whose loss is NaN (a step with no evaluation) are left out.
 *
 * @example
 * ```ts
 * import { lossCurveFigure } from "./loss_curve.ts";
 * const fig = lossCurveFigure([{ name: "train", steps: [1, 2, 3], loss: [5.5, 4, 3.2] }]);
 * console.log(fig.data.length, fig.data[0].name); // 1 train
 * ```
 * @module
 */

import { Figure, type Trace } from "../figure.ts";
import { type Numbers, numbers, sameLength } from "../data.ts";
import { baseLayout, type ChartOptions, COLORS } from "./common.ts";

/** One run's curve for {@linkcode lossCurveFigure}. */
export interface LossCurveSeries {
  /** Legend name (unique among the curves). */
  name: string;
  /** Optimizer steps, increasing. */
  steps: Numbers;
  /** Loss at each step, same length as `steps` (NaN: no value at that step). */
  loss: Numbers;
  /** Draw a dashed line (e.g. for evaluation losses). Default false. */
  dashed?: boolean;
}

/** Options of {@linkcode lossCurveFigure}. */
export interface LossCurveOptions extends ChartOptions {
  /**
   * Name of the curve the others are compared with: adds a lower panel with
   * each other curve's relative difference to it, in percent, at the steps
   * both have. Default: no comparison panel.
   */
  reference?: string;
  /** The curves drawn in the comparison panel. Default: every curve but the reference. */
  compare?: readonly string[];
  /** Draw a horizontal line at this relative difference (a fraction, e.g. 0.03). */
  tolerance?: number;
}

interface Curve {
  name: string;
  steps: Float64Array;
  loss: Float64Array;
  dashed: boolean;
}

function finitePoints(s: LossCurveSeries): Curve {
  const steps = numbers(s.steps, `${s.name}.steps`);
  const loss = numbers(s.loss, `${s.name}.loss`);
  sameLength({ [`${s.name}.steps`]: steps, [`${s.name}.loss`]: loss });
  const keep: number[] = [];
  for (let i = 0; i < steps.length; i++) {
    if (i > 0 && !(steps[i] > steps[i - 1])) {
      throw new RangeError(
        `lossCurveFigure: "${s.name}" has step ${steps[i]} after step ${steps[i - 1]}; ` +
          `steps must increase (sort the rows by step)`,
      );
    }
    if (!Number.isNaN(loss[i])) keep.push(i);
  }
  return {
    name: s.name,
    steps: Float64Array.from(keep, (i) => steps[i]),
    loss: Float64Array.from(keep, (i) => loss[i]),
    dashed: s.dashed ?? false,
  };
}

/** Relative difference of `c` to `ref` in percent, at the steps both have. */
function relativePercent(c: Curve, ref: Curve): { x: number[]; y: number[] } {
  const at = new Map<number, number>();
  ref.steps.forEach((s, i) => at.set(s, ref.loss[i]));
  const x: number[] = [], y: number[] = [];
  c.steps.forEach((s, i) => {
    const r = at.get(s);
    if (r === undefined) return;
    x.push(s);
    y.push((100 * Math.abs(c.loss[i] - r)) / Math.abs(r));
  });
  return { x, y };
}

/**
 * Loss against step, one line per curve; with `reference`, a lower panel of
 * relative differences to that curve (and the `tolerance` line).
 *
 * @example
 * ```ts
 * import { lossCurveFigure } from "./loss_curve.ts";
 * const fig = lossCurveFigure([
 *   { name: "PyTorch", steps: [1, 2, 3], loss: [5.5, 4, 3] },
 *   { name: "lowbit", steps: [1, 2, 3], loss: [5.5, 4.04, 3.03] },
 * ], { reference: "PyTorch", tolerance: 0.03 });
 * console.log(fig.data.length, (fig.data[2].y as number[]).map((v) => v.toFixed(1))); // 3 [ "0.0", "1.0", "1.0" ]
 * ```
 */
export function lossCurveFigure(
  curves: LossCurveSeries[],
  options: LossCurveOptions = {},
): Figure {
  if (curves.length === 0) {
    throw new RangeError("lossCurveFigure: no curves given; pass at least one {name, steps, loss}");
  }
  const names = curves.map((c) => c.name);
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup !== undefined) {
    throw new RangeError(`lossCurveFigure: two curves are named "${dup}"; give each its own name`);
  }
  const all = curves.map(finitePoints);
  const traces: Trace[] = all.map((c, k) => ({
    type: "scatter",
    mode: c.steps.length > 60 ? "lines" : "lines+markers",
    name: c.name,
    x: c.steps,
    y: c.loss,
    line: { color: COLORS[k % COLORS.length], dash: c.dashed ? "dash" : "solid" },
  }));
  const layout = baseLayout(options, { xTitle: "step", yTitle: "loss" });
  const { reference, tolerance } = options;
  if (reference === undefined) {
    if (tolerance !== undefined) {
      throw new RangeError("lossCurveFigure: tolerance needs a reference curve; pass reference");
    }
    return new Figure(traces, layout);
  }
  const ref = all.find((c) => c.name === reference);
  if (!ref) {
    throw new RangeError(
      `lossCurveFigure: reference "${reference}" is not a curve (curves: ${names.join(", ")})`,
    );
  }
  const compare = options.compare ?? names.filter((n) => n !== reference);
  const unknown = compare.find((n) => !names.includes(n));
  if (unknown !== undefined) {
    throw new RangeError(
      `lossCurveFigure: compare names "${unknown}", not a curve (curves: ${names.join(", ")})`,
    );
  }
  all.forEach((c, k) => {
    if (c === ref || !compare.includes(c.name)) return;
    const d = relativePercent(c, ref);
    traces.push({
      type: "scatter",
      mode: d.x.length > 60 ? "lines" : "lines+markers",
      name: `${c.name} vs ${ref.name} (%)`,
      x: d.x,
      y: d.y,
      xaxis: "x",
      yaxis: "y2",
      line: { color: COLORS[k % COLORS.length] },
    });
  });
  const shapes: unknown[] = [];
  if (tolerance !== undefined) {
    if (!(tolerance > 0)) {
      throw new RangeError(`lossCurveFigure: tolerance is ${tolerance}; it must be > 0`);
    }
    shapes.push({
      type: "line",
      xref: "paper",
      x0: 0,
      x1: 1,
      yref: "y2",
      y0: 100 * tolerance,
      y1: 100 * tolerance,
      line: { color: "#d62728", dash: "dot", width: 1 },
    });
  }
  const yaxis = layout.yaxis as Record<string, unknown>;
  return new Figure(traces, {
    ...layout,
    height: options.height ?? 560,
    yaxis: { ...yaxis, domain: [0.38, 1] },
    yaxis2: {
      title: { text: `|Δ| / ${ref.name} (%)` },
      domain: [0, 0.28],
      rangemode: "tozero",
      automargin: true,
      zeroline: false,
    },
    xaxis: { ...(layout.xaxis as Record<string, unknown>), anchor: "y2" },
    shapes,
    ...options.layout,
  });
}
