/**
 * Pure-TS references for GPTQ: the plain column-by-column algorithm of the
 * paper (no blocks, f64 weights and Hessian) for integer quantizers with
 * min-max ranges, and the kernel `gptqColumns` of kernels/quantize/gptq.ts.
 * Scales follow quant/quantize.ts (f32 arithmetic of quant/formats, f16
 * storage); a value is rounded from its f32 image, as the GPU does.
 * @module
 */
import { affineParams, symmetricScale } from "../../quant/formats/mod.ts";
import { elementFormat, isInt } from "../../quant/quantizer.ts";
import type { DecisionTable } from "../../kernels/quantize/decision_table.ts";
import { choleskyRef } from "./linalg.ts";

const f = Math.fround;

/** An integer quantizer the reference understands. */
export interface IntSpec {
  bits: number;
  symmetric: boolean;
  /** Group size along the input axis (= n for per channel). */
  group: number;
}

/** Options of {@link gptqRef}. */
export interface GptqRefOptions {
  damp?: number;
  actOrder?: boolean;
  staticGroups?: boolean;
}

function f16(s: number): number {
  const h = Float16Array.of(s)[0];
  return h === 0 && s > 0 ? 2 ** -24 : h;
}

/** Scale (and zero) of one group of values, as quantize() computes them. */
export function intParams(v: ArrayLike<number>, spec: IntSpec): { scale: number; zero: number } {
  const fmt = elementFormat(spec.symmetric ? `int${spec.bits}` : `uint${spec.bits}`);
  if (!isInt(fmt)) throw new Error("not an integer format");
  let amax = 0, mn = Infinity, mx = -Infinity;
  for (let i = 0; i < v.length; i++) {
    const x = f(v[i]);
    amax = Math.max(amax, Math.abs(x));
    mn = Math.min(mn, x);
    mx = Math.max(mx, x);
  }
  if (spec.symmetric) return { scale: f16(symmetricScale(amax, fmt)), zero: 0 };
  const p = affineParams(mn, mx, fmt);
  return { scale: f16(p.scale), zero: p.zero };
}

/** Code and value of x under a group's params (round half to even, clamped). */
export function intRound(
  x: number,
  p: { scale: number; zero: number },
  spec: IntSpec,
): { code: number; value: number } {
  const fmt = elementFormat(spec.symmetric ? `int${spec.bits}` : `uint${spec.bits}`);
  if (!isInt(fmt)) throw new Error("not an integer format");
  if (spec.symmetric) {
    const code = fmt.encode(f(f(x) / p.scale));
    return { code, value: f(fmt.values[code] * p.scale) };
  }
  const v = f(f(x) / p.scale);
  let r = Math.round(v);
  if (Math.abs(v - Math.trunc(v)) === 0.5) r = 2 * Math.round(v / 2); // ties to even
  const q = Math.min(fmt.qmax, Math.max(fmt.qmin, r + p.zero));
  return { code: q & ((1 << spec.bits) - 1), value: f((q - p.zero) * p.scale) };
}

/** Upper U with H⁻¹ = UᵀU, in f64. */
export function inverseCholeskyUpperRef(h: ArrayLike<number>, n: number): Float64Array {
  const l = choleskyRef(h, n);
  // L⁻¹ by forward substitution, then H⁻¹ = L⁻ᵀ L⁻¹
  const li = new Float64Array(n * n);
  for (let c = 0; c < n; c++) {
    for (let i = 0; i < n; i++) {
      let s = i === c ? 1 : 0;
      for (let k = 0; k < i; k++) s -= l[i * n + k] * li[k * n + c];
      li[i * n + c] = s / l[i * n + i];
    }
  }
  const inv = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += li[k * n + i] * li[k * n + j];
      inv[i * n + j] = s;
    }
  }
  const l2 = choleskyRef(inv, n);
  const u = new Float64Array(n * n);
  for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) u[i * n + j] = l2[j * n + i];
  return u;
}

/**
 * GPTQ column by column (Frantar et al. 2022, Algorithm 1 without blocks):
 * returns the codes and dequantized values in the original column order.
 */
