import { assert, assertEquals, assertThrows } from "@std/assert";
import { Tensor } from "../../kernels/tensor.ts";
import { Rng } from "../../kernels/random.ts";
import { cachedAttention, causalAttention } from "../../model/attention.ts";
import { cachedAttentionRef } from "../reference/attention.ts";
import { assertClose, gpuTest } from "../_helpers.ts";

/** Random q and a cache whose positions from `past + seq` on hold `fill` (never to be read). */
function setup(
  d: {
    batch: number;
    seq: number;
    past: number;
    maxLength: number;
    heads: number;
    kvHeads: number;
    headDim: number;
  },
  seed: number,
  fill = NaN,
) {
  const rng = new Rng(seed);
  const q = rng.normal(d.batch * d.seq * d.heads * d.headDim);
  const w = d.kvHeads * d.headDim;
  const k = rng.normal(d.batch * d.maxLength * w);
  const v = rng.normal(d.batch * d.maxLength * w);
  for (let b = 0; b < d.batch; b++) {
    for (let j = d.past + d.seq; j < d.maxLength; j++) {
      k.fill(fill, (b * d.maxLength + j) * w, (b * d.maxLength + j + 1) * w);
      v.fill(fill, (b * d.maxLength + j) * w, (b * d.maxLength + j + 1) * w);
    }
  }
  return { q, k, v };
}

// Shapes that are not multiples of the GEMM tiles (16·tm) nor of 4: odd heads, GQA,
// odd past, one query (decode) and several (chunked prefill), one sequence and three.
const CASES = [
  { batch: 1, seq: 1, past: 0, maxLength: 1, heads: 1, kvHeads: 1, headDim: 2 },
  { batch: 3, seq: 1, past: 18, maxLength: 23, heads: 3, kvHeads: 1, headDim: 6 },
  { batch: 2, seq: 5, past: 7, maxLength: 13, heads: 6, kvHeads: 2, headDim: 10 },
  { batch: 2, seq: 9, past: 0, maxLength: 11, heads: 5, kvHeads: 5, headDim: 4 },
  { batch: 1, seq: 3, past: 130, maxLength: 140, heads: 4, kvHeads: 2, headDim: 8 },
];

gpuTest(
  "cachedAttention matches the f64 reference; unwritten cache positions are never read",
  async () => {
    for (const [n, d] of CASES.entries()) {
      const { q, k, v } = setup(d, 10 + n);
      using tq = Tensor.fromArray(q, [d.batch * d.seq, d.heads * d.headDim]);
      using tk = Tensor.fromArray(k, [d.batch, d.maxLength, d.kvHeads * d.headDim]);
      using tv = Tensor.fromArray(v, [d.batch, d.maxLength, d.kvHeads * d.headDim]);
      using o = cachedAttention(tq, tk, tv, d);
      assertEquals(o.shape, [d.batch * d.seq, d.heads * d.headDim]);
      // f32 dot products of ≤ 10 terms and softmax sums of ≤ 140 terms: errors ~1e-6 relative
      assertClose(
        await o.data(),
        cachedAttentionRef(q, k, v, d),
        { atol: 2e-5, rtol: 2e-5 },
        JSON.stringify(d),
      );
    }
  },
);

gpuTest(
  "cachedAttention with past 0 equals causalAttention; a score budget changes nothing",
  async () => {
    const d = { batch: 3, seq: 7, past: 0, maxLength: 7, heads: 6, kvHeads: 3, headDim: 6 };
    const { q, k, v } = setup(d, 3);
    using tq = Tensor.fromArray(q, [21, 36]);
    using tk = Tensor.fromArray(k, [21, 18]);
    using tv = Tensor.fromArray(v, [21, 18]);
    using full = causalAttention(tq, tk, tv, d);
    using k3 = tk.reshape([3, 7, 18]);
    using v3 = tv.reshape([3, 7, 18]);
    using cached = cachedAttention(tq, k3, v3, d);
    using split = cachedAttention(tq, k3, v3, { ...d, maxScoresBytes: 7 * 7 * 4 });
    assertClose(
      await cached.data(),
      await full.data(),
      { atol: 1e-6, rtol: 1e-6 },
      "cached vs causal",
    );
    assertClose(
      await split.data(),
      await cached.data(),
      { atol: 0, rtol: 0 },
      "one sequence per pass",
    );
  },
);

gpuTest(
  "cachedAttention edge cases: zeros give the mean of the values; NaN in a visible key spreads",
  async () => {
    const d = { batch: 1, seq: 2, past: 1, maxLength: 4, heads: 2, kvHeads: 1, headDim: 2 };
    using q = Tensor.zeros([2, 4]);
    using k = Tensor.zeros([1, 4, 2]);
    using v = Tensor.fromArray([[[1, 2], [3, 4], [5, 6], [NaN, NaN]]]);
    using o = cachedAttention(q, k, v, d);
    // query 0 (position 1) averages values 0, 1; query 1 (position 2) values 0, 1, 2
    assertClose(await o.data(), [2, 3, 2, 3, 3, 4, 3, 4], { atol: 1e-6, rtol: 1e-6 });
    using kNaN = Tensor.fromArray([[[0, 0], [0, 0], [NaN, 0], [0, 0]]]);
    using oNaN = cachedAttention(q, kNaN, v, d);
    const got = await oNaN.data();
    assert(got.slice(0, 4).every((x) => Number.isFinite(x)), "query 0 does not see position 2");
    assert(got.slice(4).every((x) => Number.isNaN(x)), "query 1 sees the NaN key");
  },
);

gpuTest("cachedAttention rejects bad shapes, dtypes and overfull caches, naming the fix", () => {
  const d = { batch: 2, seq: 1, past: 3, maxLength: 4, heads: 2, kvHeads: 1, headDim: 2 };
  using q = Tensor.zeros([2, 4]);
  using k = Tensor.zeros([2, 4, 2]);
  using k16 = Tensor.zeros([2, 4, 2], "f16");
  using kShort = Tensor.zeros([2, 3, 2]);
  assertThrows(() => cachedAttention(q, kShort, kShort, d), RangeError, "make the cache longer");
  assertThrows(
    () => cachedAttention(q, k, k, { ...d, past: 4 }),
    RangeError,
    "do not fit the cache",
  );
  assertThrows(
    () => cachedAttention(q, k, k, { ...d, kvHeads: 3 }),
    RangeError,
    "must divide heads",
  );
  assertThrows(() => cachedAttention(q, k, k, { ...d, past: -1 }), RangeError, "past -1");
  assertThrows(() => cachedAttention(q, k, k, { ...d, batch: 1 }), RangeError, "q ");
  assertThrows(() => cachedAttention(q, k16, k16, d), TypeError, "dtype");
  using kFlat = Tensor.zeros([8, 2]);
  assertThrows(() => cachedAttention(q, kFlat, kFlat, d), RangeError, "(batch, maxLength");
});
