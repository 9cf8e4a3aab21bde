import { assert, assertAlmostEquals, assertEquals, assertThrows } from "@std/assert";
import { Tensor } from "../../../kernels/tensor.ts";
import { runtimeStats } from "../../../kernels/runtime.ts";
import {
  checkpoint,
  customGrad,
  noGrad,
  stopGradient,
  Tape,
  tracking,
  valueAndGrad,
} from "../../../kernels/autograd.ts";
import { add, mul, unary } from "../../../kernels/ops/elementwise.ts";
import { linear } from "../../../kernels/ops/matmul.ts";
import { sumAll } from "../../../kernels/ops/reduce_all.ts";
import { gpuTest } from "../../_helpers.ts";

/** A two-layer block h → tanh(h·W1ᵀ)·W2ᵀ + h, for checkpointing tests. */
function block(w1: Tensor, w2: Tensor) {
  return (h: Tensor) => {
    using a = linear(h, w1);
    using t = unary("tanh", a);
    using b = linear(t, w2);
    return add(b, h);
  };
}

async function grads(
  useCheckpoint: boolean,
  params: Record<string, Tensor>,
  x: Tensor,
): Promise<Record<string, number[]>> {
  const { w1, w2, v1, v2 } = params;
  const { value, grads } = valueAndGrad(() => {
    const f1 = block(w1, w2), f2 = block(v1, v2);
    using h1 = useCheckpoint ? checkpoint(f1, [x]) : f1(x);
    using h2 = useCheckpoint ? checkpoint(f2, [h1]) : f2(h1);
    using sq = mul(h2, h2);
    return sumAll(sq);
  }, params);
  value.dispose();
  const out: Record<string, number[]> = {};
  for (const [k, g] of grads) {
    out[k] = Array.from(await g.data());
    g.dispose();
  }
  return out;
}

gpuTest(
  "checkpointed layers give the same gradients as recorded ones, and record less",
  async () => {
    const p = {
      w1: Tensor.randn([6, 5], { seed: 1 }),
      w2: Tensor.randn([5, 6], { seed: 2 }),
      v1: Tensor.randn([6, 5], { seed: 3 }),
      v2: Tensor.randn([5, 6], { seed: 4 }),
    };
    using x = Tensor.randn([3, 5], { seed: 5 });
    const plain = await grads(false, p, x);
    const ckpt = await grads(true, p, x);
    for (const k of Object.keys(plain)) {
      assert(plain[k].some((v) => v !== 0), `${k}: gradient is all zero`);
      plain[k].forEach((v, i) =>
        assertAlmostEquals(ckpt[k][i], v, 1e-5 * (1 + Math.abs(v)), `${k}[${i}]`)
      );
    }
    // What the tape holds at the end of the forward: checkpointing keeps only block inputs.
    const held = (useCheckpoint: boolean) => {
      using tape = new Tape(Object.values(p));
      using _y = tape.run(() => {
        const f1 = block(p.w1, p.w2), f2 = block(p.v1, p.v2);
        using h1 = useCheckpoint ? checkpoint(f1, [x]) : f1(x);
        return useCheckpoint ? checkpoint(f2, [h1]) : f2(h1);
      });
      return tape.size;
    };
    assertEquals(held(true), 2);
    assert(held(false) >= 8, `recorded ${held(false)} ops without checkpointing`);
    for (const t of Object.values(p)) t.dispose();
  },
);

gpuTest(
  "gradient accumulation over micro-batches equals the gradient of the summed loss",
  async () => {
    using w = Tensor.randn([4, 3], { seed: 7 });
    const xs = [Tensor.randn([2, 3], { seed: 8 }), Tensor.randn([5, 3], { seed: 9 })];
    const loss = (x: Tensor) => () => {
      using y = linear(x, w);
      using t = unary("tanh", y);
      return sumAll(t);
    };
    const acc = new Map<string, Tensor>();
    for (const x of xs) valueAndGrad(loss(x), { w }, { into: acc }).value.dispose();
    const { value, grads } = valueAndGrad(() => {
      using a = loss(xs[0])();
      using b = loss(xs[1])();
      return add(a, b);
    }, { w });
    value.dispose();
    using g1 = acc.get("w")!, g2 = grads.get("w")!;
    const [a, b] = [await g1.data(), await g2.data()];
    a.forEach((v, i) => assertAlmostEquals(v, b[i], 1e-5));
    for (const x of xs) x.dispose();
  },
);

gpuTest(
  "constants, noGrad and stopGradient cut the graph; a straight-through rule passes it",
  async () => {
    using w = Tensor.fromArray([2, -3]);
    using c = Tensor.fromArray([5, 7]);
    const steRound = customGrad("round-ste", (x: Tensor) => unary("round", x), (g) => [g.share()]);
    const { value, grads } = valueAndGrad(() => {
      using wc = mul(w, c); // c is a constant: no gradient, no record of its own
      using frozen = noGrad(() => mul(w, w)); // no gradient through this
      using sg = stopGradient(w);
      using sgw = mul(sg, w); // gradient only through the second factor: sg
      using x = mul(w, 0.3);
      using r = steRound(x); // d/dw = 0.3 through the STE
      using s1 = add(wc, frozen);
      using s2 = add(s1, sgw);
      using s3 = add(s2, r);
      assert(!tracking(frozen) && !tracking(sg) && !tracking(c));
      return sumAll(s3);
    }, { w });
    // value: Σ (w·c + w² + w² + round(0.3w)) = (10 − 21) + (4 + 9)·2 + (1 + −1) = 15
    assertEquals(await value.item(), 15);
    value.dispose();
    using g = grads.get("w")!;
    // d/dw: c + sg + 0.3 = [5 + 2 + 0.3, 7 − 3 + 0.3]
    const got = Array.from(await g.data());
    assertAlmostEquals(got[0], 7.3, 1e-6);
    assertAlmostEquals(got[1], 4.3, 1e-6);
  },
);

gpuTest("valueAndGrad frees everything it recorded; bad use gets clear errors", async () => {
  using w = Tensor.randn([16, 9], { seed: 1 });
  using x = Tensor.randn([7, 9], { seed: 2 });
  const step = () => {
    const { value, grads } = valueAndGrad(() => {
      using y = linear(x, w);
      using t = unary("silu", y);
      return sumAll(t);
    }, { w });
    value.dispose();
    for (const g of grads.values()) g.dispose();
  };
  step();
  const before = runtimeStats().liveBytes;
  for (let i = 0; i < 3; i++) step();
  assertEquals(runtimeStats().liveBytes, before, "live GPU bytes grew across steps");
  assertThrows(
    () => valueAndGrad(() => linear(x, w), { w }),
    RangeError,
    "pass a seed gradient",
  );
  using ids = Tensor.fromArray(new Int32Array([1, 2]), [2]);
  assertThrows(() => valueAndGrad(() => sumAll(w), { ids }), TypeError, "only float tensors");
  const tape = new Tape([w]);
  tape.dispose();
  assertThrows(() => tape.run(() => 0), Error, "disposed");
  // A parameter the output does not depend on gets a zero gradient.
  const { value, grads } = valueAndGrad(() => sumAll(x), { w });
  value.dispose();
  using g = grads.get("w")!;
  assert((await g.data()).every((v) => v === 0));
});
