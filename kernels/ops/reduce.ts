/**
 * Reductions along one axis (`sum`, `mean`, `max`, `min`, `absmax`, `norm2`,
 * `rms`, `argmax`, `argmin`, `variance`, `std`) and over the whole tensor
 * (`reduceAll`, `sumAll`, `meanAll`, `maxAll`, `minAll`, `absmaxAll`).
 *
 * Accumulation is in f32 for f32 and f16 inputs; the result has the input's
 * dtype (arg-reductions give i32). Each workgroup of 256 invocations handles a
 * few outputs: a long contiguous axis gets one workgroup per output row whose
 * invocations stride over the row (coalesced reads) and combine through a tree
 * in workgroup memory; a strided axis puts consecutive outputs on consecutive
 * invocations so reads stay coalesced.
 *
 * NaN: `sum`, `mean`, `max`, `min`, `absmax`, `norm2`, `rms`, `variance` and
 * `std` return NaN for a row holding a NaN; `argmax`/`argmin` treat NaN as the
 * extreme value and return the index of the first NaN (like PyTorch).
 * Reducing over an empty axis throws.
 *
 * Reference: `tests/reference/reduce.ts`.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { argmax, sum } from "./reduce.ts";
 * await initGPU();
 * using x = Tensor.fromArray([[1, 5, 3], [4, 2, 6]]);
 * using s = sum(x, -1);
 * using a = argmax(x, 0);
 * console.log(await s.data(), await a.data()); // Float32Array [9, 12] Int32Array [1, 0, 1]
 * ```
 * @module
 */
import type { DType } from "../dtype.ts";
import { dispatch, grid, Params } from "../runtime.ts";
import { Tensor } from "../tensor.ts";
import { rowLayout, rowReduceCode } from "./row_reduce.ts";
import { expectDType, header, IS_NAN, normAxis } from "./wgsl.ts";

/** Reductions whose result is a value (same dtype as the input). */
export type ValueReduceOp = "sum" | "mean" | "max" | "min" | "absmax" | "norm2" | "rms";
/** Every reduction along an axis. */
export type ReduceOp = ValueReduceOp | "argmax" | "argmin" | "variance" | "std";

/** Options of every axis reduction. */
export interface ReduceOptions {
  /** Keep the reduced axis as a dimension of size 1. Default false. */
  keepDims?: boolean;
}

/** Options of `variance` and `std`. */
export interface VarianceOptions extends ReduceOptions {
  /** Divide by n − 1 (Bessel's correction) instead of n. Default false (population). */
  unbiased?: boolean;
}

// A value reduction: transform each element (`pre`), combine with `kind`, finish with `post`.
const VALUE: Record<ValueReduceOp, { pre: string; kind: "sum" | "max" | "min"; post: string }> = {
  sum: { pre: "x", kind: "sum", post: "v" },
  mean: { pre: "x", kind: "sum", post: "v * P.scale" },
  max: { pre: "x", kind: "max", post: "v" },
  min: { pre: "x", kind: "min", post: "v" },
  absmax: { pre: "abs(x)", kind: "max", post: "v" },
  norm2: { pre: "x * x", kind: "sum", post: "sqrt(v)" },
  rms: { pre: "x * x", kind: "sum", post: "sqrt(v * P.scale)" },
};

const NAN = "bitcast<f32>(0x7fc00000u)";

// Max and min that propagate NaN (WGSL leaves max/min of NaN to the implementation).
const MAXMIN = `
fn fmax(a: f32, b: f32) -> f32 { return select(max(a, b), ${NAN}, is_nan(a) || is_nan(b)); }
fn fmin(a: f32, b: f32) -> f32 { return select(min(a, b), ${NAN}, is_nan(a) || is_nan(b)); }`;

