/**
 * Coordinate-wise quantization sweep: the inner loop shared by the
 * data-aware rounding methods that minimise the layer-wise error
 * ‖X(w − ŵ)‖² = (w − ŵ)ᵀH(w − ŵ) one weight at a time (COMQ, GPFQ).
 *
 * Every row r of the weight is independent; one workgroup owns a row and
 * visits its coordinates i in the given order. With the running gradient
 * g = H(w − ŵ) of that row (kept in `grad`), the exact minimiser over ŵᵢ
 * with every other coordinate fixed is ŵᵢ + gᵢ / Hᵢᵢ; it is rounded onto the
 * row's integer grid of coordinate i's group,
 *
 *   c = clamp(round_half_even((ŵᵢ + gᵢ/Hᵢᵢ) / s) + z, qmin, qmax),  ŵᵢ' = (c − z)·s,
 *
 * and the gradient gets the rank-1 correction g ← g − (ŵᵢ' − ŵᵢ)·H[i, :].
 * A coordinate whose Hᵢᵢ is not positive (a dead input) gets no feedback;
 * a non-finite proposal (NaN in g) or a non-positive scale leaves ŵᵢ as it
 * is, so nothing non-finite is written into the weight.
 *
 * Reference: `tests/reference/coordinate.ts`.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { coordinateSweep } from "./coordinate.ts";
 * await initGPU();
 * // one row, H = I: the sweep is plain rounding of w = [0.26, -0.74] on a 0.5 grid
 * using w = Tensor.fromArray([[0.26, -0.74]]);
 * using g = Tensor.zeros([1, 2]);
 * using h = Tensor.fromArray([[1, 0], [0, 1]]);
 * using s = Tensor.fromArray([[0.5]]);
 * const r = coordinateSweep({ weight: w, grad: g, hessian: h, scales: s, groupSize: 2, qmin: -4, qmax: 3 });
 * console.log(await r.weight.data(), await r.codes.data()); // Float32Array [0.5, -0.5] Float32Array [1, -1]
 * r.weight.dispose(); r.grad.dispose(); r.codes.dispose();
 * ```
 * @module
 */
import { copy, dispatch, Params } from "../runtime.ts";
import { Tensor } from "../tensor.ts";
import { expectDType, expectRank, IS_NAN } from "../ops/wgsl.ts";

/** Inputs of {@link coordinateSweep}. */
export interface CoordinateSweepOptions {
  /** Current quantized weight ŵ `[rows, n]` (f32, values on each group's grid or not). */
  weight: Tensor;
  /** g = (w − ŵ)·H `[rows, n]` (f32; H symmetric). */
  grad: Tensor;
  /** H `[n, n]` (f32, symmetric). */
  hessian: Tensor;
  /** Per-group scales `[rows, n / groupSize]` (f32). */
  scales: Tensor;
  /** Per-group integer zero points, same shape as `scales`; default 0 (symmetric). */
  zeros?: Tensor;
  /** Columns per group (divides n). */
  groupSize: number;
  /** Smallest and largest integer code. */
  qmin: number;
  /** Largest integer code. */
  qmax: number;
  /** Visiting order: a permutation of 0..n−1 for every row (`[n]`) or one per row (`[rows·n]`). Default 0..n−1. */
  order?: Uint32Array;
}

/** Outputs of {@link coordinateSweep}: new tensors the caller owns. */
export interface CoordinateSweepResult {
  /** The swept quantized weight `[rows, n]`. */
  weight: Tensor;
  /** The updated gradient (w − ŵ)·H `[rows, n]`. */
  grad: Tensor;
  /** Integer codes c `[rows, n]` as f32 (ŵ = (c − z)·s); visited coordinates only, others 0. */
  codes: Tensor;
}

const WG = 64;

const CODE = `
struct P { rows: u32, n: u32, groupSize: u32, perRowOrder: u32, qmin: f32, qmax: f32, }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read_write> W: array<f32>;
@group(0) @binding(2) var<storage, read_write> G: array<f32>;
@group(0) @binding(3) var<storage, read_write> C: array<f32>;
@group(0) @binding(4) var<storage, read> H: array<f32>;
@group(0) @binding(5) var<storage, read> S: array<f32>;
@group(0) @binding(6) var<storage, read> Z: array<f32>;
@group(0) @binding(7) var<storage, read> O: array<u32>;
var<workgroup> delta: f32;
${IS_NAN}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
    @builtin(local_invocation_index) t: u32) {
  let r = wid.x + wid.y * nwg.x;
  if (r >= p.rows) { return; }
  let n = p.n;
  let groups = n / p.groupSize;
  let row = r * n;
  let orow = select(0u, row, p.perRowOrder == 1u);
  for (var k = 0u; k < n; k++) {
    let i = O[orow + k];
    if (t == 0u) {
      let cur = W[row + i];
      let hii = H[i * n + i];
      var v = cur;
      if (hii > 0.0) { v = cur + G[row + i] / hii; }
      let s = S[r * groups + i / p.groupSize];
      let z = Z[r * groups + i / p.groupSize];
      var d = 0.0;
      if (s > 0.0 && !is_nan(v) && abs(v) <= 3.4028234e38) {
        let c = clamp(round(v / s) + z, p.qmin, p.qmax);
        let nw = (c - z) * s;
        d = nw - cur;
        W[row + i] = nw;
        C[row + i] = c;
      } else {
        C[row + i] = clamp(round(cur / max(s, 1e-30)) + z, p.qmin, p.qmax);
      }
      delta = d;
    }
    workgroupBarrier();
    let d = delta;
    if (d != 0.0) {
      for (var j = t; j < n; j += ${WG}u) { G[row + j] -= d * H[i * n + j]; }
    }
    storageBarrier();
    workgroupBarrier();
  }
}`;

