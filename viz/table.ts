/**
 * Arrow tables as readable HTML and text: shape, column names and types, and
 * the first rows.
 *
 * @example
 * ```ts
 * import { tableFromArrays } from "apache-arrow";
 * import { showTable } from "./table.ts";
 * import { bundleOf } from "./display.ts";
 * const t = tableFromArrays({ layer: ["q", "k"], mse: new Float32Array([0.01, 0.02]) });
 * const b = await bundleOf(showTable(t));
 * if (!String(b["text/html"]).includes("<th")) throw new Error("no header");
 * ```
 * @module
 */

import { type Displayable, displayable, escapeHtml } from "./display.ts";

/** The part of an Arrow `Table` that rendering needs. */
export interface TableLike {
  /** Row count. */
  numRows: number;
  /** Column count. */
  numCols: number;
  /** Field names and types. */
  schema: { fields: { name: string; type: { toString(): string } }[] };
  /** Column by index. */
  getChildAt(i: number): { get(row: number): unknown } | null;
}

/** Options of the table renderers. */
export interface TableOptions {
  /** Rows shown (default 20). */
  maxRows?: number;
  /** Caption above the table. */
  title?: string;
}

/**
 * Formats one cell: floats to 6 significant digits, bigints and integers as
 * is, lists as `[a, b, …]`, null as `null`.
 *
 * @example
 * ```ts
 * import { formatCell } from "./table.ts";
 * if (formatCell(1 / 3) !== "0.333333") throw new Error(formatCell(1 / 3));
 * if (formatCell(null) !== "null") throw new Error("null");
 * ```
 */
export function formatCell(v: unknown): string {
  if (v === null || v === undefined) return "null";
  if (typeof v === "number") {
    if (Number.isInteger(v) || !Number.isFinite(v)) return String(v);
    return String(Number(v.toPrecision(6)));
  }
  if (typeof v === "bigint" || typeof v === "boolean") return String(v);
  if (typeof v === "string") return v;
  if (v instanceof Date) return v.toISOString();
  const arr = ArrayBuffer.isView(v)
    ? Array.from(v as unknown as ArrayLike<number>)
    : Array.isArray(v)
    ? v
    : undefined;
  const list = arr ??
    (typeof (v as { toArray?: unknown }).toArray === "function"
      ? Array.from((v as { toArray(): ArrayLike<unknown> }).toArray())
      : undefined);
  if (list) {
    const head = list.slice(0, 6).map(formatCell).join(", ");
    return `[${head}${list.length > 6 ? `, … (${list.length})` : ""}]`;
  }
  if (typeof (v as { toJSON?: unknown }).toJSON === "function") {
    return JSON.stringify(v, (_k, x) => typeof x === "bigint" ? String(x) : x);
  }
  return String(v);
}

function cells(table: TableLike, rows: number): string[][] {
  const out: string[][] = [];
  for (let r = 0; r < rows; r++) {
    const row: string[] = [];
    for (let c = 0; c < table.numCols; c++) row.push(formatCell(table.getChildAt(c)?.get(r)));
    out.push(row);
  }
  return out;
}

function shape(table: TableLike): string {
  return `${table.numRows} rows × ${table.numCols} columns`;
}

/**
 * An HTML table: caption with the shape, header with names and types, the first rows.
 *
 * @example
 * ```ts
 * import { tableFromArrays } from "apache-arrow";
 * import { tableHTML } from "./table.ts";
 * const h = tableHTML(tableFromArrays({ x: new Int32Array(50) }), { maxRows: 5 });
 * if (!h.includes("45 more rows")) throw new Error("no truncation note");
 * ```
 */