/** WGSL of the state `S` and its functions `s_init`, `s_add`, `s_comb`, `s_fin` for one op. */
function stateCode(op: ReduceOp | "sumsq_partial", pass: "first" | "later"): string {
  if (op === "argmax" || op === "argmin") {
    const cmp = op === "argmax" ? ">" : "<";
    return `
struct S { v: f32, i: u32, }
fn s_init() -> S { return S(0.0, 0xffffffffu); }
fn better(b: S, a: S) -> bool {
  if (b.i == 0xffffffffu) { return false; }
  if (a.i == 0xffffffffu) { return true; }
  let na = is_nan(a.v);
  let nb = is_nan(b.v);
  if (na || nb) { return select(nb, b.i < a.i, na && nb); }
  return b.v ${cmp} a.v || (b.v == a.v && b.i < a.i);
}
fn s_comb(a: S, b: S) -> S {
  if (better(b, a)) { return b; }
  return a;
}
fn s_add(s: S, x: f32, k: u32) -> S { return s_comb(s, S(x, k)); }
fn s_fin(s: S) -> i32 { return i32(s.i); }`;
  }
  if (op === "variance" || op === "std") {
    // Welford per invocation, Chan et al. to combine; q is the sum of squared deviations.
    const v = `select(s.q / (s.n - P.ddof), ${NAN}, s.n <= P.ddof)`;
    return `
struct S { n: f32, m: f32, q: f32, }
fn s_init() -> S { return S(0.0, 0.0, 0.0); }
fn s_add(s: S, x: f32, k: u32) -> S {
  let n = s.n + 1.0;
  let d = x - s.m;
  let m = s.m + d / n;
  return S(n, m, s.q + d * (x - m));
}
fn s_comb(a: S, b: S) -> S {
  let n = a.n + b.n;
  if (b.n == 0.0) { return a; }
  if (a.n == 0.0) { return b; }
  let d = b.m - a.m;
  return S(n, a.m + d * (b.n / n), a.q + b.q + d * d * (a.n * b.n / n));
}
fn s_fin(s: S) -> f32 { return ${op === "std" ? `sqrt(${v})` : v}; }`;
  }
  const spec = op === "sumsq_partial" ? VALUE.norm2 : VALUE[op];
  // Later passes of reduceAll combine partial results, already transformed.
  const pre = pass === "first" ? spec.pre : "x";
  const init = spec.kind === "sum" ? "0.0" : spec.kind === "max" ? "P.ninf" : "-P.ninf";
  const comb = spec.kind === "sum" ? "a + b" : spec.kind === "max" ? "fmax(a, b)" : "fmin(a, b)";
  return `
alias S = f32;
fn s_init() -> S { return ${init}; }
fn s_comb(a: S, b: S) -> S { return ${comb}; }
fn s_add(s: S, x: f32, k: u32) -> S { return s_comb(s, ${pre}); }
fn s_fin(v: S) -> f32 { return ${op === "sumsq_partial" ? "v" : spec.post}; }
${MAXMIN}`;
}

/**
 * The shape of one pass: `outer` × `len` × `inner` elements reduced along
 * `len`, in chunks of `chunk` (one output per chunk; chunk = len for one
 * output per row).
 */
interface Geometry {
  outer: number;
  len: number;
  inner: number;
  chunk: number;
}

/** Queues one reduction pass. */
function launch(
  label: string,
  state: string,
  x: { buffer: GPUBuffer; dtype: DType },
  y: { buffer: GPUBuffer; dtype: DType },
  g: Geometry,
  scale: number,
  ddof: number,
): void {
  const chunks = Math.ceil(g.len / g.chunk);
  const m = g.outer * chunks * g.inner;
  const { tx, ty } = rowLayout(Math.min(g.chunk, g.len), g.inner);
  const T = x.dtype, O = y.dtype;
  // tx and ty are uniforms, not constants, so one pipeline serves every shape.
  const code = rowReduceCode({
    decls: `${header(T, O)}
struct Params {
  m: u32, len: u32, inner: u32, chunk: u32, chunks: u32, tx: u32, ty: u32,
  scale: f32, ninf: f32, ddof: f32,
}
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> X: array<${T}>;
@group(0) @binding(2) var<storage, read_write> Y: array<${O}>;
${state}
${IS_NAN}`,
    accumulate: `if (j < P.m) {
    let per = P.chunks * P.inner;
    let o = j / per;
    let start = ((j % per) / P.inner) * P.chunk;
    let count = min(P.chunk, P.len - start);
    let base = (o * P.len + start) * P.inner + j % P.inner;
    for (var k = ly; k < count; k += P.ty) {
      let x = f32(X[base + k * P.inner]);
      st = s_add(st, x, start + k);
    }
  }`,
    finish: `if (ly == 0u && j < P.m) { Y[j] = ${O}(s_fin(sh[lx])); }`,
  });
  const params = new Params().u(m, g.len, g.inner, g.chunk, chunks, tx, ty).f(
    scale,
    -Infinity,
    ddof,
  );
  dispatch(label, code, [x.buffer, y.buffer], params, grid(Math.ceil(m / tx), 1));
}

