/**
 * Backward rules of the reductions (`reduce.ts`, `reduce_all.ts` record
 * them). `sum`/`mean` broadcast the gradient back; `max`, `min` and `absmax`
 * split it evenly between tied extremes (PyTorch's `amax`/`amin`); `norm2`
 * and `rms` pass 0 at a zero row instead of NaN; `variance` and `std` follow
 * their `unbiased` divisor. Arg-reductions have no gradient.
 *
 * Reference: `tests/kernels/autograd/reduce_layout_matmul_grad_test.ts` (f64 finite differences).
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { max } from "./reduce.ts";
 * import { reduceGrad } from "./reduce_grad.ts";
 * await initGPU();
 * using x = Tensor.fromArray([[1, 3, 3], [5, 2, 0]]);
 * using y = max(x, 1);
 * using g = Tensor.fromArray([1, 1]);
 * using dx = reduceGrad("max", g, x, y, 1, false);
 * console.log(await dx.data()); // Float32Array [0, 0.5, 0.5, 1, 0, 0]
 * ```
 * @module
 */
import { Tensor } from "../tensor.ts";
import type { ReduceOp } from "./_reduce.ts";
import { binary, cast, unary, where } from "./elementwise.ts";
import { expand } from "./layout.ts";
import { reduce } from "./reduce.ts";

/**
 * The gradient of `y = reduce(op, x, axis)` (axis already normalised) given
 * the output gradient `g` (y's shape). `x` and `y` may be undefined for
 * `sum` and `mean`, which need only shapes.
 */
export function reduceGrad(
  op: ReduceOp,
  g: Tensor,
  x: Tensor | readonly number[],
  y: Tensor | undefined,
  axis: number,
  unbiased: boolean,
): Tensor {
  const shape = x instanceof Tensor ? x.shape : x;
  const len = shape[axis];
  const keep = shape.map((d, i) => (i === axis ? 1 : d));
  using gk = g.reshape(keep);
  if (op === "sum") return expand(gk, shape);
  if (op === "mean") {
    using e = expand(gk, shape);
    return binary("mul", e, 1 / len);
  }
  const xt = x as Tensor;
  using yk = y!.reshape(keep);
  using zero = Tensor.zeros([1], g.dtype);
  switch (op) {
    case "max":
    case "min":
    case "absmax": {
      using ax = op === "absmax" ? unary("abs", xt) : undefined;
      using hit = binary("eq", ax ?? xt, yk);
      using hitF = cast(hit, g.dtype);
      using count = reduce("sum", hitF, axis, { keepDims: true });
      using share = binary("div", gk, count);
      using spread = where(hit, share, zero);
      if (op !== "absmax") return spread.share();
      using s = unary("sign", xt);
      return binary("mul", spread, s);
    }
    case "norm2":
    case "rms": {
      // d‖x‖/dx = x/‖x‖; d rms/dx = x/(n·rms); 0 for an all-zero row.
      using den = op === "rms" ? binary("mul", yk, len) : yk.share();
      using isZero = binary("eq", den, 0);
      using one = Tensor.full([1], 1, g.dtype);
      using safe = where(isZero, one, den);
      using q = binary("div", gk, safe);
      using qz = where(isZero, zero, q);
      return binary("mul", xt, qz);
    }
    case "variance":
    case "std": {
      // d var/dx = 2(x − μ)/(n − u); d std/dx = (x − μ)/((n − u)·std).
      using mu = reduce("mean", xt, axis, { keepDims: true });
      using centered = binary("sub", xt, mu);
      const div = len - (unbiased ? 1 : 0);
      using scale = op === "variance" ? binary("mul", gk, 2 / div) : binary("div", gk, yk);
      using scaled = op === "variance" ? undefined : binary("mul", scale, 1 / div);
      return binary("mul", centered, scaled ?? scale);
    }
    default:
      throw new RangeError(`reduceGrad: "${op}" has no gradient`);
  }
}
