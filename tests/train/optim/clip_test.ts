import { assertEquals, assertRejects } from "@std/assert";
import { Rng } from "../../../kernels/random.ts";
import { Tensor } from "../../../kernels/tensor.ts";
import { clipGradNorm } from "../../../train/optim/clip.ts";
import { assertClose, gpuTest } from "../../_helpers.ts";
import { clipRef } from "../../reference/optim.ts";

gpuTest("clipGradNorm matches clip_grad_norm_ (odd sizes, clipping and not)", async () => {
  const sizes = [1, 7, 1000, 4099];
  for (const maxNorm of [1, 1e3]) {
    const vals = sizes.map((n, k) => new Rng(k).normal(n, 0, 0.5));
    vals[1][2] = 0;
    const ts = vals.map((v) => Tensor.fromArray(v));
    const norm = await clipGradNorm(new Map(ts.map((t, k) => [`g${k}`, t])), maxNorm);
    const ref = clipRef(vals, maxNorm);
    // f32 sums of ≤ 4099 squares: relative error well under 1e-5
    assertClose([norm], [ref.norm], { atol: 0, rtol: 1e-5 }, `norm (max ${maxNorm})`);
    for (let k = 0; k < ts.length; k++) {
      assertClose(await ts[k].data(), ref.scaled[k], { atol: 1e-7, rtol: 1e-5 }, `g${k}`);
      ts[k].dispose();
    }
  }
});

gpuTest("clipGradNorm: NaN spreads as in torch; no gradients gives 0; f16 is refused", async () => {
  using a = Tensor.fromArray([1, NaN, 2]);
  using b = Tensor.fromArray([3]);
  const norm = await clipGradNorm([a, b], 1);
  assertEquals([Number.isNaN(norm), Number.isNaN((await b.data())[0])], [true, true]);
  assertEquals(await clipGradNorm([], 1), 0);
  using h = Tensor.zeros([2], "f16");
  await assertRejects(() => clipGradNorm([h], 1), TypeError, "f32");
  await assertRejects(() => clipGradNorm([b], -1), RangeError, "maxNorm");
});
