import { assert, assertEquals, assertRejects } from "@std/assert";
import { loadModel } from "../../model/load.ts";
import { DenseLinear } from "../../model/linear.ts";
import { int, nvfp4 } from "../../quant/quantizer.ts";
import { quantizeLinear, type QuantLinear } from "../../quant/linear.ts";
import {
  type LayerTask,
  methodNames,
  type ModelTask,
  type QuantizeConfig,
  quantizeModel,
  registerMethod,
} from "../../quant/model.ts";
import { randomLlama } from "../../model/random_llama.ts";
import { quip } from "../../quant/methods/quip.ts";
import { gpuTest } from "../_helpers.ts";

const ids = [Array.from(new TextEncoder().encode("And God said, Let there be light"))];

gpuTest("quantizeModel: a failing method leaves the model exactly as it was", async () => {
  using model = await loadModel();
  using before = model.forward(ids);
  const linears = new Map(model.linears());
  const norm = model.layerNorm(2, "post");
  let calls = 0;
  registerMethod({
    name: "fails_at_layer_10",
    needs: [],
    solve: async (t: LayerTask) => {
      if (++calls === 10) throw new Error("boom");
      return { linear: await quantizeLinear(t.layer, t.quantizer) };
    },
  });
  await assertRejects(
    () => quantizeModel(model, { method: "fails_at_layer_10", quantizer: int(2) }),
    Error,
    "boom",
  );
  assertEquals(calls, 10);
  for (const [name, lin] of model.linears()) assert(lin === linears.get(name), name);
  assert(model.layerNorm(2, "post") === norm);
  using after = model.forward(ids);
  assertEquals(await after.data(), await before.data());
  // a whole-model method that folds norms and then throws is rolled back too
  registerMethod({
    name: "folds_then_fails",
    needs: ["model"],
    solve: async (t: ModelTask) => {
      const { mul } = await import("../../kernels/ops/elementwise.ts");
      t.model.setLayerNorm(2, "post", mul(t.model.layerNorm(2, "post"), 2));
      t.model.setLinear(
        "layers.0.mlp.up_proj",
        await quantizeLinear(
          t.model.getLinear("layers.0.mlp.up_proj") as DenseLinear,
          int(2),
        ),
      );
      throw new Error("late failure");
    },
  });
  await assertRejects(
    () => quantizeModel(model, { method: "folds_then_fails", quantizer: int(2) }),
    Error,
    "late failure",
  );
  assert(model.layerNorm(2, "post") === norm);
  assert(model.getLinear("layers.0.mlp.up_proj") === linears.get("layers.0.mlp.up_proj"));
  using again = model.forward(ids);
  assertEquals(await again.data(), await before.data());
  // a method that runs another driver-based method (nested edit) and then fails: all undone
  const { rtn } = await import("../../quant/methods/rtn.ts");
  registerMethod({
    name: "rtn_then_fails",
    needs: ["model"],
    solve: async (t: ModelTask) => {
      await rtn(t.model, int(3));
      throw new Error("after rtn");
    },
  });
  await assertRejects(
    () => quantizeModel(model, { method: "rtn_then_fails", quantizer: int(2) }),
    Error,
    "after rtn",
  );
  for (const [name, lin] of model.linears()) assert(lin === linears.get(name), name);
  using third = model.forward(ids);
  assertEquals(await third.data(), await before.data());
});

gpuTest(
  "quantizeModel: plain-data config with a per-layer rule, skips and one report",
  async () => {
    using model = await loadModel();
    const config: QuantizeConfig = {
      method: "rtn",
      quantizer: {
        default: int(4, { group: 32 }),
        layers: [
          { match: "/layers\\.0\\./", quantizer: null },
          { match: "down_proj", quantizer: nvfp4() },
        ],
      },
      skip: ["layers.3.self_attn.o_proj"],
    };
    // plain data: survives JSON
    const r = await quantizeModel(model, JSON.parse(JSON.stringify(config)));
    assertEquals(r.method, "rtn");
    assertEquals(r.layers.length, 28 - 7 - 1);
    assert(model.getLinear("layers.0.mlp.up_proj") instanceof DenseLinear);
    assert(model.getLinear("layers.3.self_attn.o_proj") instanceof DenseLinear);
    const down = model.getLinear("layers.2.mlp.down_proj") as QuantLinear;
    assertEquals(down.weightQuantizer?.format, "e2m1");
    assert(r.layers.every((l) => l.sqnrDb > 5 && Number.isFinite(l.bitsPerWeight)));
  },
);

gpuTest("quantizeModel: unknown methods and missing calibration say what to do", async () => {
  using model = await loadModel();
  await assertRejects(
    () => quantizeModel(model, { method: "gptqq", quantizer: int(4) }),
    RangeError,
    "registered: rtn, gptq",
  );
  await assertRejects(
    () => quantizeModel(model, { method: "gptq", quantizer: int(4) }),
    TypeError,
    "needs calibration data",
  );
  await assertRejects(
    () =>
      quantizeModel(model, {
        method: "gptq",
        quantizer: int(4),
        calibration: { sequences: [new Int32Array(0)] },
      }),
    RangeError,
    "non-empty window",
  );
  assert(methodNames().includes("aqas"));
  // nothing was changed by the failed calls
  for (const lin of model.linears().values()) assert(lin instanceof DenseLinear);
});

gpuTest(
  "quantizeModel: a layer method's facts become the report's details, one row per layer",
  async () => {
    registerMethod({
      name: "facts_probe",
      needs: [],
      solve: async (t: LayerTask) => ({
        linear: await quantizeLinear(t.layer, t.quantizer),
        sqnrDb: -t.index,
        facts: { probe: { index: t.index, out: t.layer.outFeatures } },
      }),
    });
    using model = randomLlama();
    const r = await quantizeModel(model, {
      method: "facts_probe",
      quantizer: int(4),
      skip: ["layers.0.mlp.up_proj"],
    });
    const rows = (r.details as { probe: { name: string; index: number; out: number }[] }).probe;
    assertEquals(rows.map((x) => x.name), r.layers.map((l) => l.name));
    assertEquals(rows.map((x) => x.index), r.layers.map((_, i) => i));
    assertEquals(rows.map((x) => x.out), r.layers.map((l) => l.out));
    assertEquals(
      r.layers.map((l) => l.sqnrDb),
      r.layers.map((_, i) => -i),
      "the method's own SQNR",
    );
    assert(r.layers.every((l) => Object.keys(l).length === 5), "rows carry no method fields");
    // a method without facts has no details
    using plain = randomLlama();
    assertEquals(
      (await quantizeModel(plain, { method: "rtn", quantizer: int(4) })).details,
      undefined,
    );
    // the wrapper and the registry give the same details (QuIP: μ before and after, per layer)
    const sequences = [[1, 2, 3, 4, 5, 6, 7, 8], [9, 10, 11, 12, 13, 14, 15, 0]];
    using a = randomLlama();
    using b = randomLlama();
    const viaWrapper = await quip(a, int(3), { sequences });
    const viaRegistry = await quantizeModel(b, {
      method: "quip",
      quantizer: int(3),
      calibration: { sequences },
    });
    assertEquals(viaWrapper.details.incoherence.length, 7);
    assertEquals(viaRegistry.details, viaWrapper.details);
    assertEquals(viaRegistry.layers, viaWrapper.layers);
  },
);