export function tableHTML(table: TableLike, options: TableOptions = {}): string {
  const n = Math.min(table.numRows, options.maxRows ?? 20);
  const fields = table.schema.fields;
  const th = fields.map((f) =>
    `<th style="text-align:right;padding:2px 8px">${escapeHtml(f.name)}<br>` +
    `<span style="font-weight:normal;color:#888;font-size:85%">${
      escapeHtml(String(f.type))
    }</span></th>`
  ).join("");
  const body = cells(table, n).map((row) =>
    `<tr>${
      row.map((c) => `<td style="text-align:right;padding:2px 8px">${escapeHtml(c)}</td>`).join("")
    }</tr>`
  ).join("\n");
  const more = table.numRows > n
    ? `<p style="color:#888">… ${table.numRows - n} more rows</p>`
    : "";
  const title = options.title ? `${escapeHtml(options.title)}: ` : "";
  return `<div class="lowbit-table"><table style="border-collapse:collapse;font-size:90%">` +
    `<caption style="text-align:left;color:#555">${title}${shape(table)}</caption>` +
    `<thead><tr>${th}</tr></thead>\n<tbody>\n${body}\n</tbody></table>${more}</div>`;
}

/**
 * The same table as aligned plain text.
 *
 * @example
 * ```ts
 * import { tableFromArrays } from "apache-arrow";
 * import { tableText } from "./table.ts";
 * const t = tableText(tableFromArrays({ a: new Float64Array([1.5]), b: ["x"] }));
 * if (!t.startsWith("1 rows × 2 columns")) throw new Error(t);
 * ```
 */
export function tableText(table: TableLike, options: TableOptions = {}): string {
  const n = Math.min(table.numRows, options.maxRows ?? 20);
  const head = table.schema.fields.map((f) => `${f.name}: ${f.type}`);
  const rows = [head, ...cells(table, n)];
  const widths = head.map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  const lines = rows.map((r) => r.map((s, c) => s.padStart(widths[c])).join("  "));
  const title = options.title ? `${options.title}: ` : "";
  const more = table.numRows > n ? [`… ${table.numRows - n} more rows`] : [];
  return [`${title}${shape(table)}`, ...lines, ...more].join("\n");
}

/**
 * A displayable view of an Arrow table (HTML and plain text).
 *
 * @example
 * ```ts
 * import { tableFromArrays } from "apache-arrow";
 * import { showTable } from "./table.ts";
 * import { bundleOf } from "./display.ts";
 * const b = await bundleOf(showTable(tableFromArrays({ n: new Int32Array([7]) }), { title: "t" }));
 * if (!String(b["text/plain"]).startsWith("t: 1 rows")) throw new Error("bad text");
 * ```
 */
export function showTable(
  table: TableLike | readonly Record<string, unknown>[],
  options: TableOptions = {},
): Displayable {
  if (Array.isArray(table)) table = recordsTable(table);
  const t = table as TableLike;
  return displayable(() => ({
    "text/html": tableHTML(t, options),
    "text/plain": tableText(t, options),
  }));
}

/**
 * A {@link TableLike} view of plain records (one object per row; columns
 * from the union of their keys, in first-seen order), so arrays of result
 * objects display like Arrow tables.
 *
 * @example
 * ```ts
 * import { recordsTable, tableText } from "./table.ts";
 * const t = recordsTable([{ method: "rtn", ppl: 3.1 }, { method: "gptq", ppl: 2.9 }]);
 * if (!tableText(t).startsWith("2 rows × 2 columns")) throw new Error(tableText(t));
 * ```
 */
export function recordsTable(rows: readonly Record<string, unknown>[]): TableLike {
  const names: string[] = [];
  for (const r of rows) for (const k of Object.keys(r)) if (!names.includes(k)) names.push(k);
  const typeOf = (k: string) => {
    const v = rows.find((r) => r[k] !== undefined && r[k] !== null)?.[k];
    return { toString: () => (v === undefined ? "null" : typeof v) };
  };
  return {
    numRows: rows.length,
    numCols: names.length,
    schema: { fields: names.map((name) => ({ name, type: typeOf(name) })) },
    getChildAt: (
      i: number,
    ) => (i < names.length ? { get: (row: number) => rows[row]?.[names[i]] ?? null } : null),
  };
}
