/**
 * Reductions along one axis (`sum`, `mean`, `max`, `min`, `absmax`, `norm2`,
 * `rms`, `argmax`, `argmin`, `variance`, `std`) and over the whole tensor
 * (`reduceAll`, `sumAll`, `meanAll`, `maxAll`, `minAll`, `absmaxAll`, in
 * reduce_all.ts and re-exported here).
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
import { Tensor } from "../tensor.ts";
import {
  launch,
  type ReduceOp,
  stateCode,
  VALUE,
  valueReduce,
  type ValueReduceOp,
} from "./_reduce.ts";
import { expectDType, normAxis } from "./wgsl.ts";
import { record } from "../autograd.ts";
import { reduceGrad } from "./reduce_grad.ts";

export type { ReduceOp, ValueReduceOp } from "./_reduce.ts";
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
  if (isArg) return y;
  const shapeOnly = op === "sum" || op === "mean";
  return record(
    label,
    [x],
    y,
    shapeOnly ? [] : [x, y],
    (
      gy,
      saved,
    ) => [reduceGrad(op, gy, shapeOnly ? x.shape : saved[0], saved[1], a, !!options.unbiased)],
  );
}

/** A named reduction along an axis: `(x, axis = -1, options = {})`. */
export type AxisReduction = (x: Tensor, axis?: number, options?: ReduceOptions) => Tensor;

/**
 * The shorthand of one op: `(x, axis = -1, options) => reduce(op, x, axis, options)`.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { absmax, argmax, argmin, axisReduction, max, mean, min, norm2, rms, sum } from "./reduce.ts";
 * await initGPU();
 * using x = Tensor.fromArray([[3, -4], [0, 1]]);
 * const y = [sum(x, 0), mean(x), max(x), min(x), absmax(x), norm2(x), rms(x), argmax(x), argmin(x)];
 * console.log(await Promise.all(y.map((t) => t.toArray())));
 * // [[3, -3], [-0.5, 0.5], [3, 1], [-4, 0], [4, 1], [5, 1], [3.535534, 0.70710677], [0, 1], [1, 0]]
 * y.forEach((t) => t.dispose());
 * using s = axisReduction("sum")(x, 1, { keepDims: true });
 * console.log(s.shape); // [2, 1]
 * ```
 */
export function axisReduction(op: ReduceOp): AxisReduction {
  return (x, axis = -1, options = {}) => reduce(op, x, axis, options);
}

/** Sum along an axis. Shorthand for `reduce("sum", x, axis, options)`. */
export const sum: AxisReduction = axisReduction("sum");

/** Mean along an axis. Shorthand for `reduce("mean", x, axis, options)`. */
export const mean: AxisReduction = axisReduction("mean");

/** Maximum along an axis (NaN if the row holds a NaN). Shorthand for `reduce("max", x, axis, options)`. */
export const max: AxisReduction = axisReduction("max");

/** Minimum along an axis (NaN if the row holds a NaN). Shorthand for `reduce("min", x, axis, options)`. */
export const min: AxisReduction = axisReduction("min");

/** Maximum absolute value along an axis (the usual quantization range). Shorthand for `reduce("absmax", x, axis, options)`. */
export const absmax: AxisReduction = axisReduction("absmax");

/** Euclidean norm √Σx² along an axis. Shorthand for `reduce("norm2", x, axis, options)`. */
export const norm2: AxisReduction = axisReduction("norm2");

/** Root mean square √(Σx²/n) along an axis. Shorthand for `reduce("rms", x, axis, options)`. */
export const rms: AxisReduction = axisReduction("rms");

/** Index (i32) of the first maximum along an axis; a NaN counts as the maximum. Shorthand for `reduce("argmax", x, axis, options)`. */
export const argmax: AxisReduction = axisReduction("argmax");

/** Index (i32) of the first minimum along an axis; a NaN counts as the minimum. Shorthand for `reduce("argmin", x, axis, options)`. */
export const argmin: AxisReduction = axisReduction("argmin");

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
export { absmaxAll, maxAll, meanAll, minAll, reduceAll, sumAll } from "./reduce_all.ts";
export type { ReduceAllOp } from "./reduce_all.ts";
