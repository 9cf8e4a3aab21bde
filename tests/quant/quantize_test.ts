import { assert, assertEquals, assertLess, assertRejects, assertThrows } from "@std/assert";
import { Tensor } from "../../kernels/tensor.ts";
import { Rng } from "../../kernels/random.ts";
import {
  affineParams,
  e4m3,
  encodeAffine,
  encodeTernary,
  formats,
  int4,
  mxfp4 as mxfp4Ref,
  nf4 as nf4Ref,
  nvfp4Quantize,
  symmetricScale,
  uint4,
} from "../../quant/formats/mod.ts";
import {
  binary,
  fp,
  int,
  mxfp4,
  nf4,
  nvfp4,
  quantizer,
  ternary,
  withSettings,
} from "../../quant/quantizer.ts";
import { fakeQuant, quantizePass as quantize } from "../../quant/quantize.ts";
import { dequantizeCodes } from "../../quant/weight.ts";
import { gpuTest } from "../_helpers.ts";

const f = Math.fround;
const f16 = (x: number) => Float16Array.of(x)[0];

// A weight with odd row count, an all-zero row, an outlier and exact ties for rounding.
function weight(rows: number, cols: number, seed: number): Float32Array {
  const w = new Rng(seed).normal(rows * cols, 0, 0.05);
  w.fill(0, 2 * cols, 3 * cols); // row 2 is all zero
  w[5] = 3; // one outlier
  return w;
}

function bytesEqual(a: ArrayLike<number>, b: ArrayLike<number>, what: string) {
  for (let i = 0; i < b.length; i++) {
    if (!Object.is(a[i], b[i]) && !(a[i] === 0 && b[i] === 0)) {
      throw new Error(`${what}: differs at ${i}: got ${a[i]}, reference ${b[i]}`);
    }
  }
}

gpuTest("int4 group-32 symmetric: codes equal the reference bit for bit", async () => {
  const [rows, cols] = [5, 96];
  const w = weight(rows, cols, 1);
  using t = Tensor.fromArray(w, [rows, cols]);
  using q = await quantize(int(4, { group: 32 }), t);
  const codes = await q.codes.data();
  const deq = await q.dequantized.data();
  for (let g = 0; g < rows * 3; g++) {
    const seg = w.subarray(g * 32, (g + 1) * 32);
    const amax = seg.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
    const s = amax === 0 ? 1 : f16(symmetricScale(amax, int4));
    assertEquals(q.scales[g], s, `scale of group ${g}`);
    for (let i = 0; i < 32; i++) {
      const c = int4.encode(f(seg[i] / s));
      assertEquals(codes[g * 32 + i], c, `code ${g * 32 + i}`);
      assertEquals(deq[g * 32 + i], f(int4.decode(c) * s));
    }
  }
  using again = dequantizeCodes(q.codes, q);
  bytesEqual(await again.data(), deq, "dequantize");
});

gpuTest("uint4 asymmetric per channel: codes and zero points equal the reference", async () => {
  const [rows, cols] = [3, 40];
  const w = weight(rows, cols, 2).map((v) => v + 0.03);
  using t = Tensor.fromArray(w, [rows, cols]);
  using q = await quantize(int(4, { symmetric: false }), t);
  const codes = await q.codes.data();
  for (let r = 0; r < rows; r++) {
    const seg = w.subarray(r * cols, (r + 1) * cols);
    const { scale, zero } = affineParams(Math.min(...seg), Math.max(...seg), uint4);
    const s = f16(scale);
    assertEquals(q.zeros![r], zero);
    for (let i = 0; i < cols; i++) {
      assertEquals(codes[r * cols + i], encodeAffine(seg[i], s, zero, uint4), `code [${r},${i}]`);
    }
  }
  using again = dequantizeCodes(q.codes, q);
  bytesEqual(await again.data(), await q.dequantized.data(), "dequantize");
});

gpuTest("MXFP4 and NF4 equal their block-format references", async () => {
  const [rows, cols] = [3, 128];
  const w = weight(rows, cols, 3);
  using t = Tensor.fromArray(w, [rows, cols]);
  using q = await quantize(mxfp4(), t);
  const ref = mxfp4Ref.quantize(w);
  bytesEqual(await q.codes.data(), ref.codes, "mxfp4 codes");
  bytesEqual(q.scaleCodes!, ref.scales, "mxfp4 e8m0 scales");
  bytesEqual(await q.dequantized.data(), mxfp4Ref.dequantize(ref), "mxfp4 values");

  using n = await quantize(nf4(), t);
  const nref = nf4Ref.quantize(w);
  bytesEqual(await n.codes.data(), nref.codes, "nf4 codes");
  bytesEqual(await n.dequantized.data(), nf4Ref.dequantize(nref), "nf4 values");
});

