/**
 * The Pareto front of (bits, error) points: the configurations that no other
 * beats on both size and error.
 *
 * @example
 * ```ts
 * import { nondominated } from "./pareto.ts";
 * const front = nondominated([
 *   { name: "a", bits: 4, error: 0.1 },
 *   { name: "b", bits: 4, error: 0.3 }, // dominated by a
 *   { name: "c", bits: 3, error: 0.5 },
 * ]);
 * if (front.map((p) => p.name).join() !== "c,a") throw new Error("wrong front");
 * ```
 * @module
 */

import { Figure } from "../figure.ts";
import { baseLayout, type ChartOptions, COLORS } from "./common.ts";

/** One configuration: a name, its bits per weight and its error. */
export interface ParetoPoint {
  /** Label shown next to the point. */
  name: string;
  /** Bits per weight (lower is better). */
  bits: number;
  /** Error (lower is better). */
  error: number;
}

/**
 * The non-dominated points, sorted by bits ascending. A point is dominated when
 * another has bits ≤ and error ≤ with at least one strict. Points with a
 * non-finite coordinate are ignored.
 *
 * @example
 * ```ts
 * import { nondominated } from "./pareto.ts";
 * const f = nondominated([{ name: "x", bits: 2, error: 1 }, { name: "y", bits: 8, error: 1 }]);
 * if (f.length !== 1 || f[0].name !== "x") throw new Error("y is dominated");
 * ```
 */
export function nondominated<P extends ParetoPoint>(points: readonly P[]): P[] {
  const sorted = points.filter((p) => Number.isFinite(p.bits) && Number.isFinite(p.error))
    .sort((a, b) => a.bits - b.bits || a.error - b.error);
  const front: P[] = [];
  let best = Infinity;
  for (const p of sorted) {
    if (p.error < best) {
      front.push(p);
      best = p.error;
    }
  }
  return front;
}

/**
 * Scatter of all points with the Pareto front drawn as a step line.
 *
 * @example
 * ```ts
 * import { paretoFront } from "./pareto.ts";
 * const fig = paretoFront([
 *   { name: "RTN w4", bits: 4.25, error: 0.12 },
 *   { name: "GPTQ w3", bits: 3.25, error: 0.2 },
 *   { name: "RTN w3", bits: 3.25, error: 0.4 },
 * ], { yTitle: "MSE" });
 * if (fig.data[1].name !== "Pareto front (2)") throw new Error(String(fig.data[1].name));
 * ```
 */
export function paretoFront(points: ParetoPoint[], options: ChartOptions = {}): Figure {
  const front = nondominated(points);
  const onFront = new Set<ParetoPoint>(front);
  const others = points.filter((p) => !onFront.has(p));
  return new Figure([
    {
      type: "scatter",
      mode: "markers",
      name: "dominated",
      x: others.map((p) => p.bits),
      y: others.map((p) => p.error),
      text: others.map((p) => p.name),
      marker: { color: COLORS[7], size: 8 },
      hovertemplate: "%{text}: %{x:.3g} bits, %{y:.4g}<extra></extra>",
    },
    {
      type: "scatter",
      mode: "lines+markers+text",
      name: `Pareto front (${front.length})`,
      x: front.map((p) => p.bits),
      y: front.map((p) => p.error),
      text: front.map((p) => p.name),
      textposition: "top right",
      line: { shape: "hv", color: COLORS[3] },
      marker: { color: COLORS[3], size: 10 },
      hovertemplate: "%{text}: %{x:.3g} bits, %{y:.4g}<extra></extra>",
    },
  ], baseLayout(options, { xTitle: "bits per weight", yTitle: "error", logY: true }));
}
