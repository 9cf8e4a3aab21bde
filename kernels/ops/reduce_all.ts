/**
 * Reductions over a whole tensor (`reduceAll`, `sumAll`, `meanAll`,
 * `maxAll`, `minAll`, `absmaxAll`): the tensor is cut into chunks, one
 * workgroup each, whose f32 partial results later passes combine.
 *
 * Reference: `tests/reference/reduce.ts`.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { maxAll } from "./reduce_all.ts";
 * await initGPU();
 * using y = maxAll(Tensor.fromArray([[1, 7], [3, 4]]));
 * console.log(await y.item()); // 7
 * ```
 * @module
 */
import { Tensor } from "../tensor.ts";
import { record } from "../autograd.ts";
import { reduceGrad } from "./reduce_grad.ts";
import { VALUE, valueReduce } from "./_reduce.ts";
import { expectDType } from "./wgsl.ts";

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
 * import { reduceAll } from "./reduce_all.ts";
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
  const shapeOnly = op === "sum" || op === "mean";
  return record(label, [x], y, shapeOnly ? [] : [x, y], (g, saved) => {
    // The axis rule on the flattened tensor.
    using g1 = g.reshape([1]);
    using x1 = shapeOnly ? undefined : saved[0].reshape([1, n]);
    using y1 = shapeOnly ? undefined : saved[1].reshape([1]);
    using gx = reduceGrad(op, g1, x1 ?? [1, n], y1, 1, false);
    return [gx.reshape(x.shape)];
  });
}

/** Sum of every element (scalar tensor). @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { sumAll } from "./reduce_all.ts";
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
 * import { meanAll } from "./reduce_all.ts";
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
 * import { maxAll } from "./reduce_all.ts";
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
 * import { minAll } from "./reduce_all.ts";
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
 * import { absmaxAll } from "./reduce_all.ts";
 * await initGPU();
 * using y = absmaxAll(Tensor.fromArray([[1, -5], [3, 4]]));
 * console.log(await y.item()); // 5
 * ```
 */
export function absmaxAll(x: Tensor): Tensor {
  return reduceAll("absmax", x);
}
