import { assert, assertAlmostEquals, assertEquals, assertThrows } from "@std/assert";
import {
  encodeTernary,
  TERNARY_ENTROPY_BITS,
  ternaryAbsmean,
  ternaryAbsmedian,
  ternaryElement,
  ternaryFormat,
  ternaryGamma,
} from "../../../quant/formats/ternary.ts";
import { gaussianArray, rng } from "./_rng.ts";

Deno.test("ternary element: codes 0, 1, 3 ↔ 0, +1, −1; code 2 reserved", () => {
  assertEquals(ternaryElement.name, "ternary");
  assertEquals(Array.from(ternaryElement.values), [0, 1, -2, -1]);
  assertEquals(ternaryElement.reserved, [2]);
  assertEquals([0, 1, 3].map((c) => ternaryElement.encode(ternaryElement.decode(c))), [0, 1, 3]);
  assertAlmostEquals(TERNARY_ENTROPY_BITS, 1.58496, 1e-5);
  assertEquals(ternaryAbsmean.bitsPerWeight, 2);
  assertEquals(ternaryFormat({ blockSize: 64 }).bitsPerWeight, 2.5);
});

Deno.test("BitNet b1.58 absmean: γ = mean|W|, code = RoundClip(W/γ, −1, 1), half to even", () => {
  const w = [0.5, -0.5, 1.5, -3, 0.49, 0, 2];
  // mean |w| = 7.99 / 7
  const g = ternaryGamma(w, "absmean");
  assertAlmostEquals(g, 7.99 / 7, 1e-12);
  const q = ternaryAbsmean.quantize(w);
  assertEquals(q.scales[0], Math.fround(g));
  const s = q.scales[0];
  const want = w.map((x) => Math.max(-1, Math.min(1, Math.round(Math.fround(x / s)))) + 0);
  assertEquals(Array.from(q.codes, (c) => ternaryElement.decode(c)), want);
  assertEquals(encodeTernary(0.5, 1), 0); // tie → 0 (even)
  assertEquals(encodeTernary(-0.5, 1), 0);
  assertEquals(encodeTernary(1.5, 1), 1);
  assertEquals(Array.from(ternaryAbsmean.dequantize(q)), want.map((c) => Math.fround(c * s) + 0));
});

Deno.test("absmedian (b1.58 Reloaded) uses the median of |W|", () => {
  assertEquals(ternaryGamma([3, -1, 100], "absmedian"), 3);
  assertEquals(ternaryGamma([3, -1, 100, 2], "absmedian"), 2.5);
  const q = ternaryAbsmedian.quantize([3, -1, 100]);
  assertEquals(q.scales[0], 3);
  assertEquals(Array.from(q.codes), [1, 0, 1]); // −1/3 → 0
});

Deno.test("zero tensor and per-block scales: ε floor, no NaN", () => {
  const q = ternaryAbsmean.quantize(new Float32Array(8));
  assertEquals(q.scales[0], Math.fround(1e-5));
  assert(ternaryAbsmean.dequantize(q).every((v) => v === 0));
  const w = gaussianArray(rng(8), 130);
  const fmt = ternaryFormat({ blockSize: 64 });
  const qb = fmt.quantize(w);
  assertEquals(qb.scales.length, 3);
  assertEquals(qb.scales[2], Math.fround(ternaryGamma(w, "absmean", 128, 130)));
  assertThrows(() => ternaryAbsmean.quantize([1, NaN]), RangeError, "[1] is NaN");
  assertThrows(() => encodeTernary(1, 0), RangeError);
});

Deno.test("on Gaussian weights about a third of codes are zero (|w| < γ/2)", () => {
  const w = gaussianArray(rng(10), 20000);
  const q = ternaryAbsmean.quantize(w);
  const zeros = q.codes.filter((c) => c === 0).length / w.length;
  // P(|z| < 0.5·√(2/π)) for z ~ N(0,1) ≈ 0.31
  assertAlmostEquals(zeros, 0.31, 0.02);
});
