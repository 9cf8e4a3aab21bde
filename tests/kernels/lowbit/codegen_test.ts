import { assertEquals, assertThrows } from "@std/assert";
import { Tensor } from "../../../kernels/tensor.ts";
import { Rng } from "../../../kernels/random.ts";
import {
  bitstreamRawFn,
  bitstreamStorage,
  bitstreamUnit,
  type Storage,
} from "../../../kernels/lowbit/codegen.ts";
import { lowbitMatmul } from "../../../kernels/lowbit/kernel.ts";
import { packCodes } from "../../../kernels/lowbit/pack.ts";
import { assertClose, gpuTest } from "../../_helpers.ts";

// A format defined outside kernels/ (as quant/formats would): 2-bit codes into four fixed
// levels. No name registry knows it; the kernels only read the storage the weight carries.
const LEVELS = Float32Array.of(-1.5, -0.25, 0.5, 2);
const MINE: Storage = bitstreamStorage("levels2", 2, (stride) => ({
  lut: LEVELS,
  unit: (words) => bitstreamUnit(words, 2, 16),
  value: (c) => `lut[${c}]`,
  rawFn: bitstreamRawFn(2, stride),
  rawValue: (r) => `lut[${r}]`,
}));

gpuTest("a Storage from outside kernels/ runs on the GEMV and the GEMM", async () => {
  const [N, K, gs] = [13, 96, 32];
  const rng = new Rng(5);
  const codes = Array.from(rng.uniform(N * K, 0, 4), Math.floor);
  const scales = Float32Array.from(rng.uniform(N * (K / gs), 0.5, 1.5));
  using w = packCodes(codes, [N, K], { format: MINE, groupSize: gs, scales, scaleDtype: "f32" });
  assertEquals([w.format, w.storage.name], ["levels2", "levels2"]);
  for (const M of [1, 3, 8, 20]) {
    const x = rng.normal(M * K, 0, 1);
    using tx = Tensor.fromArray(x, [M, K]);
    using y = lowbitMatmul(tx, w);
    const want = new Float64Array(M * N);
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        let s = 0;
        for (let k = 0; k < K; k++) {
          s += x[m * K + k] * LEVELS[codes[n * K + k]] * scales[n * (K / gs) + Math.floor(k / gs)];
        }
        want[m * N + n] = s;
      }
    }
    assertClose(await y.data(), want, { atol: 1e-4, rtol: 1e-5 }, `M=${M}`);
  }
});

gpuTest("a Storage's limits are checked by the packer: codes, zeros, codebook", () => {
  assertThrows(
    () => packCodes([4], [1, 1], { format: MINE, scales: [1] }),
    RangeError,
    "code 4 at index 0",
  );
  assertThrows(
    () => packCodes([1], [1, 1], { format: MINE, scales: [1], zeros: [0] }),
    RangeError,
    "zero points",
  );
  assertThrows(
    () => packCodes([1], [1, 1], { format: MINE, scales: [1], codebook: [0, 1, 2, 3] }),
    RangeError,
    "codebook",
  );
});
