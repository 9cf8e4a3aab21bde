import { assert, assertEquals, assertRejects, assertThrows } from "@std/assert";
import { Tensor } from "../../kernels/tensor.ts";
import { gpu } from "../../kernels/gpu.ts";
import { Rng } from "../../kernels/random.ts";
import {
  cosineSimilarity,
  errorMetrics,
  kernelFraction,
  maxAbsError,
  mse,
  quantError,
  sqnr,
} from "../../quant/metrics.ts";
import { assertClose, gpuTest } from "../_helpers.ts";
import { refErrorMetrics } from "../reference/calib.ts";

/** x and an int4-like rounding of it (step 0.5, clipped at ±3.5): zeros appear for |x| < 0.25. */
function pair(n: number, seed: number): [Float32Array, Float32Array] {
  const x = Float32Array.from(new Rng(seed).normal(n), (v, i) => (i % 13 === 0 ? 0 : v));
  const q = x.map((v) => Math.max(-3.5, Math.min(3.5, Math.round(v * 2) / 2)));
  return [x, q];
}

Deno.test("errorMetrics (pure TS) matches the definitions", () => {
  const [x, q] = pair(1001, 1);
  const m = errorMetrics(x, q);
  const r = refErrorMetrics(x, q);
  assertClose([m.mse, m.sqnr, m.cosine, m.maxAbsError, m.kernelFraction], [
    r.mse,
    r.sqnr,
    r.cosine,
    r.maxAbsError,
    r.kernelFraction,
  ], { atol: 1e-12, rtol: 1e-12 });
  assert(m.kernelFraction > 0.1 && m.kernelFraction < 0.3, `${m.kernelFraction}`);
  // Defined edge cases: exact copy, all zero, one side zero.
  const same = errorMetrics([1, 2], [1, 2]);
  assertEquals([same.sqnr, same.cosine, same.mse], [Infinity, 1, 0]);
  const zeros = errorMetrics([0, 0], [0, 0]);
  assertEquals([zeros.sqnr, zeros.cosine, zeros.kernelFraction], [Infinity, 1, 0]);
  const qzero = errorMetrics([1, 2], [0, 0]);
  assertEquals([qzero.cosine, qzero.kernelFraction], [0, 1]);
  assertEquals(errorMetrics([0, 0], [1, 0]).sqnr, -Infinity);
  assertThrows(() => errorMetrics([1, NaN], [1, 1]), RangeError, "NaN at index 1 of the reference");
  assertThrows(() => errorMetrics([1], [1, 2]), RangeError, "differ in size");
  assertThrows(() => errorMetrics([], []), RangeError, "empty");
});

gpuTest(
  "quantError on the GPU matches the f64 reference (odd sizes, > one reduce chunk)",
  async () => {
    const cases: [number[], number][] = [[[1], 2], [[3, 173], 3], [[7, 1171], 4]];
    for (const [shape, seed] of cases) {
      const n = shape.reduce((a, b) => a * b, 1);
      const [x, q] = n === 1 ? [Float32Array.of(0.7), Float32Array.of(0.5)] : pair(n, seed);
      using tx = Tensor.fromArray(x, shape);
      using tq = Tensor.fromArray(q, shape);
      const m = await quantError(tx, tq);
      const r = refErrorMetrics(x, q);
      assertEquals(m.n, n);
      assertClose(
        [m.mse, m.cosine, m.maxAbsError, m.kernelFraction],
        [
          r.mse,
          r.cosine,
          r.maxAbsError,
          r.kernelFraction,
        ],
        { atol: 1e-6, rtol: 1e-5 },
        `[${shape}]`,
      );
      assertClose([m.sqnr], [r.sqnr], { atol: 1e-4 }, `sqnr [${shape}]`);
      // The single-metric functions agree with the combined one.
      assertEquals(await mse(tx, tq), m.mse);
      assertEquals(await sqnr(tx, tq), m.sqnr);
      assertEquals(await cosineSimilarity(tx, tq), m.cosine);
      assertEquals(await maxAbsError(tx, tq), m.maxAbsError);
      assertEquals(await kernelFraction(tx, tq), m.kernelFraction);
    }
  },
);

gpuTest("quantError: edge cases, f16, NaN and shape errors", async () => {
  using a = Tensor.fromArray([1, -2, 3]);
  using z = Tensor.zeros([3]);
  const same = await quantError(a, a);
  assertEquals([same.mse, same.sqnr, same.cosine, same.maxAbsError], [0, Infinity, 1, 0]);
  const zq = await quantError(a, z);
  assertEquals([zq.cosine, zq.kernelFraction, zq.sqnr], [0, 1, 0]);
  const zz = await quantError(z, z);
  assertEquals([zz.cosine, zz.kernelFraction, zz.sqnr], [1, 0, Infinity]);
  if (gpu().hasF16) {
    using h = Tensor.fromArray([1, -2, 3.5], [3], "f16");
    assertEquals(await maxAbsError(a, h), 0.5);
  }
  using bad = Tensor.fromArray([1, NaN, 3]);
  await assertRejects(() => quantError(a, bad), RangeError, "quantized Tensor [3] f32 holds NaN");
  await assertRejects(() => sqnr(bad, a), RangeError, "reference Tensor [3] f32 holds NaN");
  using b = Tensor.zeros([1, 3]);
  await assertRejects(() => quantError(a, b), RangeError, "differ in shape");
  using i = Tensor.zeros([3], "i32");
  await assertRejects(() => mse(a, i), TypeError, "f32 or f16");
});
