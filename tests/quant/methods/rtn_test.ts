import { assert, assertRejects } from "@std/assert";
import { Tensor } from "../../../kernels/tensor.ts";
import { DenseLinear } from "../../../model/linear.ts";
import type { WeightedLinear } from "../../../quant/linear.ts";
import { loadModel } from "../../../model/load.ts";
import { rtn } from "../../../quant/methods/rtn.ts";
import { int } from "../../../quant/quantizer.ts";
import { gpuTest } from "../../_helpers.ts";

gpuTest(
  "rtn: a weight whose f16 scale would overflow fails naming the layer and the fix",
  async () => {
    using model = await loadModel();
    const name = "layers.2.mlp.down_proj";
    const w = await (model.getLinear(name) as WeightedLinear).weight.data() as Float32Array;
    const big = Float32Array.from(w);
    big[3 * 384 + 40] = 1e6; // row 3, group 1 of 32: needs a scale of 1e6 / 7 > 65504
    model.setLinear(name, new DenseLinear(Tensor.fromArray(big, [128, 384])));
    const e = await assertRejects(() => rtn(model, int(4, { group: 32 })), RangeError);
    for (const part of [`${name}.weight`, "row 3, columns 32–63", "1000000", 'scale: "f32"']) {
      assert(e.message.includes(part), `"${part}" missing from: ${e.message}`);
    }
  },
);
