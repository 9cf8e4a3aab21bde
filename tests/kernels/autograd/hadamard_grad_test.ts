import { assertEquals } from "@std/assert";
import { Tensor } from "../../../kernels/tensor.ts";
import { cast } from "../../../kernels/ops/elementwise.ts";
import { hadamard, randomHadamard, randomSigns } from "../../../kernels/ops/hadamard.ts";
import { hadamardRef } from "../../reference/hadamard.ts";
import { assertClose, gpuTest, roundF16 } from "../../_helpers.ts";
import { gradCheck } from "../../_gradcheck.ts";
import { gradsOf } from "./_grads.ts";
import { Rng } from "../../../kernels/random.ts";

gpuTest("hadamard and randomHadamard: gradients match f64 finite differences", async () => {
  for (const [rows, n] of [[3, 16], [5, 1], [1, 2], [2, 64]]) {
    await gradCheck({
      inputs: [{ shape: [rows, n] }],
      gpu: (x) => hadamard(x),
      ref: (x) => hadamardRef(x, n),
    }).catch((e) => {
      throw new Error(`hadamard [${rows}, ${n}]: ${e.message}`);
    });
  }
  // Signs: a ±1 vector, and arbitrary values (the rule is the transpose for any diagonal).
  const n = 32;
  for (
    const s of [
      Array.from(new Rng(3).signs(n)),
      Array.from({ length: n }, (_, i) => i * 0.1 - 1),
    ]
  ) {
    for (const inverse of [false, true]) {
      await gradCheck({
        inputs: [{ shape: [3, n] }, { shape: [n], values: s, constant: true }],
        gpu: (x, st) => randomHadamard(x, st, { inverse }),
        ref: (x, st) => (inverse ? hadamardRef(x, n, undefined, st) : hadamardRef(x, n, st)),
      }).catch((e) => {
        throw new Error(`randomHadamard inverse ${inverse}: ${e.message}`);
      });
    }
  }
});

gpuTest("hadamard gradients on f16 and on rows longer than one chunk (8192)", async () => {
  const n = 8;
  const x = roundF16(new Rng(2).normal(3 * n, 0, 1));
  await gradCheck({
    inputs: [{ shape: [3, n], values: x }],
    gpu: (x) => {
      using h = cast(x, "f16");
      using s = randomSigns(n, 5);
      using y = randomHadamard(h, s);
      assertEquals(y.dtype, "f16");
      return cast(y, "f32");
    },
    ref: (x) => hadamardRef(x, n, new Rng(5).signs(n)),
    tol: 1e-2,
  });
  // n = 8192 runs the global butterfly stages; the gradient is the transform of the seed.
  const N = 8192;
  using big = Tensor.randn([1, N], { seed: 1 });
  using signs = randomSigns(N, 9);
  const seed = new Rng(4).normal(N, 0, 1);
  const [g] = await gradsOf((x) => hadamard(x), [big], seed);
  assertClose(g, hadamardRef(seed, N), { atol: 1e-4, rtol: 1e-4 }, "hadamard 8192");
  const [gr] = await gradsOf((x) => randomHadamard(x, signs), [big], seed);
  const s = await signs.data();
  assertClose(gr, hadamardRef(seed, N, undefined, s), { atol: 1e-4, rtol: 1e-4 }, "random 8192");
  // Linear: a NaN input does not reach the gradient.
  using xn = Tensor.fromArray([NaN, 1, 2, 3], [1, 4]);
  const [gn] = await gradsOf((x) => hadamard(x), [xn], [1, 0, 0, 0]);
  assertEquals(Array.from(gn), [0.5, 0.5, 0.5, 0.5]);
});
