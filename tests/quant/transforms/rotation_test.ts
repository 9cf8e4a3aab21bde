import { assert } from "@std/assert";
import { Tensor } from "../../../kernels/tensor.ts";
import { matmul } from "../../../kernels/ops/matmul.ts";
import {
  incoherence,
  randomOrthogonal,
  randomRotation,
  rotateHessian,
  rotateWeight,
  unrotateWeight,
} from "../../../quant/transforms/rotation.ts";
import { reciprocal, scaleColumns, scaleRows } from "../../../quant/transforms/smoothing.ts";
import { assertClose, gpuTest } from "../../_helpers.ts";

function relErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let num = 0, den = 0;
  for (let i = 0; i < a.length; i++) {
    num += (a[i] - b[i]) ** 2;
    den += b[i] ** 2;
  }
  return Math.sqrt(num / den);
}

gpuTest("rotations preserve x·Wᵀ exactly (1e-4 relative), odd and power-of-two sizes", async () => {
  for (const [m, n] of [[16, 32], [12, 24], [1, 8], [7, 5]]) {
    using u = randomRotation(m, 1);
    using v = randomRotation(n, 2);
    using w = Tensor.randn([m, n], { seed: m });
    using x = Tensor.randn([9, n], { seed: n });
    using y = matmul(x, w, { transB: true });
    using wt = rotateWeight(w, u, v);
    // rotated network: x̃ = x·Vᵀ, ỹ = x̃·W̃ᵀ = y·Uᵀ, then y = ỹ·U
    using xt = v.forward(x);
    using yt = matmul(xt, wt, { transB: true });
    using y2 = u.inverse(yt);
    assert(relErr(await y2.data(), await y.data()) < 1e-4, `${m}×${n}: output changed`);
    using back = unrotateWeight(wt, u, v);
    assert(relErr(await back.data(), await w.data()) < 1e-5, `${m}×${n}: unrotate`);
  }
});

gpuTest("rotateHessian keeps the proxy loss tr(ΔW·H·ΔWᵀ)", async () => {
  const m = 6, n = 16;
  using u = randomRotation(m, 3);
  using v = randomRotation(n, 4);
  using x = Tensor.randn([40, n], { seed: 5 });
  using h = matmul(x, x, { transA: true });
  using d = Tensor.randn([m, n], { seed: 6 });
  const loss = async (dd: Tensor, hh: Tensor) => {
    using dh = matmul(dd, hh);
    const [a, b] = [await dh.data(), await dd.data()];
    let t = 0;
    for (let i = 0; i < a.length; i++) t += a[i] * b[i];
    return t;
  };
  using ht = rotateHessian(h, v);
  using dt = rotateWeight(d, u, v);
  const [l0, l1] = [await loss(d, h), await loss(dt, ht)];
  assert(Math.abs(l0 - l1) < 1e-4 * Math.abs(l0), `${l0} vs ${l1}`);
});

gpuTest("randomOrthogonal is orthogonal and seeded; incoherence of a spike drops", async () => {
  using q = randomOrthogonal(24, 9);
  using qq = matmul(q, q, { transA: true });
  const eye = Array.from({ length: 24 * 24 }, (_, i) => (i % 25 === 0 ? 1 : 0));
  assertClose(await qq.data(), eye, { atol: 1e-5 });
  using q2 = randomOrthogonal(24, 9);
  assertClose(await q2.data(), await q.data(), { atol: 0, rtol: 0 });
  // a weight with one large outlier: μ is large before, near √(2 log) after
  const m = 32, n = 64, a = new Float32Array(m * n).fill(0.01);
  a[5 * n + 7] = 10;
  using w = Tensor.fromArray(a, [m, n]);
  using u = randomRotation(m, 1);
  using v = randomRotation(n, 2);
  using wt = rotateWeight(w, u, v);
  const [before, after] = [await incoherence(w), await incoherence(wt)];
  assert(before > 30 && after < 3, `μ before ${before}, after ${after}`);
});

gpuTest(
  "smoothing scales: columns × s then rows of the producer × 1/s keep the output",
  async () => {
    using w = Tensor.randn([5, 3], { seed: 1 });
    using prev = Tensor.randn([3, 4], { seed: 2 }); // the layer producing w's input
    using x = Tensor.randn([2, 4], { seed: 3 });
    using s = Tensor.fromArray([0.5, 3, 1.25]);
    using inv = reciprocal(s);
    using ws = scaleColumns(w, s);
    using ps = scaleRows(prev, inv);
    using h = matmul(x, prev, { transB: true });
    using y = matmul(h, w, { transB: true });
    using hs = matmul(x, ps, { transB: true });
    using ys = matmul(hs, ws, { transB: true });
    assert(relErr(await ys.data(), await y.data()) < 1e-5);
  },
);
