import { assert, assertEquals, assertRejects } from "@std/assert";
import { Tensor } from "../../../kernels/tensor.ts";
import { Rng } from "../../../kernels/random.ts";
import { int, type Quantizer } from "../../../quant/quantizer.ts";
import { quantizePass as quantize } from "../../../quant/quantize.ts";
import { gptq } from "../../../quant/methods/gptq.ts";
import { gpuTest } from "../../_helpers.ts";
import { gptqRef, type IntSpec } from "../../reference/gptq.ts";

/** Correlated inputs X = Z·M ([tokens, n]) and H = 2/tokens · XᵀX, rounded to f32. */
function correlated(n: number, tokens: number, seed: number) {
  const rng = new Rng(seed);
  const z = rng.normal(tokens * n);
  const m = rng.normal(n * n);
  const x = new Float64Array(tokens * n);
  for (let t = 0; t < tokens; t++) {
    for (let j = 0; j < n; j++) {
      // each input mixes itself strongly with its neighbours; channel scales vary 0.3–3
      let s = 3 * z[t * n + j];
      for (let k = 0; k < 4; k++) s += m[j * n + k] * z[t * n + ((j + k + 1) % n)];
      x[t * n + j] = s * (0.3 + 2.7 * ((j * 7) % n) / n);
    }
  }
  const h = new Float32Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let t = 0; t < tokens; t++) s += x[t * n + i] * x[t * n + j];
      h[i * n + j] = (2 / tokens) * s;
    }
  }
  return { x: Float32Array.from(x), h };
}

function spec(q: Quantizer, n: number): IntSpec {
  const g = q.granularity.kind === "group" ? q.granularity.size : n;
  return { bits: Number(/\d+/.exec(q.format)![0]), symmetric: q.symmetric, group: g };
}

const CASES: { rows: number; n: number; q: Quantizer; block: number }[] = [
  { rows: 7, n: 40, q: int(4), block: 16 },
  { rows: 7, n: 40, q: int(3, { group: 8, symmetric: false }), block: 16 },
  { rows: 33, n: 96, q: int(4, { group: 32 }), block: 16 },
  { rows: 33, n: 96, q: int(3, { group: 32, symmetric: false }), block: 16 },
  { rows: 1, n: 24, q: int(2, { group: 12 }), block: 5 }, // blocks cut at group starts
];

gpuTest("gptq: blocked GPU codes equal the column-by-column f64 reference", async () => {
  for (const { rows, n, q, block } of CASES) {
    const w = new Rng(rows * n).normal(rows * n);
    const { h } = correlated(n, 4 * n, n);
    using tw = Tensor.fromArray(Float32Array.from(w), [rows, n]);
    using th = Tensor.fromArray(h, [n, n]);
    for (const actOrder of [false, true]) {
      for (const staticGroups of [false, true]) {
        const ref = gptqRef(Float32Array.from(w), h, rows, n, spec(q, n), {
          actOrder,
          staticGroups,
        });
        using got = await gptq(tw, th, q, { blockSize: block, actOrder, staticGroups });
        const codes = await got.unpackCodes();
        const what = `${rows}×${n} ${q.format} g${spec(q, n).group} B${block} act=${actOrder} ` +
          `static=${staticGroups}`;
        let diff = 0;
        for (let i = 0; i < codes.length; i++) if (codes[i] !== ref.codes[i]) diff++;
        assertEquals(diff, 0, `${what}: ${diff} of ${codes.length} codes differ`);
        const deq = await got.dequantized.data();
        for (let i = 0; i < deq.length; i++) {
          assert(Math.abs(deq[i] - ref.values[i]) <= 1e-6 * Math.abs(ref.values[i]), what);
        }
        assert(Math.abs(got.stats.loss - ref.loss) <= 1e-3 * ref.loss + 1e-9, `${what}: loss`);
        // the kept codes and scales decode to Ŵ exactly (act-order + dynamic groups: via g_idx)
        using again = await got.dequantize();
        assertEquals(await again.data(), deq, `${what}: codes dequantize to Ŵ`);
      }
    }
  }
});

