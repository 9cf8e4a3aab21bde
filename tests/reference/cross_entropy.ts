/**
 * Pure-TS reference for kernels/ops/cross_entropy.ts, in f64: per row,
 * log Σ exp(x − m) + m − x[t], with ignored rows contributing nothing.
 * @module
 */

/** Per-row losses (0 for ignored rows) and the number of counted rows. */
export function crossEntropyRows(
  logits: ArrayLike<number>,
  targets: ArrayLike<number>,
  V: number,
  ignoreIndex = -100,
): { loss: Float64Array; count: number } {
  const rows = logits.length / V;
  const loss = new Float64Array(rows);
  let count = 0;
  for (let r = 0; r < rows; r++) {
    const t = targets[r];
    if (t === ignoreIndex) continue;
    count++;
    let m = -Infinity;
    let nan = false;
    for (let c = 0; c < V; c++) {
      const v = Number(logits[r * V + c]);
      if (Number.isNaN(v)) nan = true;
      m = Math.max(m, v);
    }
    let z = 0;
    for (let c = 0; c < V; c++) z += Math.exp(Number(logits[r * V + c]) - m);
    loss[r] = nan ? NaN : m + Math.log(z) - Number(logits[r * V + t]);
  }
  return { loss, count };
}

/** The reduced loss: per-row ("none"), their sum, or their mean over counted rows. */
export function crossEntropyRef(
  logits: ArrayLike<number>,
  targets: ArrayLike<number>,
  V: number,
  { reduction = "mean", ignoreIndex = -100 }: { reduction?: string; ignoreIndex?: number } = {},
): Float64Array {
  const { loss, count } = crossEntropyRows(logits, targets, V, ignoreIndex);
  if (reduction === "none") return loss;
  const s = loss.reduce((a, b) => a + b, 0);
  return Float64Array.of(reduction === "sum" ? s : s / count);
}
