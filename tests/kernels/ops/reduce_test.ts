import { assertEquals, assertThrows } from "@std/assert";
import { Tensor } from "../../../kernels/tensor.ts";
import { Rng } from "../../../kernels/random.ts";
import {
  argmax,
  reduce,
  reduceAll,
  type ReduceAllOp,
  type ReduceOp,
  sum,
  variance,
} from "../../../kernels/ops/reduce.ts";
import { assertClose, gpuTest, roundF16 } from "../../_helpers.ts";
import { REDUCE_REF, reduceAxisRef } from "../../reference/reduce.ts";

const OPS: ReduceOp[] = [
  "sum",
  "mean",
  "max",
  "min",
  "absmax",
  "norm2",
  "rms",
  "argmax",
  "argmin",
  "variance",
  "std",
];

// Odd shapes (not multiples of the 256-wide workgroup), size-1 dims, every axis.
const CASES: [number[], number][] = [
  [[3, 173], 1],
  [[3, 173], 0],
  [[1, 1], -1],
  [[1, 300], -1],
  [[300, 1], 0],
  [[300, 1], 1],
  [[2, 3, 257], 0],
  [[2, 3, 257], 1],
  [[2, 3, 257], -1],
  [[2, 1100], 1],
  [[7], 0],
  [[2, 5000], -1], // long rows: the axis is split into chunks, then combined
  [[5000, 3], 0], // tall matrix down its rows: chunked too
];

const numel = (s: number[]) => s.reduce((a, b) => a * b, 1);

for (const dtype of ["f32", "f16"] as const) {
  gpuTest(`reduce ops along every axis match the reference (${dtype})`, async () => {
    // The chunked cases compile extra pipelines (slow on lavapipe): f32 only.
    for (const [shape, axis] of dtype === "f32" ? CASES : CASES.slice(0, -2)) {
      let x = new Rng(numel(shape) + axis).normal(numel(shape), 0.5, 2);
      if (dtype === "f16") x = roundF16(x);
      using t = Tensor.fromArray(x, shape, dtype);
      // Queue every op, then read all back at once (a readback per op is slow on lavapipe).
      const ys = OPS.map((op) => reduce(op, t, axis));
      const got = await Promise.all(ys.map((y) => y.data()));
      for (const [n, op] of OPS.entries()) {
        using y = ys[n];
        const ref = reduceAxisRef(x, shape, axis, REDUCE_REF[op]);
        assertEquals(y.shape, ref.shape, `${op} [${shape}] axis ${axis}`);
        const what = `${op} ${dtype} [${shape}] axis ${axis}`;
        if (op === "argmax" || op === "argmin") {
          assertEquals(y.dtype, "i32");
          assertEquals(Array.from(got[n]), Array.from(ref.data), what);
          continue;
        }
        // f32: accumulation in f32 over ≤ 5000 terms; f16: one final f16 rounding.
        const tol = dtype === "f32" ? { atol: 1e-4, rtol: 1e-5 } : { atol: 1e-3, rtol: 1e-3 };
        const expected = dtype === "f16" ? roundF16(ref.data) : ref.data;
        assertClose(got[n], expected, tol, what);
      }
    }
  });
}

gpuTest("reduce: keepDims, unbiased variance, NaN propagation, ties", async () => {
  using x = Tensor.fromArray([[1, 2, 3, 4], [5, 5, 1, 5]]);
  using k = reduce("max", x, 1, { keepDims: true });
  assertEquals(k.shape, [2, 1]);
  using k0 = reduce("sum", x, 0, { keepDims: true });
  assertEquals(k0.shape, [1, 4]);
  using u = variance(x, -1, { unbiased: true });
  assertClose(await u.data(), [5 / 3, 4], { rtol: 1e-6 });
  using a = argmax(x);
  assertEquals(Array.from(await a.data()), [3, 0], "first occurrence of a tie");
  using one = Tensor.fromArray([[4]]);
  using u1 = variance(one, -1, { unbiased: true });
  assertClose(await u1.data(), [NaN], {}, "unbiased variance of one element");

  const v = [1, NaN, 3, -7, 2, 0];
  using n = Tensor.fromArray(v, [2, 3]);
  for (const op of ["sum", "mean", "max", "min", "absmax", "norm2", "variance"] as const) {
    using y = reduce(op, n, 1);
    assertClose(await y.data(), [NaN, REDUCE_REF[op]([-7, 2, 0])], { atol: 1e-6 }, `NaN ${op}`);
  }
  using am = argmax(n, 1);
  assertEquals(Array.from(await am.data()), [1, 1], "NaN counts as the maximum");
  using z = Tensor.zeros([3, 5]);
  using zs = reduce("variance", z);
  assertClose(await zs.data(), [0, 0, 0], { atol: 0 });
});

gpuTest("variance stays accurate for data with a large mean (Welford/Chan)", async () => {
  const x = new Rng(5).normal(3 * 1000, 1e4, 1);
  using t = Tensor.fromArray(x, [3, 1000]);
  using y = variance(t);
  const f32 = Float32Array.from(x);
  const ref = reduceAxisRef(f32, [3, 1000], -1, REDUCE_REF.variance);
  // A naive Σx² − (Σx)²/n in f32 would lose every digit here (1e8 vs 1).
  assertClose(await y.data(), ref.data, { rtol: 1e-3 }, "variance with mean 1e4");
});

gpuTest("reduceAll matches the reference, one pass and several", async () => {
  for (const n of [7, 3 * 4096 + 5]) {
    const x = new Rng(n).normal(n, 0.25, 1);
    using t = Tensor.fromArray(x, [n]);
    for (const op of ["sum", "mean", "max", "min", "absmax", "norm2", "rms"] as ReduceAllOp[]) {
      using y = reduceAll(op, t);
      assertEquals(y.shape, []);
      const ref = REDUCE_REF[op](Array.from(x));
      assertClose(await y.data(), [ref], { atol: 1e-4 * Math.sqrt(n), rtol: 1e-5 }, `${op} n=${n}`);
    }
  }
  const h = roundF16(new Rng(2).normal(5000, 0, 1));
  using th = Tensor.fromArray(h, [50, 100], "f16");
  using s = reduceAll("absmax", th);
  assertEquals(s.dtype, "f16");
  assertClose(await s.data(), [Math.max(...Array.from(h, Math.abs))], { atol: 0 });
  h[4321] = NaN;
  using tn = Tensor.fromArray(h, [5000], "f16");
  for (const op of ["sum", "max", "min", "absmax"] as ReduceAllOp[]) {
    using y = reduceAll(op, tn);
    assertClose(await y.data(), [NaN], {}, `reduceAll ${op} with a NaN`);
  }
});

gpuTest("reductions say what is wrong", () => {
  using e = Tensor.zeros([3, 0]);
  assertThrows(() => sum(e, 1), RangeError, "axis 1 of Tensor [3, 0] f32 is empty");
  using s0 = sum(e, 0);
  assertEquals(s0.shape, [0]);
  assertThrows(() => reduceAll("max", e), RangeError, "is empty");
  using x = Tensor.fromArray([1, 2]);
  assertThrows(() => sum(x, 1), RangeError, "axis 1 is out of range for rank 1");
  using i = Tensor.fromArray([1, 2], [2], "i32");
  assertThrows(() => sum(i), TypeError, "expected f32 or f16");
  assertThrows(() => reduce("median" as ReduceOp, x), RangeError, 'unknown op "median"');
  using sc = Tensor.fromArray(3);
  assertThrows(() => sum(sc), RangeError, "is a scalar");
});
