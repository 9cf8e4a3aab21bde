import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { loadModel } from "../../model/load.ts";
import { llamaBundle, projectionRows } from "../../model/llama_view.ts";
import type { Linear } from "../../model/linear.ts";
import { bitsPerWeight, int } from "../../quant/quantizer.ts";
import { rtn } from "../../quant/methods/rtn.ts";
import { bundleOf } from "../../viz/display.ts";
import { gpuTest } from "../_helpers.ts";

const fake = (out: number, inF: number, bits?: number) =>
  ({ outFeatures: out, inFeatures: inF, bitsPerWeight: bits }) as unknown as Linear;

Deno.test("projectionRows: one row per kind, counts, shapes, a bits range when mixed", () => {
  const rows = projectionRows(
    new Map([
      ["layers.0.mlp.up_proj", fake(8, 4, 32)],
      ["layers.1.mlp.up_proj", fake(8, 4, 4.5)],
      ["layers.0.self_attn.o_proj", fake(4, 4, 32)],
      ["lm_head", fake(16, 4)],
    ]),
  );
  assertEquals(rows, [
    {
      projection: "mlp.up_proj",
      count: 2,
      "shape [out, in]": "[8, 4]",
      "bits per weight": "4.5 … 32",
      params: 64,
    },
    {
      projection: "self_attn.o_proj",
      count: 1,
      "shape [out, in]": "[4, 4]",
      "bits per weight": 32,
      params: 16,
    },
    {
      projection: "lm_head",
      count: 1,
      "shape [out, in]": "[16, 4]",
      "bits per weight": NaN,
      params: 64,
    },
  ]);
});

gpuTest(
  "LlamaModel displays its config and projections; quantized layers show their bits",
  async () => {
    using model = await loadModel("data/tiny");
    const before = (await bundleOf(model)) as ReturnType<typeof llamaBundle>;
    assertEquals(before, llamaBundle(model));
    const h = before["text/html"];
    assertStringIncludes(h, `<b>${model.toString()}</b>`);
    assertStringIncludes(h, "<td>4</td>"); // layers
    assertStringIncludes(h, "<td>128</td>"); // hidden size
    assertStringIncludes(h, "projections: 8 rows × 5 columns"); // 7 per layer + lm_head
    assertStringIncludes(h, ">self_attn.q_proj</td>");
    assert(!h.includes("[object Object]"));
    assertStringIncludes(before["text/plain"], "mlp.down_proj");
    await rtn(model, (name) => (name.includes("mlp") ? int(4, { group: 32 }) : null));
    const after = llamaBundle(model)["text/html"];
    const row = after.split("<tr>").find((r) => r.includes(">mlp.up_proj</td>"))!;
    assertStringIncludes(row, `>${bitsPerWeight(int(4, { group: 32 }), [384, 128])}</td>`);
    assertEquals(bitsPerWeight(int(4, { group: 32 }), [384, 128]), 4.5);
    const attn = after.split("<tr>").find((r) => r.includes(">self_attn.q_proj</td>"))!;
    assertStringIncludes(attn, ">32</td>");
    model.dispose();
    assertStringIncludes(llamaBundle(model)["text/plain"], "(disposed)");
  },
);