/** Workgroups a pass should have at least, to fill a large GPU; fewer splits the axis. */
const TARGET_WORKGROUPS = 1024;

/**
 * A value reduction of `x` (outer × len × inner) into `y`: one pass when that
 * gives enough workgroups, else the axis is split into chunks whose f32
 * partial results later passes combine (so a few long rows, a reduction over
 * the rows of a tall matrix, or a whole tensor still use the whole GPU).
 */
function valueReduce(
  label: string,
  op: ValueReduceOp,
  x: Tensor,
  y: Tensor,
  outer: number,
  len: number,
  inner: number,
): void {
  const spec = VALUE[op];
  const partialOp = spec.pre === "x * x" ? "sumsq_partial" : op === "mean" ? "sum" : op;
  const laterOp: ReduceOp = spec.kind;
  let src: Tensor = x;
  let L = len;
  let pass: "first" | "later" = "first";
  for (;;) {
    const { tx } = rowLayout(L, inner);
    const groups = Math.ceil((outer * inner) / tx);
    const chunks = L <= 2048
      ? 1
      : Math.min(Math.ceil(L / 1024), Math.max(1, Math.ceil(TARGET_WORKGROUPS / groups)));
    if (chunks === 1) {
      launch(label, stateCode(op, pass), src, y, { outer, len: L, inner, chunk: L }, 1 / len, 0);
      break;
    }
    const chunk = Math.ceil(L / chunks);
    const n = Math.ceil(L / chunk);
    const part = Tensor.empty([outer * n * inner], "f32");
    const state = stateCode(pass === "first" ? partialOp : laterOp, pass);
    launch(label, state, src, part, { outer, len: L, inner, chunk }, 1, 0);
    if (src !== x) src.dispose();
    src = part;
    L = n;
    pass = "later";
  }
  if (src !== x) src.dispose();
}

/**
 * Reduces `x` along `axis` (negative counts from the end) with `op`. f32 and
 * f16 inputs, accumulated in f32; the result has the input's dtype, or i32
 * for `argmax`/`argmin`. See the module doc for NaN handling.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { reduce } from "./reduce.ts";
 * await initGPU();
 * using x = Tensor.fromArray([[1, -7, 3], [4, 2, 6]]);
 * using y = reduce("absmax", x, 1, { keepDims: true });
 * console.log(y.shape, await y.data()); // [2, 1] Float32Array [7, 6]
 * ```
 */
export function reduce(
  op: ReduceOp,
  x: Tensor,
  axis = -1,
  options: VarianceOptions = {},
): Tensor {
  const label = `reduce ${op}`;
  if (!(op in VALUE) && !["argmax", "argmin", "variance", "std"].includes(op)) {
    throw new RangeError(
      `reduce: unknown op "${op}"; one of ${
        [...Object.keys(VALUE), "argmax", "argmin", "variance", "std"].join(", ")
      }`,
    );
  }
  expectDType(label, x, "f32", "f16");
  if (x.rank === 0) {
    throw new RangeError(`${label}: ${x.toString()} is a scalar; it has no axis to reduce`);
  }
  const a = normAxis(label, axis, x.rank);
  const len = x.shape[a];
  if (len === 0) {
    throw new RangeError(
      `${label}: axis ${axis} of ${x.toString()} is empty; a reduction needs at least one element`,
    );
  }
  const outer = x.shape.slice(0, a).reduce((p, d) => p * d, 1);
  const inner = x.shape.slice(a + 1).reduce((p, d) => p * d, 1);
  const shape = options.keepDims
    ? x.shape.map((d, i) => (i === a ? 1 : d))
    : x.shape.filter((_, i) => i !== a);
  const isArg = op === "argmax" || op === "argmin";
  const y = Tensor.empty(shape, isArg ? "i32" : x.dtype);
  const m = outer * inner;
  if (m === 0) return y;
  if (op in VALUE) {
    valueReduce(label, op as ValueReduceOp, x, y, outer, len, inner);
  } else {
    const g = { outer, len, inner, chunk: len };
    launch(label, stateCode(op, "first"), x, y, g, 1 / len, options.unbiased ? 1 : 0);
  }
  return y;
}

