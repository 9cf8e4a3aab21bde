import { assertEquals, assertThrows } from "@std/assert";
import { Tensor } from "../../../kernels/tensor.ts";
import { Rng } from "../../../kernels/random.ts";
import { hadamard, randomHadamard, randomSigns } from "../../../kernels/ops/hadamard.ts";
import { assertClose, gpuTest, roundF16 } from "../../_helpers.ts";
import { hadamardRef, sylvester } from "../../reference/hadamard.ts";

gpuTest("hadamard matches the explicit Sylvester matrix and is its own inverse", async () => {
  // 1, small, one full chunk (4096) and beyond a chunk (8192: global stages)
  for (const [rows, n] of [[3, 1], [5, 2], [3, 64], [1, 4096], [2, 8192]]) {
    const x = new Rng(n).normal(rows * n);
    x[0] = NaN; // NaN spreads through its own row only
    using t = Tensor.fromArray(x, [rows, n]);
    using y = hadamard(t);
    const got = await y.data();
    if (n <= 4096) {
      assertClose(got, hadamardRef(x, n), { atol: 1e-5, rtol: 1e-4 }, `H n=${n}`);
    } else {
      for (let i = 0; i < n; i++) assertEquals(Number.isNaN(got[i]), true);
      assertClose(got.subarray(n, 2 * n), hadamardRef(x.subarray(n, 2 * n), n), {
        atol: 1e-5,
        rtol: 1e-4,
      }, `H n=${n}`);
    }
    using back = hadamard(y);
    const b = await back.data();
    assertClose(b.subarray(n), x.subarray(n), { atol: 1e-5, rtol: 1e-4 }, `HH = I n=${n}`);
  }
});

gpuTest("randomized Hadamard H·diag(s) and its inverse, f32 and f16", async () => {
  for (const [lead, n] of [[[2, 3], 32], [[1], 8192]] as [number[], number][]) {
    const rows = lead.reduce((a, b) => a * b, 1);
    const x = new Rng(1).normal(rows * n);
    using s = randomSigns(n, 7);
    const sv = await s.data();
    using t = Tensor.fromArray(x, [...lead, n]);
    using y = randomHadamard(t, s);
    assertEquals(y.shape, [...lead, n]);
    assertClose(await y.data(), hadamardRef(x, n, sv), { atol: 1e-5, rtol: 1e-4 }, `n=${n}`);
    using back = randomHadamard(y, s, { inverse: true });
    assertClose(await back.data(), x, { atol: 1e-5, rtol: 1e-4 }, `inverse n=${n}`);

    const xh = roundF16(x);
    using th = Tensor.fromArray(xh, [...lead, n], "f16");
    using yh = randomHadamard(th, s);
    assertEquals(yh.dtype, "f16");
    // f32 arithmetic, one rounding to f16
    assertClose(await yh.data(), roundF16(hadamardRef(xh, n, sv)), {
      atol: 1e-3,
      rtol: 2 ** -10,
    }, `f16 n=${n}`);
  }
});

gpuTest("hadamard of the identity is the Sylvester matrix / √n", async () => {
  const n = 16;
  const eye = new Float32Array(n * n);
  for (let i = 0; i < n; i++) eye[i * n + i] = 1;
  using t = Tensor.fromArray(eye, [n, n]);
  using y = hadamard(t);
  assertClose(await y.data(), sylvester(n).map((v) => v / 4), { atol: 1e-7, rtol: 0 }, "H16");
});

gpuTest("hadamard says what is wrong", () => {
  using x = Tensor.zeros([2, 12]);
  assertThrows(
    () => hadamard(x),
    RangeError,
    "needs a power of two (pad the axis with zeros to 16",
  );
  using y = Tensor.zeros([2, 16]);
  using s = Tensor.zeros([8]);
  assertThrows(() => randomHadamard(y, s), RangeError, "must be 1-D with 16 elements");
  using i = Tensor.zeros([4], "i32");
  assertThrows(() => hadamard(i), TypeError, "expected f32 or f16");
});
