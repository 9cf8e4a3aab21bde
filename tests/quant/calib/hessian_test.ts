import { assert, assertEquals, assertRejects } from "@std/assert";
import { Tensor } from "../../../kernels/tensor.ts";
import { runtimeStats } from "../../../kernels/runtime.ts";
import { HessianObserver, NonFiniteError } from "../../../quant/calib/mod.ts";
import { assertClose, gpuTest } from "../../_helpers.ts";
import { refHessian } from "../../reference/calib.ts";
import { activations, BATCHES, CHANNELS, OUTLIER, split } from "./_data.ts";

const TOKENS = BATCHES.reduce((a, b) => a + b);

gpuTest(
  "HessianObserver: 2/n·XᵀX over batches of 5, 17, 1 × 37 matches the reference",
  async () => {
    const x = activations(TOKENS);
    const ref = refHessian(x, TOKENS, CHANNELS);
    const before = runtimeStats().liveBytes;
    const obs = new HessianObserver("layers.0.mlp.down_proj");
    for (const b of split(x, BATCHES, CHANNELS)) {
      using t = Tensor.fromArray(b, [b.length / CHANNELS, CHANNELS]);
      obs.observe(t);
    }
    assertEquals(obs.tokens, TOKENS);
    {
      using h = await obs.finish();
      assertEquals([h.shape, h.dtype], [[CHANNELS, CHANNELS], "f32"]);
      const d = await h.data();
      // Entries reach 2/23·1e8 (the outlier squared): compare relative to each row's scale.
      const scale = (i: number) => Math.sqrt(Math.abs(ref[i * CHANNELS + i]));
      const err = Array.from(d, (v, k) => {
        const i = Math.floor(k / CHANNELS), j = k % CHANNELS;
        return Math.abs(v - ref[k]) / (1e-6 + scale(i) * scale(j));
      });
      assert(Math.max(...err) < 1e-5, `max scaled error ${Math.max(...err)}`);
      assertEquals(d[OUTLIER[1] * (CHANNELS + 1)] > 1e6, true);
      // Symmetric exactly (each entry is the same dot product).
      for (let i = 0; i < CHANNELS; i++) {
        for (let j = 0; j < i; j++) assertEquals(d[i * CHANNELS + j], d[j * CHANNELS + i]);
      }
    }
    assertEquals(runtimeStats().liveBytes, before);
  },
);

gpuTest("HessianObserver flattens [..., K] batches and works on a plain small case", async () => {
  const obs = new HessianObserver("q");
  const x = Float32Array.from({ length: 2 * 3 * 5 }, (_, i) => ((i * 7) % 11) - 5);
  using t = Tensor.fromArray(x, [2, 3, 5]);
  obs.observe(t);
  using h = await obs.finish();
  assertClose(await h.data(), refHessian(x, 6, 5), { atol: 1e-5, rtol: 1e-6 });
});

gpuTest("HessianObserver: NaN in a batch throws naming layer, channel, batch", async () => {
  const x = activations(TOKENS);
  x[(22) * CHANNELS + 30] = NaN; // the last batch (1 token), channel 30
  const obs = new HessianObserver("layers.3.v_proj");
  for (const b of split(x, BATCHES, CHANNELS)) {
    using t = Tensor.fromArray(b, [b.length / CHANNELS, CHANNELS]);
    obs.observe(t);
  }
  const e = (await assertRejects(() => obs.finish(), NonFiniteError)) as NonFiniteError;
  assertEquals([e.site.channels, e.site.batch, e.site.tokens], [[30], 2, [22, 23]]);
  assert(e.message.includes('"layers.3.v_proj"'));
});
