import { assertEquals, assertThrows } from "@std/assert";
import { Tensor } from "../../../kernels/tensor.ts";
import { Rng } from "../../../kernels/random.ts";
import { valueAndGrad } from "../../../kernels/autograd.ts";
import { lsqInit, lsqQuantize, lsqRange } from "../../../quant/qat/lsq.ts";
import { assertClose, gpuTest } from "../../_helpers.ts";
import { lsqRef } from "../../reference/lsq.ts";

const rows = 5, cols = 12;

// x with every region of the formula: exact bounds (v = −Q_N, Q_P), just past them, ties
// (v = ±0.5, 2.5, rounding to even), zeros, and random values.
function inputs(qn: number, qp: number, seed: number): Float32Array {
  const x = new Rng(seed).normal(rows * cols, 0, 2);
  const special = [-qn, qp, -qn - 1, qp + 1, 0.5, -0.5, 2.5, 0, -qn - 0.25, qp + 0.25];
  for (const [k, v] of special.entries()) x[k * 5 + 1] = v * 0.5; // step 0.5 on those rows
  return x;
}

const layouts: [string, number[], (i: number) => number][] = [
  ["per tensor", [1], () => 0],
  ["per row", [rows, 1], (i) => Math.floor(i / cols)],
  ["per column", [1, cols], (i) => i % cols],
  ["groups of 4", [rows, 3], (i) => Math.floor(i / 4)],
];

for (const [label, shape, stepOf] of layouts) {
  for (const plus of [false, true]) {
    gpuTest(`lsq${plus ? "+" : ""} ${label}: forward and the paper's gradients`, async () => {
      const bits = plus ? 3 : 4;
      const signed = !plus;
      const { qn, qp } = lsqRange(bits, signed);
      const x = inputs(qn, qp, 1);
      const nSteps = shape.reduce((a, b) => a * b, 1);
      // steps of 0.5 where the constructed values sit (power of two: v is exact)
      const s = Float32Array.from({ length: nSteps }, (_, k) => (k % 2 ? 0.5 : 0.375 + 0.05 * k));
      if (nSteps === 1) s[0] = 0.5;
      const b = plus
        ? Float32Array.from({ length: nSteps }, (_, k) => (k % 2 ? 0 : -0.3))
        : undefined;
      const gy = new Rng(2).normal(rows * cols, 0, 1);
      using xt = Tensor.fromArray(x, [rows, cols]);
      using st = Tensor.fromArray(s, shape);
      using bt = b ? Tensor.fromArray(b, shape) : undefined;
      using seed = Tensor.fromArray(gy, [rows, cols]);
      const params: Record<string, Tensor> = { x: xt, s: st };
      if (bt) params.b = bt;
      const { value, grads } = valueAndGrad(
        () => lsqQuantize(xt, st, { bits, signed, offset: bt }),
        params,
        { seed },
      );
      const g = 1 / Math.sqrt((rows * cols / nSteps) * qp);
      const ref = lsqRef(x, s, b, gy, { qn, qp, g, stepOf });
      assertClose(await value.data(), ref.y, { atol: 1e-6, rtol: 1e-6 }, "x̂");
      assertEquals(await grads.get("x")!.data(), Float32Array.from(ref.gx), "∂/∂x");
      assertClose(await grads.get("s")!.data(), ref.gs, { atol: 1e-5, rtol: 1e-5 }, "∂/∂s");
      if (bt) assertClose(await grads.get("b")!.data(), ref.gb, { atol: 1e-5, rtol: 1e-5 }, "∂/∂β");
      value.dispose();
      for (const t of grads.values()) t.dispose();
    });
  }
}

gpuTest("lsq: boundaries by hand (step 1, int3: −4 … 3), NaN, gradient scale", async () => {
  using x = Tensor.fromArray([-4, 3, -4.5, 3.5, 0.5, 1.5, NaN]);
  using s = Tensor.fromArray([1]);
  using gy = Tensor.fromArray([1, 1, 1, 1, 1, 1, 1]);
  const { value, grads } = valueAndGrad(
    () => lsqQuantize(x, s, { bits: 3, gradScale: 1 }),
    { x, s },
    { seed: gy },
  );
  const y = await value.data();
  assertEquals([...y.slice(0, 6)], [-4, 3, -4, 3, 0, 2]);
  const gx = await grads.get("x")!.data();
  assertEquals([...gx.slice(0, 6)], [1, 1, 0, 0, 1, 1]);
  assertEquals(Number.isNaN(gx[6]), true);
  // ∂/∂s: 0 + 0 − 4 + 3 − 0.5 + 0.5 + NaN
  assertEquals(Number.isNaN((await grads.get("s")!.data())[0]), true);
  value.dispose();
  for (const t of grads.values()) t.dispose();
  using x2 = Tensor.fromArray([-4, 3, -4.5, 3.5, 0.5, 1.5]);
  using ones = Tensor.fromArray([1, 1, 1, 1, 1, 1]);
  const r2 = valueAndGrad(() => lsqQuantize(x2, s, { bits: 3 }), { s }, { seed: ones });
  // g = 1/√(6·3)
  assertClose(await r2.grads.get("s")!.data(), [-1 / Math.sqrt(18)], { atol: 1e-7, rtol: 1e-6 });
  r2.value.dispose();
  r2.grads.get("s")!.dispose();
});

gpuTest("lsqInit: s = 2·mean|x|/√Q_P per tensor, row and group; LSQ+ min–max", async () => {
  const x = new Rng(3).normal(rows * cols, 0, 1);
  x.fill(0, 0, 4); // an all-zero group gets the floor, not 0
  using xt = Tensor.fromArray(x, [rows, cols]);
  const qp = 7;
  const mean = (a: number, b: number) => {
    let t = 0;
    for (let i = a; i < b; i++) t += Math.abs(x[i]);
    return t / (b - a);
  };
  for (const [per, n] of [["tensor", rows * cols], ["row", cols], [4, 4]] as const) {
    const { step } = lsqInit(xt, { bits: 4, per });
    const expect = Array.from(
      { length: rows * cols / n },
      (_, k) => Math.max(2 * mean(k * n, (k + 1) * n) / Math.sqrt(qp), 1e-8),
    );
    assertClose(await step.data(), expect, { atol: 1e-7, rtol: 1e-5 }, `per ${per}`);
    step.dispose();
  }
  const { step, offset } = lsqInit(xt, { bits: 3, signed: false, per: "row", offset: true });
  const st = await step.data(), of = await offset!.data();
  for (let r = 0; r < rows; r++) {
    const row = x.subarray(r * cols, (r + 1) * cols);
    const mn = Math.min(...row), mx = Math.max(...row);
    assertClose([st[r], of[r]], [(mx - mn) / 7, mn], { atol: 1e-6, rtol: 1e-5 });
  }
  step.dispose();
  offset!.dispose();
});

gpuTest("lsq: bad input names the problem", () => {
  using x = Tensor.fromArray([[1, 2, 3, 4, 5, 6]]);
  using s = Tensor.fromArray([[1, 1, 1, 1]]);
  assertThrows(() => lsqQuantize(x, s, { bits: 4 }), RangeError, "does not divide");
  using s2 = Tensor.fromArray([1, 1]);
  assertThrows(() => lsqQuantize(x, s2, { bits: 4 }), RangeError, "does not fit");
  using s3 = Tensor.fromArray([1]);
  assertThrows(() => lsqQuantize(x, s3, { bits: 1 }), RangeError, "from 2 to 8");
  assertThrows(() => lsqQuantize(x, s3, { bits: 4, offset: s2 }), RangeError, "step's shape");
});
