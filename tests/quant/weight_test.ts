import { assert, assertEquals, assertRejects, assertThrows } from "@std/assert";
import { Tensor } from "../../kernels/tensor.ts";
import { loadModel } from "../../model/load.ts";
import { DenseLinear } from "../../model/linear.ts";
import { binary, int, mxfp4, nf4, nvfp4, quantizer, ternary } from "../../quant/quantizer.ts";
import { quantizePass } from "../../quant/quantize.ts";
import { quantizeLinear, QuantLinear } from "../../quant/linear.ts";
import { kernelFormatOf, quantize, QuantizedWeight } from "../../quant/weight.ts";
import { rtn } from "../../quant/methods/rtn.ts";
import { packModel } from "../../quant/checkpoint.ts";
import { assertClose, gpuTest } from "../_helpers.ts";

const QUANTIZERS = [
  int(4, { group: 32 }),
  int(3, { symmetric: false }),
  int(8),
  int(2, { group: 32 }),
  int(4, { per: "tensor" }),
  nvfp4(),
  mxfp4(),
  nf4({ group: 32 }),
  ternary({ per: "channel" }),
  binary({ per: "channel" }),
  quantizer("e3m2", { group: 32 }),
];

gpuTest(
  "QuantizedWeight: packed codes, dequantize and matmul equal the quantization pass",
  async () => {
    using w = Tensor.randn([5, 96], { seed: 11 });
    using x = Tensor.randn([3, 96], { seed: 12 });
    for (const q of QUANTIZERS) {
      const what = kernelFormatOf(q);
      using pass = await quantizePass(q, w);
      using qw = await quantize(q, w);
      // the codes survive packing exactly, and dequantize to the pass's values bit for bit
      assertEquals(Array.from(await qw.unpackCodes()), Array.from(await pass.codes.data()), what);
      using deq = await qw.dequantize();
      assertEquals(await deq.data(), await pass.dequantized.data(), what);
      // the low-bit kernel computes x·Ŵᵀ from the packed codes; it departs from the dense
      // matmul by up to 2.3e-4 on these |y| ≈ 1 outputs (measured, int4 per tensor at batch 3)
      using dense = new DenseLinear(w.reshape(w.shape));
      using ql = await quantizeLinear(dense, q);
      assert(!ql.packed);
      using pl = ql.pack();
      assert(pl.packed && pl.weight === undefined, what);
      using a = ql.forward(x);
      using b = pl.forward(x);
      assertClose(await b.data(), await a.data(), { atol: 5e-4, rtol: 1e-4 }, what);
    }
  },
);

gpuTest("a whole model on packed low-bit kernels matches its fake-quantized twin", async () => {
  using model = await loadModel();
  await rtn(model, (name) => (name.includes("mlp") ? int(4, { group: 32 }) : nvfp4()));
  const ids = [Array.from(new TextEncoder().encode("And God said, Let there be light"))];
  using ref = model.forward(ids);
  assertEquals(packModel(model).length, 28);
  for (const lin of model.linears().values()) assert(lin instanceof QuantLinear && lin.packed);
  using packed = model.forward(ids);
  assertClose(await packed.data(), await ref.data(), { atol: 2e-3, rtol: 1e-3 }, "logits");
});

gpuTest("per-input-channel scales have no kernel, and say so; they still dequantize", async () => {
  assertThrows(
    () => kernelFormatOf(int(4, { per: "channel-in" })),
    RangeError,
    "per input channel",
  );
  using w = Tensor.randn([4, 32], { seed: 1 });
  using qw = await quantize(int(4, { per: "channel-in" }), w);
  using pass = await quantizePass(int(4, { per: "channel-in" }), w);
  using d = await qw.dequantize();
  assertEquals(await d.data(), await pass.dequantized.data());
  using x = Tensor.randn([1, 32], { seed: 2 });
  assertThrows(() => qw.matmul(x), RangeError, "per input channel");
});

gpuTest("a wrong bit width or shape is detected, naming the weight", async () => {
  using w = Tensor.randn([4, 256], { seed: 3 });
  using q = await quantize(int(4, { group: 32 }), w);
  const words = await q.codes.data() as Uint32Array;
  // the same words read as 3-bit codes: the word count does not fit
  assertThrows(
    () =>
      new QuantizedWeight({
        quantizer: int(3, { group: 32 }),
        shape: [4, 256],
        groupSize: 32,
        codes: words,
        scales: q.scales,
        name: "layers.0.x",
      }),
    RangeError,
    "layers.0.x: 128 code words do not hold [4, 256] 3-bit codes",
  );
  assertThrows(
    () =>
      new QuantizedWeight({
        quantizer: int(4, { group: 32 }),
        shape: [4, 256],
        groupSize: 32,
        codes: words,
        scales: q.scales.subarray(1),
      }),
    RangeError,
    "31 scales for 32 groups",
  );
});

gpuTest("quantize names the element when the tensor holds NaN", async () => {
  using w = Tensor.fromArray([[1, NaN, 2, 3]]);
  await assertRejects(() => quantize(int(4), w, { name: "w" }), RangeError, "element [0, 1]");
});
