import { assertEquals, assertThrows } from "@std/assert";
import { Tensor } from "../../../kernels/tensor.ts";
import { Rng } from "../../../kernels/random.ts";
import { clipCoefficient, scaleInPlace } from "../../../kernels/optim/clip_scale.ts";
import { assertClose, gpuTest } from "../../_helpers.ts";
import { clipRef } from "../../reference/optim.ts";

gpuTest(
  "clipCoefficient and scaleInPlace follow clip_grad_norm_ (1, 3 and 300 norms)",
  async () => {
    for (const k of [1, 3, 300]) {
      for (const maxNorm of [0.5, 1e6]) {
        const norms = new Rng(k).uniform(k, 0, 2);
        using t = Tensor.fromArray(norms);
        using c = clipCoefficient(t, maxNorm);
        // the reference sees each norm as one gradient of one element
        const ref = clipRef(Array.from(norms, (x) => [x]), maxNorm);
        const [total, coef] = await c.data();
        assertClose([total], [ref.norm], { atol: 0, rtol: 1e-6 }, `total k ${k}`);
        const expected = Math.min(maxNorm / (ref.norm + 1e-6), 1);
        assertClose([coef], [expected], { atol: 0, rtol: 1e-6 }, `coef k ${k} max ${maxNorm}`);
        const x0 = new Rng(k + 1).normal(1001, 0, 1);
        using x = Tensor.fromArray(x0);
        scaleInPlace(x, c, 1);
        assertClose(await x.data(), Array.from(x0, (v) => v * coef), { atol: 0, rtol: 1e-7 });
      }
    }
  },
);

gpuTest("clipCoefficient: a NaN norm gives a NaN coefficient; zero norms give 1", async () => {
  using a = Tensor.fromArray([1, NaN]);
  using ca = clipCoefficient(a, 1);
  const [ta, cfa] = await ca.data();
  assertEquals([Number.isNaN(ta), Number.isNaN(cfa)], [true, true]);
  using z = Tensor.zeros([5]);
  using cz = clipCoefficient(z, 1);
  assertEquals(Array.from(await cz.data()), [0, 1]);
});

gpuTest("clipCoefficient and scaleInPlace reject empty norms and a bad index", () => {
  using e = Tensor.zeros([0]);
  using x = Tensor.zeros([2]);
  assertThrows(() => clipCoefficient(e, 1), RangeError, "no norms");
  assertThrows(() => scaleInPlace(x, x, 2), RangeError, "outside");
});
