import { assertEquals, assertThrows } from "@std/assert";
import { Tensor } from "../../../kernels/tensor.ts";
import { Rng } from "../../../kernels/random.ts";
import { rope, ropeInvFreq } from "../../../kernels/ops/rope.ts";
import { assertClose, gpuTest, roundF16 } from "../../_helpers.ts";
import { ropeRef } from "../../reference/rope.ts";

const numel = (s: number[]) => s.reduce((a, b) => a * b, 1);

for (const dtype of ["f32", "f16"] as const) {
  gpuTest(`rope matches the HF rotate_half reference (${dtype})`, async () => {
    const cases: [number[], "bshd" | "bhsd", number, number][] = [
      [[2, 5, 3, 8], "bshd", 0, 10000],
      [[7, 1, 2], "bshd", 3, 10000],
      [[1, 1, 1, 6], "bshd", 0, 10000],
      [[2, 3, 9, 10], "bhsd", 17, 500000],
      [[3, 4, 64], "bshd", 4000, 10000], // large angles: θ up to ~4000 rad
    ];
    for (const [shape, layout, offset, base] of cases) {
      let x = new Rng(numel(shape)).normal(numel(shape), 0, 1);
      if (dtype === "f16") x = roundF16(x);
      const inv = ropeInvFreq(shape[shape.length - 1], base);
      using t = Tensor.fromArray(x, shape, dtype);
      using y = rope(t, inv, { offset, layout });
      assertEquals(y.shape, shape);
      const ref = ropeRef(x, shape, inv, { offset, layout, half: dtype === "f16" });
      // f32: cos/sin of the reduced angle within ~1e-6; f16: one f16 ulp (products may fuse).
      const tol = dtype === "f32" ? { atol: 1e-5, rtol: 1e-5 } : { atol: 2e-3, rtol: 2e-3 };
      assertClose(await y.data(), ref, tol, `${dtype} [${shape}] ${layout} offset ${offset}`);
    }
  });
}

gpuTest("rope: invFreq as a tensor, scaling, identity at position 0", async () => {
  const x = new Rng(1).normal(2 * 3 * 4, 0, 1);
  using t = Tensor.fromArray(x, [2, 3, 4]);
  using f = Tensor.fromArray(ropeInvFreq(4));
  using y0 = rope(t.reshape([1, 2, 3, 4]), f, { layout: "bhsd" }); // seq = 3, pos 0..2
  using same = rope(t, ropeInvFreq(4), { layout: "bhsd" });
  assertClose(await y0.data(), await same.data(), { atol: 0 });
  using p0 = Tensor.fromArray(x.slice(0, 4), [1, 1, 4]);
  using i0 = rope(p0, f);
  assertClose(await i0.data(), x.slice(0, 4), { atol: 0 }, "position 0 is the identity");
  using s2 = rope(p0, f, { scaling: 2 });
  assertClose(await s2.data(), Array.from(x.slice(0, 4), (v) => 2 * v), { atol: 1e-6 });
});

gpuTest("rope says what is wrong", () => {
  using x = Tensor.zeros([2, 3, 5]);
  assertThrows(() => rope(x, new Float32Array(2)), RangeError, "headDim 5");
  using y = Tensor.zeros([2, 3, 8]);
  assertThrows(() => rope(y, new Float32Array(3)), RangeError, "expected [4]");
  using z = Tensor.zeros([8]);
  assertThrows(() => rope(z, new Float32Array(4)), RangeError, "has rank 1");
  assertThrows(() => rope(y, new Float32Array(4), { offset: -1 }), RangeError, "offset -1");
  assertThrows(() => ropeInvFreq(7), RangeError, "even");
});
