/**
 * The ops of a Llama forward pass other than attention, chained as the model
 * chains them (embedding → RMSNorm → RoPE per head → linear → log-softmax),
 * differentiated end to end for the embedding table, the norm weight and the
 * projection against an f64 composition of the references.
 */
import { embedding } from "../../../kernels/ops/gather.ts";
import { rmsNorm } from "../../../kernels/ops/norm.ts";
import { rope, ropeInvFreq } from "../../../kernels/ops/rope.ts";
import { linear } from "../../../kernels/ops/matmul.ts";
import { logSoftmax } from "../../../kernels/ops/softmax.ts";
import { takeRef } from "../../reference/gather.ts";
import { rmsNormRef } from "../../reference/norm.ts";
import { ropeRef } from "../../reference/rope.ts";
import { softmaxRef } from "../../reference/softmax.ts";
import { gpuTest } from "../../_helpers.ts";
import { gradCheck } from "../../_gradcheck.ts";

gpuTest("embedding → rmsNorm → rope → linear → logSoftmax: end-to-end gradients", async () => {
  const [V, hidden, heads, out] = [11, 12, 2, 7];
  const ids = [[3, 9, 3, 0, 10]]; // batch 1, seq 5, a repeated token
  const seq = ids[0].length;
  const freq = ropeInvFreq(hidden / heads, 10000);
  await gradCheck({
    inputs: [{ shape: [V, hidden] }, { shape: [hidden], positive: true }, { shape: [out, hidden] }],
    gpu: (table, w, proj) => {
      using h = embedding(table, ids[0]);
      using x = rmsNorm(h, w, 1e-5);
      using x4 = x.reshape([1, seq, heads, hidden / heads]);
      using r4 = rope(x4, freq, { offset: 2 });
      using r = r4.reshape([seq, hidden]);
      using logits = linear(r, proj);
      return logSoftmax(logits);
    },
    ref: (table, w, proj) => {
      const h = takeRef(table, [V, hidden], 0, ids[0]);
      const x = rmsNormRef(h, w, 1e-5);
      const r = ropeRef(x, [1, seq, heads, hidden / heads], freq, { offset: 2 });
      const logits = new Float64Array(seq * out);
      for (let s = 0; s < seq; s++) {
        for (let o = 0; o < out; o++) {
          let acc = 0;
          for (let k = 0; k < hidden; k++) acc += r[s * hidden + k] * proj[o * hidden + k];
          logits[s * out + o] = acc;
        }
      }
      return softmaxRef(logits, [seq, out], { log: true });
    },
  });
});
