import { assertEquals, assertThrows } from "@std/assert";
import { Tensor } from "../../../kernels/tensor.ts";
import { Rng } from "../../../kernels/random.ts";
import { gemm, gemmTuning, linear, matmul } from "../../../kernels/ops/matmul.ts";
import { assertClose, gpuTest, roundF16 } from "../../_helpers.ts";
import { linearRef, matmulRef } from "../../reference/matmul.ts";

const prod = (s: number[]) => s.reduce((a, b) => a * b, 1);

// f32: K ≤ 300 products of N(0,1) values; f32 accumulation error ~ √K·2⁻²⁴·|terms|.
const F32_TOL = { atol: 1e-4, rtol: 1e-4 };

gpuTest(
  "matmul f32 matches the reference on odd shapes, all transposes, both tile sizes",
  async () => {
    // [shape, transposes to try]: ragged shapes on the scalar paths, multiples of 4 on vec4
    const cases: [[number, number, number], [boolean, boolean][]][] = [
      [[1, 1, 1], [[false, false]]],
      [[1, 7, 5], [[false, true]]],
      [[7, 1, 5], [[true, false]]],
      [[5, 3, 1], [[false, false]]],
      [[33, 65, 17], [[false, false], [false, true], [true, false], [true, true]]],
      [[8, 12, 16], [[false, false], [false, true], [true, false], [true, true]]],
    ];
    for (const [[M, N, K], trans] of cases) {
      for (const [transA, transB] of trans) {
        const rng = new Rng(M * 1000 + N * 10 + K);
        const sa = transA ? [K, M] : [M, K], sb = transB ? [N, K] : [K, N];
        const a = rng.normal(M * K), b = rng.normal(K * N);
        using ta = Tensor.fromArray(a, sa);
        using tb = Tensor.fromArray(b, sb);
        using c = matmul(ta, tb, { transA, transB });
        const ref = matmulRef({ data: a, shape: sa }, { data: b, shape: sb }, { transA, transB });
        assertEquals(c.shape, ref.shape);
        assertClose(
          await c.data(),
          ref.data,
          F32_TOL,
          `[${M},${N},${K}] tA=${transA} tB=${transB}`,
        );
      }
    }
    // the 128×128 configuration (8×8 per thread) on a ragged shape
    const saved = gemmTuning.bigTiles;
    gemmTuning.bigTiles = 1;
    try {
      for (const [M, N, K] of [[131, 129, 20]]) {
        const rng = new Rng(5);
        const a = rng.normal(M * K), b = rng.normal(K * N);
        using ta = Tensor.fromArray(a, [M, K]);
        using tb = Tensor.fromArray(b, [N, K]);
        using c = matmul(ta, tb, { transB: true });
        const ref = matmulRef({ data: a, shape: [M, K] }, { data: b, shape: [N, K] }, {
          transB: true,
        });
        assertClose(await c.data(), ref.data, F32_TOL, `128-tile [${M},${N},${K}]`);
      }
    } finally {
      gemmTuning.bigTiles = saved;
    }
  },
);

gpuTest("batched matmul, with a 2-D operand broadcast over the batch", async () => {
  const cases: [number[], number[], boolean, boolean][] = [
    [[3, 5, 7], [3, 7, 4], false, false],
    [[3, 5, 7], [7, 4], false, false],
    [[5, 7], [2, 9, 7], false, true],
    [[2, 7, 5], [2, 9, 7], true, true],
  ];
  for (const [sa, sb, transA, transB] of cases) {
    const rng = new Rng(9);
    const a = rng.normal(prod(sa)), b = rng.normal(prod(sb));
    using ta = Tensor.fromArray(a, sa);
    using tb = Tensor.fromArray(b, sb);
    using c = matmul(ta, tb, { transA, transB });
    const ref = matmulRef({ data: a, shape: sa }, { data: b, shape: sb }, { transA, transB });
    assertEquals(c.shape, ref.shape);
    assertClose(await c.data(), ref.data, F32_TOL, `[${sa}]·[${sb}]`);
  }
});

gpuTest("matmul f16 accumulates in f32 and rounds once (f16 or f32 output)", async () => {
  for (const [M, N, K] of [[9, 12, 40], [9, 13, 37], [1, 8, 3]]) {
    const rng = new Rng(M + N + K);
    const a = roundF16(rng.normal(M * K)), b = roundF16(rng.normal(K * N));
    using ta = Tensor.fromArray(a, [M, K], "f16");
    using tb = Tensor.fromArray(b, [K, N], "f16");
    const ref = matmulRef({ data: a, shape: [M, K] }, { data: b, shape: [K, N] }).data;
    using c16 = matmul(ta, tb);
    assertEquals(c16.dtype, "f16");
    // f32 accumulation then one rounding: within one f16 ulp (2⁻¹⁰ relative) of the exact value
    assertClose(
      await c16.data(),
      roundF16(ref),
      { atol: 1e-3, rtol: 2 ** -10 },
      `f16 [${M},${N},${K}]`,
    );
    using c32 = matmul(ta, tb, { outDType: "f32" });
    assertEquals(c32.dtype, "f32");
    assertClose(await c32.data(), ref, F32_TOL, `f16→f32 [${M},${N},${K}]`);
  }
  // overflow rounds to ±Inf exactly like IEEE
  using big = Tensor.fromArray([300, 300], [1, 2], "f16");
  using y = matmul(big, Tensor.fromArray([300, 300], [2, 1], "f16"));
  assertEquals(Array.from(await y.data()), [Infinity]);
});

