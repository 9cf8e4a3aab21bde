import { assert, assertEquals, assertThrows } from "@std/assert";
import { Tensor } from "../../../kernels/tensor.ts";
import { Rng } from "../../../kernels/random.ts";
import { valueAndGrad } from "../../../kernels/autograd.ts";
import {
  BlockApLinear,
  E2eQpLinear,
  efficientQuant,
} from "../../../quant/qat/efficientqat_linear.ts";
import { int } from "../../../quant/quantizer.ts";
import { assertClose, gpuTest, roundF16 } from "../../_helpers.ts";
import { efficientQuantRef } from "../../reference/efficientqat.ts";

// 5 rows × 12 columns: groups of 4 (3 per row) and whole rows; not multiples of any workgroup
const rows = 5, cols = 12;

function case_(bits: number, groups: number, seed: number, cols = 12) {
  const rng = new Rng(seed);
  const w = rng.normal(rows * cols, 0, 1);
  w[3] = 0;
  w[7] = 40; // far above the range
  w[8] = -40; // far below
  const s = Float32Array.from({ length: rows * groups }, (_, k) => 0.3 + 0.1 * (k % 4));
  // zero points: inside, fractional, below 0 and above 2^b − 1 (clamped; no gradient there)
  const qmax = 2 ** bits - 1;
  const z = Float32Array.from(
    { length: rows * groups },
    (_, k) => [1.3, 0.2, -0.7, qmax + 0.4][k % 4],
  );
  const gy = rng.normal(rows * cols, 0, 1);
  return { w, s, z, gy };
}

for (const bits of [2, 3]) {
  for (const groups of [3, 1]) {
    gpuTest(
      `efficientQuant W${bits}, ${groups} group(s) per row: forward and STE gradients`,
      async () => {
        const { w, s, z, gy } = case_(bits, groups, bits * 10 + groups);
        using wt = Tensor.fromArray(w, [rows, cols]);
        using st = Tensor.fromArray(s, [rows, groups]);
        using zt = Tensor.fromArray(z, [rows, groups]);
        using seed = Tensor.fromArray(gy, [rows, cols]);
        const before = Float32Array.from(await wt.data());
        const { value, grads } = valueAndGrad(
          () => efficientQuant(wt, st, zt, { bits }),
          { w: wt, s: st, z: zt },
          { seed },
        );
        const ref = efficientQuantRef(w, s, z, gy, { rows, cols, bits });
        assertClose(await value.data(), ref.y, { atol: 1e-6, rtol: 1e-6 }, "Ŵ");
        assertClose(await grads.get("w")!.data(), ref.gw, { atol: 1e-6 }, "∂/∂W");
        assertClose(await grads.get("s")!.data(), ref.gs, { atol: 1e-4, rtol: 1e-5 }, "∂/∂s");
        assertClose(await grads.get("z")!.data(), ref.gz, { atol: 1e-4, rtol: 1e-5 }, "∂/∂z");
        assert(
          ref.gz.some((g) => g !== 0) && ref.gw.some((g) => g === 0),
          "the case hits the clamps",
        );
        assertEquals(await wt.data(), before, "the input is not modified");
        value.dispose();
        for (const g of grads.values()) g.dispose();
      },
    );
  }
}

gpuTest(
  "efficientQuant: NaN weight gives NaN there and a NaN step gradient for its group",
  async () => {
    using w = Tensor.fromArray([[NaN, 0.5, 0.2, -0.1]]);
    using s = Tensor.fromArray([[0.25, 0.25]]);
    using z = Tensor.fromArray([[1, 1]]);
    using one = Tensor.full([1, 4], 1);
    const { value: y0, grads } = valueAndGrad(() => efficientQuant(w, s, z, { bits: 2 }), { s }, {
      seed: one,
    });
    using value = y0;
    const y = await value.data();
    assert(Number.isNaN(y[0]) && y.slice(1).every(Number.isFinite), `Ŵ ${y}`);
    const gs = await grads.get("s")!.data();
    assert(Number.isNaN(gs[0]) && Number.isFinite(gs[1]), `∂/∂s ${gs}`);
    value.dispose();
    grads.get("s")!.dispose();
  },
);

gpuTest("efficientQuant: bad shapes and bits are refused with the fix named", () => {
  using w = Tensor.zeros([2, 6]);
  using s = Tensor.full([2, 4], 1); // 4 groups do not divide 6 columns
  using z = Tensor.zeros([2, 4]);
  assertThrows(() => efficientQuant(w, s, z, { bits: 2 }), RangeError, "G dividing the 6 columns");
  using s2 = Tensor.full([2, 2], 1);
  assertThrows(() => efficientQuant(w, s2, z, { bits: 2 }), RangeError, "zero");
  using z2 = Tensor.zeros([2, 2]);
  assertThrows(() => efficientQuant(w, s2, z2, { bits: 0 }), RangeError, "bits");
});

