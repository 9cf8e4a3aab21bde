/**
 * Elementwise ops: unary functions, binary arithmetic with NumPy
 * broadcasting, comparisons, `where`, `clamp` and `cast` (f32 ↔ f16 ↔ i32 ↔ u32).
 * Float functions of f16 tensors are evaluated in f32 and rounded once.
 *
 * Reference: `tests/reference/elementwise.ts`.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { add, unary } from "./elementwise.ts";
 * await initGPU();
 * using a = Tensor.fromArray([[1, 2], [3, 4]]);
 * using b = Tensor.fromArray([10, 20]);
 * using c = add(a, b);
 * using d = unary("sqrt", c);
 * console.log(await c.data()); // Float32Array [11, 22, 13, 24]
 * ```
 * @module
 */
import type { DType } from "../dtype.ts";
import { dispatch, grid, linearIndex, Params } from "../runtime.ts";
import { Tensor } from "../tensor.ts";
import { record } from "../autograd.ts";
import { binaryGrad, sumToShape, unaryGrad } from "./elementwise_grad.ts";
import {
  broadcastShapes,
  broadcastStrides,
  ENTRY_BUILTINS,
  expectDType,
  expectSameDType,
  header,
  IS_NAN,
} from "./wgsl.ts";

const WG = 256;

/** Unary functions on float tensors (`abs`, `neg`, `sign` also on i32). */
export const UNARY = {
  neg: "-v",
  abs: "abs(v)",
  sign: "sign(v)",
  square: "v * v",
  sqrt: "sqrt(v)",
  rsqrt: "inverseSqrt(v)",
  recip: "1.0 / v",
  exp: "exp(v)",
  log: "log(v)",
  log2: "log2(v)",
  exp2: "exp2(v)",
  sin: "sin(v)",
  cos: "cos(v)",
  tanh: "tanh(v)",
  sigmoid: "1.0 / (1.0 + exp(-v))",
  silu: "v / (1.0 + exp(-v))",
  relu: "max(v, 0.0)",
  gelu: "0.5 * v * (1.0 + tanh(0.7978845608028654 * (v + 0.044715 * v * v * v)))",
  floor: "floor(v)",
  ceil: "ceil(v)",
  round: "round(v)", // WGSL round: half to even
  trunc: "trunc(v)",
  isnan: "select(0.0, 1.0, is_nan(v))",
} as const;

/** Name of a unary function. */
export type UnaryOp = keyof typeof UNARY;

const INT_UNARY = new Set<UnaryOp>(["neg", "abs", "sign", "square"]);

/**
 * Applies a unary function elementwise. Float functions accept f32/f16;
 * `neg`, `abs`, `sign`, `square` also i32.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { unary } from "./elementwise.ts";
 * await initGPU();
 * using x = Tensor.fromArray([-1.5, 0, 2.5]);
 * using y = unary("round", x);
 * console.log(await y.data()); // Float32Array [-2, 0, 2]
 * ```
 */
export function unary(op: UnaryOp, x: Tensor): Tensor {
  const expr = UNARY[op];
  if (expr === undefined) {
    throw new RangeError(`unary: unknown op "${op}"; one of ${Object.keys(UNARY).join(", ")}`);
  }
  if (INT_UNARY.has(op)) expectDType(`unary ${op}`, x, "f32", "f16", "i32");
  else expectDType(`unary ${op}`, x, "f32", "f16");
  const T = x.dtype;
  const calc = T === "i32" ? "i32" : "f32";
  // NaN in, NaN out for every float function (compilers may not preserve it).
  const body = T === "i32" || op === "isnan" ? expr : `select(${expr}, v, is_nan(v))`;
  const code = `${header(T)}
@group(0) @binding(0) var<storage, read> X: array<${T}>;
@group(0) @binding(1) var<storage, read_write> Y: array<${T}>;
@compute @workgroup_size(${WG}) fn main(${ENTRY_BUILTINS}) {
  let i = ${linearIndex(WG)};
  if (i >= arrayLength(&Y)) { return; }
  let v = ${calc}(X[i]);
  Y[i] = ${T}(${body});
}
${T === "i32" ? "" : IS_NAN}`;
  const y = elementwise(`unary ${op}`, code, [x], x.shape, T);
  if (T === "i32") return y;
  return record(`unary ${op}`, [x], y, [x, y], (g, [x, y]) => [unaryGrad(op, g, x, y)]);
}

