import { assert, assertEquals, assertThrows } from "@std/assert";
import { Tensor } from "../../../kernels/tensor.ts";
import { Rng } from "../../../kernels/random.ts";
import { randomLlama } from "../../../model/random_llama.ts";
import { DenseLinear } from "../../../model/linear.ts";
import { randomWindows } from "../../../train/data.ts";
import { AdamW } from "../../../train/optim/adamw.ts";
import { constantLr } from "../../../train/optim/schedule.ts";
import { train } from "../../../train/trainer.ts";
import { BitLinear, PackedBitLinear } from "../../../quant/qat/bitlinear.ts";
import { packBitNet, toBitNet } from "../../../quant/qat/bitnet.ts";
import { quantize } from "../../../quant/weight.ts";
import { ternary } from "../../../quant/quantizer.ts";
import { assertClose, gpuTest } from "../../_helpers.ts";
import { ternaryRef } from "../../reference/bitnet.ts";

const CFG = {
  hidden_size: 48, // 48 and 80: not multiples of the 16 codes of a ternary word pair
  intermediate_size: 80,
  num_hidden_layers: 2,
  num_attention_heads: 2,
  num_key_value_heads: 1,
  vocab_size: 256,
  max_position_embeddings: 64,
};
const corpus = (await Deno.readFile("data/corpus/train.txt")).subarray(0, 1 << 14);

gpuTest("toBitNet swaps every projection, not the head or embeddings; parameters name them", () => {
  using model = randomLlama(CFG, { std: 0.05, normWeight: 1 });
  const before = model.parameters();
  const bitnet = toBitNet(model);
  assertEquals(bitnet.layers.size, 14);
  for (const lin of model.linears().values()) assert(lin instanceof BitLinear);
  assert(model.getLinear("lm_head") instanceof DenseLinear);
  const params = bitnet.parameters();
  assertEquals(new Set(params.keys()), new Set(before.keys()));
  assert(
    params.get("model.layers.1.mlp.down_proj.weight") ===
      bitnet.layers.get("layers.1.mlp.down_proj")!.weight,
  );
  assertThrows(() => toBitNet(model), TypeError, "not a DenseLinear");
});

gpuTest("a BitNet trains: the loss falls and the master weights move", async () => {
  using model = randomLlama(CFG, { std: 0.02, normWeight: 1 });
  const bitnet = toBitNet(model);
  const w = bitnet.layers.get("layers.0.self_attn.q_proj")!.weight;
  const w0 = Float32Array.from(await w.data() as Float32Array);
  using opt = new AdamW();
  const { curve } = await train(bitnet, randomWindows(corpus, { batch: 2, seqLen: 16, seed: 1 }), {
    optimizer: opt,
    schedule: constantLr(1e-2),
    steps: 8,
  });
  const loss = curve.rows.map((r) => r.trainLoss);
  assert(loss.every(Number.isFinite) && loss[7] < loss[0] - 0.1, `loss ${loss}`);
  const w1 = await w.data() as Float32Array;
  assert(w1.some((v, i) => v !== w0[i]), "the optimizer updated the BitLinear weight");
});

gpuTest(
  "PackedBitLinear (ternary kernel) equals the fake-quant BitLinear: GEMV and GEMM",
  async () => {
    const rng = new Rng(3);
    for (const scale of ["absmean", "absmedian"] as const) {
      for (const [out, k] of [[5, 37], [33, 80], [1, 16]]) {
        const w = rng.normal(out * k, 0, 0.2);
        using wt = Tensor.fromArray(w, [out, k]);
        using layer = BitLinear.create(wt, { scale });
        using packed = await layer.pack();
        assertEquals(packed.bitsPerWeight, 2 + 32 / (out * k));
        // the packed codes and scale are the reference's ternary values (γ as in training)
        using q = await layer.quantizedWeight();
        using dq = await q.dequantize();
        assertClose(await dq.data(), ternaryRef(w, scale), { atol: 0, rtol: 1e-6 });
        for (const tokens of [1, 3, 11]) { // ≤ 8: GEMV, above: GEMM
          using x = Tensor.fromArray(rng.normal(tokens * k, 0, 1), [tokens, k]);
          using yf = layer.forward(x);
          using yp = packed.forward(x);
          // same codes and the same scale up to its last bit: the products agree to f32 sums
          assertClose(
            await yp.data(),
            await yf.data(),
            { atol: 1e-5, rtol: 1e-4 },
            `${scale} ${out}×${k} t${tokens}`,
          );
        }
      }
    }
    using w2 = Tensor.fromArray([[1, 2], [3, 4]]);
    using perRow = await quantize(ternary({ per: "channel" }), w2);
    assertThrows(() => PackedBitLinear.fromQuantized(perRow), RangeError, "one scale per tensor");
  },
);

gpuTest("a trained BitNet, packed, gives the same logits as its fake-quant form", async () => {
  using model = randomLlama(CFG, { std: 0.02, normWeight: 1 });
  const bitnet = toBitNet(model);
  using opt = new AdamW();
  await train(bitnet, randomWindows(corpus, { batch: 2, seqLen: 16, seed: 2 }), {
    optimizer: opt,
    schedule: constantLr(1e-2),
    steps: 4,
  });
  const ids = [Array.from(corpus.subarray(100, 113)), Array.from(corpus.subarray(500, 513))];
  using fake = model.forward(ids);
  assertEquals(await packBitNet(model), 14);
  for (const lin of model.linears().values()) assert(lin instanceof PackedBitLinear);
  using packed = model.forward(ids);
  const a = await fake.data(), b = await packed.data();
  assertClose(b, a, { atol: 1e-4, rtol: 1e-4 }, "logits");
});