gpuTest("a NaN in row i of A poisons row i of the product only", async () => {
  for (const [M, N, K] of [[6, 9, 5], [8, 16, 8]]) {
    const rng = new Rng(2);
    const a = rng.normal(M * K), b = rng.normal(K * N);
    a[2 * K + 1] = NaN;
    using ta = Tensor.fromArray(a, [M, K]);
    using tb = Tensor.fromArray(b, [N, K]);
    using c = matmul(ta, tb, { transB: true });
    const d = await c.data();
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        assertEquals(Number.isNaN(d[i * N + j]), i === 2, `element (${i}, ${j})`);
      }
    }
    using y = linear(ta.reshape([M, K]), tb); // GEMV path for M ≤ 8
    const e = await y.data();
    for (let i = 0; i < M; i++) assertEquals(Number.isNaN(e[i * N]), i === 2, `linear row ${i}`);
  }
});

const LINEAR_CASES: [number[], number, number][] = [
  [[1], 37, 11],
  [[2, 4], 40, 20],
  [[5, 7], 33, 9],
];

gpuTest(
  "linear = x·wᵀ + bias: GEMV (≤ 8 rows) and tiled paths, f32 and f16, leading dims",
  async () => {
    for (const dtype of ["f32", "f16"] as const) {
      for (
        const [lead, inF, outF] of LINEAR_CASES
      ) {
        const rows = prod(lead);
        const rng = new Rng(rows * 100 + inF);
        const rnd = (n: number) => (dtype === "f16" ? roundF16(rng.normal(n)) : rng.normal(n));
        const x = rnd(rows * inF), w = rnd(outF * inF), bias = rnd(outF);
        using tx = Tensor.fromArray(x, [...lead, inF], dtype);
        using tw = Tensor.fromArray(w, [outF, inF], dtype);
        using tbias = Tensor.fromArray(bias, [outF], dtype);
        using y = linear(tx, tw, tbias);
        assertEquals(y.shape, [...lead, outF]);
        const ref = linearRef(x, w, bias, rows, inF, outF);
        const tol = dtype === "f32" ? F32_TOL : { atol: 2e-3, rtol: 2 ** -10 };
        assertClose(
          await y.data(),
          dtype === "f16" ? roundF16(ref) : ref,
          tol,
          `${dtype} [${lead}]`,
        );
        using y2 = linear(tx, tw);
        assertClose(await y2.data(), linearRef(x, w, undefined, rows, inF, outF), {
          atol: dtype === "f32" ? 1e-4 : 2e-2,
          rtol: dtype === "f32" ? 1e-4 : 2e-3,
        }, `${dtype} no bias [${lead}]`);
      }
    }
  },
);

gpuTest("gemm works on strided sub-matrices in place (C -= A·Bᵀ)", async () => {
  // one 10×10 buffer: C = rows 4..9, cols 3..8; A = rows 0..5, cols 0..2; B = rows 0..4 of cols 0..2
  const n = 10;
  const buf = new Rng(3).normal(n * n);
  using t = Tensor.fromArray(buf, [n, n]);
  gemm({
    a: { buffer: t.buffer, offset: 0, ld: n },
    b: { buffer: t.buffer, offset: 0, ld: n, trans: true },
    c: { buffer: t.buffer, offset: 4 * n + 3, ld: n },
    M: 6,
    N: 5,
    K: 3,
    alpha: -1,
    accumulate: true,
  });
  const want = Float64Array.from(buf);
  for (let i = 0; i < 6; i++) {
    for (let j = 0; j < 5; j++) {
      let s = 0;
      for (let k = 0; k < 3; k++) s += buf[i * n + k] * buf[j * n + k];
      want[(4 + i) * n + 3 + j] -= s;
    }
  }
  assertClose(await t.data(), want, F32_TOL, "in-place gemm");
});

gpuTest("matmul and linear say what is wrong", () => {
  using a = Tensor.zeros([2, 3]);
  using b = Tensor.zeros([4, 5]);
  assertThrows(() => matmul(a, b), RangeError, "inner dimensions differ");
  using h = Tensor.zeros([3, 2], "f16");
  assertThrows(() => matmul(a, h), TypeError, "dtypes differ");
  using i = Tensor.zeros([3, 2], "i32");
  assertThrows(() => matmul(a, i), TypeError, "expected f32 or f16");
  using v = Tensor.zeros([3]);
  assertThrows(() => matmul(a, v), RangeError, "rank 1");
  using w = Tensor.zeros([4, 2]);
  assertThrows(() => linear(a, w), RangeError, "expects 2");
  using w3 = Tensor.zeros([4, 3]);
  using bias = Tensor.zeros([3]);
  assertThrows(() => linear(a, w3, bias), RangeError, "4 elements");
  using z = matmul(Tensor.zeros([0, 3]), Tensor.zeros([3, 2]));
  assertEquals(z.shape, [0, 2]);
});
