import { assertEquals, assertRejects, assertThrows } from "@std/assert";
import { Tensor } from "../../../kernels/tensor.ts";
import { AdamW } from "../../../train/optim/adamw.ts";
import { assertClose, gpuTest } from "../../_helpers.ts";
import { adamwRef } from "../../reference/optim.ts";
import { disposeAll, gradValues, paramValues, SHAPES, upload } from "./_params.ts";

const OPTS = { betas: [0.9, 0.95] as const, eps: 1e-8, weightDecay: 0.1 };

gpuTest(
  "AdamW: masked decay, frozen params, per-param steps, against the f64 reference",
  async () => {
    const values = paramValues();
    const params = upload(values);
    using opt = new AdamW(OPTS);
    type Moments = { p: ArrayLike<number>; m: ArrayLike<number>; v: ArrayLike<number> };
    const ref = new Map<string, Moments>();
    for (const [k, v] of values) {
      ref.set(k, { p: v, m: new Float64Array(v.length), v: new Float64Array(v.length) });
    }
    const steps = new Map<string, number>();
    for (let step = 1; step <= 4; step++) {
      // the norm weight gets no gradient on step 2: it is skipped, its own step count lags
      const gv = gradValues(step);
      if (step === 2) gv.delete("layers.0.input_layernorm.weight");
      const grads = upload(gv);
      const lr = 0.01 * step;
      opt.step(params, grads, lr);
      disposeAll(grads);
      for (const [name, g] of gv) {
        const t = (steps.get(name) ?? 0) + 1;
        steps.set(name, t);
        const r = ref.get(name)!;
        const decayed = SHAPES[name].length >= 2;
        const o = {
          lr,
          step: t,
          beta1: 0.9,
          beta2: 0.95,
          eps: 1e-8,
          weightDecay: decayed ? 0.1 : 0,
        };
        ref.set(name, adamwRef(r.p, g, r.m, r.v, o));
      }
    }
    assertEquals(opt.stepCount, 4);
    for (const [name, p] of params) {
      // same tolerance argument as the kernel test (|p| ≈ 1, lr ≤ 0.04, 4 steps)
      assertClose(await p.data(), ref.get(name)!.p, { atol: 1e-6, rtol: 1e-6 }, name);
    }
    // the frozen embedding never changed and holds no state
    assertEquals(
      await params.get("embed_tokens.weight")!.data(),
      values.get("embed_tokens.weight"),
    );
    const n = [...values].filter(([k]) => k !== "embed_tokens.weight").reduce(
      (a, [, v]) => a + v.length,
      0,
    );
    assertEquals(opt.memoryBytes(), 8 * n);
    const state = opt.state();
    assertEquals(
      await state.get("layers.0.input_layernorm.weight/step")!.data(),
      new Int32Array([3]),
    );
    assertEquals(state.has("embed_tokens.weight/exp_avg"), false);
    disposeAll(state);
    disposeAll(params);
  },
);

gpuTest("AdamW: state() and loadState() resume bit-exactly", async () => {
  const run = (opt: AdamW, params: Map<string, Tensor>, from: number, to: number) => {
    for (let s = from; s < to; s++) {
      const grads = upload(gradValues(s));
      opt.step(params, grads, 0.01);
      disposeAll(grads);
    }
  };
  const a = upload(paramValues());
  using optA = new AdamW(OPTS);
  run(optA, a, 0, 3);
  const checkpoint = optA.state();
  const saved = new Map<string, Float32Array>();
  for (const [k, t] of a) saved.set(k, await t.data() as Float32Array);
  run(optA, a, 3, 6);
  // resume: new params from the saved values, a new optimizer from the checkpoint
  const b = upload(saved);
  using optB = new AdamW(OPTS);
  await optB.loadState(checkpoint);
  disposeAll(checkpoint); // loadState copied it
  assertEquals(optB.stepCount, 3);
  run(optB, b, 3, 6);
  for (const [k, t] of a) assertEquals(await b.get(k)!.data(), await t.data(), k);
  disposeAll(a);
  disposeAll(b);
});

gpuTest("AdamW rejects bad input before changing anything", async () => {
  const params = upload(paramValues());
  using opt = new AdamW();
  const before = await params.get("layers.0.mlp.up_proj.weight")!.data();
  using ok = Tensor.zeros([7, 13]);
  using wrong = Tensor.zeros([13, 7]);
  using half = Tensor.zeros([7, 13], "f16");
  const up = "layers.0.mlp.up_proj.weight";
  assertThrows(
    () => opt.step(params, new Map([[up, ok], ["nope", ok]]), 0.1),
    RangeError,
    "names no parameter",
  );
  assertThrows(() => opt.step(params, new Map([[up, wrong]]), 0.1), RangeError, "shape");
  assertThrows(() => opt.step(params, new Map([[up, half]]), 0.1), TypeError, "MasterWeights");
  assertThrows(() => opt.step(params, new Map([[up, ok]]), NaN), RangeError, "learning rate");
  assertThrows(() => new AdamW({ betas: [1, 0.9] }), RangeError, "β₁");
  assertEquals(await params.get(up)!.data(), before);
  assertEquals(opt.stepCount, 0);
  // a state from another optimizer or shape is refused with the reason
  using step = Tensor.fromArray(new Int32Array([1]), [], "i32");
  await assertRejects(
    () => opt.loadState(new Map([["step", step], [`${up}/momentum_buffer`, ok]])),
    RangeError,
    "unknown key",
  );
  await opt.loadState(
    new Map([["step", step], [`${up}/step`, step], [`${up}/exp_avg`, wrong], [
      `${up}/exp_avg_sq`,
      wrong,
    ]]),
  );
  assertThrows(() => opt.step(params, new Map([[up, ok]]), 0.1), RangeError, "does not fit");
  opt.dispose();
  assertThrows(() => opt.step(params, new Map(), 0.1), ReferenceError, "disposed");
  disposeAll(params);
});
