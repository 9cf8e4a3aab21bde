import { assertEquals, assertThrows } from "@std/assert";
import { Tensor } from "../../../kernels/tensor.ts";
import { Rng } from "../../../kernels/random.ts";
import { sgdUpdate } from "../../../kernels/optim/sgd_update.ts";
import { assertClose, gpuTest } from "../../_helpers.ts";
import { sgdRef } from "../../reference/optim.ts";

const CASES = [
  { momentum: 0, dampening: 0, weightDecay: 0, nesterov: false },
  { momentum: 0.9, dampening: 0, weightDecay: 0.01, nesterov: false },
  { momentum: 0.9, dampening: 0.1, weightDecay: 0, nesterov: false },
  { momentum: 0.8, dampening: 0, weightDecay: 0.05, nesterov: true },
];

gpuTest(
  "sgdUpdate follows the f64 SGD reference over 4 steps (sizes 1, 7, 1000, 4099)",
  async () => {
    for (const n of [1, 7, 1000, 4099]) {
      for (const c of CASES) {
        const o = { lr: 0.05, ...c };
        const p0 = new Rng(n).normal(n, 0, 1);
        using p = Tensor.fromArray(p0);
        using b = Tensor.zeros([n]);
        let ref: { p: ArrayLike<number>; buf: ArrayLike<number> | undefined } = {
          p: p0,
          buf: undefined,
        };
        for (let step = 1; step <= 4; step++) {
          const g0 = new Rng(7 * n + step).normal(n, 0, 1);
          g0[0] = 0;
          if (n > 3) g0[3] = NaN;
          using g = Tensor.fromArray(g0);
          sgdUpdate(p, g, c.momentum ? b : undefined, { ...o, first: step === 1 });
          ref = sgdRef(ref.p, g0, ref.buf, o);
        }
        // |p| ≈ 1, 4 steps of a few f32 roundings each
        const what = `n ${n} ${JSON.stringify(c)}`;
        assertClose(await p.data(), ref.p, { atol: 1e-6, rtol: 1e-6 }, `p ${what}`);
        if (ref.buf) {
          assertClose(
            await b.data(),
            ref.buf,
            { atol: 1e-6, rtol: 1e-6 },
            `buf ${what}`,
          );
        }
        const nan = (await p.data()).filter(Number.isNaN).length;
        assertEquals(nan, n > 3 ? 1 : 0, "NaN stays in its own element");
      }
    }
  },
);

gpuTest("sgdUpdate rejects momentum without a buffer and mismatched shapes", () => {
  using p = Tensor.zeros([3]);
  using g = Tensor.zeros([2]);
  assertThrows(() => sgdUpdate(p, p, undefined, { lr: 1, momentum: 0.9 }), TypeError, "buffer");
  assertThrows(() => sgdUpdate(p, g, undefined, { lr: 1 }), RangeError, "one shape");
});
