import { assertEquals, assertThrows } from "@std/assert";
import { Tensor } from "../../kernels/tensor.ts";
import { expectedTensorNames, parseLlamaConfig } from "../../model/config.ts";
import { LlamaModel } from "../../model/llama.ts";
import { randomLlama, TINY_LLAMA_CONFIG } from "../../model/random_llama.ts";
import { gpuTest } from "../_helpers.ts";

gpuTest(
  "randomLlama: tensor i is randn(seed i, std), the same logits as built by hand",
  async () => {
    const config = parseLlamaConfig({ ...TINY_LLAMA_CONFIG });
    const weights = new Map(
      expectedTensorNames(config).map(({ name, shape }, i) => [
        name,
        Tensor.randn(shape, { seed: i, std: 0.2 }),
      ]),
    );
    using byHand = new LlamaModel(config, weights);
    using model = randomLlama();
    using a = byHand.forward([[1, 2, 3, 4]]);
    using b = model.forward([[1, 2, 3, 4]]);
    const want = await a.data();
    assertEquals(await b.data(), want);
    using other = randomLlama({}, { std: 0.1 });
    using c = other.forward([[1, 2, 3, 4]]);
    const got = await c.data();
    assertEquals(got.some((v, i) => v !== want[i]), true, "std 0.1 must give other logits");
  },
);

gpuTest("randomLlama: a bad config names the field", () => {
  assertThrows(() => randomLlama({ hidden_size: 0 }), Error, "hidden_size");
});

gpuTest("randomLlama: normWeight sets every RMSNorm weight and nothing else", async () => {
  using model = randomLlama({ num_hidden_layers: 2 }, { std: 0.02, normWeight: 1 });
  using plain = randomLlama({ num_hidden_layers: 2 }, { std: 0.02 });
  const other = plain.parameters();
  let norms = 0;
  for (const [name, t] of model.parameters()) {
    const v = await t.data();
    const w = await other.get(name)!.data();
    if (name.endsWith("norm.weight")) {
      norms++;
      assertEquals(v.every((x) => x === 1), true, name);
    } else {
      assertEquals(v, w, `${name} must stay randn(seed i, std)`);
    }
  }
  assertEquals(norms, 5); // 2 per layer and the final norm
});
