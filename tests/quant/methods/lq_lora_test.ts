import { assert } from "@std/assert";
import { Tensor } from "../../../kernels/tensor.ts";
import { add, sub } from "../../../kernels/ops/elementwise.ts";
import { matmul } from "../../../kernels/ops/matmul.ts";
import { nf4 } from "../../../quant/quantizer.ts";
import { lqLoraDecompose } from "../../../quant/methods/lq_lora.ts";
import { gpuTest } from "../../_helpers.ts";

gpuTest(
  "lqLoraDecompose: errors fall below one-shot quantize-then-SVD and match Q + L₁L₂",
  async () => {
    // a low-rank part with large entries plus small noise: the case LQ-LoRA targets
    using l = Tensor.randn([48, 4], { seed: 1 });
    using r = Tensor.randn([4, 64], { seed: 2 });
    using lr = matmul(l, r);
    using noise = Tensor.randn([48, 64], { seed: 3, std: 0.3 });
    using w = add(lr, noise);
    using d = await lqLoraDecompose(w, nf4({ group: 16 }), { rank: 4, iterations: 6 });
    assert(d.errors.length === 6);
    assert(d.errors[d.best] < 0.9 * d.errors[0], `errors ${d.errors}`);
    // the reported error is that of the returned factors
    using ab = matmul(d.a, d.b);
    using approx = add(d.quantized, ab);
    using diff = sub(approx, w);
    let num = 0, den = 0;
    const [x, y] = [await diff.data(), await w.data()];
    for (let i = 0; i < x.length; i++) {
      num += x[i] ** 2;
      den += y[i] ** 2;
    }
    assert(Math.abs(Math.sqrt(num / den) - d.errors[d.best]) < 1e-4);
  },
);
