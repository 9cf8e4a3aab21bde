/**
 * A titled two-column table of named properties (and, optionally, a table of
 * rows below it), as HTML and aligned plain text: the notebook display of
 * objects that are not tables themselves (a quantizer, a quantized weight, a
 * model, a report). Values are escaped; nothing is read from a GPU.
 *
 * @example
 * ```ts
 * import { showProperties } from "./properties.ts";
 * import { bundleOf } from "./display.ts";
 * const b = await bundleOf(showProperties("Thing", [["size", 3], ["name", "<a>"]]));
 * console.log(String(b["text/html"]).includes("&lt;a&gt;")); // true
 * console.log(String(b["text/plain"]).split("\n")); // [ "Thing", "  size  3", "  name  <a>" ]
 * ```
 * @module
 */

import { type Displayable, displayable, escapeHtml } from "./display.ts";
import { formatCell, tableHTML, type TableLike, tableText } from "./table.ts";

/** One row of the properties table: a name and its value (formatted like a table cell). */
export type Property = readonly [name: string, value: unknown];

/** Options of {@linkcode showProperties}. */
export interface PropertiesOptions {
  /** A table shown under the properties (e.g. one row per layer). */
  table?: TableLike;
  /** Caption of that table. */
  tableTitle?: string;
  /** Rows of that table shown (default 20). */
  maxRows?: number;
}

/**
 * The properties as an HTML table under a bold title.
 *
 * @example
 * ```ts
 * import { propertiesHTML } from "./properties.ts";
 * console.log(propertiesHTML("T", [["bits", 4.5]]).includes("<td>4.5</td>")); // true
 * ```
 */
export function propertiesHTML(
  title: string,
  properties: readonly Property[],
  options: PropertiesOptions = {},
): string {
  const rows = properties.map(([k, v]) =>
    `<tr><th style="text-align:left;padding:2px 8px;font-weight:normal;color:#555">${
      escapeHtml(k)
    }</th><td>${escapeHtml(formatCell(v))}</td></tr>`
  ).join("\n");
  const table = options.table
    ? tableHTML(options.table, { title: options.tableTitle, maxRows: options.maxRows })
    : "";
  return `<div class="lowbit-properties"><b>${escapeHtml(title)}</b>` +
    `<table style="border-collapse:collapse;font-size:90%">\n${rows}\n</table>${table}</div>`;
}

/**
 * The properties as aligned plain text: the title, then one indented line per property.
 *
 * @example
 * ```ts
 * import { propertiesText } from "./properties.ts";
 * console.log(propertiesText("T", [["a", 1], ["bbb", null]]).split("\n")); // [ "T", "  a    1", "  bbb  null" ]
 * ```
 */
export function propertiesText(
  title: string,
  properties: readonly Property[],
  options: PropertiesOptions = {},
): string {
  const width = Math.max(0, ...properties.map(([k]) => k.length));
  const lines = properties.map(([k, v]) => `  ${k.padEnd(width)}  ${formatCell(v)}`);
  const table = options.table
    ? [tableText(options.table, { title: options.tableTitle, maxRows: options.maxRows })]
    : [];
  return [title, ...lines, ...table].join("\n");
}

/**
 * The MIME bundle of a properties table: what a class returns from its
 * `[Symbol.for("Jupyter.display")]()` method.
 *
 * @example
 * ```ts
 * import { propertiesBundle } from "./properties.ts";
 * console.log(propertiesBundle("Q", [["bits", 4]])["text/plain"].split("\n")); // [ "Q", "  bits  4" ]
 * ```
 */
export function propertiesBundle(
  title: string,
  properties: readonly Property[],
  options: PropertiesOptions = {},
): { "text/plain": string; "text/html": string } {
  return {
    "text/plain": propertiesText(title, properties, options),
    "text/html": propertiesHTML(title, properties, options),
  };
}

/**
 * A displayable properties table (HTML and plain text), built when shown.
 *
 * @example
 * ```ts
 * import { showProperties } from "./properties.ts";
 * import { bundleOf } from "./display.ts";
 * const b = await bundleOf(showProperties("Q", [["format", "int4"]]));
 * console.log(Object.keys(b)); // [ "text/plain", "text/html" ]
 * ```
 */
export function showProperties(
  title: string,
  properties: readonly Property[],
  options: PropertiesOptions = {},
): Displayable {
  return displayable(() => propertiesBundle(title, properties, options));
}
