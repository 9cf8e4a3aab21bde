/**
 * Heatmap of a matrix with labelled rows and columns (e.g. error per layer ×
 * bit width, or sensitivity per layer × module).
 *
 * @example
 * ```ts
 * import { heatmap } from "./heatmap.ts";
 * const fig = heatmap([[1, 2], [3, 4]], ["a", "b"], ["r0", "r1"]);
 * if (fig.data[0].type !== "heatmap") throw new Error("not a heatmap");
 * ```
 * @module
 */

import { Figure } from "../figure.ts";
import { type Labels, labels, type Numbers, numbers } from "../data.ts";
import { baseLayout, type ChartOptions } from "./common.ts";

/** Options of {@linkcode heatmap}. */
export interface HeatmapOptions extends ChartOptions {
  /** plotly colour scale name (default "Viridis"). */
  colorscale?: string;
  /** Title of the colour bar. */
  zTitle?: string;
}

/**
 * A heatmap. `z` is either one row per y label, or a flat row-major array of
 * `y.length × x.length` values.
 *
 * @example
 * ```ts
 * import { heatmap } from "./heatmap.ts";
 * const fig = heatmap(new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3, 4], ["q", "k"], { zTitle: "MSE" });
 * if ((fig.data[0].z as number[][]).length !== 2) throw new Error("two rows expected");
 * ```
 */
export function heatmap(
  z: Numbers | Numbers[],
  x: Labels,
  y: Labels,
  options: HeatmapOptions = {},
): Figure {
  const xs = labels(x, "heatmap x labels"), ys = labels(y, "heatmap y labels");
  let rows: Float64Array[];
  if (Array.isArray(z) && z.length > 0 && typeof z[0] === "object") {
    rows = (z as Numbers[]).map((r, i) => numbers(r, `heatmap row ${i}`));
  } else {
    const flat = numbers(z as Numbers, "heatmap z");
    if (flat.length !== xs.length * ys.length) {
      throw new RangeError(
        `heatmap z has ${flat.length} values; expected ${ys.length} rows × ${xs.length} columns`,
      );
    }
    rows = ys.map((_, i) => flat.subarray(i * xs.length, (i + 1) * xs.length));
  }
  if (rows.length !== ys.length) {
    throw new RangeError(`heatmap z has ${rows.length} rows but ${ys.length} y labels`);
  }
  rows.forEach((r, i) => {
    if (r.length !== xs.length) {
      throw new RangeError(`heatmap row ${i} has ${r.length} values but ${xs.length} x labels`);
    }
  });
  const layout = baseLayout(options);
  (layout.xaxis as Record<string, unknown>).type = "category";
  (layout.yaxis as Record<string, unknown>).type = "category";
  return new Figure([{
    type: "heatmap",
    z: rows.map((r) => Array.from(r)),
    x: xs,
    y: ys,
    colorscale: options.colorscale ?? "Viridis",
    colorbar: { title: { text: options.zTitle ?? "" } },
  }], layout);
}
