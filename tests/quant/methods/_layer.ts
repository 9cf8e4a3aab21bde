/**
 * A small random layer for the coordinate-method tests: correlated inputs X
 * `[m, N]`, weights W `[rows, N]`, and the quantizer's round-to-nearest scales.
 * @module
 */
import { Rng } from "../../../kernels/random.ts";
import { Tensor } from "../../../kernels/tensor.ts";
import { elementFormat, type Quantizer } from "../../../quant/quantizer.ts";
import { quantizePass as quantize } from "../../../quant/quantize.ts";
import type { IntFormat } from "../../../quant/formats/mod.ts";
import type { LayerRefProblem } from "../../reference/coordinate.ts";
import { roundHalfEvenRef } from "../../reference/coordinate.ts";

/** The problem, its H = XᵀX as a tensor, and the RTN codes. */
export async function layerProblem(
  q: Quantizer,
  rows: number,
  N: number,
  m: number,
  seed: number,
  deadInput = -1,
): Promise<{ p: LayerRefProblem; codes0: Float64Array; w: Tensor; h: Tensor }> {
  const rng = new Rng(seed);
  const X = Float64Array.from(rng.normal(m * N));
  for (let k = 0; k < m; k++) {
    for (let j = 1; j < N; j++) X[k * N + j] += 0.8 * X[k * N + j - 1];
    if (deadInput >= 0) X[k * N + deadInput] = 0;
  }
  const W = Float64Array.from(rng.normal(rows * N), (v) => Math.fround(v));
  const H = new Float32Array(N * N);
  for (let i = 0; i < N; i++) {
    for (let j = 0; j < N; j++) {
      let s = 0;
      for (let k = 0; k < m; k++) s += X[k * N + i] * X[k * N + j];
      H[i * N + j] = s;
    }
  }
  const w = Tensor.fromArray(Float32Array.from(W), [rows, N]);
  const h = Tensor.fromArray(H, [N, N]);
  using qt = await quantize(q, w);
  const groupSize = qt.groupSize;
  const fmt = elementFormat(q.format) as IntFormat;
  const groups = N / groupSize;
  const scales = Float64Array.from(qt.scales);
  const zeros = qt.zeros ? Float64Array.from(qt.zeros) : new Float64Array(rows * groups);
  const codes0 = new Float64Array(rows * N);
  for (let r = 0; r < rows; r++) {
    for (let i = 0; i < N; i++) {
      const g = r * groups + Math.floor(i / groupSize);
      const c = roundHalfEvenRef(Math.fround(W[r * N + i] / scales[g])) + zeros[g];
      codes0[r * N + i] = Math.min(fmt.qmax, Math.max(fmt.qmin, c));
    }
  }
  const p: LayerRefProblem = {
    m,
    N,
    rows,
    X,
    W,
    scales,
    zeros,
    groupSize,
    qmin: fmt.qmin,
    qmax: fmt.qmax,
  };
  return { p, codes0, w, h };
}

/** Σ_rows ‖X(w − ŵ)‖² in f64. */
export function refError(p: LayerRefProblem, wq: ArrayLike<number>): number {
  let e = 0;
  for (let r = 0; r < p.rows; r++) {
    for (let k = 0; k < p.m; k++) {
      let s = 0;
      for (let i = 0; i < p.N; i++) s += p.X[k * p.N + i] * (p.W[r * p.N + i] - wq[r * p.N + i]);
      e += s * s;
    }
  }
  return e;
}

/** Number of positions where |a − b| > tol. */
export function differing(a: ArrayLike<number>, b: ArrayLike<number>, tol = 1e-5): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) {
    if (!(Math.abs(a[i] - b[i]) <= tol * (1 + Math.abs(b[i])))) n++;
  }
  return n;
}
