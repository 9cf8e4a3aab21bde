import { assert, assertThrows } from "@std/assert";
import { Tensor } from "../../../kernels/tensor.ts";
import { Rng } from "../../../kernels/random.ts";
import { softmax } from "../../../kernels/ops/softmax.ts";
import { softmaxBackward } from "../../../kernels/ops/softmax_backward.ts";
import { assertClose, gpuTest } from "../../_helpers.ts";
import { softmaxBackwardRef } from "../../reference/softmax_backward.ts";
import { softmaxRef } from "../../reference/softmax.ts";

// Rows shorter and longer than the workgroup's 256 invocations, and not multiples of it.
const SHAPES: number[][] = [[1, 1], [3, 7], [2, 5, 5], [4, 3, 9], [2, 300], [1, 1000]];

gpuTest("softmaxBackward matches the f64 reference (plain and causal, scaled)", async () => {
  const rng = new Rng(3);
  for (const shape of SHAPES) {
    const n = shape.reduce((a, b) => a * b, 1);
    for (const causal of shape.length === 3 ? [false, true] : [false]) {
      const scale = causal ? 0.37 : 1;
      const x = rng.normal(n, 0, 2);
      const p = Float32Array.from(softmaxRef(x, shape, { causal }));
      const g = rng.normal(n, 0, 1);
      using pt = Tensor.fromArray(p, shape);
      using gt = Tensor.fromArray(g, shape);
      using dx = softmaxBackward(pt, gt, { causal, scale });
      const want = softmaxBackwardRef(p, g, shape, { causal, scale });
      // f32 dot of ≤ 1000 terms of size ≤ |g|: a few ulps of the row's magnitude.
      assertClose(await dx.data(), want, { atol: 2e-6, rtol: 1e-5 }, `[${shape}] causal ${causal}`);
    }
  }
});

gpuTest("softmaxBackward: causal never reads masked entries; f16 in, f32 out", async () => {
  // Garbage (NaN, huge) above the diagonal must not leak into the gradient.
  const shape = [1, 4, 4];
  const x = new Rng(5).normal(16, 0, 1);
  const p = Float32Array.from(softmaxRef(x, shape, { causal: true }));
  const g = new Rng(6).normal(16, 0, 1);
  const pg = p.slice(), gg = g.slice();
  for (let i = 0; i < 4; i++) {
    for (let j = i + 1; j < 4; j++) [pg[i * 4 + j], gg[i * 4 + j]] = [NaN, 1e30];
  }
  using pt = Tensor.fromArray(pg, shape);
  using gt = Tensor.fromArray(gg, shape);
  using dx = softmaxBackward(pt, gt, { causal: true });
  assertClose(await dx.data(), softmaxBackwardRef(p, g, shape, { causal: true }), { atol: 1e-6 });
  using p16 = Tensor.fromArray(p, shape, "f16");
  using g16 = Tensor.fromArray(g, shape, "f16");
  using dx16 = softmaxBackward(p16, g16, { causal: true, outDType: "f32" });
  assert(dx16.dtype === "f32");
  const p16v = await p16.data(), g16v = await g16.data();
  assertClose(await dx16.data(), softmaxBackwardRef(p16v, g16v, shape, { causal: true }), {
    atol: 1e-6,
    rtol: 1e-5,
  });
});

gpuTest("softmaxBackward: NaN poisons its row only; zeros give zeros", async () => {
  using p = Tensor.fromArray([[0.5, 0.5, 0], [0.2, 0.3, 0.5]]);
  using g = Tensor.fromArray([[NaN, 1, 2], [1, 1, 1]]);
  using dx = softmaxBackward(p, g);
  const d = await dx.data();
  assert([0, 1, 2].every((i) => Number.isNaN(d[i])), `row 0 should be NaN: ${d}`);
  // a constant gradient is orthogonal to the simplex: dx = 0
  assertClose(d.slice(3), [0, 0, 0], { atol: 1e-7 });
  using z = Tensor.zeros([2, 3]);
  using dz = softmaxBackward(z, g);
  assertClose((await dz.data()).slice(3), [0, 0, 0], { atol: 0 });
});

gpuTest("softmaxBackward: clear errors and the product of a real softmax", async () => {
  using p = Tensor.zeros([2, 3]);
  using g = Tensor.zeros([3, 2]);
  assertThrows(() => softmaxBackward(p, g), RangeError, "shape of the probabilities");
  using s = Tensor.zeros([3]);
  assertThrows(() => softmaxBackward(s, s, { causal: true }), RangeError, "causal mask");
  using w = Tensor.zeros([3, 2]);
  assertThrows(() => softmaxBackward(w, w, { causal: true }), RangeError, "T = 3");
  using x = Tensor.fromArray([[1, 2, 3]]);
  using px = softmax(x, { scale: 2 });
  using gx = Tensor.fromArray([[0.5, -1, 2]]);
  using dx = softmaxBackward(px, gx, { scale: 2 });
  const want = softmaxBackwardRef(await px.data(), [0.5, -1, 2], [1, 3], { scale: 2 });
  assertClose(await dx.data(), want, { atol: 1e-6 });
  using empty = Tensor.zeros([0, 4]);
  using de = softmaxBackward(empty, empty);
  assert(de.size === 0);
});
