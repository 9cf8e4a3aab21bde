import { assertEquals, assertThrows } from "@std/assert";
import { Tensor } from "../../../kernels/tensor.ts";
import { Rng } from "../../../kernels/random.ts";
import { embedding, indexSelect } from "../../../kernels/ops/gather.ts";
import { gpuTest, roundF16 } from "../../_helpers.ts";
import { takeRef } from "../../reference/gather.ts";

const numel = (s: number[]) => s.reduce((a, b) => a * b, 1);

gpuTest(
  "embedding and indexSelect match the reference (f32, f16, i32; CPU and GPU ids)",
  async () => {
    const cases: [number[], number, number[]][] = [
      [[37, 173], 0, [36, 0, 5, 5, 17]],
      [[1, 1], 0, [0]],
      [[2, 3, 257], 1, [2, 0]],
      [[2, 3, 257], -1, [256, 1, 0, 128]],
      [[300, 1], 0, [299, 7]],
    ];
    for (const dtype of ["f32", "f16", "i32"] as const) {
      for (const [shape, axis, ids] of cases) {
        let x: ArrayLike<number> = new Rng(numel(shape)).normal(numel(shape), 0, 50);
        x = dtype === "f16" ? roundF16(x) : dtype === "i32" ? Int32Array.from(x) : x;
        using t = Tensor.fromArray(x, shape, dtype);
        const a = axis < 0 ? axis + shape.length : axis;
        const ref = takeRef(x, shape, a, ids);
        using y = indexSelect(t, axis, ids);
        assertEquals(y.shape, [...shape.slice(0, a), ids.length, ...shape.slice(a + 1)]);
        assertEquals(Array.from(await y.data()), ref, `${dtype} [${shape}] axis ${axis}`);
        using gi = Tensor.fromArray(Int32Array.from(ids));
        using yg = indexSelect(t, axis, gi);
        assertEquals(Array.from(await yg.data()), ref, `GPU ids ${dtype} [${shape}]`);
      }
    }
    const table = new Rng(3).normal(11 * 6, 0, 1);
    using tt = Tensor.fromArray(table, [11, 6]);
    using e = embedding(tt, [[1, 2, 3], [10, 0, 1]]);
    assertEquals(e.shape, [2, 3, 6]);
    assertEquals(Array.from(await e.data()), takeRef(table, [11, 6], 0, [1, 2, 3, 10, 0, 1]));
  },
);

gpuTest("gather: GPU ids are clamped, CPU ids are checked", async () => {
  using t = Tensor.fromArray([[1, 1], [2, 2], [3, 3]]);
  using bad = Tensor.fromArray(new Int32Array([-5, 7, 1]));
  using y = embedding(t, bad);
  assertEquals(Array.from(await y.data()), [1, 1, 3, 3, 2, 2]);
  using badu = Tensor.fromArray(new Uint32Array([9, 0]));
  using yu = embedding(t, badu);
  assertEquals(Array.from(await yu.data()), [3, 3, 1, 1]);
  assertThrows(() => embedding(t, [0, 3]), RangeError, "index 3 at position 1 is out of range");
  assertThrows(() => embedding(t, [1.5]), RangeError, "expected an integer in [0, 2]");
  using t1 = Tensor.zeros([4]);
  assertThrows(() => embedding(t1, [0]), RangeError, "expected [vocab, dim]");
  using f = Tensor.fromArray([0]);
  assertThrows(() => embedding(t, f), TypeError, "expected i32 or u32");
  using none = embedding(t, []);
  assertEquals(none.shape, [0, 2]);
});
