import { assert, assertEquals, assertLess } from "@std/assert";
import { Tensor } from "../../../kernels/tensor.ts";
import { Rng } from "../../../kernels/random.ts";
import { valueAndGrad } from "../../../kernels/autograd.ts";
import { mul } from "../../../kernels/ops/elementwise.ts";
import { sumAll } from "../../../kernels/ops/reduce_all.ts";
import { OneBitLinear, signSte } from "../../../quant/qat/onebit_linear.ts";
import { gpuTest } from "../../_helpers.ts";

// y[t, o] = a[o] · Σ_i x[t, i] · b[i] · S[o, i]  (S continuous for the STE reference)
function ref(x: Float64Array, a: Float64Array, b: Float64Array, s: Float64Array, T: number) {
  const O = a.length, I = b.length;
  const y = new Float64Array(T * O);
  for (let t = 0; t < T; t++) {
    for (let o = 0; o < O; o++) {
      let acc = 0;
      for (let i = 0; i < I; i++) acc += x[t * I + i] * b[i] * s[o * I + i];
      y[t * O + o] = a[o] * acc;
    }
  }
  return y;
}

gpuTest(
  "OneBitLinear: gradients of a, b, x match f64 finite differences; W gets the STE gradient ∂L/∂S",
  async () => {
    const [T, O, I] = [3, 5, 7];
    const rng = new Rng(4);
    const w = rng.normal(O * I, 0, 1);
    const x = rng.normal(T * I, 0, 1);
    const r = rng.normal(T * O, 0, 1); // L = Σ y·r
    using wt = Tensor.fromArray(w, [O, I]);
    using layer = await OneBitLinear.create(wt);
    const p = layer.parameters();
    const a = Float64Array.from(await p.get("a")!.data());
    const b = Float64Array.from(await p.get("b")!.data());
    const s = Float64Array.from(w, (v) => (v < 0 ? -1 : 1));
    using xt = Tensor.fromArray(x, [T, I]);
    using rt = Tensor.fromArray(r, [T, O]);
    const { value, grads } = valueAndGrad(() => {
      using y = layer.forward(xt);
      using yr = mul(y, rt);
      return sumAll(yr);
    }, new Map([...p, ["x", xt]]));
    value.dispose();
    const L = (xs: Float64Array, as: Float64Array, bs: Float64Array, ss: Float64Array) =>
      ref(xs, as, bs, ss, T).reduce((acc, v, k) => acc + v * r[k], 0);
    const args = { x: Float64Array.from(x), a, b, weight: s };
    const order = ["x", "a", "b", "weight"] as const;
    let worst = 0;
    for (const name of order) {
      const g = await grads.get(name)!.data();
      const v = args[name];
      let scale = 0;
      const fd = new Float64Array(v.length);
      for (let k = 0; k < v.length; k++) {
        const h = 1e-4, keep = v[k];
        v[k] = keep + h;
        const up = L(args.x, args.a, args.b, args.weight);
        v[k] = keep - h;
        const down = L(args.x, args.a, args.b, args.weight);
        v[k] = keep;
        fd[k] = (up - down) / (2 * h);
        scale = Math.max(scale, Math.abs(fd[k]));
      }
      for (let k = 0; k < v.length; k++) {
        const e = Math.abs(g[k] - fd[k]) / scale;
        assertLess(e, 2e-3, `${name}[${k}]: GPU ${g[k]} vs finite differences ${fd[k]}`);
        worst = Math.max(worst, e);
      }
    }
    for (const g of grads.values()) g.dispose();
    assert(worst < 2e-3);
  },
);

gpuTest("signSte: sign(0) = sign(−0) = +1, NaN gives NaN out and a NaN gradient", async () => {
  using x = Tensor.fromArray([-2, -0, 0, 3, NaN, 1e-30, -1e-30]);
  const { value, grads } = valueAndGrad(() => {
    using s = signSte(x);
    return sumAll(s);
  }, { x });
  assert(Number.isNaN(await value.item()));
  value.dispose();
  using s = signSte(x);
  const sv = Array.from(await s.data());
  assertEquals(sv.slice(0, 4), [-1, 1, 1, 1]);
  assert(Number.isNaN(sv[4]));
  assertEquals(sv.slice(5), [1, -1]);
  const g = Array.from(await grads.get("x")!.data());
  grads.get("x")!.dispose();
  assertEquals(g.filter((_, i) => i !== 4), [1, 1, 1, 1, 1, 1]);
  assert(Number.isNaN(g[4]));
});

gpuTest(
  "OneBitLinear: the exported QuantLinear (fake quant and packed, 5×37) computes what the layer computes",
  async () => {
    const [T, O, I] = [3, 5, 37]; // 37: not a multiple of the 32-bit code word
    const rng = new Rng(9);
    const w = rng.normal(O * I, 0, 1);
    w[3] = 0; // sign(0) = +1 in the codes too
    using wt = Tensor.fromArray(w, [O, I]);
    using bias = Tensor.fromArray(rng.normal(O, 0, 1));
    using layer = await OneBitLinear.create(wt, { bias });
    using x = Tensor.fromArray(rng.normal(T * I, 0, 1), [T, I]);
    using y = layer.forward(x);
    using fq = await layer.toQuantLinear();
    using pk = await layer.toQuantLinear({ packed: true });
    assert(pk.packed && !fq.packed);
    using yf = fq.forward(x);
    using yp = pk.forward(x);
    const [a, f, k] = [await y.data(), await yf.data(), await yp.data()];
    for (let i = 0; i < a.length; i++) {
      // a, b are already f16 after SVID, so the export changes nothing but the order of products
      assertLess(Math.abs(a[i] - f[i]), 1e-4 * (1 + Math.abs(a[i])), `fake quant [${i}]`);
      assertLess(Math.abs(k[i] - f[i]), 1e-4 * (1 + Math.abs(f[i])), `packed [${i}]`);
    }
    assertEquals(fq.bitsPerWeight, 1 + 16 * (O + I) / (O * I));
    const wq = await fq.weight!.data();
    assert(
      wq[3] > 0 ===
        (await layer.parameters().get("a")!.data())[0] *
              (await layer.parameters().get("b")!.data())[3] > 0,
    );
  },
);

gpuTest(
  "OneBitLinear: rejects a 1-D weight, a wrong bias, and a NaN weight, naming them",
  async () => {
    using w1 = Tensor.fromArray([1, 2]);
    let e = await OneBitLinear.create(w1).catch((e) => e);
    assert(e instanceof RangeError && e.message.includes("2-D"));
    using w = Tensor.fromArray([[1, 2], [3, 4]]);
    using b = Tensor.fromArray([1, 2, 3]);
    e = await OneBitLinear.create(w, { bias: b }).catch((e) => e);
    assert(e instanceof RangeError && e.message.includes("bias"));
    using wn = Tensor.fromArray([[1, NaN], [3, 4]]);
    e = await OneBitLinear.create(wn).catch((e) => e);
    assert(e instanceof RangeError && e.message.includes("[0, 1]"), String(e));
  },
);
