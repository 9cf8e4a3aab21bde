import { AssertionError } from "@std/assert";
import { Tensor } from "../../../kernels/tensor.ts";
import { Rng } from "../../../kernels/random.ts";
import { packInt } from "../../../kernels/lowbit/pack.ts";
import { hasDot4I8, matmulW8A8, quantizeInt8Rows } from "../../../kernels/lowbit/w8a8.ts";
import { gpuTest } from "../../_helpers.ts";
import { roundHalfEven } from "../../reference/elementwise.ts";

gpuTest("W8A8 with dot4I8Packed matches int8 × int8 in f64 (batch 1…8, NaN row)", async () => {
  if (!hasDot4I8()) return; // reported by the benchmark; nothing to test here
  for (const [N, K] of [[37, 64], [5, 100], [1, 16]]) {
    const rng = new Rng(K);
    const wc = Array.from(rng.uniform(N * K, 0, 256), Math.floor);
    const ws = Float32Array.from(rng.uniform(N, 0.001, 0.01));
    using w = packInt(wc, [N, K], { bits: 8, scales: ws, scaleDtype: "f32" });
    for (const M of [1, 3, 8]) {
      const x = new Rng(M).normal(M * K, 0, 1);
      if (M === 3) x[K + 1] = NaN;
      using tx = Tensor.fromArray(x, [M, K]);
      const q = quantizeInt8Rows(tx);
      using y = matmulW8A8(q, w);
      q.codes.dispose();
      q.scales.dispose();
      const got = await y.data();
      for (let m = 0; m < M; m++) {
        let amax = 0;
        let nan = false;
        for (let k = 0; k < K; k++) {
          const v = x[m * K + k];
          if (Number.isNaN(v)) nan = true;
          amax = Math.max(amax, Math.abs(v));
        }
        const sx = Math.fround(amax / 127);
        for (let n = 0; n < N; n++) {
          let acc = 0;
          for (let k = 0; k < K; k++) {
            const qx = Math.max(-127, Math.min(127, roundHalfEven(Math.fround(x[m * K + k] / sx))));
            const c = wc[n * K + k];
            acc += qx * (c >= 128 ? c - 256 : c);
          }
          const want = nan ? NaN : acc * sx * ws[n];
          const g = got[m * N + n];
          const ok = nan ? Number.isNaN(g) : Math.abs(g - want) <= 1e-5 * Math.abs(want) + 1e-6;
          if (!ok) {
            throw new AssertionError(`[${N},${K}] M=${M} (${m},${n}): got ${g}, want ${want}`);
          }
        }
      }
    }
  }
});
