import { assert, assertEquals } from "@std/assert";
import { Tensor } from "../../../kernels/tensor.ts";
import { sub } from "../../../kernels/ops/elementwise.ts";
import { matmul } from "../../../kernels/ops/matmul.ts";
import { int } from "../../../quant/quantizer.ts";
import { gptq } from "../../../quant/methods/gptq.ts";
import { quipWeight } from "../../../quant/methods/quip.ts";
import { incoherence, randomRotation, rotateWeight } from "../../../quant/transforms/rotation.ts";
import { gpuTest } from "../../_helpers.ts";

async function proxyLoss(wq: Tensor, w: Tensor, h: Tensor): Promise<number> {
  using d = sub(wq, w);
  using dh = matmul(d, h);
  const [a, b] = [await dh.data(), await d.data()];
  let t = 0;
  for (let i = 0; i < a.length; i++) t += a[i] * b[i];
  return t;
}

/** A 24×64 weight (m not a power of two) with a few large outlier entries. */
async function outlierWeight(): Promise<Tensor> {
  using g = Tensor.randn([24, 64], { seed: 4, std: 0.1 });
  const d = await g.data();
  for (const i of [3, 100, 777, 1200]) d[i] = 4;
  return Tensor.fromArray(d, [24, 64]);
}

gpuTest(
  "quip: incoherence drops; the rotated-back 2-bit weight is finite and close to W",
  async () => {
    using w = await outlierWeight();
    using x = Tensor.randn([256, 64], { seed: 5 });
    using h = matmul(x, x, { transA: true });
    using u = randomRotation(24, 1);
    using v = randomRotation(64, 2);
    using wt = rotateWeight(w, u, v);
    const [mu0, mu1] = [await incoherence(w), await incoherence(wt)];
    assert(mu1 < mu0 / 3, `μ ${mu0} → ${mu1}`);
    const q = int(2, { symmetric: false });
    using plain = await quipWeight(w, h, q, { incoherence: false });
    using withIp = await quipWeight(w, h, q, { seed: 0 });
    // (on this synthetic weight incoherence does NOT lower the 2-bit proxy loss: the
    // outliers, exactly representable per row without it, are smeared over all rows;
    // the model-level comparison is in notebooks/05-quip.ipynb)
    const [l0, l1] = [await proxyLoss(plain, w, h), await proxyLoss(withIp, w, h)];
    using zero = Tensor.zeros([24, 64]);
    const lz = await proxyLoss(zero, w, h);
    assert(Number.isFinite(l1) && l1 < 0.5 * lz && l0 < 0.5 * lz, `losses ${l0}, ${l1} vs ${lz}`);
    assertEquals(withIp.shape, [24, 64]);
  },
);

gpuTest("quip: without incoherence it is exactly GPTQ", async () => {
  using w = Tensor.randn([5, 32], { seed: 6 });
  using x = Tensor.randn([40, 32], { seed: 7 });
  using h = matmul(x, x, { transA: true });
  const q = int(3, { group: 16 });
  using a = await quipWeight(w, h, q, { incoherence: false });
  using g = await gptq(w, h, q);
  assertEquals(Array.from(await a.data()), Array.from(await g.dequantized.data()));
});
