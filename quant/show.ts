/**
 * Notebook displays of the quantization's plain data: a {@link Quantizer}
 * and a {@link QuantReport} (HTML tables with a plain-text alternative).
 *
 * Both stay plain data on purpose: a quantizer is spread (`{ ...q, group }`),
 * serialised (`JSON.stringify`, `fromJSON`) and compared structurally, and a
 * report is returned by every method and written to JSON; a class wrapper or
 * a symbol-keyed method on the object would be lost on the first spread and
 * would make structurally equal values unequal. So a notebook shows them
 * through a view: `lb.show.quantizer(q)` and `lb.show.report(r)` as the
 * cell's last expression. (`QuantizedWeight` and `LlamaModel` are classes
 * and display themselves.)
 *
 * @example
 * ```ts
 * import { int } from "./quantizer.ts";
 * import { quantizer } from "./show.ts";
 * import { bundleOf } from "../viz/display.ts";
 * const b = await bundleOf(quantizer(int(4, { group: 128 })));
 * console.log(String(b["text/plain"]).split("\n")[0]); // Quantizer int4 · group 128 · symmetric · nearest · minmax · f16 scales
 * ```
 * @module
 */

import type { Displayable } from "../viz/display.ts";
import { propertiesBundle, type Property, showProperties } from "../viz/properties.ts";
import { recordsTable } from "../viz/table.ts";
import { describe, elementFormat, type Quantizer } from "./quantizer.ts";
import type { QuantReport } from "./report.ts";
import type { QuantizedWeight } from "./weight.ts";

/**
 * The properties of a quantizer, one per field, with its element format's
 * bits when the format is registered.
 *
 * @example
 * ```ts
 * import { nvfp4 } from "./quantizer.ts";
 * import { quantizerProperties } from "./show.ts";
 * console.log(quantizerProperties(nvfp4())[0]); // [ "format", "e2m1 (4 bits)" ]
 * ```
 */
export function quantizerProperties(q: Quantizer): Property[] {
  const g = q.granularity;
  const granularity = g.kind === "group"
    ? `group of ${g.size}`
    : g.kind === "channel"
    ? (g.axis === 0 ? "per output channel" : "per input channel")
    : g.kind === "token"
    ? "per token"
    : "per tensor";
  let bits = "";
  try {
    bits = ` (${elementFormat(q.format).bits} bits)`;
  } catch { /* an unregistered format: shown by name only */ }
  const { kind, ...rangeParams } = q.range;
  const params = Object.entries(rangeParams).map(([k, v]) => `${k} ${v}`).join(", ");
  return [
    ["format", `${q.format}${bits}`],
    ["symmetric", q.symmetric],
    ["granularity", granularity],
    ["rounding", q.rounding.kind === "nearest" ? "nearest" : `stochastic, seed ${q.rounding.seed}`],
    ["range", params ? `${kind} (${params})` : kind],
    ["scales", q.scale],
  ];
}

/**
 * A displayable table of a quantizer's settings, titled with its `describe` line.
 *
 * @example
 * ```ts
 * import { mxfp4 } from "./quantizer.ts";
 * import { quantizer } from "./show.ts";
 * import { bundleOf } from "../viz/display.ts";
 * const html = String((await bundleOf(quantizer(mxfp4())))["text/html"]);
 * console.log(html.includes("<td>e8m0</td>")); // true
 * ```
 */
export function quantizer(q: Quantizer): Displayable {
  return showProperties(`Quantizer ${describe(q)}`, quantizerProperties(q));
}

/**
 * A displayable report: method, mean bits per weight, layer count, SQNR range
 * and time, then one row per layer (name, shape, bits, SQNR and any other
 * columns the method added).
 *
 * @example
 * ```ts
 * import { report } from "./show.ts";
 * import { bundleOf } from "../viz/display.ts";
 * const rep = {
 *   method: "rtn",
 *   bitsPerWeight: 4.5,
 *   layers: [{ name: "layers.0.mlp.up_proj", out: 8, in: 4, bitsPerWeight: 4.5, sqnrDb: 21.5 }],
 * };
 * const html = String((await bundleOf(report(rep)))["text/html"]);
 * console.log(html.includes("layers.0.mlp.up_proj"), html.includes("<td>4.5</td>")); // true true
 * ```
 */
export function report(r: QuantReport<object | undefined>): Displayable {
  const sqnr = r.layers.map((l) => l.sqnrDb);
  const props: Property[] = [
    ["method", r.method ?? "(not set)"],
    ["bits per weight", r.bitsPerWeight],
    ["layers", r.layers.length],
  ];
  if (sqnr.length) {
    props.push(["SQNR, dB (min … max)", `${fmt(Math.min(...sqnr))} … ${fmt(Math.max(...sqnr))}`]);
  }
  if (r.seconds !== undefined) props.push(["seconds", r.seconds]);
  if (r.details !== undefined) props.push(["details", Object.keys(r.details).join(", ")]);
  return showProperties(`QuantReport${r.method ? ` (${r.method})` : ""}`, props, {
    table: recordsTable(r.layers.map((l) => ({ ...l }))),
    tableTitle: "layers",
    maxRows: 50,
  });
}

/**
 * The Jupyter bundle of a {@link QuantizedWeight} (its display): shape,
 * quantizer, storage bits, the range of the scales and the kernel that runs
 * it; reads nothing back from the GPU.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../mod.ts";
 * import { int } from "./quantizer.ts";
 * import { quantize } from "./weight.ts";
 * import { weightBundle } from "./show.ts";
 * await initGPU();
 * using w = Tensor.fromArray([[1, -2, 3, 4]]);
 * using q = await quantize(int(4), w);
 * console.log(weightBundle(q)["text/html"].includes("<td>[1, 4]</td>")); // true
 * ```
 */
export function weightBundle(w: QuantizedWeight): { "text/plain": string; "text/html": string } {
  const s = w.scales;
  let lo = Infinity, hi = -Infinity;
  for (let i = 0; i < s.length; i++) {
    if (s[i] < lo) lo = s[i];
    if (s[i] > hi) hi = s[i];
  }
  let kernel: string;
  try {
    kernel = w.kernelFormat;
  } catch {
    kernel = "none (dequantize to run)";
  }
  return propertiesBundle(w.toString(), [
    ["shape [out, in]", w.shape],
    ["quantizer", describe(w.quantizer)],
    ["bits per weight", w.bitsPerWeight],
    ["code bits", w.bits],
    ["group size", w.groupSize],
    ["scales", `${s.length} (${lo.toPrecision(4)} … ${hi.toPrecision(4)})`],
    ["zero points", w.zeros ? w.zeros.length : "none"],
    ["tensor scale", w.tensorScale],
    ["column groups", w.groupIndex ? "permuted (act order)" : "contiguous"],
    ["kernel format", kernel],
    ["codes", w.codes.toString()],
  ]);
}

function fmt(x: number): string {
  return Number.isFinite(x) ? String(Number(x.toFixed(2))) : String(x);
}
