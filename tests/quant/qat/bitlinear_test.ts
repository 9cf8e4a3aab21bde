import { assert, assertEquals, assertThrows } from "@std/assert";
import { Tensor } from "../../../kernels/tensor.ts";
import { Rng } from "../../../kernels/random.ts";
import { valueAndGrad } from "../../../kernels/autograd.ts";
import { linear } from "../../../kernels/ops/matmul.ts";
import { mul } from "../../../kernels/ops/elementwise.ts";
import { sumAll } from "../../../kernels/ops/reduce_all.ts";
import { absmaxActivationSte, BitLinear, ternaryWeightSte } from "../../../quant/qat/bitlinear.ts";
import { assertClose, gpuTest } from "../../_helpers.ts";
import { gradCheck } from "../../_gradcheck.ts";
import { absmaxRowsRef, gammaRef, matmulTRef, ternaryRef } from "../../reference/bitnet.ts";

// shapes that are not multiples of 16 (ternary words) or 64/256 (workgroups)
const OUT = 7, IN = 37;

gpuTest("ternaryWeightSte matches RoundClip(W/γ)·γ for absmean and absmedian", async () => {
  for (const scale of ["absmean", "absmedian"] as const) {
    for (const [shape, seed] of [[[OUT, IN], 1], [[1, 5], 2], [[4, 4], 3]] as const) {
      const w = new Rng(seed).normal(shape[0] * shape[1], 0, 1);
      using wt = Tensor.fromArray(w, [...shape]);
      using q = ternaryWeightSte(wt, { scale });
      const want = ternaryRef(w, scale);
      assertClose(await q.data(), want, { atol: 0, rtol: 1e-6 }, `${scale} [${shape}]`);
      // exactly three values: −γ, 0, γ
      assertEquals(new Set(await q.data()).size <= 3, true);
    }
  }
});

gpuTest("absmedian γ is the lower middle |w| for even n and the middle for odd n", async () => {
  using even = Tensor.fromArray([0.1, -4, 2, 0.3]); // sorted |w|: 0.1 0.3 2 4 → 0.3
  using odd = Tensor.fromArray([5, -1, 0.2]); // 0.2 1 5 → 1
  using qe = ternaryWeightSte(even, { scale: "absmedian" });
  using qo = ternaryWeightSte(odd, { scale: "absmedian" });
  assertClose(await qe.data(), [0, -0.3, 0.3, 0.3], { atol: 0, rtol: 1e-7 });
  assertClose(await qo.data(), [1, -1, 0], { atol: 0, rtol: 0 });
  assertEquals(gammaRef([0.1, -4, 2, 0.3], "absmedian"), 0.3);
});

gpuTest("ternaryWeightSte edge cases: zeros, one row, NaN, bad options", async () => {
  using z = Tensor.zeros([3, 5]);
  for (const scale of ["absmean", "absmedian"] as const) {
    using q = ternaryWeightSte(z, { scale });
    assertEquals(Array.from(await q.data()), new Array(15).fill(0));
  }
  // more than half zeros: the median is 0, γ = ε, non-zeros go to ±ε
  using m = Tensor.fromArray([0, 0, 0, 3, -2]);
  using qm = ternaryWeightSte(m, { scale: "absmedian" });
  assertClose(await qm.data(), [0, 0, 0, 1e-5, -1e-5], { atol: 0, rtol: 1e-6 });
  using n = Tensor.fromArray([1, NaN, -1]);
  using qn = ternaryWeightSte(n);
  assert((await qn.data()).every(Number.isNaN), "NaN in W makes γ and every value NaN");
  using w = Tensor.fromArray([1, 2]);
  assertThrows(() => ternaryWeightSte(w, { scale: "max" as "absmean" }), RangeError, "absmedian");
  assertThrows(() => ternaryWeightSte(w, { eps: 0 }), RangeError, "eps");
});

gpuTest(
  "absmaxActivationSte matches per-token absmax int8; zero rows stay zero; NaN stays",
  async () => {
    const x = new Rng(4).normal(5 * IN, 0, 2);
    x.fill(0, 2 * IN, 3 * IN); // an all-zero token
    using xt = Tensor.fromArray(x, [5, IN]);
    using q = absmaxActivationSte(xt);
    assertClose(await q.data(), absmaxRowsRef(x, IN), { atol: 1e-7, rtol: 1e-6 });
    using x3 = Tensor.fromArray(x, [1, 5, IN]); // leading dimensions are kept
    using q3 = absmaxActivationSte(x3, 4);
    assertEquals(q3.shape, [1, 5, IN]);
    assertClose(await q3.data(), absmaxRowsRef(x, IN, 4), { atol: 1e-7, rtol: 1e-6 });
    using xn = Tensor.fromArray([[1, NaN, 2]]);
    using qn = absmaxActivationSte(xn);
    assert(Number.isNaN((await qn.data())[1]));
    assertThrows(() => absmaxActivationSte(xn, 9), RangeError, "bits");
  },
);

