/**
 * The backward pass of fake quantization under the straight-through
 * estimator: the upstream gradient passes unchanged (STE, Bengio et al. 2013),
 * or only where x lies inside its group's representable range [lo, hi]
 * (clipped STE); NaN in x gives a NaN gradient.
 *
 * Reference: `tests/reference/ste_grad.ts` (`steGradRef`).
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { steGrad } from "./ste_grad.ts";
 * await initGPU();
 * using g = Tensor.fromArray([1, 2, 3]);
 * using x = Tensor.fromArray([0.5, 9, NaN]);
 * using lo = Tensor.fromArray([-1]);
 * using hi = Tensor.fromArray([1]);
 * using gx = steGrad(g, x, { groupSize: 3, lo, hi });
 * console.log(await gx.data()); // Float32Array [1, 0, NaN]
 * ```
 * @module
 */
import { dispatch, grid, linearIndex } from "../runtime.ts";
import { Tensor } from "../tensor.ts";
import { ENTRY_BUILTINS, expectDType, expectSameDType, header, IS_NAN } from "../ops/wgsl.ts";
import { checkGroups } from "./_wgsl.ts";

/** Options of {@link steGrad}. */
export interface SteGradOptions {
  /** Elements per group along the last axis (or rows per column group with `columns`). */
  groupSize: number;
  /** Per-group lower bound [groups] (f32); with `hi`, the clipped STE. */
  lo?: Tensor;
  /** Per-group upper bound [groups] (f32). */
  hi?: Tensor;
  /** Groups are the columns of a 2-D `x` (per input channel) instead of runs of the last axis. */
  columns?: boolean;
}

/**
 * Straight-through gradient of fake quantization: gx = gy, or with `lo`/`hi`
 * gx = gy where lo[g] ≤ x ≤ hi[g] (bounds included) and 0 elsewhere; gx is
 * NaN wherever x is NaN. `gy` and `x` share shape and dtype (f32 or f16).
 * Returns a new tensor the caller owns.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { steGrad } from "./ste_grad.ts";
 * await initGPU();
 * using g = Tensor.fromArray([[1, 1], [1, 1]]);
 * using x = Tensor.fromArray([[0.2, -3], [0.2, -3]]);
 * using lo = Tensor.fromArray([-1, -4]); // one group per row
 * using hi = Tensor.fromArray([1, 4]);
 * using gx = steGrad(g, x, { groupSize: 2, lo, hi });
 * console.log(await gx.data()); // Float32Array [1, 0, 1, 1]
 * ```
 */
export function steGrad(gy: Tensor, x: Tensor, o: SteGradOptions): Tensor {
  expectDType("steGrad", x, "f32", "f16");
  expectSameDType("steGrad", gy, x);
  if (gy.shape.length !== x.shape.length || gy.shape.some((d, i) => d !== x.shape[i])) {
    throw new RangeError(`steGrad: the gradient ${gy} and x ${x} must have the same shape`);
  }
  if (!o.lo !== !o.hi) throw new TypeError("steGrad: pass both lo and hi, or neither");
  let groups: number;
  if (o.columns) {
    if (x.rank !== 2 || x.shape[0] !== o.groupSize) {
      throw new RangeError(
        `steGrad: column groups need a 2-D x with groupSize (${o.groupSize}) rows; got ${x}`,
      );
    }
    groups = x.shape[1];
  } else groups = checkGroups("steGrad", x, o.groupSize).groups;
  for (const [what, t] of [["lo", o.lo], ["hi", o.hi]] as const) {
    if (t && (t.size !== groups || t.dtype !== "f32")) {
      throw new RangeError(
        `steGrad: ${what} ${t} must be f32 with ${groups} entries (one a group)`,
      );
    }
  }
  const y = Tensor.empty(x.shape, x.dtype);
  if (x.size === 0) return y;
  const T = x.dtype;
  const WG = 256;
  const clipped = o.lo !== undefined;
  const g = o.columns ? `i % ${groups}u` : `i / ${o.groupSize}u`;
  const code = `${header(T)}
@group(0) @binding(0) var<storage, read> G: array<${T}>;
@group(0) @binding(1) var<storage, read> X: array<${T}>;
${
    clipped
      ? `@group(0) @binding(2) var<storage, read> LO: array<f32>;
@group(0) @binding(3) var<storage, read> HI: array<f32>;
@group(0) @binding(4) var<storage, read_write> Y: array<${T}>;`
      : `@group(0) @binding(2) var<storage, read_write> Y: array<${T}>;`
  }
${IS_NAN}
@compute @workgroup_size(${WG}) fn main(${ENTRY_BUILTINS}) {
  let i = ${linearIndex(WG)};
  if (i >= ${x.size}u) { return; }
  let v = f32(X[i]);
  var d = f32(G[i]);
  ${clipped ? `let g = ${g}; if (v < LO[g] || v > HI[g]) { d = 0.0; }` : ""}
  Y[i] = ${T}(select(d, v, is_nan(v)));
}`;
  const buffers = clipped
    ? [gy.buffer, x.buffer, o.lo!.buffer, o.hi!.buffer, y.buffer]
    : [gy.buffer, x.buffer, y.buffer];
  dispatch("steGrad", code, buffers, null, grid(x.size, WG));
  return y;
}
