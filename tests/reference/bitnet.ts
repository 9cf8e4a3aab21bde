/**
 * Pure-TS references of BitNet b1.58's quantizers (Ma et al., arXiv:2402.17764, eq. 1–3):
 * the ternary weight RoundClip(W/γ, −1, 1)·γ with γ = max(mean |W|, ε) or the lower median
 * (Reloaded, arXiv:2407.09527, as `quant/qat/bitlinear.ts` declares it), and per-token
 * absmax activations round(x·127/max|x|)·max|x|/127. In f64, round half to even.
 * @module
 */

/** Round half to even. */
export function roundEven(v: number): number {
  const r = Math.round(v);
  return Math.abs(v % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** γ: mean |w| or the ⌈n/2⌉-th smallest |w|, floored at eps. */
export function gammaRef(w: ArrayLike<number>, scale: "absmean" | "absmedian", eps = 1e-5): number {
  const a = Array.from(w, Math.abs);
  if (a.some(Number.isNaN)) return NaN;
  let g: number;
  if (scale === "absmean") g = a.reduce((s, v) => s + v, 0) / a.length;
  else g = a.sort((x, y) => x - y)[Math.ceil(a.length / 2) - 1];
  return Math.max(g, eps);
}

/** RoundClip(w/γ, −1, 1)·γ elementwise. */
export function ternaryRef(
  w: ArrayLike<number>,
  scale: "absmean" | "absmedian" = "absmean",
  eps = 1e-5,
): Float64Array {
  const g = gammaRef(w, scale, eps);
  return Float64Array.from(w, (v) => Math.max(-1, Math.min(1, roundEven(v / g))) * g);
}

/** Per-row absmax fake quantization of `x` [rows, cols] to ±(2^(bits−1) − 1) levels. */
export function absmaxRowsRef(x: ArrayLike<number>, cols: number, bits = 8): Float64Array {
  const qmax = 2 ** (bits - 1) - 1;
  const out = new Float64Array(x.length);
  for (let r = 0; r * cols < x.length; r++) {
    let m = 0;
    for (let c = 0; c < cols; c++) m = Math.max(m, Math.abs(x[r * cols + c]));
    for (let c = 0; c < cols; c++) {
      const v = x[r * cols + c];
      out[r * cols + c] = m === 0 ? 0 : roundEven((v * qmax) / m) * (m / qmax);
    }
  }
  return out;
}

/** x·Wᵀ for x [rows, k], w [n, k]. */
export function matmulTRef(x: ArrayLike<number>, w: ArrayLike<number>, k: number): Float64Array {
  const rows = x.length / k, n = w.length / k;
  const y = new Float64Array(rows * n);
  for (let r = 0; r < rows; r++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let i = 0; i < k; i++) s += x[r * k + i] * w[j * k + i];
      y[r * n + j] = s;
    }
  }
  return y;
}
