import { QuantLinear } from "../../../quant/linear.ts";
import { assert, assertEquals, assertThrows } from "@std/assert";
import { Tensor } from "../../../kernels/tensor.ts";
import { Rng } from "../../../kernels/random.ts";
import { linear } from "../../../kernels/ops/matmul.ts";
import { int } from "../../../quant/quantizer.ts";
import { kernelFraction } from "../../../quant/metrics.ts";
import { crossQuantize, perTokenQuantize } from "../../../quant/methods/crossquant.ts";
import { assertClose, gpuTest } from "../../_helpers.ts";

const f = Math.fround;

/** Pure-TS CrossQuant: Δ_ij = t_i^α c_j^(1−α) / qmax, round half to even, NaN kept in place. */
function reference(
  x: number[][],
  bits: number,
  alpha: number,
): { y: number[][]; step: number[][] } {
  const qmax = 2 ** (bits - 1) - 1;
  const clean = x.map((r) => r.map((v) => (Number.isNaN(v) ? 0 : v)));
  const t = clean.map((r) => Math.max(...r.map(Math.abs)));
  const c = clean[0].map((_, j) => Math.max(...clean.map((r) => Math.abs(r[j]))));
  const step = clean.map((_, i) =>
    clean[0].map((_, j) =>
      f(f(Math.max(t[i], 1e-30) ** alpha / qmax) * f(Math.max(c[j], 1e-30) ** (1 - alpha)))
    )
  );
  const rne = (v: number) => {
    const r = Math.round(v);
    return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
  };
  const y = x.map((r, i) =>
    r.map((v, j) => {
      if (Number.isNaN(v)) return NaN;
      const q = Math.max(-qmax, Math.min(qmax, rne(v / step[i][j])));
      return q * step[i][j];
    })
  );
  return { y, step };
}

function randomActs(rows: number, cols: number, seed: number, outlier = -1): number[][] {
  const v = new Rng(seed).normal(rows * cols);
  return Array.from(
    { length: rows },
    (_, i) => Array.from({ length: cols }, (_, j) => f(v[i * cols + j] * (j === outlier ? 60 : 1))),
  );
}

async function check(x: number[][], bits: number, alpha: number) {
  using t = Tensor.fromArray(x);
  using y = crossQuantize(t, { act: int(bits, { per: "token" }), alpha });
  const got = await y.data();
  const { y: want, step } = reference(x, bits, alpha);
  // pow on the GPU may differ from Math.pow in the last bits, moving a value across a
  // rounding boundary: allow that for at most 1 element, and only by one step
  let moved = 0;
  want.flat().forEach((e, k) => {
    const a = got[k], s = step[Math.floor(k / x[0].length)][k % x[0].length];
    if (Number.isNaN(e)) return assert(Number.isNaN(a), `element ${k}: NaN expected, got ${a}`);
    if (Math.abs(a - e) <= 1e-5 * Math.abs(e) + 1e-6 * s) return;
    assert(Math.abs(Math.abs(a - e) - s) <= 1e-3 * s, `element ${k}: ${a} vs ${e} (step ${s})`);
    moved++;
  });
  assert(moved <= 1, `${moved} elements off by a step`);
}

gpuTest(
  "crossQuantize matches the pure-TS reference on odd shapes (int8/int4, several α)",
  async () => {
    for (
      const [bits, alpha, seed] of [[8, 0.15, 1], [4, 0.15, 2], [4, 0.6, 3], [8, 1, 4], [4, 0, 5]]
    ) {
      await check(randomActs(7, 13, seed, 3), bits, alpha);
    }
  },
);

gpuTest("crossQuantize: one row, zero rows/columns and NaN", async () => {
  await check([[0.5, -2, 3.25, 0, 1e-3]], 8, 0.15);
  await check([[0, 0, 0], [1, 0, -2], [0, 0, 0]], 4, 0.3);
  await check([[1, NaN, -0.5], [2, 0.25, 4], [NaN, 1, 1]], 8, 0.15);
  using z = Tensor.zeros([3, 4]);
  using y = crossQuantize(z, { act: int(8, { per: "token" }) });
  assertEquals(Array.from(await y.data()), new Array(12).fill(0));
});

gpuTest("α = 1 is per-token quantization", async () => {
  using x = Tensor.fromArray(randomActs(9, 11, 7, 2));
  using a = crossQuantize(x, { act: int(8, { per: "token" }), alpha: 1 });
  using b = perTokenQuantize(x, int(8, { per: "token" }));
  assertClose(await a.data(), await b.data(), { atol: 1e-5, rtol: 1e-4 });
});

gpuTest("with an outlier channel the quantization kernel shrinks", async () => {
  using x = Tensor.fromArray(randomActs(32, 48, 11, 5));
  for (const bits of [8, 4]) {
    using a = perTokenQuantize(x, int(bits, { per: "token" }));
    using b = crossQuantize(x, { act: int(bits, { per: "token" }), alpha: 0.15 });
    const ka = await kernelFraction(x, a), kb = await kernelFraction(x, b);
    assert(kb < ka / 2, `int${bits}: CrossQuant kernel ${kb} vs per-token ${ka}`);
  }
});

gpuTest(
  "a QuantLinear with a CrossQuant input quantizer = linear(crossQuantize(x), W)",
  async () => {
    using w = Tensor.randn([5, 13], { seed: 3 });
    using x = Tensor.fromArray(randomActs(6, 13, 12, 0));
    const act = int(8, { per: "token" });
    using layer = new QuantLinear({
      values: w.reshape(w.shape),
      act: { kind: "crossquant", quantizer: act, alpha: 0.15 },
      bitsPerWeight: 32,
    });
    using y = layer.forward(x);
    using xq = crossQuantize(x, { act, alpha: 0.15 });
    using e = linear(xq, w);
    assertEquals(y.shape, [6, 5]);
    assertClose(await y.data(), await e.data(), { atol: 1e-5, rtol: 1e-5 });
  },
);

gpuTest("static columns: each token's quantization depends only on itself", async () => {
  const rows = randomActs(8, 12, 21, 3);
  const act = int(4, { per: "token" });
  using all = Tensor.fromArray(rows);
  using cols = absmaxColumns(rows);
  using y = crossQuantize(all, { act, alpha: 0.15, columns: cols });
  using dyn = crossQuantize(all, { act, alpha: 0.15 });
  // with the batch's own column maxima as static columns, it is the dynamic result
  assertClose(await y.data(), await dyn.data(), { atol: 1e-6, rtol: 1e-5 });
  // a token alone gives the same result with static columns (not with dynamic ones)
  using first = Tensor.fromArray([rows[0]]);
  using y0 = crossQuantize(first, { act, alpha: 0.15, columns: cols });
  assertClose(await y0.data(), (await y.data()).slice(0, 12), { atol: 1e-6, rtol: 1e-5 });
  using d0 = crossQuantize(first, { act, alpha: 0.15 });
  const [s0, dd0] = [await y0.data(), await d0.data()];
  assert(dd0.some((v, j) => v !== s0[j]), "dynamic columns of one token should differ");
  assertThrows(() => crossQuantize(all, { act, columns: Tensor.fromArray([1, 2]) }), RangeError);
});

function absmaxColumns(x: number[][]): Tensor {
  return Tensor.fromArray(x[0].map((_, j) => Math.max(...x.map((r) => Math.abs(r[j])))));
}
