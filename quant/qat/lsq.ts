/**
 * Learned step size quantization. S. K. Esser, J. L. McKinstry, D. Bablani,
 * R. Appuswamy, D. S. Modha, "Learned Step Size Quantization", ICLR 2020,
 * arXiv:1902.08153; and its asymmetric extension LSQ+, Y. Bhalgat, J. Lee,
 * M. Nagel, T. Blankevoort, N. Kwak, "LSQ+: Improving low-bit quantization
 * through learnable offsets and better initialization", CVPR Workshops 2020,
 * arXiv:2004.09576.
 *
 * The quantizer, with a learnable step s (per tensor, per row or per group)
 * and, for LSQ+, a learnable offset β:
 *
 *   v = (x − β) / s,   x̂ = clamp(⌊v⌉, −Q_N, Q_P) · s + β
 *
 * (β = 0 for LSQ; Q_N = 2^(b−1), Q_P = 2^(b−1) − 1 signed, Q_N = 0,
 * Q_P = 2^b − 1 unsigned). Gradients (LSQ eq. 3 with the straight-through
 * estimator; LSQ+ eq. 4–5), per element, then summed over the elements that
 * share a step and scaled by g = 1/√(N·Q_P) (LSQ §2.2; N elements per step;
 * LSQ+ scales β's gradient the same way):
 *
 *   ∂x̂/∂s = −v + ⌊v⌉ if −Q_N ≤ v ≤ Q_P;  −Q_N if v < −Q_N;  Q_P if v > Q_P
 *   ∂x̂/∂x = 1 inside, 0 outside
 *   ∂x̂/∂β = 0 inside, 1 outside
 *
 * Initialisation: s = 2·mean|x| / √Q_P (LSQ §2.1); for LSQ+ with an offset,
 * the min–max rule s = (max − min)/(Q_P + Q_N), β = min + Q_N·s (LSQ+'s MSE
 * initialisation is not implemented here). ⌊·⌉ rounds half to even (the
 * GPU's round). A NaN element gets a NaN gradient and makes its step's
 * gradient NaN.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { valueAndGrad } from "../../kernels/autograd.ts";
 * import { sumAll } from "../../kernels/ops/reduce_all.ts";
 * import { lsqQuantize } from "./lsq.ts";
 * await initGPU();
 * using x = Tensor.fromArray([0.3, -2, 5]);
 * using s = Tensor.fromArray([1]);
 * const { value, grads } = valueAndGrad(() => {
 *   using y = lsqQuantize(x, s, { bits: 3, gradScale: 1 }); // codes −4 … 3
 *   return sumAll(y);
 * }, { s });
 * // ∂/∂s: (0 − 0.3) + (−2 + 2) + 3
 * console.log(await value.item(), await grads.get("s")!.data()); // 1 Float32Array [2.700000047683716]
 * value.dispose();
 * grads.get("s")!.dispose();
 * ```
 * @module
 */
import { Tensor } from "../../kernels/tensor.ts";
import { customGrad, noGrad } from "../../kernels/autograd.ts";
import { binary, clamp, mul, unary, where } from "../../kernels/ops/elementwise.ts";
import { sumToShape } from "../../kernels/ops/elementwise_grad.ts";
import { axisReduction } from "../../kernels/ops/reduce.ts";
import { reduceAll } from "../../kernels/ops/reduce_all.ts";

/** Options of {@link lsqQuantize}. */
export interface LsqOptions {
  /** Bits of the integer codes (2–8 signed, 1–8 unsigned). */
  bits: number;
  /** Signed codes −Q_N … Q_P (default, weights) or unsigned 0 … 2^b − 1 (activations). */
  signed?: boolean;
  /** LSQ+ offset β, the shape of the step; learnable when passed as a parameter. */
  offset?: Tensor;
  /** Gradient scale g applied to the step's (and offset's) gradient. Default 1/√(N·Q_P). */
  gradScale?: number;
}

/** The integer range of LSQ: Q_N and Q_P for `bits` signed or unsigned codes. */
export function lsqRange(bits: number, signed = true): { qn: number; qp: number } {
  if (!Number.isInteger(bits) || bits < (signed ? 2 : 1) || bits > 8) {
    throw new RangeError(
      `lsq: bits must be an integer from ${signed ? 2 : 1} to 8 (${
        signed ? "signed" : "unsigned"
      }), got ${bits}`,
    );
  }
  return signed ? { qn: 2 ** (bits - 1), qp: 2 ** (bits - 1) - 1 } : { qn: 0, qp: 2 ** bits - 1 };
}

