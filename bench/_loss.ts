/**
 * Mean next-token cross-entropy of a batch, written with differentiable
 * composite ops (max, sub, exp, sum, log, mul), for the gradient and training
 * benchmarks until `crossEntropy` lands in `kernels/ops/cross_entropy.ts`.
 *
 * For logits `[B, T, V]` of sequences `ids` (`[B][T]`), position t predicts
 * `ids[b][t+1]`: the mean over the B·(T−1) predictions of
 * `logsumexp(z) − z[target]` — what HF's `model(ids, labels=ids).loss` computes.
 * @module
 */
import * as lb from "../mod.ts";
import { noGrad } from "../kernels/autograd.ts";
import { sumAll } from "../kernels/ops/reduce_all.ts";

const { add, mul, reduce, sub, unary } = lb.ops;

/** The constant one-hot weights `[B·T, V]` (1/(B·(T−1)) at each target) and row weights `[B·T, 1]`. */
export function nextTokenTargets(
  ids: number[][],
  vocab: number,
): { hot: lb.Tensor; rows: lb.Tensor } {
  const B = ids.length, T = ids[0].length;
  const w = 1 / (B * (T - 1));
  const hot = new Float32Array(B * T * vocab);
  const rows = new Float32Array(B * T);
  for (let b = 0; b < B; b++) {
    for (let t = 0; t + 1 < T; t++) {
      hot[(b * T + t) * vocab + ids[b][t + 1]] = w;
      rows[b * T + t] = w;
    }
  }
  return {
    hot: lb.Tensor.fromArray(hot, [B * T, vocab]),
    rows: lb.Tensor.fromArray(rows, [B * T, 1]),
  };
}

/** Mean next-token cross-entropy (a one-element tensor) of `logits [B, T, V]`. */
export function nextTokenLoss(
  logits: lb.Tensor,
  targets: { hot: lb.Tensor; rows: lb.Tensor },
): lb.Tensor {
  const V = logits.shape[logits.rank - 1];
  using z = logits.reshape([logits.size / V, V]);
  // logsumexp with the row max held constant (its gradient cancels exactly).
  using m = noGrad(() => reduce("max", z, -1, { keepDims: true }));
  using zm = sub(z, m);
  using e = unary("exp", zm);
  using s = reduce("sum", e, -1, { keepDims: true });
  using ls = unary("log", s);
  using lse = add(ls, m);
  using wl = mul(lse, targets.rows);
  using pick = mul(z, targets.hot);
  using a = sumAll(wl);
  using b = sumAll(pick);
  return sub(a, b);
}
