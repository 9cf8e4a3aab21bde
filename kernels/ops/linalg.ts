/**
 * Dense linear algebra in f32 for Hessian-based quantization (GPTQ and
 * friends): `cholesky` (blocked, right-looking), `choleskyChecked` (the same
 * with a clear error for a matrix that is not positive definite),
 * `triangularSolve`, `spdInverse` and `choleskyInverseUpper` (GPTQ's upper
 * Cholesky factor of H⁻¹).
 *
 * Blocked Cholesky with 64-column blocks: for each block, one workgroup
 * factors the diagonal block in workgroup memory (flagging the first
 * non-positive pivot with an atomic), a triangular-solve kernel computes the
 * panel below it, and the strided GEMM of `matmul.ts` applies the symmetric
 * trailing update (lower-triangle tiles only). Triangular solves are blocked
 * the same way: a small in-workgroup solve per 64-row block, then a GEMM
 * update of the remaining rows.
 *
 * Reference: `tests/reference/linalg.ts`.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { cholesky } from "./linalg.ts";
 * await initGPU();
 * using a = Tensor.fromArray([[4, 2], [2, 5]]);
 * using l = cholesky(a);
 * console.log(await l.data()); // Float32Array [2, 0, 1, 2]
 * ```
 * @module
 */
import { copy, dispatch, Params } from "../runtime.ts";
import { Tensor } from "../tensor.ts";
import { gemm, type MatrixView } from "./matmul.ts";
import { expectDType, expectRank, IS_NAN } from "./wgsl.ts";

/** Columns per block of the blocked algorithms (the diagonal block lives in workgroup memory). */
const NB = 64;
/** Columns of the right-hand side solved per workgroup by the block solve. */
const SOLVE_WG = 32;
const NO_FAILURE = 0xffffffff;

function expectSquare(op: string, a: Tensor): number {
  expectDType(op, a, "f32");
  expectRank(op, a, 2);
  if (a.shape[0] !== a.shape[1]) {
    throw new RangeError(`${op}: ${a} is not square`);
  }
  return a.shape[0];
}

// Factors the bs×bs diagonal block at (j, j) of the n×n matrix X in place
// (lower triangle; the upper part of the block is zeroed) and records the
// first column whose pivot is not positive in Info[0] (atomicMin).
const POTRF = `
struct P { n: u32, j: u32, bs: u32, }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> X: array<f32>;
@group(0) @binding(2) var<storage, read_write> Info: array<atomic<u32>>;
var<workgroup> S: array<f32, ${NB * NB}>;
${IS_NAN}
@compute @workgroup_size(256)
fn main(@builtin(local_invocation_index) lid: u32) {
  let bs = p.bs;
  let base = p.j * p.n + p.j;
  for (var e = lid; e < bs * bs; e += 256u) {
    S[(e / bs) * ${NB}u + e % bs] = X[base + (e / bs) * p.n + e % bs];
  }
  workgroupBarrier();
  for (var c = 0u; c < bs; c++) {
    let d = S[c * ${NB}u + c];
    if (lid == 0u && (is_nan(d) || !(d > 0.0))) { atomicMin(&Info[0], p.j + c); }
    let piv = sqrt(d);
    workgroupBarrier();
    for (var i = c + lid; i < bs; i += 256u) {
      S[i * ${NB}u + c] = select(S[i * ${NB}u + c] / piv, piv, i == c);
    }
    workgroupBarrier();
    let w = bs - c - 1u;
    for (var e = lid; e < w * w; e += 256u) {
      let i = c + 1u + e / w;
      let k = c + 1u + e % w;
      if (k <= i) { S[i * ${NB}u + k] -= S[i * ${NB}u + c] * S[k * ${NB}u + c]; }
    }
    workgroupBarrier();
  }
  for (var e = lid; e < bs * bs; e += 256u) {
    let i = e / bs;
    let k = e % bs;
    X[base + i * p.n + k] = select(S[i * ${NB}u + k], 0.0, k > i);
  }
}`;

/**
 * Solves T·Z = Xb in place for one block: T is bs×bs triangular (element
 * (i, k) at tOff + i·tRs + k·tCs), Xb is bs×m (element (i, c) at
 * xOff + i·xRs + c·xCs); one thread per column c.
 */