/**
 * How a step of shape `step` maps onto `x`: x is viewed as `view` and the
 * step as `stepView`, which broadcast. A step [rows, k] with 1 < k < cols on
 * a [rows, cols] x means groups of cols/k along the last axis; any other step
 * shape must broadcast against x (size 1: per tensor; [rows, 1]: per row;
 * [1, cols]: per column).
 */
function layout(op: string, x: Tensor, step: Tensor): { view: number[]; stepView: number[] } {
  const s = step.shape;
  const xs = x.shape;
  if (x.rank === 2 && s.length === 2 && s[0] === xs[0] && s[1] > 1 && s[1] < xs[1]) {
    if (xs[1] % s[1] !== 0) {
      throw new RangeError(
        `${op}: step ${step} splits the ${xs[1]} columns of ${x} into ${s[1]} groups, which ` +
          `does not divide; use a step of shape [${xs[0]}, k] with k dividing ${xs[1]}`,
      );
    }
    return { view: [xs[0], s[1], xs[1] / s[1]], stepView: [s[0], s[1], 1] };
  }
  const ok = s.length <= xs.length &&
    s.every((d, i) => d === 1 || d === xs[xs.length - s.length + i]);
  if (!ok) {
    throw new RangeError(
      `${op}: step ${step} does not fit x ${x}; use shape [1] (per tensor), [rows, 1] ` +
        `(per row), [1, cols] (per column) or [rows, groups] (groups along the columns)`,
    );
  }
  return { view: [...xs], stepView: [...s] };
}

/**
 * LSQ / LSQ+ fake quantization of `x` with the learnable step `step` (and
 * offset): x̂ = clamp(⌊(x − β)/s⌉, −Q_N, Q_P)·s + β, with the paper's
 * gradients for x, s and β (see the module doc). `step` is f32, positive,
 * shaped [1] (per tensor), [rows, 1] (per row), [1, cols] or [rows, groups].
 * Returns a new tensor the caller owns.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { lsqQuantize } from "./lsq.ts";
 * await initGPU();
 * using x = Tensor.fromArray([[0.26, -1, 9], [0.26, -1, 9]]);
 * using s = Tensor.fromArray([[0.5], [0.25]]); // one step per row
 * using y = lsqQuantize(x, s, { bits: 4 });
 * console.log(await y.data()); // Float32Array [0.5, -1, 3.5, 0.25, -1, 1.75]
 * ```
 */
export function lsqQuantize(x: Tensor, step: Tensor, options: LsqOptions): Tensor {
  const { qn, qp } = lsqRange(options.bits, options.signed ?? true);
  const { view, stepView } = layout("lsqQuantize", x, step);
  const offset = options.offset;
  if (
    offset && (offset.shape.length !== step.shape.length ||
      offset.shape.some((d, i) => d !== step.shape[i]))
  ) {
    throw new RangeError(
      `lsqQuantize: offset ${offset} must have the step's shape [${step.shape}]`,
    );
  }
  const n = x.size / step.size;
  const g = options.gradScale ?? 1 / Math.sqrt(n * qp);
  // v = (x − β)/s on the broadcast views
  const scaled = (xv: Tensor, sv: Tensor, bv: Tensor | undefined): Tensor => {
    if (!bv) return binary("div", xv, sv);
    using d = binary("sub", xv, bv);
    return binary("div", d, sv);
  };
  const forward = (x: Tensor, s: Tensor, b?: Tensor): Tensor => {
    using xv = x.reshape(view);
    using sv = s.reshape(stepView);
    using bv = b?.reshape(stepView);
    using v = scaled(xv, sv, bv);
    using r = unary("round", v);
    using c = clamp(r, -qn, qp);
    using y = mul(c, sv);
    using yb = bv ? binary("add", y, bv) : y.share();
    return yb.reshape(x.shape);
  };
  const backward = (gy: Tensor, x: Tensor, s: Tensor, b?: Tensor): (Tensor | undefined)[] => {
    using xv = x.reshape(view);
    using sv = s.reshape(stepView);
    using bv = b?.reshape(stepView);
    using gv = gy.reshape(view);
    using v = scaled(xv, sv, bv);
    using below = binary("lt", v, -qn);
    using above = binary("gt", v, qp);
    using outside = binary("add", below, above);
    using nan = unary("isnan", xv);
    using zero = Tensor.zeros([1], gy.dtype);
    using one = Tensor.full([1], 1, gy.dtype);
    // ∂x̂/∂x: 1 inside, 0 outside, NaN where x is NaN
    using gxIn = where(outside, zero, gv);
    using gx = where(nan, xv, gxIn);
    // ∂x̂/∂s: ⌊v⌉ − v inside, −Q_N below, Q_P above
    using r = unary("round", v);
    using inner = binary("sub", r, v);
    using lo = Tensor.full([1], -qn, gy.dtype);
    using hi = Tensor.full([1], qp, gy.dtype);
    using dsAbove = where(above, hi, inner);
    using ds = where(below, lo, dsAbove);
    using gsElem = mul(gv, ds);
    using gsSum = sumToShape(gsElem, stepView);
    using gs = mul(gsSum, g);
    const out: (Tensor | undefined)[] = [gx.reshape(x.shape), gs.reshape(s.shape)];
    if (b) {
      // ∂x̂/∂β: 0 inside, 1 outside
      using db = where(outside, one, zero);
      using gbElem = mul(gv, db);
      using gbSum = sumToShape(gbElem, stepView);
      using gb = mul(gbSum, g);
      out.push(gb.reshape(b.shape));
    }
    return out;
  };
  if (offset) {
    return customGrad(
      "lsq+",
      (x: Tensor, s: Tensor, b: Tensor) => forward(x, s, b),
      (gy, [x, s, b]) => backward(gy, x, s, b),
    )(x, step, offset);
  }
  return customGrad(
    "lsq",
    (x: Tensor, s: Tensor) => forward(x, s),
    (gy, [x, s]) => backward(gy, x, s),
  )(x, step);
}

