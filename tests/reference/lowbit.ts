/**
 * Pure-TS references for kernels/lowbit/: decode every code to its value
 * (tables written from the format definitions, not from the kernels),
 * dequantize a weight, and a dense matmul in f64. Obviously correct, slow.
 * @module
 */

/** The value of an E2M1 code, from its definition (bias 1, subnormal 0.5·m). */
export function e2m1Value(c: number): number {
  const s = c & 8 ? -1 : 1;
  const e = (c >> 1) & 3;
  const m = c & 1;
  return s * (e === 0 ? m * 0.5 : (1 + m / 2) * 2 ** (e - 1));
}

/** The value of an OCP E4M3 byte (bias 7, no infinities, S.1111.111 = NaN). */
export function e4m3Value(b: number): number {
  const s = b & 0x80 ? -1 : 1;
  const e = (b >> 3) & 15;
  const m = b & 7;
  if (e === 15 && m === 7) return NaN;
  return s * (e === 0 ? m * 2 ** -9 : (1 + m / 8) * 2 ** (e - 7));
}

/** The value of an E8M0 byte: 2^(b−127), 255 = NaN. */
export function e8m0Value(b: number): number {
  return b === 255 ? NaN : 2 ** (b - 127);
}

/** QLoRA NF4 levels (Appendix E). */
export const NF4_REF = [
  -1.0,
  -0.6961928009986877,
  -0.5250730514526367,
  -0.39491748809814453,
  -0.28444138169288635,
  -0.18477343022823334,
  -0.09105003625154495,
  0.0,
  0.07958029955625534,
  0.16093020141124725,
  0.24611230194568634,
  0.33791524171829224,
  0.44070982933044434,
  0.5626170039176941,
  0.7229568362236023,
  1.0,
];

/** What a reference weight holds (CPU values; scales already as stored, e.g. f16-rounded). */
export interface RefWeight {
  format: string;
  shape: [number, number];
  groupSize: number;
  codes: ArrayLike<number>;
  /** Float scales, or 8-bit scale codes for nvfp4/mxfp4. */
  scales: ArrayLike<number>;
  zeros?: ArrayLike<number>;
  tensorScale?: number;
  codebook?: ArrayLike<number>;
}

/** The value of one code of a format (before scale and zero). */
export function codeValue(w: RefWeight, c: number): number {
  const f = w.format;
  if (f.startsWith("int")) {
    const bits = Number(f.slice(3));
    if (w.zeros) return c;
    return c >= 2 ** (bits - 1) ? c - 2 ** bits : c;
  }
  if (f === "ternary" || f === "ternary5") return c === 1 ? 1 : c === 3 ? -1 : 0;
  if (f === "binary") return c === 0 ? 1 : -1;
  if (f === "fp4" || f === "nvfp4" || f === "mxfp4") return e2m1Value(c);
  if (f === "nf4") return NF4_REF[c];
  if (f.startsWith("codebook")) return w.codebook![c];
  throw new Error(`reference: unknown format ${f}`);
}

/** Dequantized W `[N, K]` as f64. */
export function dequantizeRef(w: RefWeight): Float64Array {
  const [N, K] = w.shape;
  const G = K / w.groupSize;
  const out = new Float64Array(N * K);
  for (let n = 0; n < N; n++) {
    for (let k = 0; k < K; k++) {
      const gi = n * G + Math.floor(k / w.groupSize);
      let s = w.scales[gi];
      if (w.format === "nvfp4") s = e4m3Value(s) * (w.tensorScale ?? 1);
      if (w.format === "mxfp4") s = e8m0Value(s);
      const z = w.zeros ? w.zeros[gi] : 0;
      out[n * K + k] = (codeValue(w, w.codes[n * K + k]) - z) * s;
    }
  }
  return out;
}

/** y `[M, N]` = x `[M, K]` · Wᵀ + bias, in f64. Also returns Σ|x·w| per output (for tolerances). */
export function matmulRef(
  x: ArrayLike<number>,
  M: number,
  W: Float64Array,
  N: number,
  K: number,
  bias?: ArrayLike<number>,
): { y: Float64Array; mag: Float64Array } {
  const y = new Float64Array(M * N);
  const mag = new Float64Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let s = 0;
      let a = 0;
      for (let k = 0; k < K; k++) {
        const t = x[m * K + k] * W[n * K + k];
        s += t;
        a += Math.abs(t);
      }
      y[m * N + n] = s + (bias ? bias[n] : 0);
      mag[m * N + n] = a + (bias ? Math.abs(bias[n]) : 0);
    }
  }
  return { y, mag };
}
