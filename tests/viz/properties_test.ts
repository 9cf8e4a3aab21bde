import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import {
  propertiesBundle,
  propertiesHTML,
  propertiesText,
  showProperties,
} from "../../viz/properties.ts";
import { bundleOf } from "../../viz/display.ts";
import { recordsTable } from "../../viz/table.ts";

Deno.test("properties: names and values are escaped in HTML, kept verbatim in text", () => {
  const props = [["<b>name</b>", "a & <script>x</script>"], ["n", 3]] as const;
  const html = propertiesHTML("T <i>", props);
  assert(!html.includes("<script>"), html);
  assert(!html.includes("<i>"), html);
  assertStringIncludes(html, "<b>T &lt;i&gt;</b>");
  assertStringIncludes(
    html,
    "&lt;b&gt;name&lt;/b&gt;</th><td>a &amp; &lt;script&gt;x&lt;/script&gt;</td>",
  );
  assertStringIncludes(html, "<td>3</td>");
  assertEquals(propertiesText("T <i>", props).split("\n"), [
    "T <i>",
    "  <b>name</b>  a & <script>x</script>",
    "  n            3",
  ]);
});

Deno.test("properties: values are formatted like table cells; a table follows", () => {
  const table = recordsTable([{ layer: "a<b", bits: 4.25 }, { layer: "c", bits: 8 }]);
  const b = propertiesBundle("R", [["float", 1 / 3], ["list", [1, 2]], ["none", null], [
    "flag",
    false,
  ]], { table, tableTitle: "rows" });
  assertStringIncludes(b["text/html"], "<td>0.333333</td>");
  assertStringIncludes(b["text/html"], "<td>null</td>");
  assertStringIncludes(b["text/html"], "<td>false</td>");
  assertStringIncludes(b["text/html"], "rows: 2 rows × 2 columns");
  assertStringIncludes(b["text/html"], "a&lt;b");
  assert(!b["text/html"].includes("[object Object]"));
  assertStringIncludes(b["text/plain"], "rows: 2 rows × 2 columns");
  assertStringIncludes(b["text/plain"], "  list   [1, 2]");
});

Deno.test("showProperties: a displayable with both MIME types", async () => {
  const b = await bundleOf(showProperties("X", [["k", "v"]]));
  assertEquals(Object.keys(b).sort(), ["text/html", "text/plain"]);
  assertEquals(b["text/plain"], "X\n  k  v");
});