/** Sum along an axis. @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { sum } from "./reduce.ts";
 * await initGPU();
 * using y = sum(Tensor.fromArray([[1, 2], [3, 4]]), 0);
 * console.log(await y.data()); // Float32Array [4, 6]
 * ```
 */
export function sum(x: Tensor, axis = -1, options: ReduceOptions = {}): Tensor {
  return reduce("sum", x, axis, options);
}

/** Mean along an axis. @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { mean } from "./reduce.ts";
 * await initGPU();
 * using y = mean(Tensor.fromArray([[1, 2], [3, 4]]));
 * console.log(await y.data()); // Float32Array [1.5, 3.5]
 * ```
 */
export function mean(x: Tensor, axis = -1, options: ReduceOptions = {}): Tensor {
  return reduce("mean", x, axis, options);
}

/** Maximum along an axis (NaN if the row holds a NaN). @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { max } from "./reduce.ts";
 * await initGPU();
 * using y = max(Tensor.fromArray([[1, 9], [3, 4]]));
 * console.log(await y.data()); // Float32Array [9, 4]
 * ```
 */
export function max(x: Tensor, axis = -1, options: ReduceOptions = {}): Tensor {
  return reduce("max", x, axis, options);
}

/** Minimum along an axis (NaN if the row holds a NaN). @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { min } from "./reduce.ts";
 * await initGPU();
 * using y = min(Tensor.fromArray([[1, 9], [3, 4]]));
 * console.log(await y.data()); // Float32Array [1, 3]
 * ```
 */
export function min(x: Tensor, axis = -1, options: ReduceOptions = {}): Tensor {
  return reduce("min", x, axis, options);
}

/** Maximum absolute value along an axis (the usual quantization range). @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { absmax } from "./reduce.ts";
 * await initGPU();
 * using y = absmax(Tensor.fromArray([[1, -9], [3, 4]]));
 * console.log(await y.data()); // Float32Array [9, 4]
 * ```
 */
export function absmax(x: Tensor, axis = -1, options: ReduceOptions = {}): Tensor {
  return reduce("absmax", x, axis, options);
}

/** Euclidean norm √Σx² along an axis. @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { norm2 } from "./reduce.ts";
 * await initGPU();
 * using y = norm2(Tensor.fromArray([[3, 4], [0, 1]]));
 * console.log(await y.data()); // Float32Array [5, 1]
 * ```
 */
export function norm2(x: Tensor, axis = -1, options: ReduceOptions = {}): Tensor {
  return reduce("norm2", x, axis, options);
}

/** Root mean square √(Σx²/n) along an axis. @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { rms } from "./reduce.ts";
 * await initGPU();
 * using y = rms(Tensor.fromArray([[3, -3], [0, 0]]));
 * console.log(await y.data()); // Float32Array [3, 0]
 * ```
 */
export function rms(x: Tensor, axis = -1, options: ReduceOptions = {}): Tensor {
  return reduce("rms", x, axis, options);
}

/** Index (i32) of the first maximum along an axis; a NaN counts as the maximum. @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { argmax } from "./reduce.ts";
 * await initGPU();
 * using y = argmax(Tensor.fromArray([[1, 9, 9], [3, 4, 0]]));
 * console.log(await y.data()); // Int32Array [1, 1]
 * ```
 */
export function argmax(x: Tensor, axis = -1, options: ReduceOptions = {}): Tensor {
  return reduce("argmax", x, axis, options);
}

/** Index (i32) of the first minimum along an axis; a NaN counts as the minimum. @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { argmin } from "./reduce.ts";
 * await initGPU();
 * using y = argmin(Tensor.fromArray([[1, 9, 1], [3, 4, 0]]));
 * console.log(await y.data()); // Int32Array [0, 2]
 * ```
 */
export function argmin(x: Tensor, axis = -1, options: ReduceOptions = {}): Tensor {
  return reduce("argmin", x, axis, options);
}

