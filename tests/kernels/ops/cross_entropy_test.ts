import { assert, assertEquals, assertThrows } from "@std/assert";
import { Tensor } from "../../../kernels/tensor.ts";
import { Rng } from "../../../kernels/random.ts";
import { valueAndGrad } from "../../../kernels/autograd.ts";
import { crossEntropy } from "../../../kernels/ops/cross_entropy.ts";
import { assertClose, gpuTest } from "../../_helpers.ts";
import { gradCheck } from "../../_gradcheck.ts";
import { crossEntropyRef } from "../../reference/cross_entropy.ts";

/** Targets in [0, V) with every `ignoreEvery`-th row set to the ignore index. */
function targetsFor(rows: number, V: number, seed: number, ignoreEvery = 0, ignore = -100) {
  const rng = new Rng(seed);
  return Array.from(
    { length: rows },
    (_, r) => ignoreEvery && r % ignoreEvery === 1 ? ignore : rng.nextU32() % V,
  );
}

gpuTest("crossEntropy forward matches the f64 reference (V not a workgroup multiple)", async () => {
  // V = 300 > 256 (several entries per invocation), V = 7 (many rows per workgroup), rank 3.
  for (const [shape, seed] of [[[5, 300], 1], [[67, 7], 2], [[2, 3, 11], 3]] as const) {
    const V = shape[shape.length - 1];
    const rows = shape.reduce((a, b) => a * b, 1) / V;
    const x = new Rng(seed).normal(rows * V, 0, 3);
    for (const ignoreEvery of [0, 3]) {
      const t = targetsFor(rows, V, seed + 10, ignoreEvery);
      using lx = Tensor.fromArray(x, [...shape]);
      for (const reduction of ["none", "sum", "mean"] as const) {
        using y = crossEntropy(lx, t, { reduction });
        const want = crossEntropyRef(x, t, V, { reduction });
        assertEquals(y.shape, reduction === "none" ? shape.slice(0, -1) : []);
        assertClose(await y.data(), want, { atol: 1e-5, rtol: 1e-5 }, `${shape} ${reduction}`);
      }
    }
  }
});

gpuTest(
  "crossEntropy gradient matches f64 finite differences (mean, sum, none, ignored rows)",
  async () => {
    for (const reduction of ["mean", "sum", "none"] as const) {
      for (const [rows, V] of [[6, 37], [3, 260]]) {
        const t = targetsFor(rows, V, rows + V, 4);
        await gradCheck({
          inputs: [{ shape: [rows, V] }],
          gpu: (x) => crossEntropy(x, t, { reduction }),
          ref: (x) => crossEntropyRef(x, t, V, { reduction }),
          seed: rows,
        }).catch((e) => {
          throw new Error(`${reduction} [${rows}, ${V}]: ${e.message}`);
        });
      }
    }
    // GPU targets and a custom ignoreIndex on [B, T, V] logits.
    const t = targetsFor(6, 9, 5, 2, 3);
    using tg = Tensor.fromArray(Int32Array.from(t), [6], "i32");
    await gradCheck({
      inputs: [{ shape: [2, 3, 9] }],
      gpu: (x) => crossEntropy(x, tg, { ignoreIndex: 3 }),
      ref: (x) => crossEntropyRef(x, t, 9, { ignoreIndex: 3 }),
    });
  },
);

gpuTest("crossEntropy edge cases: NaN row, huge logit, all rows ignored, one row", async () => {
  const V = 5;
  // Row 0 holds NaN: its loss and gradient are NaN; row 1 is untouched.
  const x = [NaN, 0, 1, 2, 3, 0.5, -1, 2, 0, 1];
  using lx = Tensor.fromArray(x, [2, V]);
  using per = crossEntropy(lx, [2, 4], { reduction: "none" });
  const p = await per.data();
  assert(Number.isNaN(p[0]), `NaN row loss ${p[0]}`);
  assertClose([p[1]], crossEntropyRef(x.slice(5), [4], V, { reduction: "none" }));
  const { value, grads } = valueAndGrad(() => crossEntropy(lx, [2, 4], { reduction: "none" }), [
    lx,
  ], { seed: Tensor.fromArray([1, 1]) });
  value.dispose();
  const g = await grads.get("0")!.data();
  grads.get("0")!.dispose();
  assert(g.slice(0, V).every(Number.isNaN), `NaN row gradient ${g.slice(0, V)}`);
  assert(g.slice(V).every(Number.isFinite), `clean row gradient ${g.slice(V)}`);

  // A huge logit: no overflow; the loss is the gap to the huge one, the gradient finite.
  const big = [1e30, 0, -1e30, 5, 1];
  using lb = Tensor.fromArray(big, [1, V]);
  using l0 = crossEntropy(lb, [0]);
  using l3 = crossEntropy(lb, [3]);
  assertEquals(await l0.item(), 0);
  assertClose([await l3.item()], [1e30], { rtol: 1e-6 });
  {
    const { value: v, grads: gr } = valueAndGrad(() => crossEntropy(lb, [3]), [lb]);
    v.dispose();
    assertClose(await gr.get("0")!.data(), [1, 0, 0, -1, 0], { atol: 0 }, "huge-logit gradient");
    gr.get("0")!.dispose();
  }

  // Ignored rows: zero loss, zero gradient even with NaN logits; all ignored → mean is NaN.
  {
    const { value: v, grads: gr } = valueAndGrad(
      () => crossEntropy(lx, [-100, 4], { reduction: "mean" }),
      [lx],
    );
    assertClose([await v.item()], crossEntropyRef(x.slice(5), [4], V), { atol: 1e-6 });
    v.dispose();
    const gi = await gr.get("0")!.data();
    gr.get("0")!.dispose();
    assertEquals(Array.from(gi.slice(0, V)), [0, 0, 0, 0, 0]);
  }
  using allIgnored = crossEntropy(lx, [-100, -100]);
  assert(Number.isNaN(await allIgnored.item()), "mean over no counted rows is NaN (0/0)");
  using sumIgnored = crossEntropy(lx, [-100, -100], { reduction: "sum" });
  assertEquals(await sumIgnored.item(), 0);

  // One row, one class: loss 0.
  using one = Tensor.fromArray([[4]]);
  using l1 = crossEntropy(one, [0]);
  assertEquals(await l1.item(), 0);

  // A GPU target out of range (not ignored) gives NaN for its row, never a wrong number.
  using tBad = Tensor.fromArray([7, 4], [2], "i32");
  using bad = crossEntropy(lx, tBad, { reduction: "none" });
  assert(Number.isNaN((await bad.data())[0]));
});

gpuTest("crossEntropy rejects bad input with a clear error and leaves inputs alone", async () => {
  using x = Tensor.fromArray([[1, 2, 3]]);
  assertThrows(() => crossEntropy(x, [3]), RangeError, "target 3 at row 0");
  assertThrows(() => crossEntropy(x, [0, 1]), RangeError, "2 targets for 1 rows");
  assertThrows(() => crossEntropy(x, [0.5]), RangeError, "not a class index");
  using ti = Tensor.fromArray([0], [1], "f32");
  assertThrows(() => crossEntropy(x, ti), TypeError);
  assertThrows(
    () => crossEntropy(x, [0], { reduction: "avg" as "mean" }),
    RangeError,
    "reduction",
  );
  using h = Tensor.fromArray([[1, 2]], undefined, "f16");
  assertThrows(() => crossEntropy(h, [0]), TypeError);
  using _y = crossEntropy(x, [1]);
  assertEquals(Array.from(await x.data()), [1, 2, 3]);
});