/** Binary arithmetic and comparison operators. */
export const BINARY = {
  add: "a + b",
  sub: "a - b",
  mul: "a * b",
  div: "a / b",
  max: "select(max(a, b), NAN, NAN_IN)",
  min: "select(min(a, b), NAN, NAN_IN)",
  pow: "pow(a, b)",
  gt: "select(0, 1, a > b && !NAN_IN)",
  ge: "select(0, 1, a >= b && !NAN_IN)",
  lt: "select(0, 1, a < b && !NAN_IN)",
  le: "select(0, 1, a <= b && !NAN_IN)",
  eq: "select(0, 1, a == b && !NAN_IN)",
  ne: "select(0, 1, a != b || NAN_IN)",
} as const;

/** Name of a binary operator. */
export type BinaryOp = keyof typeof BINARY;

const COMPARE = new Set<BinaryOp>(["gt", "ge", "lt", "le", "eq", "ne"]);

/**
 * Applies a binary operator with broadcasting. One operand may be a number
 * (converted to the tensor's dtype). Comparisons return u32 0/1 masks.
 * Integer tensors support add, sub, mul, div (truncating), max, min and comparisons.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { binary } from "./elementwise.ts";
 * await initGPU();
 * using x = Tensor.fromArray([1, 5, 3]);
 * using m = binary("gt", x, 2);
 * console.log(await m.data()); // Uint32Array [0, 1, 1]
 * ```
 */
