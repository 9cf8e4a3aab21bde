// For every leaderboard method: quantizeModel → save → load gives identical logits, with the
// loaded linears running on the packed low-bit kernels; and the packed layers compute what the
// fake-quantized ones did (so the kept codes, scales and transforms are the method's result).
import { assert, assertEquals } from "@std/assert";
import { loadModel } from "../../model/load.ts";
import { calibrationSequences } from "../../model/capture.ts";
import { int } from "../../quant/quantizer.ts";
import { loadQuantized, packModel, saveQuantized } from "../../quant/checkpoint.ts";
import { QuantLinear } from "../../quant/linear.ts";
import { type QuantizeConfig, quantizeModel } from "../../quant/model.ts";
import { gpuTest } from "../_helpers.ts";

const ids = [Array.from(new TextEncoder().encode("In the beginning God created the heaven and"))];
const text = await Deno.readTextFile(new URL("../../data/corpus/train.txt", import.meta.url));
const sequences = calibrationSequences(text, { n: 2, seqLen: 32, seed: 0 });
const W3 = int(3, { group: 32 });
const A8 = int(8, { per: "token" });

const CASES: QuantizeConfig[] = [
  { method: "rtn", quantizer: W3 },
  { method: "gptq", quantizer: W3, calibration: { sequences } },
  { method: "awq", quantizer: W3, calibration: { sequences }, options: { grid: 4, clipGrid: 4 } },
  { method: "quip", quantizer: W3, calibration: { sequences } },
  { method: "lqer", quantizer: W3, calibration: { sequences }, options: { rank: 4 } },
  { method: "lq_lora", quantizer: W3, options: { rank: 4, iterations: 2 } },
  { method: "comq", quantizer: W3, calibration: { sequences }, options: { iterations: 1 } },
  { method: "gpfq", quantizer: W3, calibration: { sequences } },
  // AWQ with one tensor scale: q/k/v (and gate/up) are quantized stacked, their codes split by rows
  {
    method: "awq",
    quantizer: int(4, { per: "tensor" }),
    calibration: { sequences },
    options: { grid: 4, clipGrid: 4 },
  },
  // CrossQuant with static calibrated columns: codes in the folded basis, Ŵ = Q·diag(c^−(1−α))
  { method: "crossquant", quantizer: W3, act: A8, calibration: { sequences } },
  {
    method: "aqas",
    quantizer: int(4, { group: 32 }),
    act: A8,
    calibration: { sequences },
    options: { alphas: [0.5] },
  },
  { method: "dfq", quantizer: W3, calibration: { sequences } },
  { method: "norm_tweaking", quantizer: W3, calibration: { sequences }, options: { base: "rtn" } },
  // LLM-FP4 searches its own FP formats (weights only here)
  { method: "llm_fp4", calibration: { sequences }, options: { actFormats: null } },
  // layer-wise IP allocates 2–4 bits per layer under a 3.5-bit budget
  { method: "layerwise_ip", calibration: { sequences }, options: { avgBits: 3.5 } },
];

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

for (const config of CASES) {
  const label = `${config.method}${
    (config.quantizer as { granularity?: { kind: string } } | undefined)?.granularity?.kind ===
        "tensor"
      ? " (per tensor)"
      : ""
  }`;
  gpuTest(`${label}: quantizeModel → save → load: identical logits, packed`, async () => {
    using model = await loadModel();
    const r = await quantizeModel(model, config);
    assertEquals(r.layers.length, 28);
    using fake = model.forward(ids);
    assertEquals(packModel(model).length, 28, "every layer kept codes the kernels can run");
    using packed = model.forward(ids);
    const fd = await fake.data(), pd = await packed.data();
    // the low-bit GEMM (44 tokens) dequantizes into the dense tiled kernel: bit-identical to the
    // fake-quantized model; QuIP's packed layer rotates x and y on the fly (x·Vᵀ, ·U) where the
    // fake-quantized one holds Ŵ = Uᵀ·Q̃·V, so its sums round differently (measured 2.9e-5);
    // CrossQuant's scales x by c^−(1−α) where the fake-quantized one holds Q·diag(c^−(1−α))
    const d = maxAbsDiff(pd, fd);
    console.log(`${label}: max |packed − fake-quant| logit difference ${d.toExponential(2)}`);
    const bound = config.method === "quip" || config.method === "crossquant" ? 1e-3 : 0;
    assert(d <= bound, `${config.method}: packed logits differ from fake-quant by ${d}`);
    const root = await Deno.makeTempDir();
    try {
      await saveQuantized(model, `${root}/q`);
      using again = await loadQuantized(`${root}/q`);
      for (const [name, lin] of again.linears()) {
        assert(lin instanceof QuantLinear && lin.packed, `${name}: ${lin}`);
      }
      using got = again.forward(ids);
      assertEquals(await got.data(), pd, `${config.method}: logits after save/load`);
    } finally {
      await Deno.remove(root, { recursive: true });
    }
  });
}
