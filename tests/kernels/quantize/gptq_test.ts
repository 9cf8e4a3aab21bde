import { assert, assertEquals, assertThrows } from "@std/assert";
import { Tensor } from "../../../kernels/tensor.ts";
import { Rng } from "../../../kernels/random.ts";
import { diagonal, gptqColumns, setDiagonal } from "../../../kernels/quantize/gptq.ts";
import { decisionTable } from "../../../quant/table.ts";
import { elementFormat } from "../../../quant/quantizer.ts";
import { assertClose, gpuTest } from "../../_helpers.ts";
import { gptqColumnsRef } from "../../reference/gptq.ts";

/** An upper-triangular U with a positive diagonal, [n, n]. */
function upper(n: number, seed: number): Float32Array {
  const r = new Rng(seed).normal(n * n);
  const u = new Float32Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      u[i * n + j] = i === j ? 0.5 + Math.abs(r[i * n + j]) : 0.3 * r[i * n + j];
    }
  }
  return u;
}

gpuTest("gptqColumns: matches the f32 reference on odd shapes, partial column runs", async () => {
  const table = decisionTable(elementFormat("int3"));
  for (
    const [rows, n, block, cols] of [
      [1, 5, [0, 5], [0, 5]],
      [7, 13, [3, 11], [5, 9]],
      [65, 9, [0, 9], [0, 4]],
      [3, 1, [0, 1], [0, 1]],
    ] as [number, number, [number, number], [number, number]][]
  ) {
    const w = Float32Array.from(new Rng(rows + n).normal(rows * n));
    const u = upper(n, n);
    const groups = 2;
    const groupOf = Uint32Array.from({ length: n }, (_, j) => j % groups);
    const dec = Float32Array.from({ length: groups * rows }, (_, i) => 0.25 + (i % 5) * 0.1);
    using tw = Tensor.fromArray(w, [rows, n]);
    using tu = Tensor.fromArray(u, [n, n]);
    using tg = Tensor.fromArray(groupOf, [n], "u32");
    using td = Tensor.fromArray(dec);
    const out = gptqColumns({
      w: tw,
      u: tu,
      groupOf: tg,
      block,
      columns: cols,
      quant: { kind: "table", table, encode: td, decode: td, mode: "div" },
    });
    using _c = out.codes, _d = out.dequantized, _e = out.err;
    const wr = Float32Array.from(w);
    const ref = gptqColumnsRef(wr, u, rows, n, groupOf, dec, dec, table, block, cols);
    const codes = await out.codes.data(),
      vals = await out.dequantized.data(),
      err = await out.err.data();
    const wg = await tw.data();
    for (let r = 0; r < rows; r++) {
      for (let j = cols[0]; j < cols[1]; j++) {
        const i = r * n + j;
        assertEquals(codes[i], ref.codes[i], `${rows}×${n} code [${r}, ${j}]`);
        assertClose([vals[i], err[i]], [ref.values[i], ref.err[i]], { atol: 1e-6, rtol: 1e-5 });
      }
      // columns after the run inside the block are updated in place; others untouched
      for (let j = cols[1]; j < n; j++) {
        const i = r * n + j;
        if (j < block[1]) assertClose([wg[i]], [wr[i]], { atol: 1e-5, rtol: 1e-5 });
        else assertEquals(wg[i], w[i]);
      }
    }
  }
});

gpuTest("gptqColumns: a NaN stays in its row", async () => {
  const rows = 3, n = 6;
  const w = Float32Array.from(new Rng(1).normal(rows * n));
  w[1 * n + 2] = NaN;
  const u = upper(n, 2);
  using tw = Tensor.fromArray(w, [rows, n]);
  using tu = Tensor.fromArray(u, [n, n]);
  using tg = Tensor.fromArray(new Uint32Array(n), [n], "u32");
  using scale = Tensor.fromArray([0.3, 0.3, 0.3]);
  using zero = Tensor.fromArray([8, 8, 8]);
  const out = gptqColumns({
    w: tw,
    u: tu,
    groupOf: tg,
    block: [0, n],
    columns: [0, n],
    quant: { kind: "affine", qmin: 0, qmax: 15, bits: 4, scale, zero },
  });
  using _c = out.codes, _d = out.dequantized, e = out.err;
  const err = await e.data();
  for (let j = 0; j < n; j++) {
    assert(Number.isFinite(err[j]) && Number.isFinite(err[2 * n + j]), `rows 0 and 2, column ${j}`);
    assertEquals(Number.isNaN(err[n + j]), j >= 2, `row 1, column ${j}`);
  }
});

gpuTest("gptqColumns: rejects bad ranges and shapes; diagonal helpers", async () => {
  using w = Tensor.zeros([2, 4]);
  using u = Tensor.zeros([4, 4]);
  using g = Tensor.fromArray(new Uint32Array(4), [4], "u32");
  using s = Tensor.fromArray([1, 1]);
  const quant = { kind: "affine" as const, qmin: -8, qmax: 7, bits: 4, scale: s, zero: s };
  assertThrows(
    () => gptqColumns({ w, u, groupOf: g, block: [1, 3], columns: [0, 2], quant }),
    RangeError,
  );
  using u3 = Tensor.zeros([3, 3]);
  assertThrows(
    () => gptqColumns({ w, u: u3, groupOf: g, block: [0, 4], columns: [0, 4], quant }),
    RangeError,
  );
  using h = Tensor.fromArray([[1, 2, 3], [4, 5, 6], [7, 8, 9]]);
  setDiagonal(h, Float32Array.of(-1, NaN, 0.5));
  using d = diagonal(h);
  assertEquals(Array.from(await d.data()), [-1, NaN, 0.5]);
  assertEquals(Array.from(await h.data()).filter((_, i) => i % 4 !== 0), [2, 3, 4, 6, 7, 8]);
});
