import { assert, assertEquals } from "@std/assert";
import { Tensor } from "../../../kernels/tensor.ts";
import { cast } from "../../../kernels/ops/elementwise.ts";
import { layerNorm, rmsNorm } from "../../../kernels/ops/norm.ts";
import { layerNormRef, rmsNormRef } from "../../reference/norm.ts";
import { assertClose, gpuTest, roundF16 } from "../../_helpers.ts";
import { gradCheck } from "../../_gradcheck.ts";
import { gradsOf, sameBits } from "./_grads.ts";
import { Rng } from "../../../kernels/random.ts";

gpuTest("rmsNorm: x and weight gradients match f64 finite differences", async () => {
  // D = 37 (several short rows per workgroup) and D = 300 (one row per workgroup, strided).
  for (const [rows, D] of [[5, 37], [2, 300], [1, 1]]) {
    await gradCheck({
      inputs: [{ shape: [rows, D] }, { shape: [D] }],
      gpu: (x, w) => rmsNorm(x, w, 1e-5),
      ref: (x, w) => rmsNormRef(x, w, 1e-5),
    }).catch((e) => {
      throw new Error(`[${rows}, ${D}]: ${e.message}`);
    });
  }
  // Rank 3, the weight a constant.
  await gradCheck({
    inputs: [{ shape: [2, 3, 19] }, { shape: [19], constant: true }],
    gpu: (x, w) => rmsNorm(x, w, 1e-6),
    ref: (x, w) => rmsNormRef(x, w, 1e-6),
  });
});

gpuTest("layerNorm: x, weight and bias gradients, each optional, incl. a large mean", async () => {
  const D = 23;
  for (const [hasW, hasB] of [[true, true], [true, false], [false, true], [false, false]]) {
    const inputs = [{ shape: [3, 2, D] }];
    if (hasW) inputs.push({ shape: [D] });
    if (hasB) inputs.push({ shape: [D] });
    await gradCheck({
      inputs,
      gpu: (x, ...p) => layerNorm(x, hasW ? p[0] : undefined, hasB ? p[hasW ? 1 : 0] : undefined),
      ref: (x, ...p) =>
        layerNormRef(x, D, hasW ? p[0] : undefined, hasB ? p[hasW ? 1 : 0] : undefined, 1e-5),
    }).catch((e) => {
      throw new Error(`weight ${hasW} bias ${hasB}: ${e.message}`);
    });
  }
  // Rows of 300 (strided), offset by a mean of 200: the gradient must not cancel away.
  const rng = new Rng(3);
  const x = Array.from(rng.normal(600, 0, 1), (v) => v + 200);
  await gradCheck({
    inputs: [{ shape: [2, 300], values: x }, { shape: [300] }, { shape: [300] }],
    gpu: (x, w, b) => layerNorm(x, w, b),
    ref: (x, w, b) => layerNormRef(x, 300, w, b, 1e-5),
    h: 1e-3,
    tol: 5e-3,
  });
});

gpuTest(
  "rmsNorm and layerNorm on f16: gradients follow the f32 math within f16 rounding",
  async () => {
    const [rows, D] = [4, 29];
    const rng = new Rng(5);
    const x = roundF16(rng.normal(rows * D, 0, 1));
    const w = roundF16(rng.normal(D, 1, 0.2));
    const f16 = (f: (x: Tensor, w: Tensor) => Tensor) => (x: Tensor, w: Tensor) => {
      using x16 = cast(x, "f16");
      using w16 = cast(w, "f16");
      using y = f(x16, w16);
      assertEquals(y.dtype, "f16");
      return cast(y, "f32");
    };
    // f16 rounds the seed gradient, the output and the input gradient: relative 1e-3 each.
    await gradCheck({
      inputs: [{ shape: [rows, D], values: x }, { shape: [D], values: w }],
      gpu: f16((x, w) => rmsNorm(x, w, 1e-5)),
      ref: (x, w) => rmsNormRef(x, w, 1e-5),
      tol: 1e-2,
    });
    await gradCheck({
      inputs: [{ shape: [rows, D], values: x }, { shape: [D], values: w }],
      gpu: f16((x, w) => layerNorm(x, w, w)),
      ref: (x, w) => layerNormRef(x, D, w, w, 1e-5),
      tol: 1e-2,
    });
  },
);

gpuTest("norm gradients: NaN rows give NaN, zero rows are finite, same bits twice", async () => {
  const D = 5;
  // Row 0 has a NaN, row 1 is all zeros, row 2 is ordinary.
  const xs = [1, NaN, 2, 3, 4, 0, 0, 0, 0, 0, 1, -2, 3, -4, 5];
  using x = Tensor.fromArray(xs, [3, D]);
  using w = Tensor.fromArray([1, 2, 3, 4, 5]);
  using b = Tensor.fromArray([0, 0, 0, 0, 0]);
  const eps = 1e-5;
  const [dx, dw] = await gradsOf((x, w) => rmsNorm(x, w, eps), [x, w]);
  assert(dx.slice(0, D).every(Number.isNaN), "a NaN row gives NaN gradients");
  // At a zero row, dx = g·w/√eps (the Σĝ·x term vanishes).
  assertClose(dx.slice(D, 2 * D), [1, 2, 3, 4, 5].map((v) => v / Math.sqrt(eps)), {
    rtol: 1e-5,
  });
  assert(dx.slice(2 * D).every(Number.isFinite));
  assert(dw.every(Number.isNaN), "the NaN row reaches every weight gradient");
  const [lx, lw, lb] = await gradsOf((x, w, b) => layerNorm(x, w, b, eps), [x, w, b]);
  assert(lx.slice(0, D).every(Number.isNaN));
  // A zero row has x̂ = 0: dx = r·(ĝ − mean ĝ).
  const gw = [1, 2, 3, 4, 5];
  assertClose(lx.slice(D, 2 * D), gw.map((v) => (v - 3) / Math.sqrt(eps)), { rtol: 1e-5 });
  assert(lw.every(Number.isNaN));
  assertEquals(Array.from(lb), [3, 3, 3, 3, 3], "db = Σ g counts every row, NaN rows included");
  // Determinism on a strided shape.
  using big = Tensor.randn([7, 513], { seed: 2 });
  using wb = Tensor.randn([513], { seed: 3 });
  const seed = new Rng(9).normal(7 * 513, 0, 1);
  const a = await gradsOf((x, w) => layerNorm(x, w), [big, wb], seed);
  const c = await gradsOf((x, w) => layerNorm(x, w), [big, wb], seed);
  assert(sameBits(a[0], c[0]) && sameBits(a[1], c[1]), "same inputs, same bits");
  const r1 = await gradsOf((x, w) => rmsNorm(x, w), [big, wb], seed);
  const r2 = await gradsOf((x, w) => rmsNorm(x, w), [big, wb], seed);
  assert(sameBits(r1[0], r2[0]) && sameBits(r1[1], r2[1]), "same inputs, same bits");
});
