/**
 * Pure-TS f64 reference of kernels/ops/softmax_backward.ts: per row,
 * dx_j = scale · p_j · (g_j − Σ_i g_i·p_i) over the live (unmasked) entries;
 * masked entries get 0.
 * @module
 */

/** The softmax backward of every last-axis row of `p` (shape `[..., T, S]` when `causal`). */
export function softmaxBackwardRef(
  p: ArrayLike<number>,
  g: ArrayLike<number>,
  shape: readonly number[],
  { causal = false, scale = 1 } = {},
): Float64Array {
  const S = shape[shape.length - 1];
  const T = causal ? shape[shape.length - 2] : 1;
  const out = new Float64Array(p.length);
  for (let r = 0; r < p.length / S; r++) {
    const i = r % T;
    const ok = (j: number) => !causal || j <= i + (S - T);
    let dot = 0;
    for (let j = 0; j < S; j++) if (ok(j)) dot += Number(p[r * S + j]) * Number(g[r * S + j]);
    for (let j = 0; j < S; j++) {
      out[r * S + j] = ok(j) ? scale * Number(p[r * S + j]) * (Number(g[r * S + j]) - dot) : 0;
    }
  }
  return out;
}
