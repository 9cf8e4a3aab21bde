import { assertEquals, assertThrows } from "@std/assert";
import { Tensor } from "../../kernels/tensor.ts";
import { QuantLinear } from "../../quant/linear.ts";
import { int } from "../../quant/quantizer.ts";
import { perTokenQuantize } from "../../quant/methods/crossquant.ts";
import { gpuTest } from "../_helpers.ts";

gpuTest("activation quantizers: settings the on-the-fly path would drop are refused", () => {
  using w = Tensor.randn([4, 8], { seed: 0 });
  const stochastic = int(8, { per: "token", rounding: { kind: "stochastic", seed: 1 } });
  const percentile = int(8, { per: "token", range: { kind: "percentile", p: 99 } });
  for (const act of [stochastic, percentile]) {
    assertThrows(
      () => new QuantLinear({ values: w, bitsPerWeight: 32, act }),
      RangeError,
      'rounding { kind: "nearest" } and range { kind: "minmax" }',
    );
  }
  using x = Tensor.randn([2, 8], { seed: 1 });
  assertThrows(() => perTokenQuantize(x, stochastic), RangeError, "rounded to nearest");
  // nearest min-max per token is what runs
  using ok = new QuantLinear({
    values: w.reshape(w.shape),
    bitsPerWeight: 32,
    act: int(8, { per: "token" }),
  });
  using y = ok.forward(x);
  assertEquals(y.shape, [2, 4]);
});
