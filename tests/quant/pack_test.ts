import { assert, assertEquals, assertThrows } from "@std/assert";
import { Tensor } from "../../kernels/tensor.ts";
import { loadModel } from "../../model/load.ts";
import { DenseLinear } from "../../model/linear.ts";
import { binary, int, mxfp4, nf4, nvfp4, quantizer, ternary } from "../../quant/quantizer.ts";
import { quantize } from "../../quant/quantize.ts";
import { quantizeLinear } from "../../quant/linear.ts";
import { lowbitFormatOf, pack, packLinear, unpack } from "../../quant/pack.ts";
import { rtn } from "../../quant/methods/rtn.ts";
import { QuantLinear } from "../../quant/linear.ts";
import { assertClose, gpuTest } from "../_helpers.ts";

const QUANTIZERS = [
  int(4, { group: 32 }),
  int(3, { symmetric: false }),
  int(8),
  int(2, { group: 32 }),
  nvfp4(),
  mxfp4(),
  nf4({ group: 32 }),
  ternary({ per: "channel" }),
  binary({ per: "channel" }),
  quantizer("e3m2", { group: 32 }),
];

gpuTest("pack/unpack round trip and packed matmul equal the quantized weights", async () => {
  using w = Tensor.randn([5, 96], { seed: 11 });
  using x = Tensor.randn([3, 96], { seed: 12 });
  for (const q of QUANTIZERS) {
    using qt = await quantize(q, w);
    using p = await pack(qt);
    assertEquals(Array.from(await unpack(p)), Array.from(await qt.codes.data()), lowbitFormatOf(q));
    using dense = new DenseLinear(w.reshape(w.shape));
    using ql = await quantizeLinear(dense, q);
    using pl = packLinear(ql);
    using a = ql.forward(x);
    using b = pl.forward(x);
    assertClose(await b.data(), await a.data(), { atol: 1e-4, rtol: 1e-4 }, lowbitFormatOf(q));
  }
});

gpuTest("a whole model on packed low-bit kernels matches its fake-quantized twin", async () => {
  using model = await loadModel();
  await rtn(model, (name) => (name.includes("mlp") ? int(4, { group: 32 }) : nvfp4()));
  const ids = [Array.from(new TextEncoder().encode("And God said, Let there be light"))];
  using ref = model.forward(ids);
  for (const [name, lin] of model.linears()) {
    assert(lin instanceof QuantLinear);
    model.setLinear(name, packLinear(lin));
  }
  using packed = model.forward(ids);
  assertClose(await packed.data(), await ref.data(), { atol: 2e-3, rtol: 1e-3 }, "logits");
});

gpuTest("per-input-channel scales cannot be packed, and say so", () => {
  assertThrows(
    () => lowbitFormatOf(int(4, { per: "channel-in" })),
    RangeError,
    "per input channel",
  );
});
