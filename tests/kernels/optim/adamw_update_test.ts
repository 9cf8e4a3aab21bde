import { assertEquals, assertThrows } from "@std/assert";
import { Tensor } from "../../../kernels/tensor.ts";
import { Rng } from "../../../kernels/random.ts";
import { adamwScalars, adamwUpdate } from "../../../kernels/optim/adamw_update.ts";
import { assertClose, gpuTest } from "../../_helpers.ts";
import { adamwRef } from "../../reference/optim.ts";

// Odd sizes (not multiples of the 256-wide workgroup); gradients with zeros, a NaN and an
// exact-zero run so that m = v = 0 is exercised (update 0 / (0 + ε) = 0).
function grads(n: number, seed: number): Float32Array {
  const g = new Rng(seed).normal(n, 0, 1);
  for (let i = 0; i < n; i += 5) g[i] = 0;
  if (n > 7) g[7] = NaN;
  return g;
}

gpuTest(
  "adamwUpdate follows the f64 AdamW reference over 5 steps (sizes 1, 7, 1000, 4099)",
  async () => {
    for (const n of [1, 7, 1000, 4099]) {
      for (const [beta1, beta2, weightDecay] of [[0.9, 0.999, 0.1], [0.3, 0.95, 0]]) {
        const opts = { lr: 0.01, beta1, beta2, eps: 1e-8, weightDecay };
        const p0 = new Rng(n).normal(n, 0, 1);
        using p = Tensor.fromArray(p0);
        using m = Tensor.zeros([n]);
        using v = Tensor.zeros([n]);
        let ref: { p: ArrayLike<number>; m: ArrayLike<number>; v: ArrayLike<number> } = {
          p: p0,
          m: new Float64Array(n),
          v: new Float64Array(n),
        };
        for (let step = 1; step <= 5; step++) {
          const g0 = grads(n, 100 * n + step);
          using g = Tensor.fromArray(g0);
          adamwUpdate(p, g, m, v, adamwScalars({ ...opts, step }));
          ref = adamwRef(ref.p, g0, ref.m, ref.v, { ...opts, step });
          assertEquals(await g.data(), g0, "the gradient is not modified");
        }
        // f32 rounding: a few ulps per operation over 5 steps, relative to |p| ≈ 1 and to the
        // update size lr = 0.01; m and v accumulate ~1e-7 relative error per step.
        const what = `n ${n} β₁ ${beta1} wd ${weightDecay}`;
        assertClose(await p.data(), ref.p, { atol: 1e-6, rtol: 1e-6 }, `p ${what}`);
        assertClose(await m.data(), ref.m, { atol: 1e-7, rtol: 1e-5 }, `m ${what}`);
        assertClose(await v.data(), ref.v, { atol: 1e-8, rtol: 1e-5 }, `v ${what}`);
        if (n > 7) {
          // torch propagates NaN: the NaN gradient's element is NaN in p, m and v, no other is
          const pd = await p.data();
          assertEquals([Number.isNaN(pd[7]), pd.filter(Number.isNaN).length], [true, 1]);
        }
      }
    }
  },
);

gpuTest("adamwUpdate: a step with zero gradient and zero state leaves p only decayed", async () => {
  using p = Tensor.fromArray([2, -3, 0]);
  using g = Tensor.zeros([3]);
  using m = Tensor.zeros([3]);
  using v = Tensor.zeros([3]);
  adamwUpdate(p, g, m, v, adamwScalars({ lr: 0.1, step: 1, weightDecay: 0.5 }));
  assertClose(await p.data(), [2 * 0.95, -3 * 0.95, 0], { atol: 0, rtol: 1e-7 });
});

gpuTest("adamwUpdate rejects bad dtypes, shapes and steps with the fix", () => {
  using p = Tensor.zeros([3]);
  using g = Tensor.zeros([4]);
  using h = Tensor.zeros([3], "f16");
  const s = adamwScalars({ lr: 0.1, step: 1 });
  assertThrows(() => adamwUpdate(p, g, p, p, s), RangeError, "one shape");
  assertThrows(() => adamwUpdate(p, h, p, p, s), TypeError, "cast gradients");
  assertThrows(() => adamwScalars({ lr: 0.1, step: 0 }), RangeError, "≥ 1");
});
