import { assert, assertEquals, assertRejects, assertThrows } from "@std/assert";
import { Tensor } from "../../../kernels/tensor.ts";
import { gpu } from "../../../kernels/gpu.ts";
import { Rng } from "../../../kernels/random.ts";
import {
  ChannelStatsObserver,
  MinMaxObserver,
  MomentsObserver,
  NonFiniteError,
  outlierChannels,
  OutlierObserver,
  PercentileObserver,
} from "../../../quant/calib/mod.ts";
import { assertClose, gpuTest } from "../../_helpers.ts";
import {
  column,
  refAbsPercentile,
  refChannelStats,
  refMedian,
  refOutliers,
} from "../../reference/calib.ts";
import {
  activations,
  BATCHES,
  CHANNELS,
  OFFSET_CHANNEL,
  OUTLIER,
  split,
  ZERO_CHANNEL,
} from "./_data.ts";

const TOKENS = BATCHES.reduce((a, b) => a + b);

/** Feeds the batches (as tensors, disposed right after observe) to an observer. */
function stream(
  obs: { observe(x: Tensor): void },
  x: Float32Array,
  sizes = BATCHES,
  channels = CHANNELS,
): void {
  for (const b of split(x, sizes, channels)) {
    using t = Tensor.fromArray(b, [b.length / channels, channels]);
    obs.observe(t);
  }
}

gpuTest("MinMaxObserver matches the reference over batches of 5, 17, 1 × 37", async () => {
  const x = activations(TOKENS);
  const ref = refChannelStats(x, TOKENS, CHANNELS);
  const obs = new MinMaxObserver("layers.0.q_proj");
  stream(obs, x);
  assertEquals([obs.tokens, obs.batches], [TOKENS, 3]);
  const r = await obs.finish();
  assertEquals([r.tokens, r.channels], [TOKENS, CHANNELS]);
  assertClose(r.min, ref.min, { atol: 0, rtol: 0 }, "min");
  assertClose(r.max, ref.max, { atol: 0, rtol: 0 }, "max");
  assertClose(r.absmax, ref.absmax, { atol: 0, rtol: 0 }, "absmax");
  assertEquals(r.absmax[ZERO_CHANNEL], 0);
  assertEquals(r.absmax[OUTLIER[1]], OUTLIER[2]);
});

gpuTest("MomentsObserver: mean, std, kurtosis, mean |x| match two-pass f64", async () => {
  const x = activations(TOKENS);
  const ref = refChannelStats(x, TOKENS, CHANNELS);
  const obs = new MomentsObserver("layers.0.q_proj");
  stream(obs, x);
  const r = await obs.finish();
  assertClose(r.mean, ref.mean, { atol: 1e-5, rtol: 1e-5 }, "mean");
  assertClose(r.absmean, ref.absmean, { atol: 1e-5, rtol: 1e-5 }, "absmean");
  assertClose(r.std, ref.std, { atol: 1e-5, rtol: 1e-4 }, "std");
  assertClose(r.variance, ref.variance, { atol: 1e-5, rtol: 2e-4 }, "variance");
  // All-zero channel: variance 0, kurtosis undefined (NaN), not a division by zero.
  assertEquals([r.mean[ZERO_CHANNEL], r.std[ZERO_CHANNEL]], [0, 0]);
  assert(Number.isNaN(r.kurtosis[ZERO_CHANNEL]));
  assert(Number.isNaN(ref.kurtosis[ZERO_CHANNEL]));
  // Mean 100, std 0.01: no cancellation (a naive Σx² − n·mean² in f32 would give garbage).
  assertClose(
    [r.std[OFFSET_CHANNEL]],
    [ref.std[OFFSET_CHANNEL]],
    { atol: 0, rtol: 1e-3 },
    "offset std",
  );
  assertClose(r.kurtosis, ref.kurtosis, { atol: 1e-4, rtol: 1e-3 }, "kurtosis");
  // The outlier channel's kurtosis is far above a normal's 3.
  assert(r.kurtosis[OUTLIER[1]] > 15, `outlier kurtosis ${r.kurtosis[OUTLIER[1]]}`);
});

