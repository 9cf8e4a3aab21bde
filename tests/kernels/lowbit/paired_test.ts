import { assertEquals, AssertionError } from "@std/assert";
import { Tensor } from "../../../kernels/tensor.ts";
import { Rng } from "../../../kernels/random.ts";
import { lowbitMatmul, planMatmul } from "../../../kernels/lowbit/kernel.ts";
import { denseMatmul } from "../../../kernels/lowbit/dense.ts";
import { pairPlan } from "../../../kernels/gemm/paired.ts";
import { gpuTest, roundF16 } from "../../_helpers.ts";
import { dequantizeRef, matmulRef } from "../../reference/lowbit.ts";
import { type Case, randomWeight } from "./_weights.ts";

/** |got − want| ≤ 2e-5·Σ|x·w| + 1e-6; NaN must match. */
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

const PAIRED: Case[] = [
  { name: "int4 g32", format: "int4", groupSize: 32 },
  { name: "int4 g128 asym", format: "int4", groupSize: 128, zeros: true },
  { name: "int2 g64", format: "int2", groupSize: 64 },
  { name: "int2 g128 asym f32", format: "int2", groupSize: 128, zeros: true, scaleDtype: "f32" },
  { name: "int8 g16", format: "int8", groupSize: 16 },
  { name: "int8 per-row asym", format: "int8", groupSize: "K", zeros: true },
  { name: "ternary per-row", format: "ternary", groupSize: "K" },
  { name: "ternary g64", format: "ternary", groupSize: 64 },
];

gpuTest("pairPlan: every field decoded once, inside the f16 mantissa", () => {
  for (const bits of [2, 4, 8]) {
    const p = pairPlan(bits, true);
    assertEquals(p.map((d) => d.lo), Array.from({ length: 16 / bits }, (_, j) => j));
    for (const d of p) {
      if (d.pos < 0 || d.pos + bits > 10) throw new AssertionError(`field at ${d.pos}`);
    }
  }
});

for (const c of PAIRED) {
  gpuTest(
    `paired GEMV ${c.name}: batch 1…8, several tiles and layouts match the reference`,
    async () => {
      // N odd (partial workgroups); K = 2048: batch 8 needs several K tiles.
      const N = 45, K = 2048;
      const { ref, packed } = randomWeight(c, N, K, 11);
      using _w = packed;
      const W = dequantizeRef(ref);
      for (
        const [M, T, RPT, U] of [[1, 8, 2, 2], [1, 32, 1, 1], [2, 16, 4, 2], [3, 4, 1, 4], [
          8,
          16,
          1,
          1,
        ]]
      ) {
        const x = new Rng(M + 7).normal(M * K, 0, 1);
        if (M === 3) x[K + 100] = NaN; // row 1 only
        using tx = Tensor.fromArray(x, [M, K]);
        const call = planMatmul(tx, packed, {
          gemv: "paired",
          threadsPerRow: T,
          rowsPerThread: RPT,
          unroll: U,
        });
        call.out.dispose();
        assertEquals(call.label.includes("gemv-paired"), true);
        using y = lowbitMatmul(tx, packed, { threadsPerRow: T, rowsPerThread: RPT, unroll: U });
        const { y: want, mag } = matmulRef(x, M, W, N, K);
        check(await y.data(), want, mag, `${c.name} M=${M} T=${T} RPT=${RPT} U=${U}`);
      }
      // f16 activations, f16 bias and output
      const xh = roundF16(new Rng(3).normal(2 * K, 0, 1));
      const bias = roundF16(new Rng(4).normal(N, 0, 1));
      using tx = Tensor.fromArray(xh, [2, K], "f16");
      using tb = Tensor.fromArray(bias, [N], "f16");
      using y = lowbitMatmul(tx, packed, { bias: tb, outDtype: "f16" });
      const { y: want, mag } = matmulRef(xh, 2, W, N, K, bias);
      check(
        await y.data(),
        Float64Array.from(roundF16(want)),
        mag.map((v, i) => v + Math.abs(want[i]) * 50),
        `${c.name} f16`,
      );
    },
  );
}

gpuTest("paired GEMV: dense f16 weight equals the generic GEMV", async () => {
  const N = 70, K = 1024;
  using w = Tensor.randn([N, K], { dtype: "f16", seed: 5 });
  const wd = Float64Array.from(await w.data());
  for (const M of [1, 5]) {
    const x = new Rng(M).normal(M * K, 0, 1);
    using tx = Tensor.fromArray(x, [M, K]);
    using y = denseMatmul(tx, w);
    const { y: want, mag } = matmulRef(x, M, wd, N, K);
    check(await y.data(), want, mag, `dense M=${M}`);
    using g = denseMatmul(tx, w, { gemv: "generic" });
    check(await g.data(), want, mag, `dense generic M=${M}`);
  }
});
