import { QuantLinear } from "../../../quant/linear.ts";
import { assert, assertEquals, assertThrows } from "@std/assert";
import { Tensor } from "../../../kernels/tensor.ts";
import { loadModel } from "../../../model/load.ts";
import { calibrationSequences } from "../../../model/capture.ts";
import { minifloat } from "../../../quant/formats/minifloat.ts";
import { elementFormat, registerFormat } from "../../../quant/quantizer.ts";
import { fpFormat, quantizeStatic, searchWeight } from "../../../quant/methods/llm_fp4.ts";
import { assertClose, gpuTest } from "../../_helpers.ts";

Deno.test("FP4 formats: E1M2 is a uniform grid, E3M0 powers of two; registration", () => {
  const e1m2 = fpFormat("e1m2"), e3m0 = fpFormat("e3m0");
  assertEquals(Array.from(e1m2.values.slice(0, 8)), [0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5]);
  assertEquals(Array.from(e3m0.values.slice(0, 8)), [0, 0.25, 0.5, 1, 2, 4, 8, 16]);
  assertEquals(e3m0.values[9], -0.25);
  assertEquals(e3m0.encode(3), 4); // tie between 2 (code 4) and 4 (code 5): the even code
  assertEquals(e3m0.encode(-100), 15);
  assertEquals(e3m0.encode(0.1), 0);
  assert(elementFormat("e1m2") === e1m2 && fpFormat("e2m1") === elementFormat("e2m1"));
  assertThrows(() => registerFormat(minifloat({ name: "e1m2", ebits: 2, mbits: 1 })), RangeError);
  assertThrows(() => fpFormat("int5x"), RangeError);
});

gpuTest(
  "quantizeStatic = decode(encode(x/s))·s (pure TS) on odd shapes, one row, saturation",
  async () => {
    for (const name of ["e1m2", "e2m1", "e3m0"]) {
      const fmt = fpFormat(name);
      for (const [rows, cols, seed] of [[5, 7, 1], [1, 3, 2]]) {
        using x = Tensor.randn([rows, cols], { seed, std: 3 });
        const m = 2.5;
        using y = quantizeStatic(x, { format: name, maxValue: m });
        const s = m / fmt.maxValue;
        const want = Array.from(await x.data(), (v) => fmt.decode(fmt.encode(v / s)) * s);
        assertClose(await y.data(), want, { atol: 0, rtol: 1e-6 }, name);
      }
    }
  },
);

gpuTest(
  "searchWeight: errors equal the pure-TS proxy and the chosen format is the best",
  async () => {
    using w = Tensor.randn([6, 11], { seed: 4 });
    const hv = Array.from({ length: 11 }, (_, j) => 0.5 + j / 4);
    using h = Tensor.fromArray(hv);
    const ratios = [1, 0.75, 0.5];
    const r = await searchWeight(w, h, { ratios });
    using _w = r.weight;
    const W = await w.toArray() as number[][];
    for (const name of ["e1m2", "e2m1", "e3m0"]) {
      const fmt = fpFormat(name);
      let total = 0;
      for (const row of W) {
        const amax = Math.max(...row.map(Math.abs));
        total += Math.min(...ratios.map((b) => {
          const s = Math.fround(Math.fround(amax * b) / fmt.maxValue);
          return row.reduce(
            (e, v, j) => e + (fmt.decode(fmt.encode(v / s)) * s - v) ** 2 * hv[j],
            0,
          );
        }));
      }
      assertClose([r.errors[name]], [total], { rtol: 1e-4 }, name);
    }
    assertEquals(r.errors[r.format], Math.min(...Object.values(r.errors)));
  },
);

gpuTest("llmFp4 replaces every linear with an FP4 layer and the model still runs", async () => {
  const { llmFp4 } = await import("../../../quant/methods/llm_fp4.ts");
  const ids = Array.from(new TextEncoder().encode("For God so loved the world, that he gave"));
  const seqs = calibrationSequences(ids, { n: 1, seqLen: 16, seed: 0 });
  using model = await loadModel();
  const r = await llmFp4(model, seqs, {
    weightFormats: ["e2m1"],
    weightRatios: [1],
    actFormats: ["e3m0"],
    actRatios: [1],
  });
  assertEquals(r.details.choices.length, 28);
  const down = model.getLinear("layers.0.mlp.down_proj");
  assert(down instanceof QuantLinear && down.input?.kind === "static" && down.codes);
  assert(r.details.choices.every((c) => c.act && c.act.maxValue > 0));
  using logits = model.forward([ids]);
  assert((await logits.data()).every(Number.isFinite));
});
