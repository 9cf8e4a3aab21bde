/**
 * Pure-TS references for kernels/ops/elementwise.ts: loops over every output
 * coordinate, computed in f64, obviously correct and slow.
 * @module
 */
import { broadcastShapes } from "../../kernels/ops/wgsl.ts";

/** Reference functions by op name, in f64. */
export const UNARY_REF: Record<string, (v: number) => number> = {
  neg: (v) => -v,
  abs: Math.abs,
  sign: Math.sign,
  square: (v) => v * v,
  sqrt: Math.sqrt,
  rsqrt: (v) => 1 / Math.sqrt(v),
  recip: (v) => 1 / v,
  exp: Math.exp,
  log: Math.log,
  log2: Math.log2,
  exp2: (v) => 2 ** v,
  sin: Math.sin,
  cos: Math.cos,
  tanh: Math.tanh,
  sigmoid: (v) => 1 / (1 + Math.exp(-v)),
  silu: (v) => v / (1 + Math.exp(-v)),
  relu: (v) => Math.max(v, 0),
  gelu: (v) => 0.5 * v * (1 + Math.tanh(0.7978845608028654 * (v + 0.044715 * v ** 3))),
  floor: Math.floor,
  ceil: Math.ceil,
  round: roundHalfEven,
  trunc: Math.trunc,
  isnan: (v) => (Number.isNaN(v) ? 1 : 0),
};

/** Round half to even, as WGSL's `round`. */
export function roundHalfEven(v: number): number {
  const f = Math.floor(v);
  const d = v - f;
  if (d > 0.5) return f + 1;
  if (d < 0.5) return f;
  return f % 2 === 0 ? f : f + 1;
}

/** Reference binary operators in f64 (comparisons give 0/1). */
export const BINARY_REF: Record<string, (a: number, b: number) => number> = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  max: Math.max,
  min: Math.min,
  pow: (a, b) => a ** b,
  gt: (a, b) => +(a > b),
  ge: (a, b) => +(a >= b),
  lt: (a, b) => +(a < b),
  le: (a, b) => +(a <= b),
  eq: (a, b) => +(a === b),
  ne: (a, b) => +(a !== b),
};

/** Index of `coord` in an array of `shape` broadcast to the coordinate's rank. */
function broadcastIndex(coord: number[], shape: readonly number[]): number {
  let idx = 0;
  const off = coord.length - shape.length;
  for (let k = 0; k < shape.length; k++) {
    const c = shape[k] === 1 ? 0 : coord[off + k];
    idx = idx * shape[k] + c;
  }
  return idx;
}

/** Applies `f` to broadcast operands, one output coordinate at a time. */
export function broadcastMap(
  inputs: { data: ArrayLike<number>; shape: readonly number[] }[],
  f: (...v: number[]) => number,
): { data: Float64Array; shape: number[] } {
  const shape = broadcastShapes(...inputs.map((x) => x.shape));
  const n = shape.reduce((a, b) => a * b, 1);
  const out = new Float64Array(n);
  const coord = new Array(shape.length).fill(0);
  for (let i = 0; i < n; i++) {
    let r = i;
    for (let k = shape.length - 1; k >= 0; k--) {
      coord[k] = r % shape[k];
      r = Math.floor(r / shape[k]);
    }
    out[i] = f(...inputs.map((x) => Number(x.data[broadcastIndex(coord, x.shape)])));
  }
  return { data: out, shape };
}
