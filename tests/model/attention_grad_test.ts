import { assert } from "@std/assert";
import { Tensor } from "../../kernels/tensor.ts";
import { valueAndGrad } from "../../kernels/autograd.ts";
import { sumAll } from "../../kernels/ops/reduce_all.ts";
import { mul } from "../../kernels/ops/elementwise.ts";
import { type AttentionDims, causalAttention } from "../../model/attention.ts";
import { assertClose, gpuTest } from "../_helpers.ts";
import { gradCheck } from "../_gradcheck.ts";

/** f64 causal GQA attention on the projections' layout [B·T, heads·D]. */
function attentionRef(
  q: Float64Array,
  k: Float64Array,
  v: Float64Array,
  d: AttentionDims,
  scale = 1 / Math.sqrt(d.headDim),
): Float64Array {
  const { batch: B, seq: T, heads: H, kvHeads: KV, headDim: D } = d;
  const o = new Float64Array(B * T * H * D);
  for (let b = 0; b < B; b++) {
    for (let h = 0; h < H; h++) {
      const g = Math.floor(h / (H / KV));
      for (let i = 0; i < T; i++) {
        const s: number[] = [];
        for (let j = 0; j <= i; j++) {
          let dot = 0;
          for (let c = 0; c < D; c++) {
            dot += q[(b * T + i) * H * D + h * D + c] * k[(b * T + j) * KV * D + g * D + c];
          }
          s.push(dot * scale);
        }
        const m = Math.max(...s);
        const e = s.map((x) => Math.exp(x - m));
        const z = e.reduce((a, x) => a + x, 0);
        for (let c = 0; c < D; c++) {
          let acc = 0;
          for (let j = 0; j <= i; j++) acc += (e[j] / z) * v[(b * T + j) * KV * D + g * D + c];
          o[(b * T + i) * H * D + h * D + c] = acc;
        }
      }
    }
  }
  return o;
}

const CASES: (AttentionDims & { scale?: number; maxScoresBytes?: number })[] = [
  { batch: 2, seq: 5, heads: 4, kvHeads: 2, headDim: 3 }, // GQA: dK, dV sum over 2 heads
  { batch: 2, seq: 5, heads: 3, kvHeads: 3, headDim: 3 }, // heads = kvHeads
  { batch: 1, seq: 7, heads: 4, kvHeads: 1, headDim: 2, scale: 0.8 }, // MQA, custom scale
  // one sequence per pass (4·5·5 bytes of scores allowed): the backward's pass offsets
  { batch: 3, seq: 5, heads: 2, kvHeads: 1, headDim: 3, maxScoresBytes: 100 },
  { batch: 2, seq: 1, heads: 2, kvHeads: 1, headDim: 4 }, // one token: dQ = dK = 0
];

gpuTest("causalAttention: dQ, dK, dV match f64 finite differences (GQA, MHA, MQA)", async () => {
  for (const d of CASES) {
    const { batch: B, seq: T, heads: H, kvHeads: KV, headDim: D } = d;
    const { maxRel } = await gradCheck({
      inputs: [{ shape: [B * T, H * D] }, { shape: [B * T, KV * D] }, { shape: [B * T, KV * D] }],
      gpu: (q, k, v) => causalAttention(q, k, v, d),
      ref: (q, k, v) => attentionRef(q, k, v, d, d.scale),
      // f32 products of O(1) values over ≤ 7 keys; FD truncation at h = 1e-4 is ~1e-8.
      tol: 1e-3,
    }).catch((e) => {
      throw new Error(`${JSON.stringify(d)}: ${e.message}`);
    });
    assert(maxRel < 1e-3);
  }
});

gpuTest("causalAttention backward: NaN in q gives NaN gradients; zero dO gives zeros", async () => {
  const d = { batch: 1, seq: 3, heads: 2, kvHeads: 1, headDim: 2 };
  const qv = new Float32Array(12).fill(0.5);
  qv[4] = NaN; // token 1, head 0
  using q = Tensor.fromArray(qv, [3, 4]);
  using k = Tensor.randn([3, 2], { seed: 1 });
  using v = Tensor.randn([3, 2], { seed: 2 });
  const { value, grads } = valueAndGrad(() => {
    using o = causalAttention(q, k, v, d);
    return sumAll(o);
  }, { q, k, v });
  value.dispose();
  const dq = await grads.get("q")!.data(), dk = await grads.get("k")!.data();
  assert(Number.isNaN(dq[4]), `dq at the NaN query should be NaN: ${dq}`);
  assert(!Number.isNaN(dq[0]), `token 0 never sees the NaN query: ${dq}`);
  assert(Number.isNaN(dk[0]), `keys seen by the NaN query get NaN: ${dk}`);
  for (const g of grads.values()) g.dispose();
  // L = Σ o·0: every gradient is exactly 0
  using zero = Tensor.zeros([3, 4]);
  using q2 = Tensor.randn([3, 4], { seed: 3 });
  const r = valueAndGrad(() => {
    using o = causalAttention(q2, k, v, d);
    using oz = mul(o, zero);
    return sumAll(oz);
  }, { q2, k, v });
  r.value.dispose();
  for (const [n, g] of r.grads) {
    assertClose(await g.data(), new Float32Array(g.size), { atol: 0 }, n);
    g.dispose();
  }
});

gpuTest("causalAttention backward: f16 inputs follow the f32 gradient", async () => {
  const d = { batch: 2, seq: 5, heads: 4, kvHeads: 2, headDim: 4 };
  const grads: Float32Array[][] = [];
  for (const dtype of ["f32", "f16"] as const) {
    using q = Tensor.randn([10, 16], { seed: 1, std: 0.5, dtype });
    using k = Tensor.randn([10, 8], { seed: 2, std: 0.5, dtype });
    using v = Tensor.randn([10, 8], { seed: 3, dtype });
    using w = Tensor.randn([10, 16], { seed: 4, dtype });
    const r = valueAndGrad(() => {
      using o = causalAttention(q, k, v, d);
      using ow = mul(o, w);
      return sumAll(ow);
    }, { q, k, v });
    r.value.dispose();
    const gs: Float32Array[] = [];
    for (const g of r.grads.values()) {
      assert(g.dtype === dtype);
      gs.push(Float32Array.from(await g.data() as ArrayLike<number>));
      g.dispose();
    }
    grads.push(gs);
  }
  // f16 inputs are different numbers (rounded) and P, dS are rounded to f16: ~1e-2 relative.
  for (let i = 0; i < 3; i++) assertClose(grads[1][i], grads[0][i], { atol: 3e-2, rtol: 3e-2 });
});
