import { assert, assertEquals } from "@std/assert";
import { Tensor } from "../../../kernels/tensor.ts";
import { matmul } from "../../../kernels/ops/matmul.ts";
import { loadModel } from "../../../model/load.ts";
import { calibrationSequences } from "../../../model/capture.ts";
import { int } from "../../../quant/quantizer.ts";
import { fakeQuant } from "../../../quant/quantize.ts";
import { QuantLinear } from "../../../quant/linear.ts";
import { normTweaking, tweakScales } from "../../../quant/methods/norm_tweaking.ts";
import { assertClose, gpuTest } from "../../_helpers.ts";

type M = number[][];

/** Pure TS: Σ_t Σ_l ‖Ŵ_l·diag(x_t)·ρ − W_l·x_t‖². */
function objective(w: M[], wq: M[], x: M, rho: number[]): number {
  let e = 0;
  for (let l = 0; l < w.length; l++) {
    for (const xt of x) {
      for (let o = 0; o < w[l].length; o++) {
        let d = 0;
        for (let j = 0; j < xt.length; j++) d += wq[l][o][j] * xt[j] * rho[j] - w[l][o][j] * xt[j];
        e += d * d;
      }
    }
  }
  return e;
}

/** Pure TS: the normal equations (A + λI)ρ = b + λ1 solved by Gaussian elimination. */
function reference(w: M[], wq: M[], x: M, damp: number): number[] {
  const n = x[0].length;
  const A = Array.from({ length: n }, () => new Array(n).fill(0));
  const b = new Array(n).fill(0);
  for (let l = 0; l < w.length; l++) {
    for (const xt of x) {
      for (let o = 0; o < w[l].length; o++) {
        const y = w[l][o].reduce((s, v, j) => s + v * xt[j], 0);
        for (let i = 0; i < n; i++) {
          b[i] += wq[l][o][i] * xt[i] * y;
          for (let j = 0; j < n; j++) A[i][j] += wq[l][o][i] * xt[i] * wq[l][o][j] * xt[j];
        }
      }
    }
  }
  const lambda = damp * A.reduce((s, r, i) => s + r[i], 0) / n;
  for (let i = 0; i < n; i++) [A[i][i], b[i]] = [A[i][i] + lambda, b[i] + lambda];
  for (let k = 0; k < n; k++) {
    for (let i = k + 1; i < n; i++) {
      const m = A[i][k] / A[k][k];
      for (let j = k; j < n; j++) A[i][j] -= m * A[k][j];
      b[i] -= m * b[k];
    }
  }
  const r = new Array(n).fill(0);
  for (let i = n - 1; i >= 0; i--) {
    r[i] = (b[i] - A[i].slice(i + 1).reduce((s, v, j) => s + v * r[i + 1 + j], 0)) / A[i][i];
  }
  return r;
}

gpuTest("tweakScales matches the pure-TS normal equations and lowers the objective", async () => {
  using x = Tensor.randn([37, 5], { seed: 1 });
  using w1 = Tensor.randn([3, 5], { seed: 2 });
  using w2 = Tensor.randn([4, 5], { seed: 3 });
  using q1 = await fakeQuant(int(2), w1);
  using q2 = await fakeQuant(int(2), w2);
  using h = matmul(x, x, { transA: true });
  const [X, W1, W2, Q1, Q2] = await Promise.all(
    [x, w1, w2, q1, q2].map(async (t) => await t.toArray() as M),
  );
  for (const damp of [0.01, 0.3]) {
    using rho = await tweakScales([w1, w2], [q1, q2], h, damp);
    const got = Array.from(await rho.data());
    assertClose(got, reference([W1, W2], [Q1, Q2], X, damp), { atol: 1e-4, rtol: 1e-3 });
    const before = objective([W1, W2], [Q1, Q2], X, [1, 1, 1, 1, 1]);
    const after = objective([W1, W2], [Q1, Q2], X, got);
    assert(after < before, `objective ${after} ≥ ${before} (damp ${damp})`);
  }
});

gpuTest("tweakScales on one channel (closed form ρ = Σŵw / Σŵ²)", async () => {
  using w = Tensor.fromArray([[2], [1]]);
  using wq = Tensor.fromArray([[1], [1]]);
  using h = Tensor.fromArray([[3]]);
  using rho = await tweakScales([w], [wq], h, 1e-9);
  assertClose(await rho.data(), [1.5], { rtol: 1e-5 });
});

gpuTest(
  "normTweaking changes only the norms: same quantized weights as the base method",
  async () => {
    const ids = Array.from(new TextEncoder().encode("And the earth was without form, and void;"));
    const seqs = calibrationSequences(ids, { n: 1, seqLen: 16, seed: 0 });
    using a = await loadModel();
    using b = await loadModel();
    const base = await normTweaking(a, seqs, { weight: int(3), tweak: false });
    const tw = await normTweaking(b, seqs, { weight: int(3) });
    assertEquals(base.details.tweaks.length, 0);
    assertEquals(tw.details.tweaks.length, 8);
    assert(tw.details.tweaks.some((t) => t.min < 0.999 || t.max > 1.001), "the norms did not move");
    // layer 0's weights see identical inputs in both runs: identical quantized weights
    const la = a.getLinear("layers.0.mlp.up_proj") as QuantLinear;
    const lb = b.getLinear("layers.0.mlp.up_proj") as QuantLinear;
    assert(la instanceof QuantLinear);
    assertEquals(Array.from(await la.weight!.data()), Array.from(await lb.weight!.data()));
    using na = a.layerNorm(0, "post").reshape([128]);
    using nb = b.layerNorm(0, "post").reshape([128]);
    assert(String(await na.data()) !== String(await nb.data()));
  },
);
