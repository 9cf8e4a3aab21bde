import { assert, assertEquals } from "@std/assert";
import { Tensor } from "../../../kernels/tensor.ts";
import { cast } from "../../../kernels/ops/elementwise.ts";
import { embedding, indexSelect } from "../../../kernels/ops/gather.ts";
import { takeRef } from "../../reference/gather.ts";
import { gpuTest } from "../../_helpers.ts";
import { gradCheck } from "../../_gradcheck.ts";
import { gradsOf, sameBits } from "./_grads.ts";
import { Rng } from "../../../kernels/random.ts";

gpuTest("embedding: repeated ids accumulate; CPU and GPU (i32, u32) ids", async () => {
  const ids = [[3, 1, 3, 0, 3], [6, 1, 1, 2, 3]];
  const flat = ids.flat();
  for (const kind of ["cpu", "i32", "u32"] as const) {
    await gradCheck({
      inputs: [{ shape: [7, 3] }],
      gpu: (t) => {
        if (kind === "cpu") return embedding(t, ids);
        const arr = kind === "i32" ? new Int32Array(flat) : new Uint32Array(flat);
        using idt = Tensor.fromArray(arr, [2, 5]);
        return embedding(t, idt);
      },
      ref: (t) => takeRef(t, [7, 3], 0, flat),
    }).catch((e) => {
      throw new Error(`${kind} ids: ${e.message}`);
    });
  }
});

gpuTest("indexSelect: every axis, repeats, clamped GPU ids", async () => {
  const shape = [3, 4, 5];
  const cases: [number, number[]][] = [[0, [2, 2, 0, 1, 2]], [1, [3, 0, 3]], [2, [4, 4, 4, 1]]];
  for (const [axis, ids] of cases) {
    for (const gpuIds of [false, true]) {
      await gradCheck({
        inputs: [{ shape }],
        gpu: (t) => {
          if (!gpuIds) return indexSelect(t, axis, ids);
          using idt = Tensor.fromArray(new Int32Array(ids), [ids.length]);
          return indexSelect(t, axis - 3, idt);
        },
        ref: (t) => takeRef(t, shape, axis, ids),
      }).catch((e) => {
        throw new Error(`axis ${axis} gpu ids ${gpuIds}: ${e.message}`);
      });
    }
  }
  // GPU ids out of range are clamped in the forward, and so in the backward.
  await gradCheck({
    inputs: [{ shape: [4, 2] }],
    gpu: (t) => {
      using idt = Tensor.fromArray(new Int32Array([-3, 9, 1, 3]), [4]);
      return indexSelect(t, 0, idt);
    },
    ref: (t) => takeRef(t, [4, 2], 0, [0, 3, 1, 3]),
  });
});

gpuTest("embedding on f16 accumulates in f32 and rounds once", async () => {
  await gradCheck({
    inputs: [{ shape: [5, 6] }],
    gpu: (t) => {
      using h = cast(t, "f16");
      using y = embedding(h, [4, 0, 4, 4, 2]);
      assertEquals(y.dtype, "f16");
      return cast(y, "f32");
    },
    ref: (t) => takeRef(t, [5, 6], 0, [4, 0, 4, 4, 2]),
    tol: 1e-2,
  });
});

gpuTest("scatter-add: CPU and GPU sorts give the same bits; NaN stays in its row", async () => {
  // 700 ids (several sort workgroups) over 9 rows: long runs of repeats.
  const rng = new Rng(11);
  const ids = Array.from(rng.normal(700, 0, 1), (v) => Math.min(8, Math.floor(Math.abs(v) * 3)));
  using t = Tensor.randn([9, 3], { seed: 4 });
  const seed = rng.normal(700 * 3, 0, 1);
  const [a] = await gradsOf((t) => embedding(t, ids), [t], seed);
  using idt = Tensor.fromArray(new Int32Array(ids), [700]);
  const [b] = await gradsOf((t) => embedding(t, idt), [t], seed);
  const [c] = await gradsOf((t) => embedding(t, idt), [t], seed);
  assert(sameBits(a, b), "CPU-sorted and GPU-sorted ids sum in the same order");
  assert(sameBits(b, c), "same inputs, same bits");
  // An f64 sum in position order agrees.
  const want = new Float64Array(27);
  ids.forEach((id, k) => {
    for (let i = 0; i < 3; i++) want[id * 3 + i] += seed[k * 3 + i];
  });
  assert(a.every((v, i) => Math.abs(v - want[i]) < 1e-4), "scatter-add sums");
  // A NaN upstream gradient reaches only the row its id names; unused rows are exactly 0.
  using small = Tensor.randn([4, 2], { seed: 1 });
  const [g] = await gradsOf((t) => embedding(t, [1, 2, 1]), [small], [1, 1, NaN, 1, 1, 1]);
  assertEquals(Array.from(g, (v) => (Number.isNaN(v) ? "NaN" : v)), [0, 0, 2, 2, "NaN", 1, 0, 0]);
});