gpuTest("BitLinear forward equals x̃·W̃ᵀ of the references", async () => {
  const rng = new Rng(5);
  const w = rng.normal(OUT * IN, 0, 0.3), x = rng.normal(3 * IN, 0, 1);
  using wt = Tensor.fromArray(w, [OUT, IN]);
  using layer = BitLinear.create(wt);
  using xt = Tensor.fromArray(x, [3, IN]);
  using y = layer.forward(xt);
  const want = matmulTRef(absmaxRowsRef(x, IN), ternaryRef(w), IN);
  assertClose(await y.data(), want, { atol: 1e-5, rtol: 1e-5 });
  assertEquals(await wt.data(), Float32Array.from(w), "the argument is not modified");
  assertEquals([...layer.parameters().keys()], ["weight"]);
  assertThrows(() => BitLinear.create(Tensor.zeros([3])), RangeError, "2-D");
  layer.dispose();
  assertThrows(() => layer.forward(xt), Error, "disposed");
});

// The straight-through gradient of L = Σ r ⊙ (x̃ W̃ᵀ) is the gradient of its linearization
// (x − x₀ + x̃₀)(W − W₀ + W̃₀)ᵀ at (x₀, W₀): finite differences of that f64 function check it.
for (const scale of ["absmean", "absmedian"] as const) {
  gpuTest(`straight-through gradients of x̃·W̃ᵀ (${scale}) against finite differences`, async () => {
    let base:
      | { x0: Float64Array; w0: Float64Array; xq: Float64Array; wq: Float64Array }
      | undefined;
    await gradCheck({
      inputs: [{ shape: [3, IN] }, { shape: [OUT, IN] }],
      gpu: (x, w) => {
        using xq = absmaxActivationSte(x);
        using wq = ternaryWeightSte(w, { scale });
        return linear(xq, wq);
      },
      ref: (x, w) => {
        base ??= {
          x0: x.slice(),
          w0: w.slice(),
          xq: absmaxRowsRef(x, IN),
          wq: ternaryRef(w, scale),
        };
        const b = base;
        const xs = x.map((v, i) => v - b.x0[i] + b.xq[i]);
        const ws = w.map((v, i) => v - b.w0[i] + b.wq[i]);
        return matmulTRef(xs, ws, IN);
      },
    });
  });
}

gpuTest("BitLinear's master weight gets the straight-through gradient Σ_t x̃_t", async () => {
  const rng = new Rng(6);
  const x = rng.normal(4 * IN, 0, 1);
  using w = Tensor.fromArray(rng.normal(OUT * IN, 0, 0.3), [OUT, IN]);
  using layer = BitLinear.create(w, { scale: "absmedian" });
  using xt = Tensor.fromArray(x, [4, IN]);
  const { value, grads } = valueAndGrad(() => {
    using y = layer.forward(xt);
    return sumAll(y);
  }, layer.parameters());
  value.dispose();
  using g = grads.get("weight")!;
  const xq = absmaxRowsRef(x, IN);
  const want = new Float64Array(OUT * IN);
  for (let j = 0; j < OUT; j++) {
    for (let i = 0; i < IN; i++) for (let t = 0; t < 4; t++) want[j * IN + i] += xq[t * IN + i];
  }
  assertClose(await g.data(), want, { atol: 1e-5, rtol: 1e-5 });
});

gpuTest(
  "NaN in the upstream gradient passes through both straight-through estimators",
  async () => {
    using x = Tensor.fromArray([[1, 2], [3, -1]]);
    using w = Tensor.fromArray([[0.5, -1]]);
    using r = Tensor.fromArray([[NaN], [1]]);
    const { value, grads } = valueAndGrad(() => {
      using xq = absmaxActivationSte(x);
      using wq = ternaryWeightSte(w);
      using y = linear(xq, wq);
      using yr = mul(y, r);
      return sumAll(yr);
    }, { x, w });
    value.dispose();
    using gx = grads.get("x")!;
    using gw = grads.get("w")!;
    const dx = await gx.data();
    assert(Number.isNaN(dx[0]) && Number.isNaN(dx[1]) && !Number.isNaN(dx[2]));
    assert((await gw.data()).every(Number.isNaN));
  },
);
