/**
 * Pure-TS reference for kernels/quantize/coordinate.ts: the coordinate-wise
 * rounding sweep, one row at a time, in f32 arithmetic (Math.fround after
 * every operation, as the kernel computes).
 * @module
 */

const f = Math.fround;

/** round half to even, as WGSL's round(). */
export function roundHalfEvenRef(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** Inputs of {@link coordinateSweepRef} (flat row-major arrays). */
export interface SweepRefInput {
  rows: number;
  n: number;
  weight: ArrayLike<number>;
  grad: ArrayLike<number>;
  hessian: ArrayLike<number>;
  scales: ArrayLike<number>;
  zeros?: ArrayLike<number>;
  groupSize: number;
  qmin: number;
  qmax: number;
  order?: ArrayLike<number>;
}

/** The sweep, row by row: returns the new weight, gradient and codes. */
export function coordinateSweepRef(o: SweepRefInput): {
  weight: Float32Array;
  grad: Float32Array;
  codes: Float32Array;
} {
  const { rows, n, groupSize } = o;
  const groups = n / groupSize;
  const w = Float32Array.from(o.weight);
  const g = Float32Array.from(o.grad);
  const c = new Float32Array(rows * n);
  const order = o.order ?? Array.from({ length: n }, (_, i) => i);
  const perRow = order.length !== n;
  for (let r = 0; r < rows; r++) {
    for (let k = 0; k < n; k++) {
      const i = order[(perRow ? r * n : 0) + k];
      const cur = w[r * n + i];
      const hii = o.hessian[i * n + i];
      const v = hii > 0 ? f(cur + f(g[r * n + i] / hii)) : cur;
      const s = o.scales[r * groups + Math.floor(i / groupSize)];
      const z = o.zeros ? o.zeros[r * groups + Math.floor(i / groupSize)] : 0;
      let d = 0;
      if (s > 0 && Number.isFinite(v)) {
        const code = Math.min(o.qmax, Math.max(o.qmin, roundHalfEvenRef(f(v / s)) + z));
        const nw = f((code - z) * s);
        d = f(nw - cur);
        w[r * n + i] = nw;
        c[r * n + i] = code;
      } else {
        c[r * n + i] = Math.min(
          o.qmax,
          Math.max(o.qmin, roundHalfEvenRef(f(cur / Math.max(s, 1e-30))) + z),
        );
      }
      if (d !== 0) {
        for (let j = 0; j < n; j++) g[r * n + j] = f(g[r * n + j] - f(d * o.hessian[i * n + j]));
      }
    }
  }
  return { weight: w, grad: g, codes: c };
}

/** A small layer problem in the papers' notation: X `[m, N]` (samples × inputs), W `[rows, N]`. */
export interface LayerRefProblem {
  m: number;
  N: number;
  rows: number;
  X: Float64Array;
  W: Float64Array;
  /** Per-row, per-group scales and zeros of the integer alphabet. */
  scales: Float64Array;
  zeros: Float64Array;
  groupSize: number;
  qmin: number;
  qmax: number;
}

function col(p: LayerRefProblem, t: number): Float64Array {
  const c = new Float64Array(p.m);
  for (let k = 0; k < p.m; k++) c[k] = p.X[k * p.N + t];
  return c;
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/**
 * GPFQ exactly as in the paper, per neuron, with explicit u_t ∈ ℝ^m:
 * q_t = Q(⟨X_t, u_{t−1} + w_t X_t⟩ / ‖X_t‖²), u_t = u_{t−1} + (w_t − q_t) X_t.
 */
export function gpfqRef(p: LayerRefProblem): Float64Array {
  const { N, rows, groupSize } = p;
  const groups = N / groupSize;
  const Q = new Float64Array(rows * N);
  const cols = Array.from({ length: N }, (_, t) => col(p, t));
  for (let r = 0; r < rows; r++) {
    const u = new Float64Array(p.m);
    for (let t = 0; t < N; t++) {
      const Xt = cols[t];
      const w = p.W[r * N + t];
      const nn = dot(Xt, Xt);
      const arg = nn > 0 ? (dot(Xt, u) + w * nn) / nn : w;
      const s = p.scales[r * groups + Math.floor(t / groupSize)];
      const z = p.zeros[r * groups + Math.floor(t / groupSize)];
      const c = Math.min(p.qmax, Math.max(p.qmin, roundHalfEvenRef(arg / s) + z));
      const q = (c - z) * s;
      Q[r * N + t] = q;
      for (let k = 0; k < p.m; k++) u[k] += (w - q) * Xt[k];
    }
  }
  return Q;
}

/**
 * COMQ per neuron with the explicit residual e = X(w − ŵ) ∈ ℝ^m: K passes of
 * bit-code updates in the greedy order |w_i|·‖X_i‖ descending,
 * Q_i ← clamp(round(Q_i + ⟨X_i, e⟩/(δ‖X_i‖²))), each followed (when
 * `updateScales`) by δ_g ← δ_g + ⟨X u_g, e⟩/‖X u_g‖² per group (u_g = Q − z on
 * group g), rounded by `roundScale`. Starts from the given codes.
 */
export function comqRef(
  p: LayerRefProblem,
  codes0: ArrayLike<number>,
  options: { iterations: number; updateScales: boolean; roundScale: (s: number) => number },
): { weight: Float64Array; scales: Float64Array } {
  const { N, rows, groupSize, m } = p;
  const groups = N / groupSize;
  const cols = Array.from({ length: N }, (_, t) => col(p, t));
  const delta = Float64Array.from(p.scales);
  const out = new Float64Array(rows * N);
  for (let r = 0; r < rows; r++) {
    const Q = Float64Array.from({ length: N }, (_, i) => codes0[r * N + i]);
    const sOf = (i: number) => delta[r * groups + Math.floor(i / groupSize)];
    const zOf = (i: number) => p.zeros[r * groups + Math.floor(i / groupSize)];
    const e = new Float64Array(m);
    for (let i = 0; i < N; i++) {
      const d = p.W[r * N + i] - (Q[i] - zOf(i)) * sOf(i);
      for (let k = 0; k < m; k++) e[k] += d * cols[i][k];
    }
    const order = Array.from({ length: N }, (_, i) => i).sort((a, b) =>
      Math.abs(p.W[r * N + b]) * Math.sqrt(dot(cols[b], cols[b])) -
        Math.abs(p.W[r * N + a]) * Math.sqrt(dot(cols[a], cols[a])) || a - b
    );
    for (let it = 0; it < options.iterations; it++) {
      for (const i of order) {
        const nn = dot(cols[i], cols[i]);
        if (!(nn > 0)) continue;
        const s = sOf(i), z = zOf(i);
        const c = Math.min(
          p.qmax,
          Math.max(p.qmin, roundHalfEvenRef(Q[i] - z + dot(cols[i], e) / (s * nn)) + z),
        );
        const step = (c - Q[i]) * s;
        Q[i] = c;
        for (let k = 0; k < m; k++) e[k] -= step * cols[i][k];
      }
      if (!options.updateScales) continue;
      for (let g = 0; g < groups; g++) {
        const xu = new Float64Array(m);
        for (let i = g * groupSize; i < (g + 1) * groupSize; i++) {
          const u = Q[i] - zOf(i);
          for (let k = 0; k < m; k++) xu[k] += u * cols[i][k];
        }
        const den = dot(xu, xu);
        if (!(den > 0)) continue;
        const old = delta[r * groups + g];
        const next = options.roundScale(old + dot(xu, e) / den);
        if (!(next > 0)) continue;
        delta[r * groups + g] = next;
        for (let k = 0; k < m; k++) e[k] -= (next - old) * xu[k];
      }
    }
    for (let i = 0; i < N; i++) out[r * N + i] = (Q[i] - zOf(i)) * sOf(i);
  }
  return { weight: out, scales: delta };
}
