import { assert, assertEquals } from "@std/assert";
import { Tensor } from "../../../kernels/tensor.ts";
import { cast } from "../../../kernels/ops/elementwise.ts";
import { logSoftmax, softmax } from "../../../kernels/ops/softmax.ts";
import { softmaxRef } from "../../reference/softmax.ts";
import { gpuTest, roundF16 } from "../../_helpers.ts";
import { gradCheck } from "../../_gradcheck.ts";
import { gradsOf, sameBits } from "./_grads.ts";
import { Rng } from "../../../kernels/random.ts";

/** The reference with masked −∞ outputs as 0 (a constant, so the gradient is unchanged). */
const ref = (
  x: Float64Array,
  shape: number[],
  o: { log: boolean; causal?: boolean; scale?: number },
) => softmaxRef(x, shape, o).map((v) => (v === -Infinity ? 0 : v));

gpuTest(
  "softmax and logSoftmax: gradients match f64 finite differences, causal included",
  async () => {
    const cases: { shape: number[]; causal?: boolean; scale?: number }[] = [
      { shape: [3, 37] },
      { shape: [2, 300], scale: 0.7 }, // one row per workgroup, strided
      { shape: [1, 1] },
      { shape: [2, 5, 7], causal: true, scale: 1 / Math.sqrt(3) }, // T = 5 queries, S = 7 keys
      { shape: [3, 3], causal: true },
    ];
    for (const log of [false, true]) {
      for (const c of cases) {
        const f = log ? logSoftmax : softmax;
        await gradCheck({
          inputs: [{ shape: c.shape }],
          gpu: (x) => f(x, { causal: c.causal, scale: c.scale }),
          ref: (x) => ref(x, c.shape, { log, causal: c.causal, scale: c.scale }),
        }).catch((e) => {
          throw new Error(`${log ? "logSoftmax" : "softmax"} ${JSON.stringify(c)}: ${e.message}`);
        });
      }
    }
  },
);

gpuTest("softmax and logSoftmax on f16 follow the f32 math within f16 rounding", async () => {
  const shape = [3, 4, 11];
  const x = roundF16(new Rng(4).normal(3 * 4 * 11, 0, 2));
  for (const log of [false, true]) {
    await gradCheck({
      inputs: [{ shape, values: x }],
      gpu: (x) => {
        using h = cast(x, "f16");
        using y = (log ? logSoftmax : softmax)(h, { causal: true });
        assertEquals(y.dtype, "f16");
        return cast(y, "f32");
      },
      ref: (x) => ref(x, shape, { log, causal: true }),
      tol: 1e-2,
    });
  }
});

gpuTest(
  "softmax gradients: masked entries get 0, a NaN row gives NaN, same bits twice",
  async () => {
    // T = 2, S = 3: entry (0, 2) is masked. The seed gives it a large upstream gradient.
    using x = Tensor.fromArray([[1, 2, 3], [NaN, 0, 1]]);
    const seed = [1, -2, 100, 1, 1, 1];
    for (const f of [softmax, logSoftmax]) {
      using x2 = Tensor.fromArray([[1, 2, 3], [0.5, 0, 1]]);
      const [g] = await gradsOf((x) => f(x, { causal: true }), [x2], seed);
      assertEquals(g[2], 0, `${f.name}: a masked entry has zero gradient`);
      assert(g.every(Number.isFinite));
      const [gn] = await gradsOf((x) => f(x), [x], seed);
      assert(gn.slice(3).every(Number.isNaN), `${f.name}: a NaN row has NaN gradients`);
      assert(gn.slice(0, 3).every(Number.isFinite), `${f.name}: other rows are unaffected`);
    }
    using big = Tensor.randn([5, 517], { seed: 1 });
    const s = new Rng(2).normal(5 * 517, 0, 1);
    for (const f of [softmax, logSoftmax]) {
      const [a] = await gradsOf((x) => f(x, { scale: 0.3 }), [big], s);
      const [b] = await gradsOf((x) => f(x, { scale: 0.3 }), [big], s);
      assert(sameBits(a, b), `${f.name}: same inputs, same bits`);
    }
  },
);
