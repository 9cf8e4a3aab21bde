/**
 * Backward rules of `matmul` and `linear` (`matmul.ts` records them). With
 * C = op(A)·op(B):
 *
 * ```text
 * dA = dC·op(B)ᵀ   (stored transposed when A is: dAᵀ = op(B)·dCᵀ)
 * dB = op(A)ᵀ·dC   (stored transposed when B is: dBᵀ = dCᵀ·op(A))
 * ```
 *
 * A 2-D operand broadcast over a batch gets the batch-summed gradient. For
 * the linear layer y = x·wᵀ + b: dx = dy·w, dw = dyᵀ·x, db = Σ_rows dy.
 * Each product is one call of the same GEMM the forward uses.
 *
 * Reference: `tests/kernels/autograd/reduce_layout_matmul_grad_test.ts` (f64 finite differences).
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { linearGrad } from "./matmul_grad.ts";
 * await initGPU();
 * using x = Tensor.fromArray([[1, 2]]);
 * using w = Tensor.fromArray([[1, 0], [0, 1], [1, 1]]);
 * using g = Tensor.fromArray([[1, 1, 1]]);
 * const [dx, dw, db] = linearGrad(g, x, w, true);
 * console.log(await dx.data(), await dw.data(), await db!.data());
 * // Float32Array [2, 2] Float32Array [1, 2, 1, 2, 1, 2] Float32Array [1, 1, 1]
 * for (const t of [dx, dw, db!]) t.dispose();
 * ```
 * @module
 */
import type { Tensor } from "../tensor.ts";
import { cast } from "./elementwise.ts";
import { matmul } from "./matmul.ts";
import { sum } from "./reduce.ts";

/** Gradients of `matmul(a, b, { transA, transB })` given dC. */
export function matmulGrad(
  g: Tensor,
  a: Tensor,
  b: Tensor,
  transA: boolean,
  transB: boolean,
): [Tensor, Tensor] {
  using gc = g.dtype === a.dtype ? g.share() : cast(g, a.dtype);
  const da = transA
    ? matmul(b, gc, { transA: transB, transB: true })
    : matmul(gc, b, { transB: !transB });
  const db = transB
    ? matmul(gc, a, { transA: true, transB: transA })
    : matmul(a, gc, { transA: !transA });
  return [unbatch(da, a), unbatch(db, b)];
}

/** A 2-D operand used across a batch: sum its per-batch gradients. */
function unbatch(d: Tensor, t: Tensor): Tensor {
  if (d.rank === t.rank) return d;
  const s = sum(d, 0);
  d.dispose();
  return s;
}

/** Gradients `[dx, dw, db]` of `linear(x, w, bias)` given dy; `db` only with a bias. */
export function linearGrad(
  g: Tensor,
  x: Tensor,
  w: Tensor,
  hasBias: boolean,
): [Tensor, Tensor, Tensor | undefined] {
  const [outF, inF] = w.shape;
  const rows = x.size / inF;
  using gc = g.dtype === x.dtype ? g.share() : cast(g, x.dtype);
  using g2 = gc.reshape([rows, outF]);
  using x2 = x.reshape([rows, inF]);
  using dx2 = matmul(g2, w);
  const dx = dx2.reshape(x.shape);
  const dw = matmul(g2, x2, { transA: true });
  const db = hasBias ? sum(g2, 0) : undefined;
  return [dx, dw, db];
}