/** Options of {@link lsqInit}. */
export interface LsqInitOptions {
  /** Bits of the codes. */
  bits: number;
  /** Signed codes (default) or unsigned. */
  signed?: boolean;
  /** One step per tensor (default), per row, or per group of this many columns. */
  per?: "tensor" | "row" | number;
  /** LSQ+: also return an offset, with the min–max initialisation. Default false. */
  offset?: boolean;
}

const EPS = 1e-8;

/**
 * Initial LSQ step (s = 2·mean|x|/√Q_P, at least 1e-8 so an all-zero group
 * never divides by zero) or, with `offset`, LSQ+'s min–max step and offset.
 * Returns new f32 tensors the caller owns, shaped for {@link lsqQuantize}:
 * [1], [rows, 1] or [rows, cols/group].
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { lsqInit } from "./lsq.ts";
 * await initGPU();
 * using w = Tensor.fromArray([[1, -1], [3, 1]]);
 * const { step } = lsqInit(w, { bits: 3, per: "row" }); // Q_P = 3
 * console.log(step.shape, await step.data()); // [2, 1] Float32Array [1.154700517654419, 2.309401035308838]
 * step.dispose();
 * ```
 */
export function lsqInit(x: Tensor, options: LsqInitOptions): { step: Tensor; offset?: Tensor } {
  const { qn, qp } = lsqRange(options.bits, options.signed ?? true);
  const per = options.per ?? "tensor";
  return noGrad(() => {
    const cols = x.shape.at(-1) ?? 1;
    const rows = x.size / cols;
    const groups = per === "tensor" ? 1 : per === "row" ? 1 : cols / per;
    if (typeof per === "number" && (!Number.isInteger(groups) || per < 1)) {
      throw new RangeError(
        `lsqInit: a group of ${per} columns does not divide the ${cols} columns of ${x}`,
      );
    }
    const outShape = per === "tensor" ? [1] : [rows, groups];
    using xv = x.reshape(per === "tensor" ? [1, x.size] : [rows * groups, cols / groups]);
    const rowwise = (op: "mean" | "max" | "min", t: Tensor) =>
      per === "tensor" ? reduceAll(op, t) : axisReduction(op)(t, -1);
    if (!options.offset) {
      using a = unary("abs", xv);
      using m = rowwise("mean", a);
      using s = mul(m, 2 / Math.sqrt(qp));
      using sc = binary("max", s, EPS);
      return { step: sc.reshape(outShape) };
    }
    using mx = rowwise("max", xv);
    using mn = rowwise("min", xv);
    using range = binary("sub", mx, mn);
    using s = mul(range, 1 / (qp + qn));
    using sc = binary("max", s, EPS);
    using qs = mul(sc, qn);
    using b = binary("add", mn, qs);
    return { step: sc.reshape(outShape), offset: b.reshape(outShape) };
  });
}
