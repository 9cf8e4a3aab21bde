import { assertEquals, assertThrows } from "@std/assert";
import { Tensor } from "../../../kernels/tensor.ts";
import { Rng } from "../../../kernels/random.ts";
import { layerNorm, rmsNorm } from "../../../kernels/ops/norm.ts";
import { assertClose, gpuTest, roundF16 } from "../../_helpers.ts";
import { layerNormRef, rmsNormRef } from "../../reference/norm.ts";

const numel = (s: number[]) => s.reduce((a, b) => a * b, 1);
const SHAPES = [[3, 173], [1, 1], [1, 300], [300, 1], [2, 3, 257], [4, 1100]];
const f16round = (v: number) => Float16Array.from([v])[0];

for (const dtype of ["f32", "f16"] as const) {
  gpuTest(`rmsNorm and layerNorm match the reference (${dtype})`, async () => {
    for (const shape of SHAPES) {
      const D = shape[shape.length - 1];
      const rng = new Rng(numel(shape));
      let x = rng.normal(numel(shape), 0.3, 2);
      let w = rng.normal(D, 1, 0.5);
      let b = rng.normal(D, 0, 1);
      if (dtype === "f16") [x, w, b] = [roundF16(x), roundF16(w), roundF16(b)];
      using tx = Tensor.fromArray(x, shape, dtype);
      using tw = Tensor.fromArray(w, [D], dtype);
      using tb = Tensor.fromArray(b, [D], dtype);
      using r = rmsNorm(tx, tw, 1e-5);
      using l = layerNorm(tx, tw, tb, 1e-5);
      using lb = layerNorm(tx, undefined, tb, 1e-5);
      using l0 = layerNorm(tx);
      const [gr, gl, glb, gl0] = await Promise.all([r, l, lb, l0].map((t) => t.data()));
      assertEquals(r.shape, shape);
      const half = dtype === "f16";
      const fix = (a: Float64Array) => (half ? roundF16(a) : a);
      // f32: ~1e-5 relative (rsqrt and f32 accumulation); f16: one or two f16 roundings.
      const tol = half ? { atol: 4e-3, rtol: 2e-3 } : { atol: 2e-5, rtol: 2e-5 };
      const what = `${dtype} [${shape}]`;
      assertClose(gr, fix(rmsNormRef(x, w, 1e-5, half ? f16round : undefined)), tol, `rms ${what}`);
      assertClose(gl, fix(layerNormRef(x, D, w, b, 1e-5)), tol, `layer ${what}`);
      assertClose(glb, fix(layerNormRef(x, D, undefined, b, 1e-5)), tol, `layer+b ${what}`);
      assertClose(gl0, fix(layerNormRef(x, D, undefined, undefined, 1e-5)), tol, `layer0 ${what}`);
    }
  });
}

gpuTest("norms: zero rows, NaN rows, large mean", async () => {
  using x = Tensor.fromArray([[0, 0, 0], [1, NaN, 2], [1e4 + 1, 1e4 - 1, 1e4]]);
  using w = Tensor.fromArray([1, 1, 1]);
  using r = rmsNorm(x, w, 1e-6);
  const rd = await r.data();
  assertClose(rd.slice(0, 6), [0, 0, 0, NaN, NaN, NaN]);
  using l = layerNorm(x, w, undefined, 0);
  const ld = await l.data();
  // Welford keeps the variance exact despite the mean 1e4 (naive f32 E[x²]−E[x]² fails here).
  assertClose(ld.slice(6), [Math.sqrt(1.5), -Math.sqrt(1.5), 0], { atol: 1e-3 });
  assertClose(ld.slice(3, 6), [NaN, NaN, NaN]);
});

gpuTest("norms say what is wrong", () => {
  using x = Tensor.zeros([2, 4]);
  using w3 = Tensor.zeros([3]);
  assertThrows(() => rmsNorm(x, w3), RangeError, "must have shape [4]");
  using wh = Tensor.zeros([4], "f16");
  assertThrows(() => rmsNorm(x, wh), TypeError, "expected f32 like the input");
  using w = Tensor.zeros([4]);
  assertThrows(() => rmsNorm(x, w, -1), RangeError, "eps -1");
  using e = Tensor.zeros([2, 0]);
  using we = Tensor.zeros([0]);
  assertThrows(() => layerNorm(e, we), RangeError, "is empty");
  using i = Tensor.zeros([2, 4], "i32");
  assertThrows(() => layerNorm(i), TypeError, "expected f32 or f16");
});
