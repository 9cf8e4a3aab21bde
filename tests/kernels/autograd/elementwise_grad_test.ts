import { assertEquals } from "@std/assert";
import { Tensor } from "../../../kernels/tensor.ts";
import { valueAndGrad } from "../../../kernels/autograd.ts";
import {
  binary,
  type BinaryOp,
  cast,
  clamp,
  unary,
  type UnaryOp,
  where,
} from "../../../kernels/ops/elementwise.ts";
import { sumAll } from "../../../kernels/ops/reduce_all.ts";
import { gpuTest } from "../../_helpers.ts";
import { gradCheck } from "../../_gradcheck.ts";

const sig = (v: number) => 1 / (1 + Math.exp(-v));
const K = 0.7978845608028654;
const F: Partial<Record<UnaryOp, (v: number) => number>> = {
  neg: (v) => -v,
  abs: Math.abs,
  square: (v) => v * v,
  sqrt: Math.sqrt,
  rsqrt: (v) => 1 / Math.sqrt(v),
  recip: (v) => 1 / v,
  exp: Math.exp,
  log: Math.log,
  log2: Math.log2,
  exp2: (v) => 2 ** v,
  sin: Math.sin,
  cos: Math.cos,
  tanh: Math.tanh,
  sigmoid: sig,
  silu: (v) => v * sig(v),
  relu: (v) => Math.max(v, 0),
  gelu: (v) => 0.5 * v * (1 + Math.tanh(K * (v + 0.044715 * v ** 3))),
};
const POSITIVE = new Set(["sqrt", "rsqrt", "log", "log2", "recip"]);

gpuTest("unary gradients match f64 finite differences (shape 3×37)", async () => {
  for (const [op, f] of Object.entries(F) as [UnaryOp, (v: number) => number][]) {
    await gradCheck({
      inputs: [{ shape: [3, 37], positive: POSITIVE.has(op) }],
      gpu: (x) => unary(op, x),
      ref: (x) => x.map(f),
      seed: op.length,
    }).catch((e) => {
      throw new Error(`${op}: ${e.message}`);
    });
  }
});

const B: Partial<Record<BinaryOp, (a: number, b: number) => number>> = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  max: Math.max,
  min: Math.min,
  pow: (a, b) => a ** b,
};

/** f64 broadcasting of [r, c] with [c] or [r, 1]. */
function bcast(
  a: Float64Array,
  b: Float64Array,
  r: number,
  c: number,
  bShape: "row" | "col" | "full",
  f: (a: number, b: number) => number,
) {
  const y = new Float64Array(r * c);
  for (let i = 0; i < r; i++) {
    for (let j = 0; j < c; j++) {
      const bv = bShape === "row" ? b[j] : bShape === "col" ? b[i] : b[i * c + j];
      y[i * c + j] = f(a[i * c + j], bv);
    }
  }
  return y;
}

gpuTest("binary gradients with broadcasting match f64 finite differences", async () => {
  const [r, c] = [5, 13];
  for (const [op, f] of Object.entries(B) as [BinaryOp, (a: number, b: number) => number][]) {
    for (const [kind, shape] of [["full", [r, c]], ["row", [c]], ["col", [r, 1]]] as const) {
      await gradCheck({
        inputs: [{ shape: [r, c], positive: op === "pow" }, {
          shape: [...shape],
          positive: op === "div" || op === "pow",
        }],
        gpu: (a, b) => binary(op, a, b),
        ref: (a, b) => bcast(a, b, r, c, kind, f),
        seed: 3,
      }).catch((e) => {
        throw new Error(`${op} with b ${kind}: ${e.message}`);
      });
    }
    // A scalar operand on either side.
    await gradCheck({
      inputs: [{ shape: [7], positive: true }],
      gpu: (a) => binary(op, 1.5, a),
      ref: (a) => a.map((v) => f(1.5, v)),
    }).catch((e) => {
      throw new Error(`${op}(1.5, x): ${e.message}`);
    });
  }
});

gpuTest("where, clamp and cast pass gradients to the right elements", async () => {
  const cond = [1, 0, 0, 1, 1, 0, 1];
  await gradCheck({
    inputs: [{ shape: [7] }, { shape: [1] }],
    gpu: (a, b) => {
      using c = Tensor.fromArray(new Uint32Array(cond), [7]);
      return where(c, a, b);
    },
    ref: (a, b) => a.map((v, i) => (cond[i] ? v : b[0])),
  });
  await gradCheck({
    inputs: [{ shape: [41], values: Array.from({ length: 41 }, (_, i) => (i - 20) * 0.113) }],
    gpu: (x) => clamp(x, -1, 1),
    ref: (x) => x.map((v) => Math.min(1, Math.max(-1, v))),
  });
  // The f16 path, checked exactly: d(x²)/dx = 2x computed in f16 and cast back.
  using x = Tensor.fromArray([0.5, -2, 3]);
  const { value, grads } = valueAndGrad(() => {
    using h = cast(x, "f16");
    using s = unary("square", h);
    using s32 = cast(s, "f32");
    return sumAll(s32);
  }, { x });
  value.dispose();
  using g = grads.get("x")!;
  assertEquals(Array.from(await g.data()), [1, -4, 6]);
});

gpuTest(
  "zero and NaN conventions: abs/relu at 0 give 0, rounding gives 0, NaN gives NaN",
  async () => {
    using x = Tensor.fromArray([0, NaN, 2.5]);
    for (
      const [op, want] of [["abs", [0, NaN, 1]], ["relu", [0, NaN, 1]], ["round", [0, 0, 0]], [
        "exp",
        [1, NaN, Math.fround(Math.exp(2.5))],
      ]] as const
    ) {
      const { value, grads } = valueAndGrad(() => {
        using y = unary(op, x);
        return sumAll(y);
      }, { x });
      value.dispose();
      using g = grads.get("x")!;
      const got = Array.from(await g.data());
      assertEquals(
        got.map((v) => (Number.isNaN(v) ? "NaN" : +v.toPrecision(6))),
        want.map((v) => (Number.isNaN(v) ? "NaN" : +v.toPrecision(6))),
        op,
      );
    }
    // max with a tie splits the gradient.
    using a = Tensor.fromArray([1, 2]);
    using b = Tensor.fromArray([1, 3]);
    const { value, grads } = valueAndGrad(() => {
      using m = binary("max", a, b);
      return sumAll(m);
    }, { a, b });
    value.dispose();
    using ga = grads.get("a")!, gb = grads.get("b")!;
    assertEquals([...await ga.data(), ...await gb.data()], [0.5, 0, 0.5, 1]);
  },
);
