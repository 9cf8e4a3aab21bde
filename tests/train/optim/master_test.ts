import { assertEquals } from "@std/assert";
import { Rng } from "../../../kernels/random.ts";
import { Tensor } from "../../../kernels/tensor.ts";
import { MasterWeights } from "../../../train/optim/master.ts";
import { SGD } from "../../../train/optim/sgd.ts";
import { gpuTest, roundF16 } from "../../_helpers.ts";

gpuTest("MasterWeights: f32 masters, f16 copies refreshed in place after each step", async () => {
  const w0 = new Rng(1).normal(7 * 3, 0, 1);
  const b0 = roundF16(new Rng(2).normal(5, 0, 1));
  using w = Tensor.fromArray(w0, [7, 3]);
  using b = Tensor.fromArray(b0, [5], "f16");
  using mw = MasterWeights.from(new Map([["w", w], ["b", b]]));
  const half = mw.half.get("w")!; // the tensor a model would hold
  assertEquals(await mw.masters.get("w")!.data(), w0);
  assertEquals(Array.from(await mw.masters.get("b")!.data()), Array.from(b0));
  assertEquals(Array.from(await half.data()), Array.from(roundF16(w0)));
  // an f16 gradient for w only: b is frozen; small steps that f16 alone would lose
  const g0 = roundF16(new Rng(3).normal(21, 0, 1));
  using g = Tensor.fromArray(g0, [7, 3], "f16");
  using opt = new SGD();
  const expected = Float32Array.from(w0);
  for (let s = 0; s < 3; s++) {
    mw.step(opt, new Map([["w", g]]), 1e-4);
    for (let i = 0; i < 21; i++) expected[i] = Math.fround(expected[i] - Math.fround(1e-4 * g0[i]));
  }
  const m = await mw.masters.get("w")!.data();
  assertEquals(m, expected);
  assertEquals(Array.from(await half.data()), Array.from(roundF16(m)));
  // inputs untouched
  assertEquals(await w.data(), w0);
  assertEquals(Array.from(await b.data()), Array.from(b0));
  assertEquals(Array.from(await g.data()), Array.from(g0));
});
