import { assert, assertEquals, assertThrows } from "@std/assert";
import { Rng } from "../../../kernels/random.ts";
import { AbsHistogram } from "../../../quant/calib/histogram.ts";
import { refAbsPercentile } from "../../reference/calib.ts";

Deno.test("AbsHistogram: growing by re-binning equals binning at the final range", () => {
  const z = new Rng(3).normal(5000);
  // Heavy tail: a few values ×1000 arrive late, forcing several regrowths.
  const v = Float32Array.from(z, (x, i) => (i > 4000 && i % 97 === 0 ? x * 1000 : x));
  const grown = new AbsHistogram(300);
  for (let i = 0; i < v.length; i += 37) grown.add(v.subarray(i, i + 37));
  const once = new AbsHistogram(300);
  once.add(v);
  assertEquals(grown.range, once.range);
  assertEquals(Array.from(grown.counts), Array.from(once.counts));
  assertEquals(grown.count, v.length);
});

Deno.test("AbsHistogram quantiles are within range/bins of the exact nearest-rank percentile", () => {
  for (const [seed, bins] of [[1, 16], [2, 100], [3, 2048]]) {
    const v = Float32Array.from(new Rng(seed).normal(777), (x, i) => (i === 5 ? 5e3 : x ** 3));
    const h = new AbsHistogram(bins);
    h.add(v);
    const absmax = Math.max(...Array.from(v, Math.abs));
    assert(h.errorBound < 2 * absmax / bins);
    for (const p of [0.001, 0.1, 0.5, 0.9, 0.99, 0.999, 1]) {
      const err = Math.abs(h.quantile(p) - refAbsPercentile(v, p));
      assert(err <= h.errorBound, `bins ${bins} p ${p}: error ${err} > ${h.errorBound}`);
    }
    assertEquals(h.quantile(1), absmax);
  }
});

Deno.test("AbsHistogram edge cases: zeros, empty, values on the range edge, NaN", () => {
  const h = new AbsHistogram(8);
  assert(Number.isNaN(h.quantile(0.5)));
  h.add([0, 0, 0]);
  assertEquals([h.range, h.quantile(0.5), h.quantile(1)], [0, 0, 0]);
  h.add([4, -4]); // exactly the range: last bin, not out of bounds
  assertEquals([h.range, h.zeros, h.counts[0], h.counts[7]], [4, 3, 0, 2]);
  assertEquals(h.quantile(0.6), 0);
  assertEquals(h.quantile(1), 4);
  assertThrows(() => h.add([1, NaN]), RangeError, "NaN at index 1");
  assertThrows(() => h.add([Infinity]), RangeError, "infinite");
  assertThrows(() => new AbsHistogram(1), RangeError, "bins");
  assertThrows(() => h.quantile(0), RangeError, "(0, 1]");
  const tiny = new AbsHistogram(4);
  tiny.add([1e-40, 3e-41]); // subnormal f32 magnitudes still bin exactly
  assert(tiny.range >= 1e-40 && tiny.range < 2e-40);
});
