import { assert, assertRejects } from "@std/assert";
import { Tensor } from "../../../kernels/tensor.ts";
import { Rng } from "../../../kernels/random.ts";
import { symmetricEigen, truncatedSvd } from "../../../kernels/ops/svd.ts";
import { assertClose, gpuTest } from "../../_helpers.ts";
import { svdRef } from "../../reference/svd.ts";

/** An m×n matrix with singular values decaying like 0.7^i. */
function decaying(m: number, n: number, seed: number): Float32Array {
  const r = Math.min(m, n);
  const { u, v } = svdRef(new Rng(seed).normal(m * n), m, n);
  const a = new Float32Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let t = 0;
      for (let k = 0; k < r; k++) t += u[i * r + k] * 0.7 ** k * v[j * r + k];
      a[i * n + j] = t;
    }
  }
  return a;
}

gpuTest(
  "truncatedSvd: singular values and the rank-k product match the Jacobi reference",
  async () => {
    for (const [m, n, k] of [[37, 23, 5], [23, 37, 4], [1, 9, 1], [64, 64, 8]]) {
      const a = decaying(m, n, m + n);
      const ref = svdRef(a, m, n);
      using t = Tensor.fromArray(a, [m, n]);
      const { u, s, v } = await truncatedSvd(t, k, { seed: 3 });
      try {
        assertClose(s, ref.s.slice(0, k), { atol: 1e-4, rtol: 1e-3 }, `σ ${m}×${n}`);
        const U = await u.data(), V = await v.data();
        // U·diag(s)·Vᵀ equals the reference's best rank-k approximation
        const r = Math.min(m, n);
        const got = new Float64Array(m * n), want = new Float64Array(m * n);
        for (let i = 0; i < m; i++) {
          for (let j = 0; j < n; j++) {
            for (let c = 0; c < k; c++) {
              got[i * n + j] += U[i * k + c] * s[c] * V[j * k + c];
              want[i * n + j] += ref.u[i * r + c] * ref.s[c] * ref.v[j * r + c];
            }
          }
        }
        assertClose(got, want, { atol: 1e-4, rtol: 1e-3 }, `rank-${k} product ${m}×${n}`);
        // orthonormal columns
        for (let c = 0; c < k; c++) {
          let nu = 0;
          for (let i = 0; i < m; i++) nu += U[i * k + c] ** 2;
          assert(Math.abs(nu - 1) < 1e-4, `‖u_${c}‖² = ${nu}`);
        }
      } finally {
        u.dispose();
        v.dispose();
      }
    }
  },
);

gpuTest("truncatedSvd: rank-deficient and zero matrices give zeros, not NaN", async () => {
  using z = Tensor.zeros([5, 7]);
  const r = await truncatedSvd(z, 3);
  assertClose(r.s, [0, 0, 0], { atol: 0 });
  assert((await r.u.data()).every((x) => x === 0));
  r.u.dispose();
  r.v.dispose();
});

gpuTest("truncatedSvd: NaN input and bad ranks are rejected", async () => {
  using t = Tensor.fromArray([[1, NaN], [0, 1]]);
  await assertRejects(() => truncatedSvd(t, 1), RangeError, "not finite");
  using a = Tensor.zeros([3, 4]);
  await assertRejects(() => truncatedSvd(a, 4), RangeError, "rank k = 4");
});

Deno.test("symmetricEigen: A·v = λ·v on a random symmetric matrix", () => {
  const n = 9, x = new Rng(5).normal(n * n), a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) a[i * n + j] = x[i * n + j] + x[j * n + i];
  }
  const { values, vectors } = symmetricEigen(a, n);
  for (let c = 0; c < n; c++) {
    if (c > 0) assert(values[c] <= values[c - 1]);
    for (let i = 0; i < n; i++) {
      let av = 0;
      for (let j = 0; j < n; j++) av += a[i * n + j] * vectors[j * n + c];
      assert(Math.abs(av - values[c] * vectors[i * n + c]) < 1e-9);
    }
  }
});