function solveCode(upper: boolean, aliasT: boolean): string {
  const T = aliasT ? "X" : "Tm";
  const loop = upper
    ? `for (var ii = 0u; ii < bs; ii++) { let i = bs - 1u - ii;
      var z = X[p.xOff + i * p.xRs + col * p.xCs];
      for (var k = i + 1u; k < bs; k++) { z -= Ts[i * ${NB}u + k] * Z[k * ${SOLVE_WG}u + lid]; }`
    : `for (var i = 0u; i < bs; i++) {
      var z = X[p.xOff + i * p.xRs + col * p.xCs];
      for (var k = 0u; k < i; k++) { z -= Ts[i * ${NB}u + k] * Z[k * ${SOLVE_WG}u + lid]; }`;
  return `
struct P { tOff: u32, tRs: u32, tCs: u32, xOff: u32, xRs: u32, xCs: u32, bs: u32, m: u32, }
@group(0) @binding(0) var<uniform> p: P;
${aliasT ? "" : "@group(0) @binding(1) var<storage, read> Tm: array<f32>;"}
@group(0) @binding(${aliasT ? 1 : 2}) var<storage, read_write> X: array<f32>;
var<workgroup> Ts: array<f32, ${NB * NB}>;
var<workgroup> Z: array<f32, ${NB * SOLVE_WG}>;
@compute @workgroup_size(${SOLVE_WG})
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  let bs = p.bs;
  for (var e = lid; e < bs * bs; e += ${SOLVE_WG}u) {
    let i = e / bs;
    let k = e % bs;
    Ts[i * ${NB}u + k] = ${T}[p.tOff + i * p.tRs + k * p.tCs];
  }
  workgroupBarrier();
  let col = wg.x * ${SOLVE_WG}u + lid;
  if (col < p.m) {
    ${loop}
      Z[i * ${SOLVE_WG}u + lid] = z / Ts[i * ${NB}u + i];
    }
    for (var i = 0u; i < bs; i++) { X[p.xOff + i * p.xRs + col * p.xCs] = Z[i * ${SOLVE_WG}u + lid]; }
  }
}`;
}

/** A matrix view with its (row, column) strides resolved. */
interface View extends MatrixView {
  rows: number;
  cols: number;
}

function strides(v: View): [number, number] {
  return v.trans ? [1, v.ld] : [v.ld, 1];
}

/** The sub-matrix of op(v) starting at (r0, c0). */
function sub(v: View, r0: number, c0: number, rows: number, cols: number): View {
  const [rs, cs] = strides(v);
  return { ...v, offset: v.offset + r0 * rs + c0 * cs, rows, cols };
}

function solveBlock(t: View, upper: boolean, x: View): void {
  const [tRs, tCs] = strides(t);
  const [xRs, xCs] = strides(x);
  const aliasT = t.buffer === x.buffer;
  const params = new Params().u(t.offset, tRs, tCs, x.offset, xRs, xCs, t.rows, x.cols);
  const bufs = aliasT ? [x.buffer] : [t.buffer, x.buffer];
  dispatch(`triangular block solve`, solveCode(upper, aliasT), bufs, params, [
    Math.ceil(x.cols / SOLVE_WG),
  ]);
}

/** C -= A·B on views, where C may be a transposed view (then computed as Cᵀ -= Bᵀ·Aᵀ). */
function gemmSub(c: View, a: View, b: View): void {
  if (c.rows === 0 || c.cols === 0 || a.cols === 0) return;
  if (c.trans) {
    const flip = (v: View): View => ({ ...v, trans: !v.trans, rows: v.cols, cols: v.rows });
    gemmSub(flip(c), flip(b), flip(a));
    return;
  }
  gemm({ a, b, c, M: c.rows, N: c.cols, K: a.cols, alpha: -1, accumulate: true });
}

/** Solves op-triangular T·X = X in place (T n×n lower or upper, X n×m), blocked. */
function solveInPlace(t: View, upper: boolean, x: View): void {
  const n = t.rows;
  const starts: number[] = [];
  for (let j = 0; j < n; j += NB) starts.push(j);
  if (upper) starts.reverse();
  for (const j of starts) {
    const bs = Math.min(NB, n - j);
    const xj = sub(x, j, 0, bs, x.cols);
    solveBlock(sub(t, j, j, bs, bs), upper, xj);
    if (!upper && j + bs < n) {
      gemmSub(sub(x, j + bs, 0, n - j - bs, x.cols), sub(t, j + bs, j, n - j - bs, bs), xj);
    }
    if (upper && j > 0) gemmSub(sub(x, 0, 0, j, x.cols), sub(t, 0, j, j, bs), xj);
  }
}

