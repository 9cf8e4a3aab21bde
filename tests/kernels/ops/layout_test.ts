import { assertEquals, assertThrows } from "@std/assert";
import { Tensor } from "../../../kernels/tensor.ts";
import { Rng } from "../../../kernels/random.ts";
import {
  concat,
  contiguous,
  narrow,
  permute,
  slice,
  split,
  transpose,
} from "../../../kernels/ops/layout.ts";
import { gpuTest, roundF16 } from "../../_helpers.ts";
import { concatRef, permuteRef, sliceRef } from "../../reference/layout.ts";

const numel = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
type D = "f32" | "f16" | "i32";
function data(shape: readonly number[], dtype: D, seed = 1): ArrayLike<number> {
  const x = new Rng(seed + numel(shape)).normal(numel(shape), 0, 100);
  return dtype === "f16" ? roundF16(x) : dtype === "i32" ? Int32Array.from(x) : x;
}

for (const dtype of ["f32", "f16", "i32"] as const) {
  gpuTest(`transpose and permute match the reference (${dtype})`, async () => {
    const cases: [number[], number[]][] = [
      [[3, 173], [1, 0]], // tiled, not a multiple of 32
      [[1, 1], [1, 0]],
      [[1, 37], [1, 0]],
      [[37, 1], [1, 0]],
      [[2, 33, 65], [0, 2, 1]], // batched tiled
      [[2, 3, 257], [2, 0, 1]],
      [[2, 3, 4, 5], [0, 2, 1, 3]], // [B,S,H,D] → [B,H,S,D]
      [[2, 3, 4, 5], [3, 1, 0, 2]],
      [[5], [0]],
    ];
    for (const [shape, axes] of cases) {
      const x = data(shape, dtype);
      using t = Tensor.fromArray(x, shape, dtype);
      using y = permute(t, axes);
      assertEquals(y.shape, axes.map((a) => shape[a]));
      assertEquals(Array.from(await y.data()), permuteRef(x, shape, axes), `[${shape}] [${axes}]`);
    }
    const x = data([4, 3, 5], dtype);
    using t = Tensor.fromArray(x, [4, 3, 5], dtype);
    using tr = transpose(t);
    assertEquals(Array.from(await tr.data()), permuteRef(x, [4, 3, 5], [0, 2, 1]));
    using t02 = transpose(t, 0, -1);
    assertEquals(Array.from(await t02.data()), permuteRef(x, [4, 3, 5], [2, 1, 0]));
  });

  gpuTest(`slice, narrow, split, concat, contiguous match the reference (${dtype})`, async () => {
    const shape = [3, 7, 5];
    const x = data(shape, dtype);
    using t = Tensor.fromArray(x, shape, dtype);
    const sl: [number[], number[]][] = [
      [[1, 2, 1], [3, 7, 4]],
      [[0, 0, 3], [3, 7, 4]], // one column, odd offset (f16: not 4-byte aligned)
      [[2, 0, 0], [3, 7, 5]], // contiguous rows → buffer copy for 4-byte types
      [[0, 3, 0], [3, 3, 5]], // empty
    ];
    for (const [s, e] of sl) {
      using y = slice(t, s, e);
      assertEquals(y.shape, e.map((v, k) => v - s[k]));
      assertEquals(Array.from(await y.data()), sliceRef(x, shape, s, e), `slice [${s}]..[${e}]`);
    }
    using neg = slice(t, [-1, undefined, -2]);
    assertEquals(Array.from(await neg.data()), sliceRef(x, shape, [2, 0, 3], [3, 7, 5]));
    using nr = narrow(t, 1, 5, 2);
    assertEquals(Array.from(await nr.data()), sliceRef(x, shape, [0, 5, 0], [3, 7, 5]));
    const parts = split(t, [2, 0, 5], 1);
    assertEquals(parts.map((p) => p.shape), [[3, 2, 5], [3, 0, 5], [3, 5, 5]]);
    using back = concat(parts, 1);
    assertEquals(Array.from(await back.data()), Array.from(x));
    for (const p of parts) p.dispose();
    const odd = data([3, 1, 5], dtype, 9);
    using to = Tensor.fromArray(odd, [3, 1, 5], dtype);
    for (const axis of [0, 1, 2]) {
      const s2 = [3, 7, 5].map((d, k) => (k === axis ? 2 : d));
      const b = data(s2, dtype, 4);
      using tb = Tensor.fromArray(b, s2, dtype);
      using c = concat([t, tb, t], axis);
      const ref = concatRef([
        { data: x, shape },
        { data: b, shape: s2 },
        { data: x, shape },
      ], axis);
      assertEquals(Array.from(await c.data()), ref, `concat axis ${axis}`);
    }
    using c1 = concat([to, to, to], 1);
    assertEquals(
      Array.from(await c1.data()),
      concatRef([{ data: odd, shape: [3, 1, 5] }, { data: odd, shape: [3, 1, 5] }, {
        data: odd,
        shape: [3, 1, 5],
      }], 1),
    );
    using cp = contiguous(t);
    assertEquals(Array.from(await cp.data()), Array.from(x));
    const eq = split(t, 3, 0);
    assertEquals(eq.length, 3);
    assertEquals(Array.from(await eq[2].data()), sliceRef(x, shape, [2, 0, 0], [3, 7, 5]));
    for (const p of eq) p.dispose();
  });
}

gpuTest("layout ops say what is wrong", () => {
  using x = Tensor.zeros([2, 3]);
  assertThrows(() => permute(x, [0]), RangeError, "has rank 2");
  assertThrows(() => permute(x, [0, 0]), RangeError, "expected a permutation");
  assertThrows(() => slice(x, [0, 4]), RangeError, "start 4 of dimension 1");
  assertThrows(() => slice(x, [2], [1]), RangeError, "is before start");
  assertThrows(() => narrow(x, 1, 2, 2), RangeError, "exceeds dimension 1");
  assertThrows(() => split(x, 2, 1), RangeError, "does not split into 2 equal parts");
  assertThrows(() => split(x, [1, 1], 1), RangeError, "they sum to 2");
  using y = Tensor.zeros([3, 3]);
  assertThrows(() => concat([x, y], 1), RangeError, "expected [2, *]");
  using h = Tensor.zeros([2, 3], "f16");
  assertThrows(() => concat([x, h]), TypeError, "expected f32 like tensor 0");
  using v = Tensor.zeros([3]);
  assertThrows(() => transpose(v), RangeError, "expected rank ≥ 2");
  using big = Tensor.zeros([2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2]);
  assertThrows(
    () => permute(big, [...Array(19).keys()].reverse()),
    RangeError,
    "at most 8",
  );
});
