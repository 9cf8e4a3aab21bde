/**
 * Private machinery of the reductions (reduce.ts, reduce_all.ts): each op's
 * state in WGSL, one pass on the row-reduction skeleton (row_reduce.ts), and
 * the multi-pass value reduction that splits long axes over many workgroups.
 *
 * @module
 */
import type { DType } from "../dtype.ts";
import { dispatch, grid, Params } from "../runtime.ts";
import { Tensor } from "../tensor.ts";
import { rowLayout, rowReduceCode } from "./row_reduce.ts";
import { header, IS_NAN } from "./wgsl.ts";

/** Reductions whose result is a value (same dtype as the input). */
export type ValueReduceOp = "sum" | "mean" | "max" | "min" | "absmax" | "norm2" | "rms";
/** Every reduction along an axis. */
export type ReduceOp = ValueReduceOp | "argmax" | "argmin" | "variance" | "std";

// A value reduction: transform each element (`pre`), combine with `kind`, finish with `post`.
export const VALUE: Record<
  ValueReduceOp,
  { pre: string; kind: "sum" | "max" | "min"; post: string }
> = {
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
export function stateCode(op: ReduceOp | "sumsq_partial", pass: "first" | "later"): string {
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
export function launch(
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
export function valueReduce(
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
