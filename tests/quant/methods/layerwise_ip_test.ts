import { assert, assertEquals, assertRejects } from "@std/assert";
import { loadModel } from "../../../model/load.ts";
import { calibrationSequences } from "../../../model/capture.ts";
import { layerSensitivity } from "../../../quant/alloc/sensitivity.ts";
import { layerwiseIp, type LayerwiseIpDetails } from "../../../quant/methods/layerwise_ip.ts";
import { quantizeModel } from "../../../quant/model.ts";
import { QuantLinear } from "../../../quant/linear.ts";
import { gpuTest } from "../../_helpers.ts";

gpuTest("layerSensitivity: fewer bits hurt more, and the model is restored", async () => {
  using model = await loadModel();
  const text = await Deno.readTextFile(new URL("../../../data/corpus/valid.txt", import.meta.url));
  const rows = calibrationSequences(text, { n: 1, seqLen: 48, seed: 3 });
  const layers = ["layers.1.mlp.down_proj", "layers.0.self_attn.v_proj"];
  const s = await layerSensitivity(model, rows, { bits: [2, 8], layers });
  assertEquals(s.map((r) => `${r.layer}:${r.bits}`), [
    "layers.0.self_attn.v_proj:2",
    "layers.0.self_attn.v_proj:8",
    "layers.1.mlp.down_proj:2",
    "layers.1.mlp.down_proj:8",
  ]);
  for (let i = 0; i < 4; i += 2) assert(s[i].kl > 10 * s[i + 1].kl, `${s[i].kl} vs ${s[i + 1].kl}`);
  for (const r of s) assert(r.kl >= 0 && Number.isFinite(r.dNll));
  for (const l of model.linears().values()) assert(!(l instanceof QuantLinear));
});

gpuTest("layerwiseIp quantizes by the allocation and meets the budget", async () => {
  using model = await loadModel();
  const sensitivity = [...model.linears().entries()].flatMap(([layer, l]) =>
    [2, 3, 4].map((bits) => ({
      layer,
      bits,
      params: l.inFeatures * l.outFeatures,
      bitsPerWeight: bits + 0.5,
      kl: (layer.includes("mlp") ? 4 : 1) * 2 ** -bits,
      dNll: 0,
    }))
  );
  const r = await layerwiseIp(model, { avgBits: 3.5, sensitivity });
  assert(r.bitsPerWeight <= 3.5 + 1e-12, `${r.bitsPerWeight}`);
  assert(Math.abs(r.bitsPerWeight - r.details.allocation.bitsPerWeight) < 1e-12);
  for (const p of r.details.allocation.picks) {
    assertEquals((model.getLinear(p.name) as QuantLinear).bitsPerWeight, p.bits + 0.5, p.name);
  }
  await assertRejects(() => layerwiseIp(model, { avgBits: 3 }), TypeError, "evalRows");
});

gpuTest("layerwise_ip is in the registry: quantizeModel gives the wrapper's report", async () => {
  using model = await loadModel();
  const sensitivity = [...model.linears().entries()].flatMap(([layer, l]) =>
    [2, 4].map((bits) => ({
      layer,
      bits,
      params: l.inFeatures * l.outFeatures,
      bitsPerWeight: bits + 0.5,
      kl: (layer.includes("down") ? 8 : 1) * 2 ** -bits,
      dNll: 0,
    }))
  );
  const r = await quantizeModel(model, {
    method: "layerwise_ip",
    options: { avgBits: 3, sensitivity },
  });
  assertEquals(r.method, "layerwise_ip");
  const allocation = (r.details as unknown as LayerwiseIpDetails).allocation;
  assertEquals(r.bitsPerWeight, allocation.bitsPerWeight);
  for (const p of allocation.picks) {
    assertEquals((model.getLinear(p.name) as QuantLinear).bitsPerWeight, p.bits + 0.5, p.name);
  }
  await assertRejects(
    () => quantizeModel(model, { method: "layerwise_ip", options: {} }),
    TypeError,
    "avgBits",
  );
});
