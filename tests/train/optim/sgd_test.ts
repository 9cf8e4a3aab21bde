import { assertEquals, assertThrows } from "@std/assert";
import { SGD } from "../../../train/optim/sgd.ts";
import { assertClose, gpuTest } from "../../_helpers.ts";
import { sgdRef } from "../../reference/optim.ts";
import { disposeAll, gradValues, paramValues, SHAPES, upload } from "./_params.ts";

gpuTest("SGD (nesterov, masked decay, frozen params) follows the f64 reference", async () => {
  const values = paramValues();
  const params = upload(values);
  using opt = new SGD({ momentum: 0.9, nesterov: true, weightDecay: 0.05 });
  const ref = new Map<string, { p: ArrayLike<number>; buf: ArrayLike<number> | undefined }>();
  for (const [k, v] of values) ref.set(k, { p: v, buf: undefined });
  for (let step = 1; step <= 3; step++) {
    const gv = gradValues(step);
    const grads = upload(gv);
    opt.step(params, grads, 0.1);
    disposeAll(grads);
    for (const [name, g] of gv) {
      const r = ref.get(name)!;
      const wd = SHAPES[name].length >= 2 ? 0.05 : 0;
      const o = { lr: 0.1, momentum: 0.9, dampening: 0, weightDecay: wd, nesterov: true };
      ref.set(name, sgdRef(r.p, g, r.buf, o));
    }
  }
  for (const [name, p] of params) {
    assertClose(await p.data(), ref.get(name)!.p, { atol: 1e-6, rtol: 1e-6 }, name);
  }
  assertEquals(await params.get("embed_tokens.weight")!.data(), values.get("embed_tokens.weight"));
  disposeAll(params);
});

gpuTest("SGD without momentum holds no state; bad settings are refused", () => {
  const params = upload(paramValues());
  const grads = upload(gradValues(0));
  using opt = new SGD();
  opt.step(params, grads, 0.1);
  assertEquals([opt.memoryBytes(), opt.stepCount], [0, 1]);
  assertThrows(() => new SGD({ nesterov: true }), RangeError, "momentum > 0");
  assertThrows(() => new SGD({ momentum: 0.9, dampening: 0.1, nesterov: true }), RangeError);
  assertThrows(() => new SGD({ momentum: -1 }), RangeError, "momentum");
  disposeAll(params);
  disposeAll(grads);
});