gpuTest("NVFP4 equals its reference: codes, E4M3 block scales, tensor scale, values", async () => {
  const [rows, cols] = [4, 48];
  const w = weight(rows, cols, 4);
  using t = Tensor.fromArray(w, [rows, cols]);
  using q = await quantize(nvfp4(), t);
  const ref = nvfp4Quantize(w);
  bytesEqual(await q.codes.data(), ref.codes, "nvfp4 codes");
  bytesEqual(q.scaleCodes!, ref.scales, "nvfp4 block scales");
  assertEquals(q.tensorScale, ref.tensorScale);
  const deq = await q.dequantized.data();
  for (let i = 0; i < w.length; i++) {
    const v = f(
      f(formats.e2m1.values[ref.codes[i]] * e4m3.decode(ref.scales[Math.floor(i / 16)])) *
        ref.tensorScale!,
    );
    assertEquals(deq[i], v, `value ${i}`);
  }
});

gpuTest("ternary, binary, e4m3 and log2 formats round like their references", async () => {
  const [rows, cols] = [3, 64];
  const w = weight(rows, cols, 5);
  using t = Tensor.fromArray(w, [rows, cols]);
  using tq = await quantize(ternary(), t);
  const gamma = w.reduce((a, v) => a + Math.abs(v), 0) / w.length;
  assert(Math.abs(tq.scales[0] - gamma) <= 1e-6 * gamma, `absmean ${tq.scales[0]} vs ${gamma}`);
  const tc = await tq.codes.data();
  for (let i = 0; i < w.length; i++) {
    assertEquals(tc[i], encodeTernary(w[i], tq.scales[0]), `trit ${i}`);
  }

  using bq = await quantize(binary({ per: "channel" }), t);
  const bc = await bq.codes.data();
  for (let i = 0; i < w.length; i++) assertEquals(bc[i], w[i] < 0 ? 1 : 0, `sign ${i}`);
  assertEquals(bq.scales[2], 0); // the all-zero row: α = 0, a defined scale
  const bd = await bq.dequantized.data();
  assertEquals(Array.from(bd.subarray(2 * cols, 3 * cols)).every((v) => v === 0), true);

  for (const name of ["e4m3", "log2_4", "logsqrt2_4_lin", "dint4", "e3m2"]) {
    using q = await quantize(fp(name, { scale: "f32" }), t);
    const fmt = formats[name];
    const codes = await q.codes.data();
    for (let r = 0; r < rows; r++) {
      const s = q.scales[r];
      for (let i = 0; i < cols; i++) {
        assertEquals(
          codes[r * cols + i],
          fmt.encode(f(w[r * cols + i] / s)),
          `${name} [${r},${i}]`,
        );
      }
    }
  }
});

gpuTest("per input channel scales run along columns", async () => {
  const w = weight(6, 10, 6);
  using t = Tensor.fromArray(w, [6, 10]);
  using q = await quantize(int(8, { per: "channel-in" }), t);
  assertEquals(q.scales.length, 10);
  const deq = await q.dequantized.data();
  for (let c = 0; c < 10; c++) {
    let amax = 0;
    for (let r = 0; r < 6; r++) amax = Math.max(amax, Math.abs(w[r * 10 + c]));
    for (let r = 0; r < 6; r++) assert(Math.abs(deq[r * 10 + c] - w[r * 10 + c]) <= amax / 127);
  }
  using again = dequantizeCodes(q.codes, q);
  bytesEqual(await again.data(), deq, "dequantize");
});

gpuTest("stochastic rounding is unbiased and reproducible with its seed", async () => {
  const n = 20000;
  const x = new Float32Array(n).fill(0.3); // between int grid points 0 and 1 after scale 1
  x[0] = 7; // sets the scale: amax 7 → scale 1 for int4
  using t = Tensor.fromArray(x, [1, n]);
  const q = int(4, { per: "tensor", rounding: { kind: "stochastic", seed: 42 }, scale: "f32" });
  using a = await quantize(q, t);
  using b = await quantize(q, t);
  using c = await quantize(withSettings(q, { rounding: { kind: "stochastic", seed: 43 } }), t);
  const da = await a.dequantized.data();
  assertEquals(da, await b.dequantized.data());
  assert(String(da) !== String(await c.dequantized.data()), "a different seed gives other draws");
  let mean = 0;
  for (let i = 1; i < n; i++) mean += da[i] / (n - 1);
  // Bernoulli(0.3): std of the mean = sqrt(0.21 / n) ≈ 0.0032; allow 5 σ
  assertLess(Math.abs(mean - 0.3), 0.017, `mean of stochastic rounding ${mean}`);
});