export function binary(op: BinaryOp, a: Tensor | number, b: Tensor | number): Tensor {
  if (BINARY[op] === undefined) {
    throw new RangeError(`binary: unknown op "${op}"; one of ${Object.keys(BINARY).join(", ")}`);
  }
  if (typeof a === "number" && typeof b === "number") {
    throw new TypeError(`binary ${op}: at least one operand must be a Tensor`);
  }
  const ta = typeof a === "number" ? undefined : a;
  const tb = typeof b === "number" ? undefined : b;
  if (ta && tb) expectSameDType(`binary ${op}`, ta, tb);
  const T = (ta ?? tb)!.dtype;
  if (op === "pow") expectDType(`binary ${op}`, (ta ?? tb)!, "f32", "f16");
  const outShape = broadcastShapes(ta?.shape ?? [], tb?.shape ?? []);
  const outT: DType = COMPARE.has(op) ? "u32" : T;
  const sa = ta ? broadcastStrides(ta.shape, outShape) : [];
  const sb = tb ? broadcastStrides(tb.shape, outShape) : [];
  const calc = T === "f16" ? "f32" : T;
  const scalar = (name: string) => `${calc}(P.scalar_${name})`;
  const scalarType = T === "u32" ? "u32" : T === "i32" ? "i32" : "f32";
  const load = (name: "a" | "b", t: Tensor | undefined, strides: number[]) => {
    if (!t) return scalar(name);
    if (sameShape(t.shape, outShape)) return `${calc}(${name.toUpperCase()}[i])`;
    const idx = strides.map((s, k) => (s ? `coord${k} * ${s}u` : "")).filter(Boolean);
    return `${calc}(${name.toUpperCase()}[${idx.length ? idx.join(" + ") : "0u"}])`;
  };
  const coords = outShape.map((_, k) => {
    const inner = outShape.slice(k + 1).reduce((x, y) => x * y, 1);
    return `let coord${k} = (i / ${inner}u) % ${outShape[k]}u;`;
  });
  const usesParams = !ta || !tb;
  let binding = usesParams ? 1 : 0;
  const decls = [
    usesParams
      ? `struct Params { scalar_a: ${scalarType}, scalar_b: ${scalarType}, }
@group(0) @binding(0) var<uniform> P: Params;`
      : "",
    ta ? `@group(0) @binding(${binding++}) var<storage, read> A: array<${T}>;` : "",
    tb ? `@group(0) @binding(${binding++}) var<storage, read> B: array<${T}>;` : "",
    `@group(0) @binding(${binding}) var<storage, read_write> Y: array<${outT}>;`,
  ].join("\n");
  let expr: string = BINARY[op];
  if (COMPARE.has(op)) expr = expr.replace("select(0, 1,", "select(0u, 1u,");
  const float = T !== "i32" && T !== "u32";
  // NaN semantics are explicit (compilers may assume no NaN): max/min propagate
  // NaN, comparisons with NaN are false except `ne`.
  expr = expr.replace(
    /!?NAN_IN/g,
    (m) => float ? (m[0] === "!" ? "!nan_in" : "nan_in") : (m[0] === "!" ? "true" : "false"),
  )
    .replace("NAN", float ? "bitcast<f32>(0x7fc00000u)" : "a");
  const broadcast = !sameShape(ta?.shape ?? outShape, outShape) ||
    !sameShape(tb?.shape ?? outShape, outShape);
  const code = `${header(T, outT)}
${decls}
@compute @workgroup_size(${WG}) fn main(${ENTRY_BUILTINS}) {
  let i = ${linearIndex(WG)};
  if (i >= arrayLength(&Y)) { return; }
  ${broadcast ? coords.join("\n  ") : ""}
  let a = ${load("a", ta, sa)};
  let b = ${load("b", tb, sb)};
  ${float ? "let nan_in = is_nan(a) || is_nan(b);" : ""}
  Y[i] = ${outT}(${expr});
}
${float ? IS_NAN : ""}`;
  let params: Params | null = null;
  if (usesParams) {
    const p = new Params();
    const put = (v: number) =>
      scalarType === "f32" ? p.f(v) : scalarType === "i32" ? p.i(v) : p.u(v);
    put(typeof a === "number" ? a : 0);
    put(typeof b === "number" ? b : 0);
    params = p;
  }
  const y = elementwise(
    `binary ${op}`,
    code,
    [ta, tb].filter(Boolean) as Tensor[],
    outShape,
    outT,
    params,
  );
  if (!float || COMPARE.has(op)) return y;
  // add/sub need only the shapes; mul the operands; div and pow also the output.
  const keep = op === "add" || op === "sub"
    ? []
    : [ta ?? y, tb ?? y, ...(op === "div" || op === "pow" ? [y] : [])];
  return record(`binary ${op}`, [ta, tb], y, keep, (g, saved) => {
    const operand = (t: Tensor | undefined, v: Tensor | number, k: number) =>
      !t ? v : keep.length ? saved[k] : t.shape;
    return binaryGrad(op, g, operand(ta, a, 0), operand(tb, b, 1), saved[2]);
  });
}

/** `a + b` with broadcasting. */
export const add = (a: Tensor | number, b: Tensor | number): Tensor => binary("add", a, b);
/** `a - b` with broadcasting. */
export const sub = (a: Tensor | number, b: Tensor | number): Tensor => binary("sub", a, b);
/** `a * b` with broadcasting. */
export const mul = (a: Tensor | number, b: Tensor | number): Tensor => binary("mul", a, b);
/** `a / b` with broadcasting. */
export const div = (a: Tensor | number, b: Tensor | number): Tensor => binary("div", a, b);

/**
 * `cond ? a : b` elementwise with broadcasting; `cond` is any dtype (nonzero is true).
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { where } from "./elementwise.ts";
 * await initGPU();
 * using c = Tensor.fromArray([1, 0, 1], [3], "u32");
 * using a = Tensor.fromArray([1, 2, 3]);
 * using b = Tensor.fromArray([-1]);
 * using y = where(c, a, b);
 * console.log(await y.data()); // Float32Array [1, -1, 3]
 * ```
 */
