import { assertEquals } from "@std/assert";
import { Tensor } from "../../../kernels/tensor.ts";
import { cast } from "../../../kernels/ops/elementwise.ts";
import { rope, ropeInvFreq, type RopeOptions } from "../../../kernels/ops/rope.ts";
import { ropeRef } from "../../reference/rope.ts";
import { assertClose, gpuTest, roundF16 } from "../../_helpers.ts";
import { gradCheck } from "../../_gradcheck.ts";
import { gradsOf } from "./_grads.ts";
import { Rng } from "../../../kernels/random.ts";

gpuTest(
  "rope: the gradient matches f64 finite differences in every layout and option",
  async () => {
    const cases: { shape: number[]; o: RopeOptions }[] = [
      { shape: [2, 5, 3, 6], o: {} }, // [batch, seq, heads, headDim]
      { shape: [7, 2, 10], o: { offset: 9 } }, // [seq, heads, headDim]
      { shape: [2, 3, 5, 6], o: { layout: "bhsd", offset: 3, scaling: 1.3 } },
      { shape: [3, 4, 2], o: { layout: "bhsd", inverse: true } },
      { shape: [1, 1, 2], o: { offset: 100000 } },
    ];
    for (const { shape, o } of cases) {
      const D = shape[shape.length - 1];
      const freq = ropeInvFreq(D, 10000);
      // As a Float32Array and as a tensor (a constant: no gradient).
      using ft = Tensor.fromArray(freq, [D / 2]);
      for (const f of [freq, ft]) {
        await gradCheck({
          inputs: [{ shape }],
          gpu: (x) => rope(x, f, o),
          ref: (x) => {
            // −θ is +θ at negative positions' sines: rotate with negated frequencies.
            const fr = o.inverse ? freq.map((v) => -v) : freq;
            return ropeRef(x, shape, fr, { offset: o.offset, layout: o.layout })
              .map((v) => v * (o.scaling ?? 1));
          },
        }).catch((e) => {
          throw new Error(`${JSON.stringify({ shape, o })}: ${e.message}`);
        });
      }
    }
  },
);

gpuTest("rope on f16: the gradient is the f16 inverse rotation", async () => {
  const shape = [2, 3, 2, 8];
  const x = roundF16(new Rng(3).normal(96, 0, 1));
  const freq = ropeInvFreq(8, 500000);
  await gradCheck({
    inputs: [{ shape, values: x }],
    gpu: (x) => {
      using h = cast(x, "f16");
      using y = rope(h, freq, { offset: 4 });
      assertEquals(y.dtype, "f16");
      return cast(y, "f32");
    },
    ref: (x) => ropeRef(x, shape, freq, { offset: 4 }),
    tol: 1e-2,
  });
});

gpuTest(
  "rope: inverse undoes the rotation; the gradient is linear, finite with NaN inputs",
  async () => {
    const freq = ropeInvFreq(4, 10000);
    using x = Tensor.randn([3, 2, 4], { seed: 5 });
    using y = rope(x, freq, { offset: 7 });
    using back = rope(y, freq, { offset: 7, inverse: true });
    assertClose(await back.data(), await x.data(), { atol: 1e-6, rtol: 1e-5 });
    // rope is linear in x: its gradient is the rotated seed and never reads x, so a NaN
    // input does not reach it (as in PyTorch). Position 0 is the identity.
    using xn = Tensor.fromArray([NaN, 1, 2, 3, 0, 0, 0, 0], [2, 1, 4]);
    const seed = [1, 2, 3, 4, 1, 1, 1, 1];
    const [g] = await gradsOf((x) => rope(x, freq), [xn], seed);
    assertEquals(Array.from(g.slice(0, 4)), [1, 2, 3, 4]);
    // Position 1: dx = Rᵀ(θ)·g, i.e. (g₁cos θ + g₂sin θ, g₂cos θ − g₁sin θ) per pair.
    const want = [0, 1].flatMap((i) => {
      const t = freq[i];
      return [Math.cos(t) + Math.sin(t), Math.cos(t) - Math.sin(t)];
    });
    assertClose([g[4], g[6], g[5], g[7]], want, { atol: 1e-6, rtol: 1e-5 });
  },
);
