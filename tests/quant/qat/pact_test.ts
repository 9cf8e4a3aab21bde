import { assertEquals, assertThrows } from "@std/assert";
import { Tensor } from "../../../kernels/tensor.ts";
import { Rng } from "../../../kernels/random.ts";
import { valueAndGrad } from "../../../kernels/autograd.ts";
import { pact } from "../../../quant/qat/pact.ts";
import { assertClose, gpuTest } from "../../_helpers.ts";
import { pactRef } from "../../reference/pact.ts";

for (const bits of [1, 2, 4]) {
  gpuTest(`pact ${bits} bits [3, 37]: forward and the paper's gradients`, async () => {
    const [rows, cols] = [3, 37];
    const alpha = 1.5;
    const x = new Rng(bits).normal(rows * cols, 0.5, 1.2);
    // x = α exactly (α's gradient, not x's), 0 exactly (x's), just below α, NaN
    x[0] = alpha;
    x[1] = 0;
    x[2] = Math.fround(alpha - 1e-6);
    x[3] = NaN;
    x[4] = -0;
    const gy = new Rng(10 + bits).normal(rows * cols, 0, 1);
    using xt = Tensor.fromArray(x, [rows, cols]);
    using at = Tensor.fromArray([alpha]);
    using seed = Tensor.fromArray(gy, [rows, cols]);
    const { value, grads } = valueAndGrad(() => pact(xt, at, { bits }), { x: xt, a: at }, { seed });
    const ref = pactRef(x, alpha, gy, bits);
    const y = await value.data();
    assertEquals(Number.isNaN(y[3]), true);
    y[3] = 0;
    ref.y[3] = 0;
    assertClose(y, ref.y, { atol: 1e-6, rtol: 1e-6 }, "y_q");
    const gx = await grads.get("x")!.data();
    assertEquals(gx, Float32Array.from(ref.gx), "∂/∂x");
    assertEquals([gx[0], gx[1], gx[2]], [0, gy[1], gy[2]]);
    assertClose(await grads.get("a")!.data(), [ref.ga], { atol: 1e-5, rtol: 1e-5 }, "∂/∂α");
    value.dispose();
    for (const g of grads.values()) g.dispose();
  });
}

gpuTest("pact: bad input names the problem", () => {
  using x = Tensor.fromArray([1, 2]);
  using a2 = Tensor.fromArray([1, 2]);
  assertThrows(() => pact(x, a2, { bits: 4 }), RangeError, "one value");
  using a = Tensor.fromArray([1]);
  assertThrows(() => pact(x, a, { bits: 0 }), RangeError, "from 1 to 16");
});
