import { assertEquals, AssertionError, assertThrows } from "@std/assert";
import { Tensor } from "../../../kernels/tensor.ts";
import { Rng } from "../../../kernels/random.ts";
import { lowbitMatmul } from "../../../kernels/lowbit/kernel.ts";
import { packInt } from "../../../kernels/lowbit/pack.ts";
import { gpuTest, roundF16 } from "../../_helpers.ts";
import { dequantizeRef, matmulRef } from "../../reference/lowbit.ts";
import { CASES, randomWeight } from "./_weights.ts";

/** |got − want| ≤ 2e-5·Σ|x·w| + 1e-6 (f32 accumulation in another order); NaN must match. */
function check(got: ArrayLike<number>, want: Float64Array, mag: Float64Array, what: string) {
  assertEquals(got.length, want.length, `${what}: length`);
  for (let i = 0; i < want.length; i++) {
    const g = got[i], w = want[i];
    const ok = Number.isNaN(w) ? Number.isNaN(g) : Math.abs(g - w) <= 2e-5 * mag[i] + 1e-6;
    if (!ok) {
      throw new AssertionError(`${what}: element ${i}: got ${g}, expected ${w} (Σ|xw| ${mag[i]})`);
    }
  }
}

// Odd shapes: N not a multiple of any tile; K a multiple of every group size used (16, 32, 40, 64)
// but not of the GEMV chunk for most formats (640 = 5·128), plus a tail for per-row groups.
const N = 37;
const K = 640;

for (const c of CASES) {
  gpuTest(`lowbit ${c.name}: GEMV batch 1…8 and GEMM batch 19 match the reference`, async () => {
    const { ref, packed } = randomWeight(c, N, K, 7);
    using _w = packed;
    const W = dequantizeRef(ref);
    for (const M of [1, 2, 3, 4, 5, 6, 7, 8, 19]) {
      const x = new Rng(M).normal(M * K, 0, 1);
      if (M === 3) x[K + 5] = NaN; // row 1 only
      using tx = Tensor.fromArray(x, [M, K]);
      using y = lowbitMatmul(tx, packed);
      assertEquals(y.shape, [M, N]);
      const { y: want, mag } = matmulRef(x, M, W, N, K);
      check(await y.data(), want, mag, `${c.name} M=${M}`);
    }
  });
}

gpuTest("lowbit: f16 activations, f16 output, bias, one-row weights, per-row K tail", async () => {
  for (
    const c of CASES.filter((c) =>
      ["int4 g32", "ternary per-row", "nf4", "int8 per-row f32"].includes(c.name)
    )
  ) {
    for (const [n, k] of [[1, 64 * 5], [5, c.groupSize === "K" ? 37 : 64]] as const) {
      const { ref, packed } = randomWeight(c, n, k, 3);
      using _w = packed;
      const W = dequantizeRef(ref);
      const bias = roundF16(new Rng(9).normal(n, 0, 1));
      using tb = Tensor.fromArray(bias, [n], "f16");
      for (const M of [1, 4, 17]) {
        const x = roundF16(new Rng(M + 50).normal(M * k, 0, 1));
        using tx = Tensor.fromArray(x, [M, k], "f16");
        for (const outDtype of ["f32", "f16"] as const) {
          using y = lowbitMatmul(tx, packed, { bias: tb, outDtype });
          const { y: want, mag } = matmulRef(x, M, W, n, k, bias);
          const got = await y.data();
          const w = outDtype === "f16" ? Float64Array.from(roundF16(want)) : want;
          const m = outDtype === "f16" ? mag.map((v, i) => v + Math.abs(want[i]) * 50) : mag;
          check(got, w, m, `${c.name} [${n},${k}] M=${M} ${outDtype}`);
        }
      }
    }
  }
});

gpuTest(
  "lowbit: zero activations give zeros; forced GEMM at batch 1 and GEMV at batch 8 agree",
  async () => {
    const { packed } = randomWeight(CASES[1], 9, 64, 1);
    using _w = packed;
    using z = Tensor.zeros([2, 64]);
    using y = lowbitMatmul(z, packed);
    assertEquals(Array.from(await y.data()), new Array(18).fill(0));
    using x = Tensor.randn([8, 64], { seed: 4 });
    using a = lowbitMatmul(x, packed, { kernel: "gemm" });
    using b = lowbitMatmul(x, packed, { kernel: "gemv", threadsPerRow: 2 });
    const da = await a.data(), db = await b.data();
    for (let i = 0; i < da.length; i++) {
      if (Math.abs(da[i] - db[i]) > 1e-4) throw new AssertionError(`gemm/gemv differ at ${i}`);
    }
  },
);

gpuTest("lowbit: errors name the shape and the group", () => {
  assertThrows(
    () => packInt(new Array(2 * 48).fill(0), [2, 48], { bits: 4, groupSize: 32, scales: [1, 1] }),
    RangeError,
    "K = 48 is not divisible by the group size 32",
  );
  assertThrows(
    () =>
      packInt(new Array(2 * 48).fill(0), [2, 48], {
        bits: 3,
        groupSize: 16,
        scales: new Array(6).fill(1),
      }),
    RangeError,
    "must be a multiple of 32",
  );
  using w = packInt(new Array(64).fill(0), [2, 32], { bits: 4, scales: [1, 1] });
  using x = Tensor.zeros([1, 31]);
  assertThrows(() => lowbitMatmul(x, w), RangeError, "expects K = 32");
  using x2 = Tensor.zeros([9, 32]);
  assertThrows(() => lowbitMatmul(x2, w, { kernel: "gemv" }), RangeError, "batch ≤ 8");
  assertThrows(
    () => packInt([0, 16], [1, 2], { bits: 4, scales: [1] }),
    RangeError,
    "code 16 at index 1",
  );
});
