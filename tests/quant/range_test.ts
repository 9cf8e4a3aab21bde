import { assert, assertEquals, assertLess, assertThrows } from "@std/assert";
import { Rng } from "../../kernels/random.ts";
import { klThreshold } from "../../quant/range.ts";
import { MAX_KL_BINS } from "../../quant/quantizer.ts";

/** The search as first written: every candidate rebuilds P and Q in full (O(bins²)), in f64. */
function klThresholdRef(x: ArrayLike<number>, levels: number, bins: number) {
  let amax = 0;
  for (let i = 0; i < x.length; i++) amax = Math.max(amax, Math.abs(x[i]));
  const hist = new Float64Array(bins);
  const width = amax / bins;
  for (let i = 0; i < x.length; i++) hist[Math.min(bins - 1, Math.floor(Math.abs(x[i]) / width))]++;
  const nq = Math.max(1, Math.round(levels) + 1);
  const kls = new Map<number, number>();
  for (let i = nq; i <= bins; i++) {
    const p = hist.slice(0, i);
    for (let j = i; j < bins; j++) p[i - 1] += hist[j];
    const q = new Float64Array(i);
    const per = i / nq;
    for (let k = 0; k < nq; k++) {
      const start = Math.floor(k * per);
      const end = k === nq - 1 ? i : Math.floor((k + 1) * per);
      let total = 0, nonzero = 0;
      for (let j = start; j < end; j++) {
        total += hist[j];
        if (hist[j] > 0) nonzero++;
      }
      for (let j = start; j < end; j++) if (hist[j] > 0) q[j] = total / nonzero;
    }
    let sp = 0, sq = 0;
    for (let j = 0; j < i; j++) (sp += p[j], sq += q[j]);
    let kl = sp === 0 || sq === 0 ? Infinity : 0;
    for (let j = 0; j < i && kl !== Infinity; j++) {
      if (p[j] === 0) continue;
      const pi = p[j] / sp, qi = q[j] / sq;
      kl += qi > 0 ? pi * Math.log(pi / qi) : pi * 30;
    }
    kls.set(i, kl);
  }
  return { kls, width };
}

Deno.test("klThreshold: the prefix-sum search picks the threshold of least KL, as the full one", () => {
  const rng = new Rng(5);
  const cases: [string, Float32Array][] = [
    ["normal", rng.normal(20000)],
    ["heavy tail", rng.normal(20000).map((v, i) => (i % 101 === 0 ? v * 40 : v))],
    ["gaps", rng.normal(3000).map((v) => Math.round(v * 3) / 3)], // many empty bins
    ["few", rng.normal(40)],
    ["one outlier", Float32Array.from({ length: 500 }, (_, i) => (i === 7 ? 100 : (i % 13) / 13))],
  ];
  for (const [what, x] of cases) {
    for (const [levels, bins] of [[127, 2048], [7, 300], [15, 512], [127, 128], [1, 64]]) {
      const got = klThreshold(x, levels, bins);
      const { kls, width } = klThresholdRef(x, levels, bins);
      const i = Math.round(got / width - 0.5);
      const min = Math.min(...kls.values());
      const at = kls.get(i) ?? Infinity;
      // the same bin, or one whose KL equals the least up to rounding (a tie)
      assert(
        at === min || Math.abs(at - min) <= 1e-12 * Math.max(1, Math.abs(min)),
        `${what}, levels ${levels}, bins ${bins}: picked bin ${i} (KL ${at}), least KL ${min}`,
      );
    }
  }
});

Deno.test("klThreshold: bins are bounded and the work grows linearly with them", () => {
  const x = new Rng(1).normal(100_000);
  for (const bins of [1e9, 0, -1, 2.5, NaN, MAX_KL_BINS + 1]) {
    assertThrows(() => klThreshold(x, 127, bins), RangeError, `bins is ${bins}`);
  }
  const t0 = performance.now();
  const t = klThreshold(x, 127, MAX_KL_BINS);
  const ms = performance.now() - t0;
  console.log(`klThreshold, ${MAX_KL_BINS} bins × 128 levels: ${ms.toFixed(0)} ms`);
  // the O(bins²) search needs ~10¹¹ steps here (minutes); this one ~10⁷
  assertLess(ms, 5000);
  assert(t > 1 && t < 6, `threshold ${t}`);
  assertEquals(klThreshold(new Float32Array(4), 127, 16), 0);
});