/**
 * One sweep of coordinate-wise rounding over every row (see the module doc).
 * Returns new tensors; the inputs are not modified.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { coordinateSweep } from "./coordinate.ts";
 * await initGPU();
 * // H = [[1, 1], [1, 1]] (two identical inputs), w = [0.3, 0.3], start from ŵ = 0: g = H·w
 * using w0 = Tensor.zeros([1, 2]);
 * using g = Tensor.fromArray([[0.6, 0.6]]);
 * using h = Tensor.fromArray([[1, 1], [1, 1]]);
 * using s = Tensor.fromArray([[0.5]]);
 * // coordinate 0 takes the whole sum (round(0.6 / 0.5) = 1), coordinate 1 then rounds 0.1 to 0
 * const r = coordinateSweep({ weight: w0, grad: g, hessian: h, scales: s, groupSize: 2, qmin: -2, qmax: 1 });
 * console.log(await r.weight.data()); // Float32Array [0.5, 0]
 * r.weight.dispose(); r.grad.dispose(); r.codes.dispose();
 * ```
 */
export function coordinateSweep(o: CoordinateSweepOptions): CoordinateSweepResult {
  const op = "coordinateSweep";
  for (
    const [name, t] of [["weight", o.weight], ["grad", o.grad], ["hessian", o.hessian]] as const
  ) {
    expectDType(`${op} ${name}`, t, "f32");
    expectRank(`${op} ${name}`, t, 2);
  }
  const [rows, n] = o.weight.shape;
  if (o.grad.shape[0] !== rows || o.grad.shape[1] !== n) {
    throw new RangeError(`${op}: grad ${o.grad} must have the weight's shape [${rows}, ${n}]`);
  }
  if (o.hessian.shape[0] !== n || o.hessian.shape[1] !== n) {
    throw new RangeError(`${op}: hessian ${o.hessian} must be [${n}, ${n}]`);
  }
  if (!Number.isInteger(o.groupSize) || o.groupSize < 1 || n % o.groupSize !== 0) {
    throw new RangeError(`${op}: groupSize ${o.groupSize} must be a positive divisor of ${n}`);
  }
  const groups = n / o.groupSize;
  expectDType(`${op} scales`, o.scales, "f32");
  if (o.scales.size !== rows * groups) {
    throw new RangeError(`${op}: scales ${o.scales} must hold rows × groups = ${rows * groups}`);
  }
  if (o.zeros) {
    expectDType(`${op} zeros`, o.zeros, "f32");
    if (o.zeros.size !== rows * groups) {
      throw new RangeError(`${op}: zeros ${o.zeros} must hold rows × groups = ${rows * groups}`);
    }
  }
  if (!(o.qmin <= o.qmax)) {
    throw new RangeError(`${op}: need qmin ≤ qmax, got ${o.qmin}, ${o.qmax}`);
  }
  const order = o.order ?? Uint32Array.from({ length: n }, (_, i) => i);
  if (order.length !== n && order.length !== rows * n) {
    throw new RangeError(`${op}: order has ${order.length} entries; need n = ${n} or rows·n`);
  }
  for (let k = 0; k < order.length; k++) {
    if (order[k] >= n) throw new RangeError(`${op}: order[${k}] = ${order[k]} is not below ${n}`);
  }
  const weight = Tensor.empty([rows, n]);
  const grad = Tensor.empty([rows, n]);
  const codes = Tensor.zeros([rows, n]);
  if (rows === 0 || n === 0) return { weight, grad, codes };
  copy(o.weight.buffer, 0, weight.buffer, 0, rows * n * 4);
  copy(o.grad.buffer, 0, grad.buffer, 0, rows * n * 4);
  using zeros = o.zeros ? undefined : Tensor.zeros([rows, groups]);
  using orderT = Tensor.fromArray(order, [order.length], "u32");
  const maxDim = 65535;
  const wg: [number, number] = rows <= maxDim
    ? [rows, 1]
    : [Math.ceil(rows / Math.ceil(rows / maxDim)), Math.ceil(rows / maxDim)];
  dispatch(
    op,
    CODE,
    [
      weight.buffer,
      grad.buffer,
      codes.buffer,
      o.hessian.buffer,
      o.scales.buffer,
      (o.zeros ?? zeros!).buffer,
      orderT.buffer,
    ],
    new Params().u(rows, n, o.groupSize, order.length === n ? 0 : 1).f(o.qmin, o.qmax),
    wg,
  );
  return { weight, grad, codes };
}