gpuTest("range settings: MSE clipping beats min-max on heavy tails; percentile clips", async () => {
  const rng = new Rng(9);
  const [rows, cols] = [4, 256];
  const w = rng.normal(rows * cols);
  for (let i = 0; i < w.length; i += 61) w[i] *= 8; // heavy tail
  using t = Tensor.fromArray(w, [rows, cols]);
  const err = async (q: ReturnType<typeof int>) => {
    using y = await fakeQuant(q, t);
    const d = await y.data() as Float32Array;
    return d.reduce((s, v, i) => s + (v - w[i]) ** 2, 0);
  };
  const minmax = await err(int(3));
  const mse = await err(int(3, { range: { kind: "mse", grid: 40, minRatio: 0.2 } }));
  console.log(
    `int3 per-channel squared error: min-max ${minmax.toFixed(2)}, mse-clip ${mse.toFixed(2)}`,
  );
  assertLess(mse, minmax);
  using p = await quantize(int(8, { range: { kind: "percentile", p: 99 } }), t);
  const amax0 = Math.max(...w.subarray(0, cols).map(Math.abs));
  assertLess(p.scales[0] * 127, amax0);
});

gpuTest(
  "bad input: NaN names the element, a group that does not divide says how to fix it",
  async () => {
    const w = new Float32Array(64).fill(0.1);
    w[37] = NaN;
    using t = Tensor.fromArray(w, [2, 32]);
    await assertRejects(
      () => quantize(int(4), t, { name: "w" }),
      RangeError,
      "w: element [1, 5] is NaN",
    );
    using u = Tensor.fromArray(new Float32Array(60), [2, 30]);
    await assertRejects(
      () => quantize(int(4, { group: 32 }), u),
      RangeError,
      "not a multiple of the group size 32",
    );
    assertThrows(() => quantizer("e2m1", { symmetric: false }), RangeError, "integer format");
  },
);

gpuTest(
  "an f16 scale that would overflow fails naming the tensor, the group and the fix",
  async () => {
    // int4: qmax 7, so a group whose largest value exceeds 65504 · 7 needs an f16 scale above
    // 65504, which rounds to +Inf: the group would decode to NaN.
    const w = Float32Array.from({ length: 16 }, (_, i) => (i % 5) - 2);
    w[9] = 1e6;
    using t = Tensor.fromArray(w, [2, 8]);
    for (
      const run of [
        () => quantize(int(4, { group: 4 }), t, { name: "big" }),
        () => fakeQuant(int(4, { group: 4 }), t, { name: "big" }),
      ]
    ) {
      const e = await assertRejects(run, RangeError);
      for (const part of ["big", "group 2", "row 1, columns 0–3", "1000000", 'scale: "f32"']) {
        assert(e.message.includes(part), `"${part}" missing from: ${e.message}`);
      }
    }
    // asymmetric: (max − min) / 15 above 65504
    const e = await assertRejects(
      () => quantize(int(4, { per: "channel", symmetric: false }), t, { name: "big" }),
      RangeError,
    );
    assert(e.message.includes("row 1") && e.message.includes("[-2, 1000000]"), e.message);
    // f32 scales hold it, and every value decodes to a finite number close to the input
    using ok = await fakeQuant(int(4, { group: 4, scale: "f32" }), t);
    const y = await ok.data();
    assert(y.every(Number.isFinite));
    assertEquals(y[9], 1e6);
    // the edge: a scale just inside f16 still works
    const edge = new Float32Array(8).fill(1);
    edge[0] = 65504 * 7;
    using te = Tensor.fromArray(edge, [1, 8]);
    using ye = await fakeQuant(int(4), te);
    assertEquals((await ye.data())[0], 65504 * 7);
  },
);

gpuTest("NaN past element 2²⁴ of a large tensor is named at its exact place", async () => {
  // f32 holds every integer only up to 2²⁴: index 16 793 599 would round to 16 793 600,
  // one past the last element
  const rows = 4100, cols = 4096;
  const w = new Float32Array(rows * cols).fill(0.5);
  w[rows * cols - 1] = NaN;
  using t = Tensor.fromArray(w, [rows, cols]);
  await assertRejects(
    () => quantize(int(8), t, { name: "big" }),
    RangeError,
    "big: element [4099, 4095] is NaN",
  );
});
