import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { tableFromArrays } from "apache-arrow";
import { formatCell, tableHTML, tableText } from "../../viz/table.ts";

const t = tableFromArrays({
  name: ["<q>", "k", "v"],
  bits: new Int32Array([4, 4, 8]),
  mse: new Float64Array([1 / 3, NaN, 2e-7]),
});

Deno.test("tableHTML shows shape, names, types, rows, and escapes text", () => {
  const h = tableHTML(t);
  assertStringIncludes(h, "3 rows × 3 columns");
  assertStringIncludes(h, "Int32");
  assertStringIncludes(h, "&lt;q&gt;");
  assert(!h.includes("<q>"));
  assertStringIncludes(h, "0.333333");
  assertStringIncludes(h, "NaN");
});

Deno.test("tables truncate to maxRows with a note", () => {
  assertStringIncludes(tableHTML(t, { maxRows: 1 }), "2 more rows");
  const lines = tableText(t, { maxRows: 2 }).split("\n");
  assertEquals(lines.length, 1 + 1 + 2 + 1);
  assertEquals(lines.at(-1), "… 1 more rows");
});

Deno.test("formatCell handles bigint, lists and null", () => {
  assertEquals(formatCell(5n), "5");
  assertEquals(formatCell(new Float32Array([1, 2, 3, 4, 5, 6, 7])), "[1, 2, 3, 4, 5, 6, … (7)]");
  assertEquals(formatCell(undefined), "null");
  assertEquals(formatCell(2e-7), "2e-7");
});
