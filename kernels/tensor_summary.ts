/**
 * What a tensor shows of itself in a notebook: a few values and min, max,
 * mean and NaN count, as text and HTML (`Tensor.summary()` and its Jupyter
 * display).
 *
 * @example
 * ```ts
 * import { summarize } from "./tensor_summary.ts";
 * const s = summarize("Tensor [3] f32", new Float32Array([1, NaN, 3]));
 * console.log(s.min, s.max, s.nan); // 1 3 1
 * ```
 * @module
 */
import type { AnyTypedArray } from "./dtype.ts";

/** What a Tensor shows of itself in a notebook. */
export interface TensorSummary {
  /** Smallest non-NaN value. */
  min: number;
  /** Largest non-NaN value. */
  max: number;
  /** Mean of the non-NaN values. */
  mean: number;
  /** Number of NaN values. */
  nan: number;
  /** The summary as plain text. */
  text: string;
  /** The summary as HTML. */
  html: string;
}

/** Summarises `d` under the heading `title`. */
export function summarize(title: string, d: AnyTypedArray): TensorSummary {
  let min = Infinity, max = -Infinity, sum = 0, nan = 0, n = 0;
  for (let i = 0; i < d.length; i++) {
    const v = d[i];
    if (Number.isNaN(v)) {
      nan++;
      continue;
    }
    if (v < min) min = v;
    if (v > max) max = v;
    sum += v;
    n++;
  }
  const mean = n ? sum / n : NaN;
  const head = Array.from(d.subarray(0, 8), (v) => Number(v.toPrecision(5)));
  const values = `[${head.join(", ")}${d.length > 8 ? ", …" : ""}]`;
  const stats = `min ${min.toPrecision(5)} · max ${max.toPrecision(5)} · mean ${
    mean.toPrecision(5)
  }${nan ? ` · ${nan} NaN` : ""}`;
  const text = `${title}\n${values}\n${stats}`;
  const html = `<div style="font-family:monospace"><b>${escapeHtml(title)}</b><br>${values}<br>${
    escapeHtml(stats)
  }</div>`;
  return { min, max, mean, nan, text, html };
}

function escapeHtml(s: string): string {
  return s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}
