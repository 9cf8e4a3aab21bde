/**
 * lowbit's notebook display layer: plotly figures, Arrow tables as HTML and
 * progress bars, all speaking the Jupyter display protocol of Deno's kernel.
 * Nothing here depends on the GPU kernels: pass plain or typed arrays
 * (`await t.data()`) and Arrow tables.
 *
 * @example
 * ```ts
 * import { errorVsBits, progress, showTable } from "./mod.ts";
 * import { tableFromArrays } from "apache-arrow";
 * const rows = [];
 * for (const bits of progress([2, 3, 4], { label: "bits", out: () => {} })) {
 *   rows.push({ bits, mse: 4 ** -bits });
 * }
 * const fig = errorVsBits([{ name: "RTN", bits: rows.map((r) => r.bits), error: rows.map((r) => r.mse) }]);
 * const table = showTable(tableFromArrays({ bits: new Int32Array([2, 3, 4]) }));
 * if (!fig || !table) throw new Error("unreachable");
 * ```
 * @module
 */

export * from "./display.ts";
export * from "./plot.ts";
export * from "./table.ts";
export * from "./properties.ts";
export * from "./progress.ts";
export * from "./claim.ts";
