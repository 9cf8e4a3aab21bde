import { assert, assertEquals } from "@std/assert";
import { Tensor } from "../../../kernels/tensor.ts";
import { loadModel } from "../../../model/load.ts";
import { calibrationSequences } from "../../../model/capture.ts";
import { int } from "../../../quant/quantizer.ts";
import { QuantLinear } from "../../../quant/linear.ts";
import { linear } from "../../../kernels/ops/matmul.ts";
import {
  correctedLinear,
  crossLayerEqualize,
  dfq,
  equalizationScales,
} from "../../../quant/methods/dfq.ts";
import type { WeightedLinear } from "../../../quant/linear.ts";
import { assertClose, gpuTest } from "../../_helpers.ts";

const IDS = Array.from(new TextEncoder().encode("And God said, Let there be light: and"));

async function relDiff(a: Tensor, b: Tensor): Promise<number> {
  const x = await a.data(), y = await b.data();
  let d = 0, m = 0;
  for (let i = 0; i < x.length; i++) {
    d = Math.max(d, Math.abs(x[i] - y[i]));
    m = Math.max(m, Math.abs(y[i]));
  }
  return d / m;
}

gpuTest("equalizationScales = √(r₁/r₂) (pure TS), 1 on dead channels, odd shapes", async () => {
  const w1 = [[3, -1, 0.5], [0, 0, 0], [-8, 2, 1], [0.1, 0.2, -0.3], [5, 5, 5]]; // [5, 3]
  const w2 = [[1, 2, 0, 4, -0.5], [-3, 0, 0, 1, 0.25]]; // [2, 5]
  using a = Tensor.fromArray(w1);
  using b = Tensor.fromArray(w2);
  using s = equalizationScales(a, b);
  const want = w1.map((row, i) => {
    const r1 = Math.max(...row.map(Math.abs));
    const r2 = Math.max(...w2.map((r) => Math.abs(r[i])));
    return r1 > 0 && r2 > 0 ? Math.sqrt(r1 / r2) : 1;
  });
  assertClose(await s.data(), want, { rtol: 1e-6 });
  using one = Tensor.fromArray([[2]]);
  using s1 = equalizationScales(one, one);
  assertEquals(Array.from(await s1.data()), [1]);
});

gpuTest(
  "cross-layer equalization preserves the logits (1e-4 relative) and equalizes ranges",
  async () => {
    using model = await loadModel();
    using ref = model.forward([IDS]);
    await crossLayerEqualize(model);
    using got = model.forward([IDS]);
    const d = await relDiff(got, ref);
    assert(d < 1e-4, `logits moved by ${d} (relative)`);
    const up = (model.getLinear("layers.2.mlp.up_proj") as WeightedLinear).weight;
    const down = (model.getLinear("layers.2.mlp.down_proj") as WeightedLinear).weight;
    const u = await up.toArray() as number[][], w = await down.toArray() as number[][];
    for (const i of [0, 17, 383]) {
      const r1 = Math.max(...u[i].map(Math.abs)), r2 = Math.max(...w.map((r) => Math.abs(r[i])));
      assert(Math.abs(r1 - r2) <= 1e-5 * r1, `channel ${i}: ranges ${r1} vs ${r2}`);
    }
  },
);

gpuTest("bias correction removes the mean output shift (odd shapes)", async () => {
  using w = Tensor.randn([7, 9], { seed: 1 });
  using x = Tensor.randn([50, 9], { seed: 2, mean: 0.7 });
  const xs = await x.toArray() as number[][];
  const mu = xs[0].map((_, j) => xs.reduce((s, r) => s + r[j], 0) / xs.length);
  using muT = Tensor.fromArray(mu);
  const q = int(3, { per: "tensor" });
  using ql = await correctedLinear(w, undefined, muT, q);
  assert(ql instanceof QuantLinear && ql.bias);
  using yq = ql.forward(x);
  using y = linear(x, w);
  const a = await yq.toArray() as number[][], b = await y.toArray() as number[][];
  for (let o = 0; o < 7; o++) {
    const shift = a.reduce((s, r, t) => s + r[o] - b[t][o], 0) / a.length;
    assert(Math.abs(shift) < 1e-4, `output ${o}: mean shift ${shift}`);
  }
  // without correction the shift is visible
  using plain = await correctedLinear(w, undefined, Tensor.zeros([9]), q);
  using yp = plain.forward(x);
  const c = await yp.toArray() as number[][];
  const worst = Math.max(
    ...Array.from(
      { length: 7 },
      (_, o) => Math.abs(c.reduce((s, r, t) => s + r[o] - b[t][o], 0) / c.length),
    ),
  );
  assert(worst > 1e-2, `uncorrected shift ${worst} is suspiciously small`);
});

gpuTest("dfq quantizes every linear and adds corrected biases", async () => {
  using model = await loadModel();
  const seqs = calibrationSequences(IDS.concat(IDS), { n: 2, seqLen: 16, seed: 0 });
  const r = await dfq(model, int(4, { per: "tensor" }), { sequences: seqs });
  assertEquals(r.layers.length, 28);
  assertEquals(r.details.equalization.length, 4);
  const l = model.getLinear("layers.1.self_attn.q_proj") as QuantLinear;
  assert(l instanceof QuantLinear && l.bias?.shape[0] === 128);
  using logits = model.forward([IDS]);
  assert((await logits.data()).every(Number.isFinite));
});
