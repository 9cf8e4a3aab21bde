/**
 * The GPU half of gradient-norm clipping: combine per-tensor L2 norms into
 * the total norm and the clip coefficient, then scale tensors in place by that
 * coefficient, which stays on the GPU (no readback between the two):
 *
 *   total = √Σₖ normₖ²,  coef = min(maxNorm / (total + 1e-6), 1)
 *
 * as `torch.nn.utils.clip_grad_norm_` (a NaN total gives a NaN coefficient,
 * which the scaling spreads to every tensor, as in torch).
 *
 * Reference: `tests/reference/optim.ts`.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { clipCoefficient, scaleInPlace } from "./clip_scale.ts";
 * await initGPU();
 * using norms = Tensor.fromArray([3, 4]);
 * using c = clipCoefficient(norms, 1);
 * using x = Tensor.fromArray([10, -5]);
 * scaleInPlace(x, c, 1);
 * console.log(await c.data(), await x.data()); // Float32Array [5, 0.19999995827674866] Float32Array [1.9999995231628418, -0.9999997615814209]
 * ```
 * @module
 */
import { dispatch, grid, linearIndex, Params } from "../runtime.ts";
import { Tensor } from "../tensor.ts";
import { ENTRY_BUILTINS, IS_NAN } from "../ops/wgsl.ts";
import { expectF32 } from "./_checks.ts";

const WG = 256;

/**
 * `[total, coef]` (f32 `[2]`, a new tensor owned by the caller) from the
 * per-tensor norms `norms` (f32 `[k]`, k ≥ 1): one workgroup sums the squares.
 */
export function clipCoefficient(norms: Tensor, maxNorm: number): Tensor {
  const op = "clipCoefficient";
  expectF32(op, norms);
  if (norms.size === 0) throw new RangeError(`${op}: ${norms.toString()} holds no norms`);
  const code = `
struct Params { max_norm: f32, k: u32, }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> N: array<f32>;
@group(0) @binding(2) var<storage, read_write> Y: array<f32>;
var<workgroup> acc: array<f32, ${WG}>;
${IS_NAN}
@compute @workgroup_size(${WG}) fn main(@builtin(local_invocation_id) lid: vec3u) {
  var s = 0.0;
  for (var i = lid.x; i < P.k; i += ${WG}u) { s += N[i] * N[i]; }
  acc[lid.x] = s;
  workgroupBarrier();
  for (var h = ${WG / 2}u; h > 0u; h = h / 2u) {
    if (lid.x < h) { acc[lid.x] += acc[lid.x + h]; }
    workgroupBarrier();
  }
  if (lid.x == 0u) {
    let total = sqrt(acc[0]);
    let c = P.max_norm / (total + 1e-6);
    Y[0] = total;
    Y[1] = select(min(c, 1.0), c, is_nan(c));
  }
}`;
  const y = Tensor.empty([2]);
  dispatch(op, code, [norms.buffer, y.buffer], new Params().f(maxNorm).u(norms.size), [1]);
  return y;
}

/** Multiplies every element of `x` (f32) in place by `scalars[index]` (f32, on the GPU). */
export function scaleInPlace(x: Tensor, scalars: Tensor, index = 0): void {
  const op = "scaleInPlace";
  expectF32(op, x, scalars);
  if (!Number.isInteger(index) || index < 0 || index >= scalars.size) {
    throw new RangeError(`${op}: index ${index} is outside ${scalars.toString()}`);
  }
  if (x.size === 0) return;
  const code = `
struct Params { index: u32, n: u32, }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read_write> X: array<f32>;
@group(0) @binding(2) var<storage, read> S: array<f32>;
@compute @workgroup_size(${WG}) fn main(${ENTRY_BUILTINS}) {
  let i = ${linearIndex(WG)};
  if (i >= P.n) { return; }
  X[i] = X[i] * S[P.index];
}`;
  dispatch(op, code, [x.buffer, scalars.buffer], new Params().u(index, x.size), grid(x.size, WG));
}