export function where(cond: Tensor, a: Tensor, b: Tensor): Tensor {
  expectSameDType("where", a, b);
  const T = a.dtype;
  const outShape = broadcastShapes(cond.shape, a.shape, b.shape);
  const idx = (t: Tensor) => {
    const s = broadcastStrides(t.shape, outShape);
    const terms = s.map((st, k) => (st ? `coord${k} * ${st}u` : "")).filter(Boolean);
    return terms.length ? terms.join(" + ") : "0u";
  };
  const coords = outShape.map((_, k) => {
    const inner = outShape.slice(k + 1).reduce((x, y) => x * y, 1);
    return `let coord${k} = (i / ${inner}u) % ${outShape[k]}u;`;
  });
  const code = `${header(T, cond.dtype)}
@group(0) @binding(0) var<storage, read> C: array<${cond.dtype}>;
@group(0) @binding(1) var<storage, read> A: array<${T}>;
@group(0) @binding(2) var<storage, read> B: array<${T}>;
@group(0) @binding(3) var<storage, read_write> Y: array<${T}>;
@compute @workgroup_size(${WG}) fn main(${ENTRY_BUILTINS}) {
  let i = ${linearIndex(WG)};
  if (i >= arrayLength(&Y)) { return; }
  ${coords.join("\n  ")}
  Y[i] = select(B[${idx(b)}], A[${idx(a)}], C[${idx(cond)}] != ${cond.dtype}(0));
}`;
  const y = elementwise("where", code, [cond, a, b], outShape, T);
  return record("where", [cond, a, b], y, [cond], (g, [c]) => {
    using zero = Tensor.zeros([1], g.dtype);
    using ga = where(c, g, zero);
    using gb = where(c, zero, g);
    return [undefined, sumToShape(ga, a.shape), sumToShape(gb, b.shape)];
  });
}

/**
 * Clamps every element to `[lo, hi]` (NaN stays NaN).
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { clamp } from "./elementwise.ts";
 * await initGPU();
 * using x = Tensor.fromArray([-5, 0.5, 9]);
 * using y = clamp(x, 0, 1);
 * console.log(await y.data()); // Float32Array [0, 0.5, 1]
 * ```
 */
export function clamp(x: Tensor, lo: number, hi: number): Tensor {
  expectDType("clamp", x, "f32", "f16");
  if (!(lo <= hi)) throw new RangeError(`clamp: lo (${lo}) must be ≤ hi (${hi})`);
  const T = x.dtype;
  const code = `${header(T)}
struct Params { lo: f32, hi: f32, }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> X: array<${T}>;
@group(0) @binding(2) var<storage, read_write> Y: array<${T}>;
@compute @workgroup_size(${WG}) fn main(${ENTRY_BUILTINS}) {
  let i = ${linearIndex(WG)};
  if (i >= arrayLength(&Y)) { return; }
  let v = f32(X[i]);
  Y[i] = ${T}(select(min(max(v, P.lo), P.hi), v, is_nan(v)));
}
${IS_NAN}`;
  const y = elementwise("clamp", code, [x], x.shape, T, new Params().f(lo, hi));
  return record("clamp", [x], y, [x], (g, [x]) => {
    // The gradient passes where lo ≤ x ≤ hi (PyTorch's convention).
    using above = binary("ge", x, lo);
    using below = binary("le", x, hi);
    using inside = binary("mul", above, below);
    using zero = Tensor.zeros([1], g.dtype);
    return [where(inside, g, zero)];
  });
}

/**
 * Converts to another dtype: float → f16 rounds to nearest even (and
 * overflows to ±Inf like IEEE); float → int truncates toward zero.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { cast } from "./elementwise.ts";
 * await initGPU();
 * using x = Tensor.fromArray([1.7, -2.2]);
 * using y = cast(x, "i32");
 * console.log(await y.data()); // Int32Array [1, -2]
 * ```
 */
export function cast(x: Tensor, dtype: DType): Tensor {
  const y = castRaw(x, dtype);
  const float = (d: DType) => d === "f32" || d === "f16";
  if (!float(x.dtype) || !float(dtype)) return y;
  return record(`cast ${x.dtype}→${dtype}`, [x], y, [], (g) => [castRaw(g, x.dtype)]);
}