gpuTest("Block-AP freeze → E2E-QP layer → packed QuantizedWeight: same function", async () => {
  // int2 kernels pack groups of 16: 3 groups of 16 columns
  const bits = 2, groups = 3, cols = 48;
  const { w, s, z } = case_(bits, groups, 7, cols);
  using wt = Tensor.fromArray(w, [rows, cols]);
  using block = new BlockApLinear(wt, s, z, { bits });
  assertEquals([...block.parameters().keys()], ["weight", "scale", "zero"]);
  using x = Tensor.fromArray(new Rng(3).normal(2 * cols, 0, 1), [2, cols]);
  using yBlock = block.forward(x);
  const frozen = await block.freeze();
  const ref = efficientQuantRef(w, s, z, new Float32Array(rows * cols), { rows, cols, bits });
  assertEquals(Array.from(await frozen.codes.data()), ref.codes, "codes");
  assertEquals(
    Array.from(frozen.zeros),
    Array.from({ length: rows * groups }, (_, k) => [1, 0, 0, 3][k % 4]),
    "zero points rounded into 0 … 3",
  );
  using e2e = new E2eQpLinear(frozen, { bits });
  assertEquals([...e2e.parameters().keys()], ["scale"]);
  using yE2e = e2e.forward(x);
  assertClose(
    await yE2e.data(),
    await yBlock.data(),
    { atol: 1e-5 },
    "E2E-QP layer = Block-AP layer",
  );
  using packed = await e2e.toQuantLinear(int(bits, { group: cols / groups, symmetric: false }));
  assert(packed.packed, "the result runs on the low-bit kernels");
  assertEquals(packed.codes!.quantizer.format, "uint2");
  assertEquals(Array.from(packed.codes!.scales), Array.from(roundF16(s)), "f16 steps");
  using deq = await packed.codes!.dequantize();
  const sf16 = roundF16(s);
  const expect = ref.codes.map((q, i) => {
    const k = Math.floor(i / cols) * groups + Math.floor((i % cols) / (cols / groups));
    return (q - frozen.zeros[k]) * sf16[k];
  });
  assertClose(await deq.data(), expect, { atol: 1e-6 }, "dequantized codes");
  using yPacked = packed.forward(x);
  assertClose(await yPacked.data(), await yE2e.data(), { atol: 2e-3, rtol: 2e-3 }, "packed matmul");
  assertThrows(
    () => new E2eQpLinear({ ...frozen, codes: Tensor.zeros([2, 3]) }, { bits }),
    RangeError,
    "u32",
  );
});

gpuTest("E2E-QP: the step gradient matches f64 central differences", async () => {
  const bits = 3, groups = 2, tokens = 3;
  const rng = new Rng(11);
  const codes = Array.from({ length: rows * cols }, () => Math.floor(rng.next() * 8));
  const zeros = Float32Array.from({ length: rows * groups }, (_, k) => k % 8);
  const s = Float32Array.from({ length: rows * groups }, (_, k) => 0.2 + 0.05 * k);
  const x = rng.normal(tokens * cols, 0, 1);
  const gy = rng.normal(tokens * rows, 0, 1);
  using layer = new E2eQpLinear(
    { codes: Tensor.fromArray(codes, [rows, cols], "u32"), zeros, scales: s },
    { bits },
  );
  using xt = Tensor.fromArray(x, [tokens, cols]);
  using seed = Tensor.fromArray(gy, [tokens, rows]);
  const { value, grads } = valueAndGrad(() => layer.forward(xt), layer.parameters(), { seed });
  // f(s) = Σ gy ⊙ (x · Ŵ(s)ᵀ), Ŵ = (q − z)·s, in f64
  const f = (sv: number[]) => {
    let acc = 0;
    for (let t = 0; t < tokens; t++) {
      for (let o = 0; o < rows; o++) {
        let d = 0;
        for (let c = 0; c < cols; c++) {
          const k = o * groups + Math.floor(c / (cols / groups));
          d += x[t * cols + c] * (codes[o * cols + c] - zeros[k]) * sv[k];
        }
        acc += gy[t * rows + o] * d;
      }
    }
    return acc;
  };
  const h = 1e-4;
  const fd = Array.from(s, (_, k) => {
    const up = Array.from(s), dn = Array.from(s);
    up[k] += h, dn[k] -= h;
    return (f(up) - f(dn)) / (2 * h);
  });
  assertClose(await grads.get("scale")!.data(), fd, { atol: 1e-3, rtol: 1e-4 }, "∂/∂s");
  value.dispose();
  for (const g of grads.values()) g.dispose();
});