export function gptqRef(
  w0: ArrayLike<number>,
  h0: ArrayLike<number>,
  rows: number,
  n: number,
  spec: IntSpec,
  o: GptqRefOptions = {},
): { codes: Uint32Array; values: Float64Array; loss: number } {
  const { damp = 0.01, actOrder = false, staticGroups = false } = o;
  const g = spec.group;
  const w = Float64Array.from(w0);
  const h = Float64Array.from(h0);
  // static params from the original W
  const stat: { scale: number; zero: number }[] = [];
  for (let r = 0; r < rows; r++) {
    for (let k = 0; k < n / g; k++) {
      stat.push(intParams(w.subarray(r * n + k * g, r * n + (k + 1) * g), spec));
    }
  }
  const diag = Array.from({ length: n }, (_, j) => f(h[j * n + j]));
  for (let j = 0; j < n; j++) {
    if (diag[j] === 0) {
      diag[j] = 1;
      for (let r = 0; r < rows; r++) w[r * n + j] = 0;
    }
  }
  const perm = Array.from({ length: n }, (_, j) => j);
  if (actOrder) perm.sort((a, b) => diag[b] - diag[a] || a - b);
  const lambda = damp * diag.reduce((a, b) => a + b, 0) / n;
  const hp = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) hp[i * n + j] = h[perm[i] * n + perm[j]];
    hp[i * n + i] = f(diag[perm[i]] + lambda);
  }
  const u = inverseCholeskyUpperRef(hp, n);
  const wp = new Float64Array(rows * n);
  for (let r = 0; r < rows; r++) for (let j = 0; j < n; j++) wp[r * n + j] = w[r * n + perm[j]];
  const codes = new Uint32Array(rows * n);
  const values = new Float64Array(rows * n);
  const dynamic = !staticGroups && g < n;
  const params: { scale: number; zero: number }[] = new Array(rows);
  let loss = 0;
  for (let j = 0; j < n; j++) {
    if (dynamic && j % g === 0) {
      for (let r = 0; r < rows; r++) {
        params[r] = intParams(wp.subarray(r * n + j, r * n + j + g), spec);
      }
    }
    for (let r = 0; r < rows; r++) {
      const p = dynamic ? params[r] : stat[r * (n / g) + Math.floor(perm[j] / g)];
      const x = wp[r * n + j];
      const { code, value } = intRound(x, p, spec);
      codes[r * n + perm[j]] = code;
      values[r * n + perm[j]] = value;
      const err = (x - value) / u[j * n + j];
      loss += err * err / 2;
      for (let k = j + 1; k < n; k++) wp[r * n + k] -= err * u[j * n + k];
    }
  }
  return { codes, values, loss };
}

/**
 * The kernel `gptqColumns` on the CPU in f32: columns [a, b) of block [s, e)
 * with a decision table (scales group-major, "div" mode) — mutates `w`.
 */
export function gptqColumnsRef(
  w: Float32Array,
  u: ArrayLike<number>,
  rows: number,
  n: number,
  groupOf: ArrayLike<number>,
  enc: ArrayLike<number>,
  dec: ArrayLike<number>,
  table: DecisionTable,
  block: [number, number],
  columns: [number, number],
): { codes: Uint32Array; values: Float32Array; err: Float32Array } {
  const [, e] = block;
  const [a, b] = columns;
  const codes = new Uint32Array(rows * n);
  const values = new Float32Array(rows * n);
  const err = new Float32Array(rows * n);
  for (let r = 0; r < rows; r++) {
    for (let j = a; j < b; j++) {
      const at = groupOf[j] * rows + r;
      const x = w[r * n + j];
      const v = f(x / enc[at]);
      let idx = 0;
      while (idx < table.thresholds.length && table.thresholds[idx] <= v) idx++;
      const value = f(table.values[idx] * dec[at]);
      codes[r * n + j] = table.codes[idx];
      values[r * n + j] = value;
      const ej = f(f(x - value) / f(u[j * n + j]));
      err[r * n + j] = ej;
      for (let k = j + 1; k < e; k++) w[r * n + k] = f(w[r * n + k] - f(ej * u[j * n + k]));
    }
  }
  return { codes, values, err };
}