gpuTest("gptq: with H = I it is round-to-nearest, bit for bit", async () => {
  for (
    const q of [int(4, { group: 16 }), int(3, { symmetric: false }), int(4, { per: "tensor" })]
  ) {
    const n = 48, rows = 9;
    using w = Tensor.randn([rows, n], { seed: 11 });
    using h = Tensor.fromArray(
      Float32Array.from({ length: n * n }, (_, i) => i % (n + 1) === 0 ? 1 : 0),
      [n, n],
    );
    using rtn = await quantize(q, w);
    for (const actOrder of [false, true]) {
      using g = await gptq(w, h, q, { blockSize: 16, actOrder });
      assertEquals(Array.from(await g.unpackCodes()), Array.from(await rtn.codes.data()));
      assertEquals(await g.dequantized.data(), await rtn.dequantized.data());
      assertEquals(g.scales, rtn.scales);
    }
  }
});

gpuTest("gptq: ‖(W − Q)X‖ is lower than round-to-nearest's on correlated inputs", async () => {
  const rows = 16, n = 64, tokens = 256;
  const { x, h } = correlated(n, tokens, 5);
  using w = Tensor.randn([rows, n], { seed: 2 });
  using th = Tensor.fromArray(h, [n, n]);
  const wd = await w.data();
  const outErr = (qd: ArrayLike<number>) => {
    let e = 0;
    for (let t = 0; t < tokens; t++) {
      for (let r = 0; r < rows; r++) {
        let s = 0;
        for (let j = 0; j < n; j++) s += (wd[r * n + j] - qd[r * n + j]) * x[t * n + j];
        e += s * s;
      }
    }
    return Math.sqrt(e);
  };
  for (const q of [int(4, { group: 16 }), int(3, { group: 16 }), int(2, { group: 32 })]) {
    using rtn = await quantize(q, w);
    using g = await gptq(w, th, q, { blockSize: 16 });
    const eR = outErr(await rtn.dequantized.data());
    const eG = outErr(await g.dequantized.data());
    assert(eG < 0.9 * eR, `${q.format}: GPTQ ${eG.toFixed(3)} vs RTN ${eR.toFixed(3)}`);
  }
});

gpuTest("gptq: dead inputs are zeroed; bad inputs get clear errors", async () => {
  const rows = 3, n = 8;
  using w = Tensor.randn([rows, n], { seed: 1 });
  const hd = new Float32Array(n * n);
  for (let i = 0; i < n; i++) hd[i * n + i] = i === 2 ? 0 : 1 + i;
  using h = Tensor.fromArray(hd, [n, n]);
  using g = await gptq(w, h, int(4), { actOrder: true });
  assertEquals(g.stats.deadColumns, 1);
  const d = await g.dequantized.data();
  for (let r = 0; r < rows; r++) assertEquals(d[r * n + 2], 0);
  using wn = Tensor.fromArray(
    Float32Array.from({ length: rows * n }, (_, i) => (i === 5 ? NaN : 1)),
    [rows, n],
  );
  await assertRejects(() => gptq(wn, h, int(4)), RangeError, "NaN");
  using hn = Tensor.fromArray(Float32Array.from(hd, (v, i) => (i === 9 ? NaN : v)), [n, n]);
  await assertRejects(() => gptq(w, hn, int(4)), RangeError, "diagonal");
  using hneg = Tensor.fromArray(Float32Array.from(hd, (v, i) => (i === 9 ? -50 : v)), [n, n]);
  await assertRejects(() => gptq(w, hneg, int(4)), RangeError, "positive definite");
  await assertRejects(() => gptq(w, h, int(4, { group: 3 })), RangeError, "divide");
});