gpuTest("moments merge exactly the same over many uneven batches as in one batch", async () => {
  const sizes = [1, 1, 9, 2, 30, 1, 7];
  const n = sizes.reduce((a, b) => a + b);
  const c = 13;
  const x = activations(n, c, 9);
  const ref = refChannelStats(x, n, c);
  const many = new MomentsObserver("many");
  stream(many, x, sizes, c);
  const one = new MomentsObserver("one");
  stream(one, x, [n], c);
  const [a, b] = await Promise.all([many.finish(), one.finish()]);
  for (const [r, what] of [[a, "many"], [b, "one"]] as const) {
    assertClose(r.mean, ref.mean, { atol: 1e-5, rtol: 1e-5 }, `${what} mean`);
    assertClose(r.variance, ref.variance, { atol: 1e-5, rtol: 2e-4 }, `${what} variance`);
    assertClose(r.kurtosis, ref.kurtosis, { atol: 1e-4, rtol: 1e-3 }, `${what} kurtosis`);
  }
});

gpuTest("PercentileObserver is within its documented bound of the exact percentile", async () => {
  const x = activations(TOKENS);
  const obs = new PercentileObserver("layers.0.q_proj", {
    percentiles: [0.5, 0.99, 0.999, 1],
    channelBins: 64,
    tensorBins: 256,
  });
  stream(obs, x);
  const r = await obs.finish();
  assertEquals(Object.keys(r.channel), ["p50", "p99", "p999", "p100"]);
  for (const p of r.percentiles) {
    const name = `p${String(Number((p * 100).toPrecision(12))).replace(".", "")}`;
    for (let c = 0; c < CHANNELS; c++) {
      const v = column(x, TOKENS, CHANNELS, c);
      const exact = refAbsPercentile(v, p);
      const bound = r.channelErrorBound[c];
      const absmax = Math.max(...v.map(Math.abs));
      assert(bound <= 2 * absmax / 64 || absmax === 0, `bound ${bound} vs absmax ${absmax}`);
      const err = Math.abs(r.channel[name][c] - exact);
      assert(err <= bound, `${name} channel ${c}: |${r.channel[name][c]} − ${exact}| > ${bound}`);
    }
    const exact = refAbsPercentile(x, p);
    assert(Math.abs(r.tensor[name] - exact) <= r.tensorErrorBound, `${name} tensor`);
  }
  assertEquals(r.channel.p100[OUTLIER[1]], OUTLIER[2]);
  assertEquals(r.channel.p99[ZERO_CHANNEL], 0);
  assertEquals(r.channelErrorBound[ZERO_CHANNEL], 0);
});

gpuTest("outlier channels: absmax > k × median, k configurable (default 6)", async () => {
  const x = activations(TOKENS);
  const ref = refChannelStats(x, TOKENS, CHANNELS);
  const obs = new OutlierObserver("o_proj");
  stream(obs, x);
  const r = await obs.finish();
  assertEquals(r.outliers.k, 6);
  assertEquals(Array.from(r.outliers.isOutlier, Boolean), refOutliers(ref.absmax, 6));
  assertEquals(r.outliers.indices, [OFFSET_CHANNEL, OUTLIER[1]]); // mean-100 channel too
  assertClose([r.outliers.median], [refMedian(ref.absmax)], { atol: 0, rtol: 1e-7 });
  const mean = ref.absmax.reduce((a, b) => a + b) / CHANNELS;
  assertClose([r.outliers.maxToMean], [1e4 / mean], { rtol: 1e-6 });
  // A lower k flags more channels, exactly as the reference.
  const k2 = outlierChannels(r.absmax, 1.5);
  assertEquals(Array.from(k2.isOutlier, Boolean), refOutliers(ref.absmax, 1.5));
  assertThrows(() => outlierChannels([1], 0), RangeError, "k must be > 0");
  // Even count: the median is the mean of the middle two; median 0 flags every nonzero channel.
  assertEquals(outlierChannels([0, 0, 0, 5]).indices, [3]);
  assertEquals(outlierChannels([1, 2, 3, 40]).median, 2.5);
});

