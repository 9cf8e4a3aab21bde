/**
 * Backward rules of the elementwise ops (`elementwise.ts` records them):
 * one fused kernel `g·f'(x)` per unary function, products and quotients for
 * the binary operators, and {@link sumToShape} to undo broadcasting.
 *
 * Conventions (PyTorch's): `max`/`min` split the gradient evenly on ties;
 * `abs`, `sign`, `relu` use 0 as the derivative at 0; `round`, `floor`,
 * `ceil`, `trunc` and `sign` have zero gradient (use a straight-through rule
 * from `autograd.ts` to pass gradients through rounding); `clamp` passes the
 * gradient where `lo ≤ x ≤ hi`. A NaN input gives a NaN gradient.
 *
 * Reference: `tests/kernels/autograd/elementwise_grad_test.ts` (f64 finite differences).
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { sumToShape } from "./elementwise_grad.ts";
 * await initGPU();
 * using g = Tensor.fromArray([[1, 2], [3, 4]]);
 * using s = sumToShape(g, [2]);
 * console.log(await s.data()); // Float32Array [4, 6]
 * ```
 * @module
 */
import { dispatch, grid, linearIndex } from "../runtime.ts";
import { Tensor } from "../tensor.ts";
import { binary, type BinaryOp, unary, type UnaryOp, where } from "./elementwise.ts";
import { sum } from "./reduce.ts";
import { ENTRY_BUILTINS, header, IS_NAN } from "./wgsl.ts";

const WG = 256;

/** d f(v)/dv · g for each differentiable unary function; `y` is f(v). */
const UNARY_GRAD: Partial<Record<UnaryOp, string>> = {
  neg: "-g",
  abs: "g * sign(v)",
  square: "2.0 * v * g",
  sqrt: "0.5 * g / y",
  rsqrt: "-0.5 * g * y * y * y",
  recip: "-g * y * y",
  exp: "g * y",
  log: "g / v",
  log2: "g / (v * 0.6931471805599453)",
  exp2: "g * y * 0.6931471805599453",
  sin: "g * cos(v)",
  cos: "-g * sin(v)",
  tanh: "g * (1.0 - y * y)",
  sigmoid: "g * y * (1.0 - y)",
  silu: "g * (1.0 / (1.0 + exp(-v))) * (1.0 + v * (1.0 - 1.0 / (1.0 + exp(-v))))",
  relu: "select(0.0, g, v > 0.0)",
  gelu: "g * (0.5 * (1.0 + t) + 0.5 * v * (1.0 - t * t) * 0.7978845608028654 * " +
    "(1.0 + 0.134145 * v * v))",
};

/** Unary functions whose derivative is zero almost everywhere. */
const ZERO_GRAD = new Set<UnaryOp>(["sign", "floor", "ceil", "round", "trunc", "isnan"]);

/**
 * The gradient of `y = unary(op, x)`: `g · f'(x)` in one kernel (f32
 * arithmetic, rounded once to the dtype).
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { unary } from "./elementwise.ts";
 * import { unaryGrad } from "./elementwise_grad.ts";
 * await initGPU();
 * using x = Tensor.fromArray([0, 1]);
 * using y = unary("exp", x);
 * using g = Tensor.fromArray([1, 2]);
 * using dx = unaryGrad("exp", g, x, y);
 * console.log(await dx.data()); // Float32Array [1, 5.4365635]
 * ```
 */
export function unaryGrad(op: UnaryOp, g: Tensor, x: Tensor, y: Tensor): Tensor {
  if (ZERO_GRAD.has(op)) return Tensor.zeros(x.shape, x.dtype);
  const expr = UNARY_GRAD[op];
  if (expr === undefined) throw new RangeError(`unaryGrad: "${op}" has no gradient rule`);
  const T = x.dtype;
  const out = Tensor.empty(x.shape, T);
  if (out.size === 0) return out;
  const code = `${header(T)}
@group(0) @binding(0) var<storage, read> G: array<${T}>;
@group(0) @binding(1) var<storage, read> X: array<${T}>;
@group(0) @binding(2) var<storage, read> Yv: array<${T}>;
@group(0) @binding(3) var<storage, read_write> D: array<${T}>;
@compute @workgroup_size(${WG}) fn main(${ENTRY_BUILTINS}) {
  let i = ${linearIndex(WG)};
  if (i >= arrayLength(&D)) { return; }
  let g = f32(G[i]);
  let v = f32(X[i]);
  let y = f32(Yv[i]);
  let t = tanh(0.7978845608028654 * (v + 0.044715 * v * v * v));
  D[i] = ${T}(select(${expr}, v, is_nan(v)));
}
${IS_NAN}`;
  const bytes = Math.ceil(out.byteLength / 4) * 4;
  dispatch(
    `unary ${op} backward`,
    code,
    [g.buffer, x.buffer, y.buffer, { buffer: out.buffer, offset: 0, size: bytes }],
    null,
    grid(out.size, WG),
  );
  return out;
}