function whole(t: Tensor, trans = false): View {
  const [r, c] = t.shape;
  return {
    buffer: t.buffer,
    offset: 0,
    ld: c,
    trans,
    rows: trans ? c : r,
    cols: trans ? r : c,
  };
}

/** Options of {@link cholesky}. */
export interface CholeskyOptions {
  /** Return the upper factor U = Lᵀ (A = UᵀU) instead of L. Default false. */
  upper?: boolean;
}

/** Runs the blocked factorisation; returns the factor and the u32 failure flag (caller disposes). */
function factor(op: string, a: Tensor, upper: boolean): { l: Tensor; info: Tensor } {
  const n = expectSquare(op, a);
  const w = Tensor.empty([n, n]);
  copy(a.buffer, 0, w.buffer, 0, a.byteLength);
  const info = Tensor.fromArray(new Uint32Array([NO_FAILURE]), [1], "u32");
  const view = whole(w);
  for (let j = 0; j < n; j += NB) {
    const bs = Math.min(NB, n - j);
    dispatch("cholesky block", POTRF, [w.buffer, info.buffer], new Params().u(n, j, bs), [1]);
    const r = n - j - bs;
    if (r === 0) continue;
    // panel: L21·L11ᵀ = A21  ⇔  L11·L21ᵀ = A21ᵀ
    solveBlock(sub(view, j, j, bs, bs), false, sub({ ...view, trans: true }, j, j + bs, bs, r));
    // trailing update A22 -= L21·L21ᵀ (lower tiles)
    const l21 = sub(view, j + bs, j, r, bs);
    gemm({
      a: l21,
      b: { ...l21, trans: true },
      c: sub(view, j + bs, j + bs, r, r),
      M: r,
      N: r,
      K: bs,
      alpha: -1,
      accumulate: true,
      lowerOnly: true,
    });
  }
  const l = Tensor.empty([n, n]);
  const code = `
struct P { n: u32, }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> W: array<f32>;
@group(0) @binding(2) var<storage, read_write> L: array<f32>;
@compute @workgroup_size(16, 16)
fn main(@builtin(global_invocation_id) g: vec3u) {
  let i = g.y;
  let k = g.x;
  if (i >= p.n || k >= p.n) { return; }
  ${
    upper
      ? "L[i * p.n + k] = select(W[k * p.n + i], 0.0, k < i);"
      : "L[i * p.n + k] = select(W[i * p.n + k], 0.0, k > i);"
  }
}`;
  if (n) {
    dispatch("cholesky triangle", code, [w.buffer, l.buffer], new Params().u(n), [
      Math.ceil(n / 16),
      Math.ceil(n / 16),
    ]);
  }
  w.dispose();
  return { l, info };
}

/**
 * Cholesky factor L (lower, A = L·Lᵀ) of a symmetric positive-definite f32
 * matrix; only A's lower triangle is read. A matrix that is not positive
 * definite gives NaN from the first failing column on — use
 * {@link choleskyChecked} for an error instead.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { cholesky } from "./linalg.ts";
 * await initGPU();
 * using a = Tensor.fromArray([[9, 3], [3, 5]]);
 * using u = cholesky(a, { upper: true });
 * console.log(await u.data()); // Float32Array [3, 1, 0, 2]
 * ```
 */
export function cholesky(a: Tensor, opts: CholeskyOptions = {}): Tensor {
  const { l, info } = factor("cholesky", a, opts.upper ?? false);
  info.dispose();
  return l;
}

/**
 * {@link cholesky} that reads back a failure flag and throws
 * "matrix is not positive definite at column j; add damping …" when a pivot
 * is not positive (or NaN).
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { choleskyChecked } from "./linalg.ts";
 * await initGPU();
 * using a = Tensor.fromArray([[1, 2], [2, 1]]); // eigenvalues 3 and -1
 * try {
 *   await choleskyChecked(a);
 * } catch (e) {
 *   console.log((e as Error).message.startsWith("choleskyChecked: matrix is not positive definite at column 1")); // true
 * }
 * ```
 */
export async function choleskyChecked(a: Tensor, opts: CholeskyOptions = {}): Promise<Tensor> {
  const { l, info } = factor("choleskyChecked", a, opts.upper ?? false);
  try {
    const col = (await info.data())[0];
    if (col !== NO_FAILURE) {
      l.dispose();
      const d = await a.data();
      const n = a.shape[0];
      let mean = 0;
      for (let i = 0; i < n; i++) mean += d[i * n + i] / n;
      throw new RangeError(
        `choleskyChecked: matrix is not positive definite at column ${col} (of ${n})${
          a.name ? ` in "${a.name}"` : ""
        }; add damping (e.g. 0.01·mean(diag) = ${(0.01 * mean).toPrecision(4)} to the diagonal)`,
      );
    }
    return l;
  } finally {
    info.dispose();
  }
}