gpuTest("ChannelStatsObserver gathers everything and accepts [..., C] and f16", async () => {
  const x = activations(TOKENS);
  const ref = refChannelStats(x, TOKENS, CHANNELS);
  const obs = new ChannelStatsObserver("layers.1.mlp.down_proj", { channelBins: 128 });
  // First batch as [1, 5, 37]: leading dimensions are tokens.
  const [b0, b1, b2] = split(x, BATCHES, CHANNELS);
  {
    using t = Tensor.fromArray(b0, [1, 5, CHANNELS]);
    obs.observe(t);
  }
  for (const b of [b1, b2]) {
    using t = Tensor.fromArray(b, [b.length / CHANNELS, CHANNELS]);
    obs.observe(t);
  }
  const s = await obs.finish();
  assertEquals([s.layer, s.tokens, s.channels], ["layers.1.mlp.down_proj", TOKENS, CHANNELS]);
  assertClose(s.absmax, ref.absmax, { atol: 0, rtol: 0 }, "absmax");
  assertClose(s.std, ref.std, { atol: 1e-5, rtol: 1e-4 }, "std");
  assertEquals(Object.keys(s.percentiles), ["p99", "p999"]);
  assertEquals(s.outliers.indices, [OFFSET_CHANNEL, OUTLIER[1]]);
  assert(s.percentileErrorBound > 0 && s.percentileErrorBound <= 2 * 1e4 / 128);

  if (gpu().hasF16) {
    const small = x.map((v) => (Math.abs(v) > 1000 ? 0 : v)); // in f16 range
    const h = Float32Array.from(Float16Array.from(small));
    const obs16 = new MinMaxObserver("f16");
    using t = Tensor.fromArray(h, [TOKENS, CHANNELS], "f16");
    obs16.observe(t);
    const r = await obs16.finish();
    assertClose(r.max, refChannelStats(h, TOKENS, CHANNELS).max, { atol: 0, rtol: 0 }, "f16 max");
  }
});

for (const [kind, value] of [["NaN", NaN], ["Inf", -Infinity]] as const) {
  gpuTest(`${kind} input: finish() throws naming the layer, channel and batch`, async () => {
    const x = activations(TOKENS);
    // Token 4 of batch 1 (stream token 9), channel 7.
    x[(5 + 4) * CHANNELS + 7] = value;
    const make = [
      () => new MinMaxObserver("layers.2.k_proj"),
      () => new MomentsObserver("layers.2.k_proj"),
      () => new PercentileObserver("layers.2.k_proj"),
      () => new ChannelStatsObserver("layers.2.k_proj"),
    ];
    for (const mk of make) {
      const obs = mk();
      stream(obs, x);
      const e = (await assertRejects(() => obs.finish(), NonFiniteError)) as NonFiniteError;
      const what = obs.constructor.name;
      assertEquals(e.site.layer, "layers.2.k_proj", what);
      assertEquals(e.site.channels, [7], what);
      assertEquals(e.site.batch, 1, what);
      assertEquals(e.site.tokens, [5, 22], what);
      assertEquals(e.site.kind, kind, what);
      assert(e.message.includes('"layers.2.k_proj"') && e.message.includes("channel 7"), e.message);
      assert(e.message.includes("batch 1"), e.message);
      if (obs instanceof PercentileObserver) assertEquals(e.site.token, 9);
    }
  });
}

gpuTest("observers reject bad batches with messages naming the layer", async () => {
  const obs = new MinMaxObserver("fc1");
  using a = Tensor.zeros([4, 8]);
  using b = Tensor.zeros([4, 9]);
  using v = Tensor.zeros([8]);
  using i = Tensor.zeros([2, 8], "i32");
  obs.observe(a);
  assertThrows(() => obs.observe(b), RangeError, 'MinMaxObserver "fc1": batch 1 has 9 channels');
  assertThrows(() => obs.observe(v), RangeError, "expected [tokens, channels]");
  assertThrows(() => obs.observe(i), TypeError, "expected f32 or f16");
  const r = await obs.finish();
  assertEquals(r.tokens, 4);
  assertThrows(() => obs.observe(a), Error, "observe() after finish()");
  await assertRejects(() => obs.finish(), Error, "already called");
  await assertRejects(() => new MomentsObserver("empty").finish(), RangeError, "no tokens");
  assertThrows(() => new PercentileObserver("p", { percentiles: [99] }), RangeError, "0.99");
  // Zero-token batches are counted but change nothing.
  const z = new MomentsObserver("z");
  using e = Tensor.zeros([0, 8]);
  z.observe(e);
  z.observe(a);
  assertEquals((await z.finish()).tokens, 4);
});

gpuTest("observers hold no GPU memory after finish (tensors disposed)", async () => {
  const { runtimeStats } = await import("../../../kernels/runtime.ts");
  const before = runtimeStats().liveBytes;
  const obs = new ChannelStatsObserver("mem");
  const x = new Rng(1).normal(20 * 16);
  stream(obs, Float32Array.from(x), [7, 13], 16);
  await obs.finish();
  assertEquals(runtimeStats().liveBytes, before);
});
