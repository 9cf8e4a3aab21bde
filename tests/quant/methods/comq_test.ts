import { assert, assertRejects } from "@std/assert";
import { Tensor } from "../../../kernels/tensor.ts";
import { fp, int } from "../../../quant/quantizer.ts";
import { comqLayer } from "../../../quant/methods/comq.ts";
import { gpfqLayer } from "../../../quant/methods/gpfq.ts";
import { gpuTest } from "../../_helpers.ts";
import { comqRef } from "../../reference/coordinate.ts";
import { differing, layerProblem, refError } from "./_layer.ts";

const f16 = (s: number) => Float16Array.of(s)[0];

gpuTest("comqLayer matches pure-TS COMQ (explicit X, greedy order, scale updates)", async () => {
  const cases = [
    { q: int(3, { group: 8 }), rows: 6, N: 24, K: 2, scales: true },
    { q: int(3, { group: 16, symmetric: false }), rows: 3, N: 32, K: 3, scales: true },
    { q: int(2, { per: "channel" }), rows: 1, N: 11, K: 1, scales: false },
  ];
  for (const [k, c] of cases.entries()) {
    const { p, codes0, w, h } = await layerProblem(c.q, c.rows, c.N, 3 * c.N, 20 + k);
    using _w = w, _h = h;
    const r = await comqLayer(w, h, c.q, { iterations: c.K, updateScales: c.scales });
    using got = r.weight;
    const data = await got.data();
    const ref = comqRef(p, codes0, { iterations: c.K, updateScales: c.scales, roundScale: f16 });
    const bad = differing(data, ref.weight, 1e-3);
    assert(bad <= Math.ceil(0.03 * data.length), `case ${k}: ${bad}/${data.length} weights differ`);
    const eRef = refError(p, ref.weight);
    assert(Math.abs(r.error - eRef) <= 0.03 * eRef, `case ${k}: error ${r.error} vs ref ${eRef}`);
    assert(r.error < r.rtnError, `case ${k}: COMQ ${r.error} ≥ RTN ${r.rtnError}`);
  }
});

gpuTest("comqLayer: more passes never raise the error; scale updates lower it", async () => {
  const q = int(2, { group: 16 });
  const { w, h } = await layerProblem(q, 8, 64, 128, 7);
  using _w = w, _h = h;
  const errs: number[] = [];
  for (const K of [1, 2, 4]) {
    const r = await comqLayer(w, h, q, { iterations: K, updateScales: false });
    r.weight.dispose();
    errs.push(r.error);
  }
  assert(errs[0] >= errs[1] * (1 - 1e-5) && errs[1] >= errs[2] * (1 - 1e-5), `${errs}`);
  const withScales = await comqLayer(w, h, q, { iterations: 4 });
  withScales.weight.dispose();
  assert(withScales.error < errs[2], `scales: ${withScales.error} vs codes only ${errs[2]}`);
});

gpuTest("comqLayer rejects float formats and per-token scales", async () => {
  using w = Tensor.randn([2, 32], { seed: 0 });
  using h = Tensor.zeros([32, 32]);
  await assertRejects(() => comqLayer(w, h, fp("e2m1", { group: 16 })), RangeError, "integer");
  await assertRejects(() => comqLayer(w, h, int(8, { per: "token" })), RangeError, "per output");
  // COMQ and GPFQ round along the grid themselves: stochastic rounding is refused, not dropped
  const sr = int(4, { group: 16, rounding: { kind: "stochastic", seed: 1 } });
  await assertRejects(() => comqLayer(w, h, sr), RangeError, "no stochastic rounding");
  await assertRejects(() => gpfqLayer(w, h, sr), RangeError, "no stochastic rounding");
});
