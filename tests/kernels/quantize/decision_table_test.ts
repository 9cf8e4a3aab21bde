import { assertEquals } from "@std/assert";
import { Tensor } from "../../../kernels/tensor.ts";
import { tableDequantize, tableQuantize } from "../../../kernels/quantize/decision_table.ts";
import { gpuTest } from "../../_helpers.ts";
import { tableDequantizeRef, tableQuantizeRef } from "../../reference/quantize.ts";
import { data, int4Table } from "./_tables.ts";

// Codes and values must be bit-identical: the kernel does the reference's f32 operations.
for (
  const [rows, cols, gs, mode] of [[3, 10, 5, "div"], [1, 7, 7, "mul"], [5, 96, 32, "div"]] as const
) {
  gpuTest(
    `tableQuantize ${mode} [${rows}, ${cols}] g${gs}: bit-exact with the reference`,
    async () => {
      const table = int4Table();
      const x = data(rows * cols, rows + cols, 3);
      x[4] = NaN;
      x[rows * cols - 1] = -Infinity;
      const groups = (rows * cols) / gs;
      const enc = Float32Array.from(
        { length: groups },
        (_, g) => (g % 3 === 2 ? 0.5 : 0.7 + g / 10),
      );
      const dec = Float32Array.from(enc, (e) => (mode === "div" ? e : 1 / e));
      using xt = Tensor.fromArray(x, [rows, cols]);
      using encT = Tensor.fromArray(enc);
      using decT = Tensor.fromArray(dec);
      const o = { groupSize: gs, table, encode: encT, mode, decode: decT, decode2: 0.75 } as const;
      const q = tableQuantize(xt, o);
      using codes = q.codes;
      using deq = q.dequantized;
      const ref = tableQuantizeRef(x, { ...o, encode: enc, decode: dec });
      assertEquals(await codes.data(), ref.codes);
      assertEquals(await deq.data(), ref.dequantized);
      using back = tableDequantize(codes, {
        groupSize: gs,
        byCode: table.byCode,
        decode: decT,
        decode2: 0.75,
      });
      assertEquals(await back.data(), ref.dequantized);
      using zero = Tensor.fromArray(Float32Array.from({ length: groups }, (_, g) => g % 4));
      using affine = tableDequantize(codes, {
        groupSize: gs,
        byCode: table.byCode,
        decode: decT,
        zero,
      });
      const zr = tableDequantizeRef(ref.codes, {
        groupSize: gs,
        byCode: table.byCode,
        decode: dec,
        zero: await zero.data() as Float32Array,
      });
      assertEquals(await affine.data(), zr);
    },
  );
}
