import { assert } from "@std/assert";
import { Tensor } from "../../../kernels/tensor.ts";
import { matmul } from "../../../kernels/ops/matmul.ts";
import { loadModel } from "../../../model/load.ts";
import { calibrationSequences } from "../../../model/capture.ts";
import { fakeQuant } from "../../../quant/quantize.ts";
import { int } from "../../../quant/quantizer.ts";
import { awq, clipAndQuantize, searchScales } from "../../../quant/methods/awq.ts";
import { gpuTest } from "../../_helpers.ts";

async function trace(d: Tensor, h: Tensor): Promise<number> {
  using dh = matmul(d, h);
  const [a, b] = [await dh.data(), await d.data()];
  let t = 0;
  for (let i = 0; i < a.length; i++) t += a[i] * b[i];
  return t;
}

gpuTest("awq: folding the scales leaves the float model's logits unchanged (1e-4)", async () => {
  using model = await loadModel();
  const text = await Deno.readTextFile("data/corpus/train.txt");
  const sequences = calibrationSequences(text, { n: 2, seqLen: 32, seed: 1 });
  const ids = [Array.from(new TextEncoder().encode("And God said, Let there be light"))];
  using before = model.forward(ids);
  const r = await awq(model, int(3, { group: 32 }), { sequences, grid: 4, quantize: false });
  using after = model.forward(ids);
  const [a, b] = [await after.data(), await before.data()];
  let num = 0, den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  assert(Math.sqrt(num / den) < 1e-4, `relative change ${Math.sqrt(num / den)}`);
  // something was actually scaled (α > 0 somewhere), and o_proj (GQA 4/2 heads) was not
  assert(r.details.groups.some((g) => g.alpha > 0), "no group chose α > 0");
  assert(r.details.groups.filter((g) => g.members[0].endsWith("o_proj")).every((g) => !g.scaled));
  assert(r.layers.length === 0);
});

gpuTest("awq: the α search beats RTN on a weight whose input has outlier channels", async () => {
  const n = 32, rows = 256;
  const xs = new Float32Array(rows * n);
  const rng = Tensor.randn([rows, n], { seed: 2 });
  const base = await rng.data();
  rng.dispose();
  for (let t = 0; t < rows; t++) {
    for (let j = 0; j < n; j++) xs[t * n + j] = base[t * n + j] * (j % 8 === 0 ? 20 : 1);
  }
  using x = Tensor.fromArray(xs, [rows, n]);
  using h = matmul(x, x, { transA: true });
  const sx = new Float32Array(n);
  for (let t = 0; t < rows; t++) {
    for (let j = 0; j < n; j++) sx[j] += Math.abs(xs[t * n + j]) / rows;
  }
  using w = Tensor.randn([16, n], { seed: 3 });
  const q = int(3, { group: 16 });
  const r = await searchScales([w], sx, h, q, 10);
  r.scales.dispose();
  assert(r.curve[0].alpha === 0);
  const best = Math.min(...r.curve.map((c) => c.error));
  assert(
    r.alpha > 0 && best < 0.9 * r.curve[0].error,
    `α ${r.alpha}, ${best} vs ${r.curve[0].error}`,
  );
  // clipping never does worse than no clipping on the proxy loss it minimises per group
  const c = await clipAndQuantize(w, h, q, { grid: 6 });
  using plain = await fakeQuant(q, w);
  using d1 = (await import("../../../kernels/ops/elementwise.ts")).sub(c.weight, w);
  using d0 = (await import("../../../kernels/ops/elementwise.ts")).sub(plain, w);
  c.weight.dispose();
  c.clipped.dispose();
  assert(c.meanRatio <= 1);
  assert(await trace(d1, h) <= (await trace(d0, h)) * (1 + 1e-5));
});