function castRaw(x: Tensor, dtype: DType): Tensor {
  const S = x.dtype;
  if (S === "f32" && dtype === "f16") return castF32ToF16(x);
  const code = `${header(S, dtype)}
@group(0) @binding(0) var<storage, read> X: array<${S}>;
@group(0) @binding(1) var<storage, read_write> Y: array<${dtype}>;
@compute @workgroup_size(${WG}) fn main(${ENTRY_BUILTINS}) {
  let i = ${linearIndex(WG)};
  if (i >= arrayLength(&Y)) { return; }
  Y[i] = ${dtype}(X[i]);
}`;
  return elementwise(`cast ${S}→${dtype}`, code, [x], x.shape, dtype);
}

// f32 → f16 on the bits, with IEEE semantics (WGSL leaves out-of-range float
// conversions undefined): round to nearest even, beyond the range → ±Inf,
// NaN → NaN, subnormals kept. Each invocation writes one u32 = two halves.
/** WGSL `f16_bits(v: f32) -> u32`: the IEEE f16 bits of `v` (nearest even, ±Inf, NaN kept). */
export const F16_BITS = `
fn f16_bits(v: f32) -> u32 {
  let x = bitcast<u32>(v);
  let sign = (x >> 16u) & 0x8000u;
  let ax = x & 0x7fffffffu;
  if (ax > 0x7f800000u) { return sign | 0x7e00u; }
  if (ax >= 0x477ff000u) { return sign | 0x7c00u; }
  if (ax >= 0x38800000u) {
    let r = ax - 0x38000000u;
    return sign | ((r + 0xfffu + ((r >> 13u) & 1u)) >> 13u);
  }
  let e = ax >> 23u;
  if (e < 102u) { return sign; }
  let mant = (ax & 0x7fffffu) | 0x800000u;
  let shift = 126u - e;
  let q = mant >> shift;
  let rem = mant & ((1u << shift) - 1u);
  let half = 1u << (shift - 1u);
  return sign | (q + select(0u, 1u, rem > half || (rem == half && (q & 1u) == 1u)));
}`;

function castF32ToF16(x: Tensor): Tensor {
  const code = `
@group(0) @binding(0) var<storage, read> X: array<f32>;
@group(0) @binding(1) var<storage, read_write> Y: array<u32>;
${F16_BITS}
@compute @workgroup_size(${WG}) fn main(${ENTRY_BUILTINS}) {
  let i = ${linearIndex(WG)};
  let n = arrayLength(&X);
  if (i >= arrayLength(&Y)) { return; }
  let lo = f16_bits(X[2u * i]);
  let hi = select(0u, f16_bits(X[min(2u * i + 1u, n - 1u)]), 2u * i + 1u < n);
  Y[i] = lo | (hi << 16u);
}`;
  const y = Tensor.empty(x.shape, "f16");
  if (y.size === 0) return y;
  const words = Math.ceil(y.size / 2);
  dispatch(
    "cast f32→f16",
    code,
    [{ buffer: x.buffer, offset: 0, size: x.byteLength }, {
      buffer: y.buffer,
      offset: 0,
      size: words * 4,
    }],
    null,
    grid(words, WG),
  );
  return y;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function elementwise(
  label: string,
  code: string,
  inputs: Tensor[],
  shape: readonly number[],
  dtype: DType,
  params: Params | null = null,
): Tensor {
  const y = Tensor.empty(shape, dtype);
  if (y.size === 0) return y;
  const bufs = inputs.map((t) => t.buffer);
  // arrayLength(&Y) counts the bound bytes: bind the output's bytes (rounded up to
  // 4, so an odd-length f16 output also writes its harmless padding element).
  const out = { buffer: y.buffer, offset: 0, size: Math.ceil(y.byteLength / 4) * 4 };
  dispatch(label, code, [...bufs, out], params, grid(y.size, WG));
  return y;
}
