import { assert, assertEquals, assertLess, assertThrows } from "@std/assert";
import { Tensor } from "../../../kernels/tensor.ts";
import { Rng } from "../../../kernels/random.ts";
import { DenseLinear } from "../../../model/linear.ts";
import { loadModel } from "../../../model/load.ts";
import { quantizeModel } from "../../../quant/model.ts";
import { loadQuantized, packModel, saveQuantized } from "../../../quant/checkpoint.ts";
import { QuantLinear } from "../../../quant/linear.ts";
import { ONEBIT_QUANTIZER, oneBitLinear, svid } from "../../../quant/methods/onebit.ts";
import { gpuTest } from "../../_helpers.ts";

/** ‖|W| − a·bᵀ‖² in f64. */
function fitError(w: ArrayLike<number>, a: ArrayLike<number>, b: ArrayLike<number>) {
  let e = 0;
  for (let r = 0; r < a.length; r++) {
    for (let c = 0; c < b.length; c++) e += (Math.abs(w[r * b.length + c]) - a[r] * b[c]) ** 2;
  }
  return e;
}

Deno.test("svid: a·bᵀ is a stationary rank-1 fit of |W| (|W|·b = a·‖b‖², |W|ᵀ·a = b·‖a‖²), better than the row-mean fit", () => {
  const [R, C] = [13, 9];
  const w = new Rng(3).normal(R * C, 0, 1);
  const { a, b, sigma } = svid(w, R, C);
  assert(a.every((v) => v >= 0) && b.every((v) => v >= 0));
  const na = a.reduce((s, v) => s + v * v, 0), nb = b.reduce((s, v) => s + v * v, 0);
  for (let r = 0; r < R; r++) {
    let s = 0;
    for (let c = 0; c < C; c++) s += Math.abs(w[r * C + c]) * b[c];
    assertLess(Math.abs(s - a[r] * nb), 2e-3 * sigma, `row ${r}`); // f16 rounding of a, b
  }
  for (let c = 0; c < C; c++) {
    let s = 0;
    for (let r = 0; r < R; r++) s += Math.abs(w[r * C + c]) * a[r];
    assertLess(Math.abs(s - b[c] * na), 2e-3 * sigma, `column ${c}`);
  }
  // sign × row mean is the rank-1 fit with b = 1: never better than SVID
  const rowMean = Array.from({ length: R }, (_, r) => {
    let s = 0;
    for (let c = 0; c < C; c++) s += Math.abs(w[r * C + c]);
    return s / C;
  });
  assertLess(fitError(w, a, b), fitError(w, rowMean, new Array(C).fill(1)));
});

Deno.test("svid: recovers an exact rank-1 |W|, gives zeros for a zero weight, rejects NaN naming the element", () => {
  const u = [1, 2, 0.5], v = [4, 1, 3, 2];
  const w = u.flatMap((x, r) => v.map((y, c) => ((r + c) % 2 ? -1 : 1) * x * y));
  const { a, b } = svid(w, 3, 4);
  for (let r = 0; r < 3; r++) {
    for (let c = 0; c < 4; c++) {
      assertLess(Math.abs(a[r] * b[c] - u[r] * v[c]), 2e-3 * u[r] * v[c]);
    }
  }
  const z = svid(new Float32Array(6), 2, 3);
  assertEquals([...z.a, ...z.b], [0, 0, 0, 0, 0]);
  const e = assertThrows(() => svid([1, NaN, 0, 2], 2, 2, { name: "L.weight" }), RangeError);
  assert(e.message.includes("L.weight") && e.message.includes("[0, 1]"), e.message);
  assertThrows(() => svid([1, 2, 3], 2, 2), RangeError, "do not make");
});

gpuTest(
  "oneBitLinear: fake quant equals diag(a)·sign(W)·diag(b) (sign(0) = +1); packed logits match on 7×45",
  async () => {
    const [O, I, T] = [7, 45, 3];
    const rng = new Rng(5);
    const w = rng.normal(O * I, 0, 1);
    w[10] = 0;
    w[11] = -0;
    const copy = Float32Array.from(w);
    using dense = new DenseLinear(Tensor.fromArray(w, [O, I]));
    using q = await oneBitLinear(dense);
    assertEquals(await dense.weight.data(), copy, "the input layer is not modified");
    const { a, b } = svid(w, O, I);
    const v = await q.weight!.data();
    for (let r = 0; r < O; r++) {
      for (let c = 0; c < I; c++) {
        const s = w[r * I + c] < 0 ? -1 : 1;
        assertEquals(v[r * I + c], Math.fround(Math.fround(a[r] * s) * b[c]), `[${r}, ${c}]`);
      }
    }
    assertEquals(q.bitsPerWeight, 1 + 16 * (O + I) / (O * I));
    assertEquals(q.weightQuantizer, ONEBIT_QUANTIZER);
    using p = q.pack();
    using x = Tensor.fromArray(rng.normal(T * I, 0, 1), [T, I]);
    using y1 = q.forward(x);
    using y2 = p.forward(x);
    const [f, k] = [await y1.data(), await y2.data()];
    for (let i = 0; i < f.length; i++) {
      assertLess(Math.abs(f[i] - k[i]), 1e-4 * (1 + Math.abs(f[i])));
    }
    using ew = await p.effectiveWeight();
    const e = await ew.data();
    for (let i = 0; i < e.length; i++) {
      assertLess(Math.abs(e[i] - v[i]), 1e-6 * (1 + Math.abs(v[i])));
    }
  },
);

gpuTest(
  "quantizeModel onebit on the tiny model: save, load, packed logits equal the fake-quant logits",
  async () => {
    using model = await loadModel();
    const r = await quantizeModel(model, { method: "onebit", quantizer: ONEBIT_QUANTIZER });
    assertEquals(r.layers.length, 28);
    assert(model.getLinear("layers.1.mlp.down_proj") instanceof QuantLinear);
    const ids = [[72, 101, 108, 108, 111, 32, 119]];
    using ref = model.forward(ids);
    const dir = `${await Deno.makeTempDir()}/onebit`;
    try {
      await saveQuantized(model, dir);
      using again = await loadQuantized(dir);
      using y = again.forward(ids);
      assertEquals(packModel(model).length, 28);
      using yp = model.forward(ids);
      const [a, b, c] = [await ref.data(), await y.data(), await yp.data()];
      for (let i = 0; i < a.length; i++) {
        assertLess(Math.abs(a[i] - b[i]), 1e-3 * (1 + Math.abs(a[i])), `loaded logit ${i}`);
        assertLess(Math.abs(a[i] - c[i]), 1e-3 * (1 + Math.abs(a[i])), `packed logit ${i}`);
      }
    } finally {
      await Deno.remove(dir.replace(/\/onebit$/, ""), { recursive: true });
    }
  },
);
