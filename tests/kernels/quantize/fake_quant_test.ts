import { assert, assertEquals } from "@std/assert";
import { Tensor } from "../../../kernels/tensor.ts";
import { fakeQuantRows } from "../../../kernels/quantize/fake_quant.ts";
import { gpuTest } from "../../_helpers.ts";
import { fakeQuantRowsRef } from "../../reference/quantize.ts";
import { data, int4Table } from "./_tables.ts";

for (const [rows, cols] of [[1, 1], [3, 130], [5, 7]]) {
  gpuTest(`fakeQuantRows [${rows}, ${cols}]: bit-exact with the reference`, async () => {
    const table = int4Table();
    const x = data(rows * cols, cols, cols); // the first row is all zeros: it stays zero
    if (rows > 1) x.fill(0.5, cols, cols + 1);
    using xt = Tensor.fromArray(x, [rows, cols]);
    using y = fakeQuantRows(xt, { table, maxValue: 7, clipRatio: 0.9 });
    assertEquals(await y.data(), fakeQuantRowsRef(x, cols, { table, maxValue: 7, clipRatio: 0.9 }));
  });
}

gpuTest("fakeQuantRows: a NaN element stays NaN", async () => {
  using x = Tensor.fromArray([[1, NaN, -2, 3]]);
  using y = fakeQuantRows(x, { table: int4Table(), maxValue: 7 });
  const d = await y.data();
  assert(Number.isNaN(d[1]));
});