/**
 * Variance along an axis: population (÷n) by default, `unbiased: true`
 * divides by n − 1 (NaN for a single element). Welford's update within each
 * invocation and Chan's pairwise combination, so no catastrophic cancellation
 * for data with a large mean.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { variance } from "./reduce.ts";
 * await initGPU();
 * using x = Tensor.fromArray([[1, 2, 3, 4]]);
 * using p = variance(x);
 * using u = variance(x, -1, { unbiased: true });
 * console.log(await p.data(), await u.data()); // Float32Array [1.25] Float32Array [1.6666666]
 * ```
 */
export function variance(x: Tensor, axis = -1, options: VarianceOptions = {}): Tensor {
  return reduce("variance", x, axis, options);
}

/** Standard deviation: √{@link variance}, same options. @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { std } from "./reduce.ts";
 * await initGPU();
 * using y = std(Tensor.fromArray([[2, 4, 4, 4, 5, 5, 7, 9]]));
 * console.log(await y.data()); // Float32Array [2]
 * ```
 */
export function std(x: Tensor, axis = -1, options: VarianceOptions = {}): Tensor {
  return reduce("std", x, axis, options);
}

/** Reductions over a whole tensor. */
export type ReduceAllOp = "sum" | "mean" | "max" | "min" | "absmax" | "norm2" | "rms";

/**
 * Reduces every element of `x` to a scalar tensor (shape `[]`, the input's
 * dtype): the tensor is cut into chunks, one workgroup each, whose f32
 * partial results a second pass combines. NaN propagates as in {@link reduce}; an empty
 * tensor throws.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { reduceAll } from "./reduce.ts";
 * await initGPU();
 * using x = Tensor.arange(10000);
 * using s = reduceAll("sum", x);
 * console.log(s.shape, await s.item()); // [] 49995000
 * ```
 */
export function reduceAll(op: ReduceAllOp, x: Tensor): Tensor {
  const label = `reduceAll ${op}`;
  if (!(op in VALUE)) {
    throw new RangeError(`reduceAll: unknown op "${op}"; one of ${Object.keys(VALUE).join(", ")}`);
  }
  expectDType(label, x, "f32", "f16");
  const n = x.size;
  if (n === 0) {
    throw new RangeError(
      `${label}: ${x.toString()} is empty; a reduction needs at least one element`,
    );
  }
  const y = Tensor.empty([], x.dtype);
  valueReduce(label, op, x, y, 1, n, 1);
  return y;
}

/** Sum of every element (scalar tensor). @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { sumAll } from "./reduce.ts";
 * await initGPU();
 * using y = sumAll(Tensor.fromArray([[1, 2], [3, 4]]));
 * console.log(await y.item()); // 10
 * ```
 */
export function sumAll(x: Tensor): Tensor {
  return reduceAll("sum", x);
}

/** Mean of every element (scalar tensor). @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { meanAll } from "./reduce.ts";
 * await initGPU();
 * using y = meanAll(Tensor.fromArray([[1, 2], [3, 4]]));
 * console.log(await y.item()); // 2.5
 * ```
 */
export function meanAll(x: Tensor): Tensor {
  return reduceAll("mean", x);
}

/** Maximum of every element (scalar tensor). @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { maxAll } from "./reduce.ts";
 * await initGPU();
 * using y = maxAll(Tensor.fromArray([[1, 2], [3, 4]]));
 * console.log(await y.item()); // 4
 * ```
 */
export function maxAll(x: Tensor): Tensor {
  return reduceAll("max", x);
}

/** Minimum of every element (scalar tensor). @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { minAll } from "./reduce.ts";
 * await initGPU();
 * using y = minAll(Tensor.fromArray([[1, 2], [3, 4]]));
 * console.log(await y.item()); // 1
 * ```
 */
export function minAll(x: Tensor): Tensor {
  return reduceAll("min", x);
}

/** Maximum absolute value of every element (scalar tensor). @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { absmaxAll } from "./reduce.ts";
 * await initGPU();
 * using y = absmaxAll(Tensor.fromArray([[1, -5], [3, 4]]));
 * console.log(await y.item()); // 5
 * ```
 */
export function absmaxAll(x: Tensor): Tensor {
  return reduceAll("absmax", x);
}
