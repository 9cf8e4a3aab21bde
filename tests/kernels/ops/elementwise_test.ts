import { assertEquals, assertThrows } from "@std/assert";
import { Tensor } from "../../../kernels/tensor.ts";
import { Rng } from "../../../kernels/random.ts";
import {
  BINARY,
  binary,
  type BinaryOp,
  cast,
  clamp,
  UNARY,
  unary,
  type UnaryOp,
  where,
} from "../../../kernels/ops/elementwise.ts";
import { assertClose, gpuTest, roundF16 } from "../../_helpers.ts";
import { BINARY_REF, broadcastMap, UNARY_REF } from "../../reference/elementwise.ts";

// Inputs: odd sizes (not multiples of the 256-wide workgroup), with zeros and NaN.
function inputs(n: number, seed: number): Float32Array {
  const x = new Rng(seed).normal(n, 0, 2);
  x[0] = 0;
  if (n > 3) x[3] = NaN;
  return x;
}

const POSITIVE_ONLY = new Set(["sqrt", "rsqrt", "log", "log2"]);

for (const dtype of ["f32", "f16"] as const) {
  gpuTest(`unary ops match the reference (${dtype}, 1×1 and 3×173)`, async () => {
    for (const shape of [[1], [3, 173]]) {
      for (const op of Object.keys(UNARY) as UnaryOp[]) {
        let x = inputs(shape.reduce((a, b) => a * b), 11);
        if (POSITIVE_ONLY.has(op)) x = x.map((v) => Math.abs(v) + 0.1);
        if (dtype === "f16") x = roundF16(x);
        using t = Tensor.fromArray(x, shape, dtype);
        using y = unary(op, t);
        assertEquals(y.shape, shape);
        let ref = Array.from(x, UNARY_REF[op]);
        if (dtype === "f16") ref = Array.from(roundF16(ref));
        // f32: transcendental functions within a few ulp; f16: one f16 rounding step.
        const tol = dtype === "f32" ? { atol: 1e-5, rtol: 1e-5 } : { atol: 2e-3, rtol: 2e-3 };
        assertClose(await y.data(), ref, tol, `${op} ${dtype} [${shape}]`);
      }
    }
  });
}

gpuTest("binary ops broadcast like NumPy (odd shapes, f32)", async () => {
  const cases: [number[], number[]][] = [
    [[5, 7], [5, 7]],
    [[5, 7], [7]],
    [[5, 1], [1, 7]],
    [[2, 3, 1], [3, 257]],
    [[1], [1]],
  ];
  for (const [sa, sb] of cases) {
    const a = inputs(sa.reduce((x, y) => x * y), 1);
    const b = inputs(sb.reduce((x, y) => x * y), 2).map((v) => v + 0.5);
    using ta = Tensor.fromArray(a, sa);
    using tb = Tensor.fromArray(b, sb);
    for (const op of Object.keys(BINARY) as BinaryOp[]) {
      if (op === "pow") continue;
      using y = binary(op, ta, tb);
      const ref = broadcastMap([{ data: a, shape: sa }, { data: b, shape: sb }], BINARY_REF[op]);
      assertEquals(y.shape, ref.shape);
      assertClose(await y.data(), ref.data, { atol: 1e-6, rtol: 1e-6 }, `${op} [${sa}]∘[${sb}]`);
    }
  }
});

gpuTest("binary ops with a scalar operand, f16 and i32", async () => {
  const a = roundF16(inputs(301, 5));
  using ta = Tensor.fromArray(a, [301], "f16");
  using y = binary("mul", ta, 3);
  assertClose(await y.data(), roundF16(Array.from(a, (v) => v * 3)), { atol: 0, rtol: 0 }, "f16*3");
  using z = binary("sub", 1, ta);
  assertClose(await z.data(), roundF16(Array.from(a, (v) => 1 - v)), { atol: 0, rtol: 0 }, "1-f16");
  using ti = Tensor.fromArray([7, -7, 3], [3], "i32");
  using q = binary("div", ti, 2);
  assertEquals(await q.data(), new Int32Array([3, -3, 1]));
  using p = Tensor.fromArray([2, 3]);
  using e = binary("pow", p, 2);
  assertClose(await e.data(), [4, 9], { atol: 1e-5 });
});

gpuTest("where, clamp and cast", async () => {
  using c = Tensor.fromArray([1, 0, 1, 0, 0], [5], "u32");
  using a = Tensor.fromArray([1, 2, 3, 4, 5]);
  using b = Tensor.fromArray([-1]);
  using y = where(c, a, b);
  assertEquals(await y.data(), new Float32Array([1, -1, 3, -1, -1]));

  using x = Tensor.fromArray([-5, 0.5, 9, NaN]);
  using cl = clamp(x, 0, 1);
  assertClose(await cl.data(), [0, 0.5, 1, NaN], { atol: 0 });

  // f32 → f16: round to nearest even, overflow to Inf, NaN kept
  const v = [1 + 2 ** -11, 1 + 3 * 2 ** -11, 65519, 65520, -1e6, NaN, 2 ** -25, 0];
  using f = Tensor.fromArray(v);
  using h = cast(f, "f16");
  assertEquals(h.dtype, "f16");
  assertClose(await h.data(), Float16Array.from(v), { atol: 0, rtol: 0 }, "f32→f16");
  using back = cast(h, "f32");
  assertClose(await back.data(), Float16Array.from(v), { atol: 0, rtol: 0 }, "f16→f32");
  using i = cast(Tensor.fromArray([1.7, -2.2, 0]), "i32");
  assertEquals(await i.data(), new Int32Array([1, -2, 0]));
});

gpuTest("elementwise ops say what is wrong", () => {
  using a = Tensor.fromArray([1, 2, 3]);
  using b = Tensor.fromArray([1, 2]);
  assertThrows(() => binary("add", a, b), RangeError, "do not broadcast");
  using i = Tensor.fromArray([1], [1], "i32");
  assertThrows(() => binary("add", a, i), TypeError, "dtypes differ");
  assertThrows(() => unary("exp", i), TypeError, "expected f32 or f16");
  assertThrows(() => clamp(a, 2, 1), RangeError, "lo (2) must be ≤ hi (1)");
  a.dispose();
  assertThrows(() => unary("abs", a), ReferenceError, "used after dispose");
});
