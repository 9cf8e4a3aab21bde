import { assertEquals } from "@std/assert";
import { Tensor } from "../../../kernels/tensor.ts";
import { Rng } from "../../../kernels/random.ts";
import { matmul } from "../../../kernels/ops/matmul.ts";
import { lowbitMatmul } from "../../../kernels/lowbit/kernel.ts";
import { gpuTest } from "../../_helpers.ts";
import { codeValue } from "../../reference/lowbit.ts";
import { CASES, randomWeight } from "../lowbit/_weights.ts";

// The low-bit GEMM is the dense tiled GEMM with a dequantizing B loader: each output is the
// same sequential f32 FMA chain over k, so on the f32-dequantized weight (value − zero, times
// the scale, each rounded to f32 as the loader does) the two must agree bit for bit.
const f = Math.fround;
for (
  const name of ["int4 g32 asym", "int3 g32", "ternary5 g40", "codebook3 g32", "int8 per-row f32"]
) {
  gpuTest(
    `tiled GEMM: ${name} is bit-identical to the dense GEMM on its f32 dequantization`,
    async () => {
      const c = CASES.find((c) => c.name === name)!;
      const [N, K] = [37, 640];
      const { ref, packed } = randomWeight(c, N, K, 11);
      using _w = packed;
      const G = K / ref.groupSize;
      const W = new Float32Array(N * K);
      for (let n = 0; n < N; n++) {
        for (let k = 0; k < K; k++) {
          const gi = n * G + Math.floor(k / ref.groupSize);
          const v = f(codeValue(ref, ref.codes[n * K + k]));
          W[n * K + k] = f((ref.zeros ? f(v - ref.zeros[gi]) : v) * ref.scales[gi]);
        }
      }
      using wd = Tensor.fromArray(W, [N, K]);
      for (const M of [9, 70]) {
        const x = new Rng(M).normal(M * K, 0, 1);
        x[3] = 0;
        using tx = Tensor.fromArray(x, [M, K]);
        using got = lowbitMatmul(tx, packed, { kernel: "gemm" });
        using want = matmul(tx, wd, { transB: true });
        assertEquals(await got.data(), await want.data(), `${name} M=${M}`);
      }
    },
  );
}