/**
 * Sums a broadcast gradient back to an operand's shape: over the leading
 * axes the operand lacks and over the axes where it has size 1.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { sumToShape } from "./elementwise_grad.ts";
 * await initGPU();
 * using g = Tensor.fromArray([[1, 2, 3], [4, 5, 6]]);
 * using s = sumToShape(g, [2, 1]);
 * console.log(s.shape, await s.data()); // [2, 1] Float32Array [6, 15]
 * ```
 */
export function sumToShape(g: Tensor, shape: readonly number[]): Tensor {
  if (g.shape.length === shape.length && g.shape.every((d, i) => d === shape[i])) {
    return g.share();
  }
  let cur = g.share();
  while (cur.rank > shape.length) {
    const next = sum(cur, 0);
    cur.dispose();
    cur = next;
  }
  for (let k = 0; k < shape.length; k++) {
    if (shape[k] === 1 && cur.shape[k] !== 1) {
      const next = sum(cur, k, { keepDims: true });
      cur.dispose();
      cur = next;
    }
  }
  const out = cur.reshape(shape);
  cur.dispose();
  return out;
}

/**
 * An operand as a backward rule sees it: a saved tensor, a scalar, or only
 * its shape (`add` and `sub` need nothing more).
 */
export type Operand = Tensor | number | readonly number[];

/**
 * The gradients of `binary(op, a, b)` for the arithmetic operators, each
 * summed back to its operand's shape (`undefined` for scalars and for the
 * comparisons, which have none).
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { mul } from "./elementwise.ts";
 * import { binaryGrad } from "./elementwise_grad.ts";
 * await initGPU();
 * using a = Tensor.fromArray([[1, 2], [3, 4]]);
 * using b = Tensor.fromArray([10, 20]);
 * using y = mul(a, b);
 * using g = Tensor.fromArray([[1, 1], [1, 1]]);
 * const [ga, gb] = binaryGrad("mul", g, a, b, y);
 * console.log(await ga!.data(), await gb!.data()); // Float32Array [10, 20, 10, 20] Float32Array [4, 6]
 * ga!.dispose();
 * gb!.dispose();
 * ```
 */
export function binaryGrad(
  op: BinaryOp,
  g: Tensor,
  a: Operand,
  b: Operand,
  y: Tensor,
): [Tensor | undefined, Tensor | undefined] {
  const shapeOf = (t: Operand) =>
    typeof t === "number" ? undefined : t instanceof Tensor ? t.shape : t;
  const fit = (t: Tensor | undefined, s: readonly number[] | undefined) => {
    if (!t || !s) {
      t?.dispose();
      return undefined;
    }
    const r = sumToShape(t, s);
    t.dispose();
    return r;
  };
  const [sa, sb] = [shapeOf(a), shapeOf(b)];
  // Beyond add/sub, the operands are saved tensors or scalars.
  const [A, B] = [a as Tensor | number, b as Tensor | number];
  switch (op) {
    case "add":
      return [fit(sa && g.share(), sa), fit(sb && g.share(), sb)];
    case "sub":
      return [fit(sa && g.share(), sa), fit(sb && binary("mul", g, -1), sb)];
    case "mul":
      return [fit(sa && binary("mul", g, B), sa), fit(sb && binary("mul", g, A), sb)];
    case "div": {
      const ga = sa ? binary("div", g, B) : undefined;
      let gb: Tensor | undefined;
      if (sb) {
        using q = binary("div", y, B); // a / b²
        using gq = binary("mul", g, q);
        gb = binary("mul", gq, -1);
      }
      return [fit(ga, sa), fit(gb, sb)];
    }
    case "max":
    case "min": {
      // Winner takes g, ties split it evenly (PyTorch's maximum/minimum).
      const win = (x: Tensor | number, other: Tensor | number) => {
        using strict = binary(op === "max" ? "gt" : "lt", x, other);
        using tie = binary("eq", x, other);
        using half = binary("mul", g, 0.5);
        using zero = Tensor.zeros([1], g.dtype);
        using tg = where(tie, half, zero);
        return where(strict, g, tg);
      };
      return [fit(sa && win(A, B), sa), fit(sb && win(B, A), sb)];
    }
    case "pow": {
      let ga: Tensor | undefined, gb: Tensor | undefined;
      if (sa) {
        // b·a^(b−1)·g, written without dividing by a.
        using bm1 = typeof B === "number" ? undefined : binary("sub", B, 1);
        using p = binary("pow", A, bm1 ?? (B as number) - 1);
        using bp = binary("mul", p, B);
        ga = binary("mul", bp, g);
      }
      if (sb) {
        // y·ln(a)·g, taken as 0 where a = 0 (PyTorch's convention).
        using la = typeof A === "number" ? undefined : lnPositive(A);
        using yl = la ? binary("mul", y, la) : binary("mul", y, Math.log(A as number));
        gb = binary("mul", yl, g);
      }
      return [fit(ga, sa), fit(gb, sb)];
    }
    default:
      return [undefined, undefined]; // comparisons have no gradient
  }
}

function lnPositive(a: Tensor): Tensor {
  using isZero = binary("eq", a, 0);
  using one = Tensor.full([1], 1, a.dtype);
  using safe = where(isZero, one, a);
  return unary("log", safe);
}
