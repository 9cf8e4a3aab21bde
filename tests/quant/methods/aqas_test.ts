import { assert, assertEquals } from "@std/assert";
import { Tensor } from "../../../kernels/tensor.ts";
import { Rng } from "../../../kernels/random.ts";
import { loadModel } from "../../../model/load.ts";
import { calibrationSequences } from "../../../model/capture.ts";
import { int } from "../../../quant/quantizer.ts";
import { QuantLinear } from "../../../quant/linear.ts";
import { aqas, aqasSearch, smoothingScales } from "../../../quant/methods/aqas.ts";
import { foldScales, type SiteName, SITES } from "../../../quant/methods/_sites.ts";
import { assertClose, gpuTest } from "../../_helpers.ts";

const IDS = Array.from(new TextEncoder().encode("In the beginning God created the heaven and"));
const W4 = int(4), A8 = int(8, { per: "token" });

async function relDiff(a: Tensor, b: Tensor): Promise<number> {
  const x = await a.data(), y = await b.data();
  let d = 0, m = 0;
  for (let i = 0; i < x.length; i++) {
    d = Math.max(d, Math.abs(x[i] - y[i]));
    m = Math.max(m, Math.abs(y[i]));
  }
  return d / m;
}

gpuTest("smoothingScales = a^α / w^(1−α) (pure TS), zero ranges floored", async () => {
  const a = [4, 0.5, 0, 9, 1e-3], w = [1, 2, 3, 0, 0.25];
  using at = Tensor.fromArray(a);
  using wt = Tensor.fromArray(w);
  for (const alpha of [0.25, 0.5, 0.8]) {
    using s = smoothingScales(at, wt, alpha);
    const want = a.map((v, j) => Math.max(v, 1e-5) ** alpha / Math.max(w[j], 1e-5) ** (1 - alpha));
    assertClose(await s.data(), want, { rtol: 1e-4 });
  }
});

gpuTest("folding random scales into every site preserves the logits (1e-4 relative)", async () => {
  using model = await loadModel();
  using ref = model.forward([IDS]);
  const rng = new Rng(3);
  for (let i = 0; i < model.numLayers; i++) {
    for (const site of Object.keys(SITES) as SiteName[]) {
      const n = site === "down" ? 384 : 128;
      using s = Tensor.fromArray(Float32Array.from({ length: n }, () => 2 ** (4 * rng.next() - 2)));
      foldScales(model, i, site, s);
    }
  }
  using got = model.forward([IDS]);
  const d = await relDiff(got, ref);
  assert(d < 1e-4, `logits moved by ${d} (relative)`);
});

gpuTest(
  "aqasSearch: W4A8 with an outlier channel, the chosen s beats s = 1 and is the minimum",
  async () => {
    const cols = 24;
    const v = new Rng(5).normal(40 * cols);
    for (let t = 0; t < 40; t++) v[t * cols + 7] *= 50; // an outlier input channel
    using x = Tensor.fromArray(v, [40, cols]);
    using w = Tensor.randn([12, cols], { seed: 6 });
    using w2 = Tensor.randn([5, cols], { seed: 7 });
    const r = await aqasSearch(x, [w, w2], { weight: W4, act: int(4, { per: "token" }) });
    using _s = r.s;
    assertEquals(r.errors.length, 4);
    const best = Math.min(...r.errors);
    assert(r.alpha !== null, `s = 1 won: ${r.errors}`);
    assert(best < 0.8 * r.errors[0], `errors ${r.errors}`);
    assertEquals(r.errors[[0.25, 0.5, 0.75].indexOf(r.alpha) + 1], best);
  },
);

gpuTest("aqas without quantization keeps the logits; with it gives W4A8 QuantLinears", async () => {
  const seqs = calibrationSequences(IDS.concat(IDS), { n: 2, seqLen: 32, seed: 1 });
  {
    using model = await loadModel();
    using ref = model.forward([IDS]);
    const r = await aqas(model, seqs, {
      weight: W4,
      act: A8,
      quantize: false,
      alphas: [0.25],
      sites: ["mlp", "down"],
    });
    assertEquals(r.details.sites.length, 8);
    assert(
      r.details.sites.some((s) => s.alpha !== null),
      "no site was scaled: the test would be vacuous",
    );
    using got = model.forward([IDS]);
    const d = await relDiff(got, ref);
    assert(d < 1e-4, `logits moved by ${d} (relative)`);
  }
  using model = await loadModel();
  const r = await aqas(model, seqs, { weight: W4, act: A8, alphas: [0.5], sites: ["down"] });
  assertEquals(r.layers.length, 28);
  const l = model.getLinear("layers.3.mlp.down_proj");
  assert(l instanceof QuantLinear && l.act === A8);
});
