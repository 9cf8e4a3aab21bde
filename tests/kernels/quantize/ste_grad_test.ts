import { assertEquals, assertThrows } from "@std/assert";
import { Tensor } from "../../../kernels/tensor.ts";
import { Rng } from "../../../kernels/random.ts";
import { steGrad } from "../../../kernels/quantize/ste_grad.ts";
import { gpuTest } from "../../_helpers.ts";
import { steGradRef } from "../../reference/ste_grad.ts";

// [7, 45]: 315 elements, over one 256-wide workgroup and not a multiple of it.
const rows = 7, cols = 45, groupSize = 9;
const groups = rows * cols / groupSize;

function inputs(seed: number) {
  const rng = new Rng(seed);
  const gy = rng.normal(rows * cols, 0, 1);
  const x = rng.normal(rows * cols, 0, 1);
  const lo = new Float32Array(groups), hi = new Float32Array(groups);
  for (let g = 0; g < groups; g++) {
    lo[g] = -0.5 - (g % 3) * 0.3;
    hi[g] = 0.4 + (g % 4) * 0.25;
  }
  x[0] = lo[0]; // on the bounds: inside
  x[1] = hi[0];
  x[2] = NaN;
  x[3] = 0;
  gy[3] = 0; // a zero gradient stays zero
  x[groupSize] = Math.fround(hi[1] + 1e-6); // just outside
  return { gy, x, lo, hi };
}

gpuTest("steGrad: plain STE passes the gradient, NaN where x is NaN", async () => {
  const { gy, x } = inputs(3);
  using g = Tensor.fromArray(gy, [rows, cols]);
  using xt = Tensor.fromArray(x, [rows, cols]);
  using gx = steGrad(g, xt, { groupSize });
  assertEquals(await gx.data(), Float32Array.from(steGradRef(gy, x, { groupSize })));
});

gpuTest("steGrad: clipped STE, groups along rows, bit-exact with the reference", async () => {
  const { gy, x, lo, hi } = inputs(4);
  using g = Tensor.fromArray(gy, [rows, cols]);
  using xt = Tensor.fromArray(x, [rows, cols]);
  using lt = Tensor.fromArray(lo);
  using ht = Tensor.fromArray(hi);
  using gx = steGrad(g, xt, { groupSize, lo: lt, hi: ht });
  const got = await gx.data();
  assertEquals(got, Float32Array.from(steGradRef(gy, x, { groupSize, lo, hi })));
  assertEquals([got[0], got[1], got[groupSize]], [gy[0], gy[1], 0]);
});

gpuTest("steGrad: clipped STE, one group per column", async () => {
  const rng = new Rng(5);
  const [r, c] = [6, 11];
  const gy = rng.normal(r * c, 0, 1), x = rng.normal(r * c, 0, 1);
  const lo = Float32Array.from({ length: c }, (_, j) => -0.2 * (j + 1));
  const hi = Float32Array.from({ length: c }, (_, j) => 0.1 * (j + 1));
  using g = Tensor.fromArray(gy, [r, c]);
  using xt = Tensor.fromArray(x, [r, c]);
  using lt = Tensor.fromArray(lo);
  using ht = Tensor.fromArray(hi);
  using gx = steGrad(g, xt, { groupSize: r, columns: true, lo: lt, hi: ht });
  assertEquals(
    await gx.data(),
    Float32Array.from(steGradRef(gy, x, { groupSize: r, lo, hi, columns: c })),
  );
});

gpuTest("steGrad: one element, and bad input names the problem", async () => {
  using g = Tensor.fromArray([2]);
  using x = Tensor.fromArray([5]);
  using lo = Tensor.fromArray([0]);
  using hi = Tensor.fromArray([1]);
  using gx = steGrad(g, x, { groupSize: 1, lo, hi });
  assertEquals(await gx.data(), Float32Array.of(0));
  using g2 = Tensor.fromArray([1, 2]);
  assertThrows(() => steGrad(g2, x, { groupSize: 1 }), RangeError, "same shape");
  assertThrows(() => steGrad(g, x, { groupSize: 1, lo }), TypeError, "both lo and hi");
  using lo2 = Tensor.fromArray([0, 0]);
  assertThrows(() => steGrad(g, x, { groupSize: 1, lo: lo2, hi }), RangeError, "one a group");
});
