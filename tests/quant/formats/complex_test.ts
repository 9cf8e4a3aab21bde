import { assert, assertAlmostEquals, assertEquals, assertThrows } from "@std/assert";
import {
  COMPLEX_CODEBOOK,
  dequantizeComplex,
  encodeComplex,
  quantizeComplex,
} from "../../../quant/formats/complex.ts";
import { rng } from "./_rng.ts";

Deno.test("code k is i^k and encode picks the nearest fourth root of unity", () => {
  assertEquals(COMPLEX_CODEBOOK, [[1, 0], [0, 1], [-1, 0], [0, -1]]);
  const r = rng(13);
  for (let i = 0; i < 5000; i++) {
    const re = r() * 2 - 1;
    const im = r() * 2 - 1;
    let best = 0;
    let bestD = Infinity;
    for (let k = 0; k < 4; k++) {
      const d = (re - COMPLEX_CODEBOOK[k][0]) ** 2 + (im - COMPLEX_CODEBOOK[k][1]) ** 2;
      if (d < bestD) [best, bestD] = [k, d];
    }
    assertEquals(encodeComplex(re, im), best, `${re} ${im}`);
  }
  // ties |re| = |im| go to the real axis; 0 → +1
  assertEquals(encodeComplex(1, 1), 0);
  assertEquals(encodeComplex(-1, 1), 2);
  assertEquals(encodeComplex(0, 0), 0);
  assertEquals(encodeComplex(-0, 0), 0);
  assertThrows(() => encodeComplex(NaN, 0), RangeError);
});

Deno.test("least-squares scale and dequantization", () => {
  const x = [2, 0.5, -0.1, -2, 0.3, 0.1];
  const q = quantizeComplex(x);
  assertEquals(Array.from(q.codes), [0, 3, 0]);
  assertAlmostEquals(q.scales[0], Math.fround((2 + 2 + 0.3) / 3), 0);
  // the stored scale minimizes the squared error for these codes
  const err = (s: number) => {
    let e = 0;
    for (let p = 0; p < 3; p++) {
      const [cr, ci] = COMPLEX_CODEBOOK[q.codes[p]];
      e += (x[2 * p] - s * cr) ** 2 + (x[2 * p + 1] - s * ci) ** 2;
    }
    return e;
  };
  assert(
    err(q.scales[0]) <= err(q.scales[0] * 1.01) && err(q.scales[0]) <= err(q.scales[0] * 0.99),
  );
  const y = dequantizeComplex(q);
  assertEquals(y.length, 6);
  assertEquals(y[3], -q.scales[0]);
  const qb = quantizeComplex([1, 0, 0, 0, 0, -4, 0, 0], 2);
  assertEquals(Array.from(qb.scales), [0.5, 2]);
  assertThrows(() => quantizeComplex([1, 2, 3]), RangeError, "odd");
  assertThrows(() => quantizeComplex([1, Infinity]), RangeError, "[1]");
});
