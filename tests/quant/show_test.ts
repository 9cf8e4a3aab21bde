import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { Tensor } from "../../kernels/tensor.ts";
import { int, nvfp4, quantizer } from "../../quant/quantizer.ts";
import { quantize } from "../../quant/weight.ts";
import {
  quantizer as showQuantizer,
  quantizerProperties,
  report as showReport,
  weightBundle,
} from "../../quant/show.ts";
import { bundleOf } from "../../viz/display.ts";
import { gpuTest } from "../_helpers.ts";

async function html(x: unknown): Promise<string> {
  return String((await bundleOf(x))["text/html"]);
}

Deno.test("showQuantizer: one row per setting, the describe line as title, plain data untouched", async () => {
  const q = int(3, { group: 64, symmetric: false, rounding: { kind: "stochastic", seed: 7 } });
  const before = JSON.stringify(q);
  const h = await html(showQuantizer(q));
  assertEquals(JSON.stringify(q), before);
  assertEquals(Object.getOwnPropertySymbols(q), []); // still plain data
  assertStringIncludes(h, "Quantizer uint3 · group 64 · asymmetric · stochastic (seed 7)");
  assertStringIncludes(h, "<td>uint3 (3 bits)</td>");
  assertStringIncludes(h, "<td>group of 64</td>");
  assertStringIncludes(h, "<td>stochastic, seed 7</td>");
  assertStringIncludes(h, "<td>false</td>"); // symmetric
  assert(!h.includes("[object Object]"), h);
  const mse = quantizerProperties(int(4, { range: { kind: "mse", grid: 20, minRatio: 0.5 } }));
  assertEquals(mse.find(([k]) => k === "range")?.[1], "mse (grid 20, minRatio 0.5)");
  assertEquals(quantizerProperties(nvfp4()).find(([k]) => k === "scales")?.[1], "e4m3");
});

Deno.test("showQuantizer: an unregistered format is shown by name, escaped", async () => {
  const q = { ...int(4), format: "<my>fmt" };
  const h = await html(showQuantizer(q));
  assertStringIncludes(h, "<td>&lt;my&gt;fmt</td>");
  assert(!h.includes("<my>"));
});

Deno.test("showReport: summary, a row per layer with the method's columns, escaping", async () => {
  const report = {
    method: "gptq",
    bitsPerWeight: 4.25,
    seconds: 1.5,
    details: { damp: 0.01 },
    layers: [
      { name: "layers.0.<x>", out: 8, in: 4, bitsPerWeight: 4.25, sqnrDb: 20.123, proxyLoss: 0.5 },
      { name: "layers.1.mlp", out: 8, in: 4, bitsPerWeight: 4.25, sqnrDb: 30 },
    ],
  };
  const b = await bundleOf(showReport(report));
  const h = String(b["text/html"]);
  assertStringIncludes(h, "QuantReport (gptq)");
  assertStringIncludes(h, "<td>4.25</td>");
  assertStringIncludes(h, "<td>20.12 … 30</td>");
  assertStringIncludes(h, "layers: 2 rows × 6 columns");
  assertStringIncludes(h, "layers.0.&lt;x&gt;");
  assertStringIncludes(h, "proxyLoss");
  assertStringIncludes(h, "<td>damp</td>");
  assert(!h.includes("<x>") && !h.includes("[object Object]"), h);
  assertStringIncludes(String(b["text/plain"]), "layers.1.mlp");
  const empty = await html(showReport({ bitsPerWeight: 0, layers: [] }));
  assertStringIncludes(empty, "<td>(not set)</td>");
  assertStringIncludes(empty, "layers: 0 rows");
});

gpuTest("QuantizedWeight displays its properties without reading the GPU", async () => {
  using w = Tensor.fromArray([[1, -2, 3, 4, 0.5, 0, -1, 2], [0, 0, 0, 0, 0, 0, 0, 1]]);
  using q = await quantize(int(4, { group: 4 }), w);
  const b = (await bundleOf(q)) as ReturnType<typeof weightBundle>;
  assertEquals(b, weightBundle(q));
  assertStringIncludes(b["text/html"], "QuantizedWeight([2,8], int4 · group 4");
  assertStringIncludes(b["text/html"], "<td>[2, 8]</td>");
  assertStringIncludes(b["text/html"], "<td>4</td>"); // code bits, group size
  assertEquals(q.scales.length, 4);
  assertEquals(Math.max(...q.scales), 1); // the all-zero group gets a defined scale
  assertStringIncludes(
    b["text/html"],
    `<td>4 (${Math.min(...q.scales).toPrecision(4)} … ${
      Math.max(...q.scales).toPrecision(4)
    })</td>`,
  );
  assertStringIncludes(b["text/html"], "<td>int4</td>"); // kernel format
  assertStringIncludes(b["text/plain"], "bits per weight");
  const odd = await quantize(quantizer("e3m2", { group: 4, scale: "e8m0" }), w);
  try {
    assertStringIncludes(
      await html(odd),
      "none (dequantize to run)",
    );
  } finally {
    odd.dispose();
  }
});
