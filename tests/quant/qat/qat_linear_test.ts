import { assert, assertEquals, assertLess, assertRejects } from "@std/assert";
import { Tensor } from "../../../kernels/tensor.ts";
import { Rng } from "../../../kernels/random.ts";
import { valueAndGrad } from "../../../kernels/autograd.ts";
import { sub, unary } from "../../../kernels/ops/elementwise.ts";
import { linear } from "../../../kernels/ops/matmul.ts";
import { meanAll } from "../../../kernels/ops/reduce_all.ts";
import { SGD } from "../../../train/optim/sgd.ts";
import { int } from "../../../quant/quantizer.ts";
import { fakeQuant } from "../../../quant/quantize.ts";
import { type ActivationQat, QatLinear, type WeightQat } from "../../../quant/qat/qat_linear.ts";
import { gpuTest } from "../../_helpers.ts";

// A tiny regression problem: y = x·Wᵀ with a random W [5, 12], 40 samples.
const [n, inF, outF] = [40, 12, 5];
function problem(seed: number) {
  const rng = new Rng(seed);
  const x = rng.normal(n * inF, 0, 1);
  const wTrue = rng.normal(outF * inF, 0, 0.5);
  const y = new Float32Array(n * outF);
  for (let i = 0; i < n; i++) {
    for (let o = 0; o < outF; o++) {
      let s = 0;
      for (let k = 0; k < inF; k++) s += x[i * inF + k] * wTrue[o * inF + k];
      y[i * outF + o] = s;
    }
  }
  const w0 = rng.normal(outF * inF, 0, 0.1); // the starting weight
  return { x, y, w0 };
}

async function train(
  weight: WeightQat,
  activation: ActivationQat | undefined,
  steps: number,
  lr: number,
): Promise<
  { losses: number[]; before: Map<string, Float32Array>; after: Map<string, Float32Array> }
> {
  const { x, y, w0 } = problem(1);
  using xt = Tensor.fromArray(x, [n, inF]);
  using yt = Tensor.fromArray(y, [n, outF]);
  using w = Tensor.fromArray(w0, [outF, inF]);
  using layer = await QatLinear.create(w, { weight, activation });
  const read = async () => {
    const m = new Map<string, Float32Array>();
    for (const [k, t] of layer.parameters()) m.set(k, Float32Array.from(await t.data()));
    return m;
  };
  const before = await read();
  const opt = new SGD();
  const losses: number[] = [];
  for (let s = 0; s < steps; s++) {
    const params = layer.parameters();
    const { value, grads } = valueAndGrad(() => {
      using p = layer.forward(xt);
      using d = sub(p, yt);
      using d2 = unary("square", d);
      return meanAll(d2);
    }, params);
    losses.push(await value.item());
    value.dispose();
    opt.step(params, grads, lr);
    for (const g of grads.values()) g.dispose();
    await layer.refresh();
  }
  const after = await read();
  return { losses, before, after };
}

const maxChange = (a: Float32Array, b: Float32Array) =>
  a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);

gpuTest("QatLinear LSQ W4 + LSQ A8: 50 SGD steps lower the loss and move the steps", async () => {
  const weight: WeightQat = { kind: "lsq", bits: 4, per: "row" };
  const activation: ActivationQat = { kind: "lsq", bits: 8, step: 0.05 };
  const run = await train(weight, activation, 50, 0.05);
  const { losses, before, after } = run;
  assertLess(losses.at(-1)!, 0.25 * losses[0], `loss ${losses[0]} → ${losses.at(-1)}`);
  assert(
    maxChange(before.get("weight.step")!, after.get("weight.step")!) > 1e-4,
    "weight steps moved",
  );
  assert(
    maxChange(before.get("activation.step")!, after.get("activation.step")!) > 1e-5,
    "input step moved",
  );
  // seeded: the same run gives the same bits
  const again = await train(weight, activation, 50, 0.05);
  assertEquals(again.losses, losses);
});

gpuTest(
  "QatLinear STE int4: training lowers the loss; forward equals fakeQuant of the weight",
  async () => {
    const { losses } = await train(
      { kind: "ste", quantizer: int(4, { group: 6 }) },
      undefined,
      50,
      0.05,
    );
    assertLess(losses.at(-1)!, 0.25 * losses[0], `loss ${losses[0]} → ${losses.at(-1)}`);
    const { x, w0 } = problem(2);
    using xt = Tensor.fromArray(x, [n, inF]);
    using w = Tensor.fromArray(w0, [outF, inF]);
    using layer = await QatLinear.create(w, {
      weight: { kind: "ste", quantizer: int(4, { group: 6 }) },
    });
    using y = layer.forward(xt);
    using wq = await fakeQuant(int(4, { group: 6 }), w);
    using expected = linear(xt, wq);
    assertEquals(await y.data(), await expected.data());
    assertEquals(layer.bitsPerWeight, 4 + 16 / 6);
  },
);

gpuTest("QatLinear PACT input: α is a parameter and receives a gradient", async () => {
  const run = await train({ kind: "lsq", bits: 4 }, { kind: "pact", bits: 4, alpha: 1 }, 5, 0.05);
  assert(maxChange(run.before.get("activation.alpha")!, run.after.get("activation.alpha")!) > 0);
});

gpuTest("QatLinear: bad input names the problem; the argument weight is not kept", async () => {
  using w = Tensor.fromArray([1, 2, 3]);
  await assertRejects(
    () => QatLinear.create(w, { weight: { kind: "lsq", bits: 4 } }),
    RangeError,
    "2-D",
  );
  using w2 = Tensor.fromArray([[1, 2, 3]]);
  await assertRejects(
    () =>
      QatLinear.create(w2, {
        weight: { kind: "lsq", bits: 4 },
        activation: { kind: "pact", bits: 4, alpha: 0 },
      }),
    RangeError,
    "alpha",
  );
  const layer = await QatLinear.create(w2, { weight: { kind: "lsq", bits: 4 } });
  assert(layer.parameters().get("weight") !== w2);
  layer.dispose();
  layer.dispose();
  assertEquals(await w2.data(), Float32Array.of(1, 2, 3));
});
