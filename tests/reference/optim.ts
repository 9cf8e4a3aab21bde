/**
 * Pure-TS references of the optimizer kernels (`kernels/optim/`): SGD and
 * AdamW in f64 over plain arrays, torch's clip_grad_norm_ in f64, and the
 * block-wise 8-bit AdamW step emulated in f32 (`Math.fround` after each
 * operation, in the kernel's order) so that codes can be compared one by one.
 * Slow and obvious; inputs are never modified.
 *
 * @module
 */

/** Hyperparameters of one AdamW step (torch.optim.AdamW's names). */
export interface AdamWRefOptions {
  lr: number;
  /** Step number t of this tensor, from 1. */
  step: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

/** One AdamW step in f64: `{ p, m, v }` after the step. */
export function adamwRef(
  p: ArrayLike<number>,
  g: ArrayLike<number>,
  m: ArrayLike<number>,
  v: ArrayLike<number>,
  o: AdamWRefOptions,
): { p: Float64Array; m: Float64Array; v: Float64Array } {
  const n = p.length;
  const out = { p: new Float64Array(n), m: new Float64Array(n), v: new Float64Array(n) };
  const bc1 = 1 - o.beta1 ** o.step;
  const bc2 = 1 - o.beta2 ** o.step;
  for (let i = 0; i < n; i++) {
    const pi = p[i] * (1 - o.lr * o.weightDecay);
    const mi = o.beta1 * m[i] + (1 - o.beta1) * g[i];
    const vi = o.beta2 * v[i] + (1 - o.beta2) * g[i] * g[i];
    const mhat = mi / bc1;
    const vhat = vi / bc2;
    out.p[i] = pi - o.lr * mhat / (Math.sqrt(vhat) + o.eps);
    out.m[i] = mi;
    out.v[i] = vi;
  }
  return out;
}

/** Hyperparameters of one SGD step (torch.optim.SGD's names). */
export interface SgdRefOptions {
  lr: number;
  momentum: number;
  dampening: number;
  weightDecay: number;
  nesterov: boolean;
}

/** One SGD step in f64; `buf` is undefined before the first momentum step. */
export function sgdRef(
  p: ArrayLike<number>,
  g: ArrayLike<number>,
  buf: ArrayLike<number> | undefined,
  o: SgdRefOptions,
): { p: Float64Array; buf: Float64Array | undefined } {
  const n = p.length;
  const outP = new Float64Array(n);
  const outB = o.momentum !== 0 ? new Float64Array(n) : undefined;
  for (let i = 0; i < n; i++) {
    let d = g[i] + o.weightDecay * p[i];
    if (outB) {
      const b = buf === undefined ? d : buf[i] * o.momentum + (1 - o.dampening) * d;
      outB[i] = b;
      d = o.nesterov ? d + o.momentum * b : b;
    }
    outP[i] = p[i] - o.lr * d;
  }
  return { p: outP, buf: outB };
}

/** torch.nn.utils.clip_grad_norm_ in f64: the total norm and the scaled copies. */
export function clipRef(
  grads: ArrayLike<number>[],
  maxNorm: number,
): { norm: number; scaled: Float64Array[] } {
  let sq = 0;
  for (const g of grads) for (let i = 0; i < g.length; i++) sq += g[i] * g[i];
  const norm = Math.sqrt(sq);
  const c = maxNorm / (norm + 1e-6);
  const coef = Number.isNaN(c) ? c : Math.min(c, 1);
  return { norm, scaled: grads.map((g) => Float64Array.from(g, (x) => x * coef)) };
}

/** The 8-bit state of one tensor, one code per element (unpacked). */
export interface Blockwise8bitRef {
  mCodes: Uint8Array;
  vCodes: Uint8Array;
  mAbsmax: Float32Array;
  vAbsmax: Float32Array;
}

/** Result of {@link adamw8bitRef}: the step's outputs and the normalized moments it coded. */
export interface Adamw8bitRefResult extends Blockwise8bitRef {
  p: Float32Array;
  /** m / absmax of its block (what was coded), per element. */
  mNormalized: Float32Array;
  /** v / absmax of its block, per element. */
  vNormalized: Float32Array;
}

/** Nearest entry of a sorted map, ties to the lower index: how many midpoints lie below q. */
export function nearestCode(map: ArrayLike<number>, q: number): number {
  let code = 0;
  for (let k = 0; k < map.length - 1; k++) {
    const mid = Math.fround(Math.fround(map[k] + map[k + 1]) * 0.5);
    if (mid < q) code = k + 1;
  }
  return code;
}

/**
 * One block-wise 8-bit AdamW step emulated in f32: dequantize, update as
 * torch's AdamW (f32 after each operation), absmax per block (NaN wins),
 * requantize to the nearest map entry. `signed`, `unsigned`: the two 256-entry maps.
 */
export function adamw8bitRef(
  p: ArrayLike<number>,
  g: ArrayLike<number>,
  s: Blockwise8bitRef,
  signed: ArrayLike<number>,
  unsigned: ArrayLike<number>,
  o: AdamWRefOptions,
  block = 2048,
): Adamw8bitRefResult {
  const f = Math.fround;
  const n = p.length;
  const nb = Math.ceil(n / block);
  const r: Adamw8bitRefResult = {
    p: new Float32Array(n),
    mCodes: new Uint8Array(n),
    vCodes: new Uint8Array(n),
    mAbsmax: new Float32Array(nb),
    vAbsmax: new Float32Array(nb),
    mNormalized: new Float32Array(n),
    vNormalized: new Float32Array(n),
  };
  const decay = f(1 - o.lr * o.weightDecay);
  const w1 = f(1 - o.beta1), b2 = f(o.beta2), w2 = f(1 - o.beta2), eps = f(o.eps);
  const stepSize = f(o.lr / (1 - o.beta1 ** o.step));
  const bc2Sqrt = f(Math.sqrt(1 - o.beta2 ** o.step));
  const m = new Float32Array(n), v = new Float32Array(n);
  for (let b = 0; b < nb; b++) {
    let am = 0, av = 0;
    const end = Math.min(n, (b + 1) * block);
    for (let i = b * block; i < end; i++) {
      const m0 = f(signed[s.mCodes[i]] * s.mAbsmax[b]);
      const v0 = f(unsigned[s.vCodes[i]] * s.vAbsmax[b]);
      const gi = g[i];
      const pi = f(p[i] * decay);
      m[i] = w1 < 0.5 ? f(m0 + f(w1 * f(gi - m0))) : f(gi - f(f(gi - m0) * f(1 - w1)));
      v[i] = f(f(v0 * b2) + f(f(w2 * gi) * gi));
      const denom = f(f(f(Math.sqrt(v[i])) / bc2Sqrt) + eps);
      r.p[i] = f(pi - f(stepSize * f(m[i] / denom)));
      am = Number.isNaN(am) || Number.isNaN(m[i]) ? NaN : Math.max(am, Math.abs(m[i]));
      av = Number.isNaN(av) || Number.isNaN(v[i]) ? NaN : Math.max(av, v[i]);
    }
    r.mAbsmax[b] = am;
    r.vAbsmax[b] = av;
    for (let i = b * block; i < end; i++) {
      r.mNormalized[i] = am === 0 ? 0 : f(m[i] / am);
      r.vNormalized[i] = av === 0 ? 0 : f(v[i] / av);
      r.mCodes[i] = nearestCode(signed, r.mNormalized[i]);
      r.vCodes[i] = nearestCode(unsigned, r.vNormalized[i]);
    }
  }
  return r;
}
