import { assert, assertEquals } from "@std/assert";
import { Tensor } from "../../../kernels/tensor.ts";
import { affineQuantize } from "../../../kernels/quantize/affine.ts";
import { gpuTest } from "../../_helpers.ts";
import { affineQuantizeRef } from "../../reference/quantize.ts";
import { data } from "./_tables.ts";

for (
  const [rows, cols, gs, bits, qmin, qmax] of [[3, 10, 5, 4, 0, 15], [1, 9, 9, 3, -4, 3], [
    4,
    66,
    33,
    8,
    -128,
    127,
  ]]
) {
  gpuTest(
    `affineQuantize [${rows}, ${cols}] g${gs} int${bits}: bit-exact with the reference`,
    async () => {
      const x = data(rows * cols, cols, 2);
      x[5] = 0.25; // exact ties round half to even
      x[6] = 0.75;
      const groups = (rows * cols) / gs;
      const scale = Float32Array.from({ length: groups }, (_, g) => 0.5 + g / 7);
      const zero = Float32Array.from({ length: groups }, (_, g) => (qmin === 0 ? 7 + g : 0));
      if (groups) scale[0] = 0.5;
      using xt = Tensor.fromArray(x, [rows, cols]);
      using s = Tensor.fromArray(scale);
      using z = Tensor.fromArray(zero);
      const o = { groupSize: gs, bits, qmin, qmax };
      const q = affineQuantize(xt, { ...o, scale: s, zero: z });
      using codes = q.codes;
      using deq = q.dequantized;
      const ref = affineQuantizeRef(x, { ...o, scale, zero });
      assertEquals(await codes.data(), ref.codes);
      assertEquals(await deq.data(), ref.dequantized);
    },
  );
}

gpuTest("affineQuantize: a NaN input still gives a code inside the bit width", async () => {
  using x = Tensor.fromArray([NaN, 1, 0, -1]);
  using s = Tensor.fromArray([1]);
  using z = Tensor.fromArray([0]);
  const q = affineQuantize(x, { groupSize: 4, bits: 4, qmin: -8, qmax: 7, scale: s, zero: z });
  using codes = q.codes;
  q.dequantized.dispose();
  const c = await codes.data();
  assert(c.every((v) => v <= 15), `codes ${c}`);
  assertEquals([...c.slice(1)], [1, 0, 15]);
});
