import { assertEquals, assertThrows } from "@std/assert";
import { Tensor } from "../../../kernels/tensor.ts";
import { Rng } from "../../../kernels/random.ts";
import { logSoftmax, softmax } from "../../../kernels/ops/softmax.ts";
import { assertClose, gpuTest, roundF16 } from "../../_helpers.ts";
import { softmaxRef } from "../../reference/softmax.ts";

const numel = (s: number[]) => s.reduce((a, b) => a * b, 1);
const SHAPES = [[3, 173], [1, 1], [1, 300], [300, 1], [2, 3, 257], [2, 5, 7]];

for (const dtype of ["f32", "f16"] as const) {
  gpuTest(`softmax and logSoftmax match the reference (${dtype})`, async () => {
    for (const shape of SHAPES) {
      let x = new Rng(numel(shape)).normal(numel(shape), 0, 3);
      if (dtype === "f16") x = roundF16(x);
      using t = Tensor.fromArray(x, shape, dtype);
      const variants = [
        { log: false, causal: false, scale: 1 },
        { log: true, causal: false, scale: 1 },
        { log: false, causal: true, scale: 0.125 },
        { log: true, causal: true, scale: 1 },
      ].filter((v) => !v.causal || shape[0] <= shape[shape.length - 1]);
      const ys = variants.map((v) => (v.log ? logSoftmax : softmax)(t, v));
      const got = await Promise.all(ys.map((y) => y.data()));
      for (const [n, v] of variants.entries()) {
        using y = ys[n];
        assertEquals(y.shape, shape);
        let ref: ArrayLike<number> = softmaxRef(x, shape, v);
        if (dtype === "f16") ref = roundF16(ref);
        // f32: exp/log within a few ulp; f16: one f16 rounding of the f32 result.
        const tol = dtype === "f32" ? { atol: 1e-6, rtol: 1e-5 } : { atol: 1e-3, rtol: 1e-3 };
        assertClose(got[n], ref, tol, `${JSON.stringify(v)} ${dtype} [${shape}]`);
      }
    }
  });
}

gpuTest("softmax edge cases: NaN rows, −∞ masks, huge values, causal offset", async () => {
  using x = Tensor.fromArray([
    [1, NaN, 2, 0],
    [-Infinity, 0, -Infinity, 0],
    [1000, 1000, -1000, 0],
    [-Infinity, -Infinity, -Infinity, -Infinity],
  ]);
  using p = softmax(x);
  assertClose(await p.data(), [
    NaN,
    NaN,
    NaN,
    NaN,
    0,
    0.5,
    0,
    0.5,
    0.5,
    0.5,
    0,
    0,
    0.25,
    0.25,
    0.25,
    0.25,
  ], { atol: 1e-7 }); // prettier-ignore
  using l = logSoftmax(x);
  const ld = await l.data();
  assertClose(ld.slice(4, 12), [
    -Infinity,
    -Math.LN2,
    -Infinity,
    -Math.LN2,
    -Math.LN2,
    -Math.LN2,
    -2000 - Math.LN2,
    -1000 - Math.LN2,
  ], { atol: 1e-4 }); // prettier-ignore
  // T = 2 queries at the end of S = 4 keys: row 0 sees keys 0..2, row 1 all.
  using s = Tensor.zeros([1, 2, 4]);
  using c = softmax(s, { causal: true });
  assertClose(await c.data(), [1 / 3, 1 / 3, 1 / 3, 0, 0.25, 0.25, 0.25, 0.25]);
});

gpuTest("softmax says what is wrong", () => {
  using x = Tensor.zeros([4, 3]);
  assertThrows(() => softmax(x, { causal: true }), RangeError, "expected T ≤ S");
  using v = Tensor.zeros([3]);
  assertThrows(() => softmax(v, { causal: true }), RangeError, "[..., T, S]");
  using i = Tensor.fromArray([1], [1], "i32");
  assertThrows(() => softmax(i), TypeError, "expected f32 or f16");
  using e = Tensor.zeros([2, 0]);
  using y = softmax(e);
  assertEquals(y.shape, [2, 0]);
});
