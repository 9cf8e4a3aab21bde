import { assert } from "@std/assert";
import { Tensor } from "../../../kernels/tensor.ts";
import { sub } from "../../../kernels/ops/elementwise.ts";
import { DenseLinear } from "../../../model/linear.ts";
import { fakeQuant } from "../../../quant/quantize.ts";
import { int } from "../../../quant/quantizer.ts";
import { lqerLinear } from "../../../quant/methods/lqer.ts";
import { assertClose, gpuTest } from "../../_helpers.ts";

async function sq(t: Tensor): Promise<number> {
  let s = 0;
  for (const v of await t.data()) s += v * v;
  return s;
}

gpuTest(
  "lqer: forward is x·(W_q + a·b)ᵀ (pure-TS reference) and bits count the factors",
  async () => {
    const out = 12, inF = 20, k = 3;
    using dense = new DenseLinear(
      Tensor.randn([out, inF], { seed: 1 }),
      Tensor.randn([out], { seed: 9 }),
    );
    using lin = await lqerLinear(dense, int(4, { group: 10 }), { rank: k });
    using x = Tensor.randn([5, inF], { seed: 2 });
    using y = lin.forward(x);
    const [wq, a, b, xs, bias] = await Promise.all(
      [lin.weight!, lin.lowRank!.a, lin.lowRank!.b, x, dense.bias!].map((t) => t.data()),
    );
    const want = new Float64Array(5 * out);
    for (let t = 0; t < 5; t++) {
      for (let o = 0; o < out; o++) {
        let s = bias[o];
        for (let j = 0; j < inF; j++) {
          let ab = 0;
          for (let c = 0; c < k; c++) ab += a[o * k + c] * b[c * inF + j];
          s += xs[t * inF + j] * (wq[o * inF + j] + ab);
        }
        want[t * out + o] = s;
      }
    }
    assertClose(await y.data(), want, { atol: 1e-4, rtol: 1e-4 });
    assert(
      Math.abs(
        lin.bitsPerWeight - (lin.codes!.bitsPerWeight + (16 * k * (out + inF)) / (out * inF)),
      ) < 1e-9,
    );
  },
);

gpuTest(
  "lqer: the correction reduces the error; L²QER reduces the activation-weighted one more",
  async () => {
    const out = 32, inF = 64, q = int(3, { group: 32 });
    using w = Tensor.randn([out, inF], { seed: 3 });
    using dense = new DenseLinear(w.reshape(w.shape));
    const sArr = Float32Array.from({ length: inF }, (_, j) => (j % 16 === 0 ? 10 : 1));
    using s = Tensor.fromArray(sArr);
    using plain = await lqerLinear(dense, q, { rank: 4 });
    using scaled = await lqerLinear(dense, q, { rank: 4, scales: s });
    using rtn = await fakeQuant(q, w);
    // weight error (unweighted): LQER < RTN
    using e0 = sub(rtn, w);
    using w1 = await plain.effectiveWeight();
    using e1 = sub(w1, w);
    assert(await sq(e1) < 0.95 * (await sq(e0)));
    // activation-weighted error ‖E·diag(s)‖: L²QER < LQER
    const weighted = async (lin: typeof plain) => {
      using we = await lin.effectiveWeight();
      using e = sub(we, w);
      const d = await e.data();
      let t = 0;
      for (let i = 0; i < d.length; i++) t += (d[i] * sArr[i % inF]) ** 2;
      return t;
    };
    assert(await weighted(scaled) < await weighted(plain));
  },
);
