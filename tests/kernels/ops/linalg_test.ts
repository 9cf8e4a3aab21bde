import { assert, assertEquals, assertRejects, assertThrows } from "@std/assert";
import { Tensor } from "../../../kernels/tensor.ts";
import { Rng } from "../../../kernels/random.ts";
import {
  cholesky,
  choleskyChecked,
  choleskyInverseUpper,
  spdInverse,
  triangularSolve,
} from "../../../kernels/ops/linalg.ts";
import { assertClose, gpuTest } from "../../_helpers.ts";
import { choleskyRef, frobRef, mulRef, transposeRef, triSolveRef } from "../../reference/linalg.ts";

/** A = XᵀX/rows + εI: symmetric positive definite, condition number in the hundreds. */
function spd(n: number, seed: number): Float64Array {
  const rows = n + 8;
  const x = new Rng(seed).normal(rows * n);
  const a = mulRef(transposeRef(x, rows, n), x, n, rows, n);
  for (let i = 0; i < a.length; i++) a[i] /= rows;
  for (let i = 0; i < n; i++) a[i * n + i] += 0.05;
  return a;
}

const SIZES = [1, 7, 33, 130];

gpuTest("cholesky: L·Lᵀ reconstructs A and L matches the textbook reference", async () => {
  for (const n of SIZES) {
    const a = spd(n, n);
    using ta = Tensor.fromArray(Float32Array.from(a), [n, n]);
    using l = await choleskyChecked(ta);
    const got = await l.data();
    const ll = mulRef(got, transposeRef(got, n, n), n, n, n);
    // f32: backward error ‖LLᵀ − A‖/‖A‖ of a few ulp × n
    const rel = frobRef(ll, a) / frobRef(a);
    assert(rel < 1e-5, `n=${n}: ‖LLᵀ − A‖/‖A‖ = ${rel}`);
    // forward error vs the f64 reference scales with the condition number (~ hundreds)
    assertClose(got, choleskyRef(a, n), { atol: 2e-4, rtol: 2e-4 }, `L n=${n}`);
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) assertEquals(got[i * n + j], 0);
    using u = cholesky(ta, { upper: true });
    assertClose(await u.data(), transposeRef(got, n, n), { atol: 0, rtol: 0 }, `U n=${n}`);
  }
});

gpuTest("choleskyChecked names the failing column and suggests damping", async () => {
  const n = 70; // the failure is in the second 64-column block
  const a = spd(n, 1);
  a[66 * n + 66] = -1;
  using ta = Tensor.fromArray(Float32Array.from(a), [n, n]);
  await assertRejects(
    () => choleskyChecked(ta),
    RangeError,
    "matrix is not positive definite at column 66 (of 70); add damping",
  );
  using nan = Tensor.fromArray([[NaN]]);
  await assertRejects(() => choleskyChecked(nan), RangeError, "at column 0");
  using l = cholesky(ta); // unchecked: NaN from the failing column on
  assert(Number.isNaN((await l.data())[66 * n + 66]));
});

gpuTest("triangularSolve: lower/upper × transpose × left/right against substitution", async () => {
  for (const [n, m] of [[1, 3], [7, 5], [130, 9]]) {
    const rng = new Rng(n);
    // well-conditioned triangle: unit-ish diagonal, small off-diagonal entries
    const t = Float32Array.from(
      rng.normal(n * n),
      (v, i) => i % (n + 1) === 0 ? 2 + Math.abs(v) : v / Math.sqrt(n),
    );
    using tt = Tensor.fromArray(t, [n, n]);
    for (const lower of [true, false]) {
      for (const transpose of [false, true]) {
        for (const left of [true, false]) {
          const b = rng.normal(n * m);
          using tb = Tensor.fromArray(b, left ? [n, m] : [m, n]);
          using x = triangularSolve(tt, tb, { lower, transpose, left });
          // reference: canonical T·X' = B' with T = op(L) (left) or op(L)ᵀ (right)
          const tri = new Float64Array(n * n);
          for (let i = 0; i < n; i++) {
            for (let j = 0; j < n; j++) {
              if (lower ? j <= i : j >= i) tri[i * n + j] = t[i * n + j];
            }
          }
          const transT = left ? transpose : !transpose;
          const T = transT ? transposeRef(tri, n, n) : tri;
          const B = left ? b : transposeRef(b, m, n);
          let ref = triSolveRef(T, B, n, m, lower !== transT);
          if (!left) ref = transposeRef(ref, n, m);
          assertClose(
            await x.data(),
            ref,
            { atol: 1e-5, rtol: 1e-4 },
            `n=${n} lower=${lower} transpose=${transpose} left=${left}`,
          );
        }
      }
    }
  }
});

gpuTest("spdInverse and choleskyInverseUpper (GPTQ: H⁻¹ = UᵀU)", async () => {
  for (const n of [7, 130]) {
    const a = spd(n, 3 * n);
    using ta = Tensor.fromArray(Float32Array.from(a), [n, n]);
    using inv = spdInverse(ta);
    const ai = await inv.data();
    const eye = mulRef(a, ai, n, n, n);
    for (let i = 0; i < n; i++) eye[i * n + i] -= 1;
    const err = frobRef(eye) / Math.sqrt(n);
    assert(err < 1e-4, `n=${n}: ‖A·A⁻¹ − I‖/√n = ${err}`);
    using u = choleskyInverseUpper(ta);
    const ud = await u.data();
    const utu = mulRef(transposeRef(ud, n, n), ud, n, n, n);
    const rel = frobRef(utu, ai) / frobRef(ai);
    assert(rel < 1e-5, `n=${n}: ‖UᵀU − A⁻¹‖/‖A⁻¹‖ = ${rel}`);
    for (let i = 0; i < n; i++) for (let j = 0; j < i; j++) assertEquals(ud[i * n + j], 0);
  }
});

gpuTest("linalg ops say what is wrong", () => {
  using r = Tensor.zeros([2, 3]);
  assertThrows(() => cholesky(r), RangeError, "not square");
  using h = Tensor.zeros([2, 2], "f16");
  assertThrows(() => cholesky(h), TypeError, "expected f32");
  using l = Tensor.zeros([2, 2]);
  using b = Tensor.zeros([3, 2]);
  assertThrows(() => triangularSolve(l, b), RangeError, "rows of B must be 2");
});