/** Options of {@link triangularSolve}. */
export interface TriangularSolveOptions {
  /** `l` is lower triangular (default true); else upper. Only that triangle is read. */
  lower?: boolean;
  /** Solve with lᵀ instead of l. Default false. */
  transpose?: boolean;
  /** Solve op(l)·X = B (default true); false solves X·op(l) = B. */
  left?: boolean;
}

/**
 * Solves op(L)·X = B (or X·op(L) = B with `left: false`) for a triangular
 * n×n `l` and B of shape [n, m] (or [m, n]); f32. Blocked: 64-row diagonal
 * solves in workgroup memory plus GEMM updates.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { triangularSolve } from "./linalg.ts";
 * await initGPU();
 * using l = Tensor.fromArray([[2, 0], [1, 4]]);
 * using b = Tensor.fromArray([[2], [9]]);
 * using x = triangularSolve(l, b); // 2x₀ = 2, x₀ + 4x₁ = 9
 * console.log(await x.data()); // Float32Array [1, 2]
 * ```
 */
export function triangularSolve(l: Tensor, b: Tensor, opts: TriangularSolveOptions = {}): Tensor {
  const { lower = true, transpose = false, left = true } = opts;
  const n = expectSquare("triangularSolve", l);
  expectDType("triangularSolve", b, "f32");
  expectRank("triangularSolve", b, 2);
  const along = left ? b.shape[0] : b.shape[1];
  if (along !== n) {
    throw new RangeError(
      `triangularSolve: ${b} does not match the ${n}×${n} triangle ${l} ` +
        `(${left ? "rows" : "columns"} of B must be ${n} for ${
          left ? "op(L)·X = B" : "X·op(L) = B"
        })`,
    );
  }
  const x = Tensor.empty(b.shape);
  if (x.size === 0) return x;
  copy(b.buffer, 0, x.buffer, 0, b.byteLength);
  // Canonical form T·X' = X': right-hand solves use X' = Xᵀ and T = op(L)ᵀ.
  const transT = left ? transpose : !transpose;
  const upper = lower === transT; // lower XOR transposed gives a lower T
  solveInPlace(whole(l, transT), upper, whole(x, !left));
  return x;
}

/**
 * Inverse of a symmetric positive-definite matrix through its Cholesky
 * factor: A⁻¹ = L⁻ᵀ·L⁻¹.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { spdInverse } from "./linalg.ts";
 * await initGPU();
 * using a = Tensor.fromArray([[4, 0], [0, 2]]);
 * using inv = spdInverse(a);
 * console.log(await inv.data()); // Float32Array [0.25, 0, 0, 0.5]
 * ```
 */
export function spdInverse(a: Tensor): Tensor {
  const n = expectSquare("spdInverse", a);
  using l = cholesky(a);
  using eye = identity(n);
  using linv = triangularSolve(l, eye); // L⁻¹
  return triangularSolve(l, linv, { transpose: true }); // L⁻ᵀ·L⁻¹
}

/**
 * The upper Cholesky factor U of H⁻¹ (H⁻¹ = Uᵀ·U), as GPTQ uses it: row q
 * of U holds the inverse-Hessian information to update columns q.. after
 * quantizing column q. Add damping to H first if it may be singular.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { choleskyInverseUpper } from "./linalg.ts";
 * await initGPU();
 * using h = Tensor.fromArray([[4, 0], [0, 0.25]]);
 * using u = choleskyInverseUpper(h);
 * console.log(await u.data()); // Float32Array [0.5, 0, 0, 2]
 * ```
 */
export function choleskyInverseUpper(h: Tensor): Tensor {
  expectSquare("choleskyInverseUpper", h);
  using inv = spdInverse(h);
  return cholesky(inv, { upper: true });
}

function identity(n: number): Tensor {
  const t = Tensor.zeros([n, n]);
  const code = `
struct P { n: u32, }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> Y: array<f32>;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) g: vec3u) {
  if (g.x < p.n) { Y[g.x * p.n + g.x] = 1.0; }
}`;
  dispatch("identity", code, [t.buffer], new Params().u(n), [Math.ceil(n / 256)]);
  return t;
}
