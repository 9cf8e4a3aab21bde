import { assert, assertEquals, assertRejects } from "@std/assert";
import { randomLlama } from "../../../model/random_llama.ts";
import { loadModel } from "../../../model/load.ts";
import { calibrationSequences } from "../../../model/capture.ts";
import { int } from "../../../quant/quantizer.ts";
import { QuantLinear } from "../../../quant/linear.ts";
import { quantizeModel } from "../../../quant/model.ts";
import { loadQuantized, saveQuantized } from "../../../quant/checkpoint.ts";
import { efficientQat } from "../../../quant/methods/efficientqat.ts";
import { gpuTest } from "../../_helpers.ts";

/** 2 layers, hidden 32 (two groups of 16), bytes. */
const CONFIG = {
  hidden_size: 32,
  intermediate_size: 48,
  num_hidden_layers: 2,
  num_attention_heads: 2,
  num_key_value_heads: 1,
  vocab_size: 256,
  max_position_embeddings: 64,
};
const text = (await Deno.readTextFile("data/corpus/train.txt")).slice(0, 20000);
const q = int(2, { group: 16, symmetric: false });
const ids = new TextEncoder().encode("In the beginning God created");

async function quantized(seed: number, blockSteps: number, e2eSteps: number) {
  const model = randomLlama(CONFIG);
  const seqs = calibrationSequences(text, { n: 2, seqLen: 24, seed });
  const r = await efficientQat(model, seqs, { weight: q, blockSteps, e2eSteps, quantLr: 5e-3 });
  return { model, r };
}

gpuTest(
  "efficientQat: every block linear ends packed, Block-AP lowers the block error, E2E-QP the loss",
  async () => {
    const { model, r } = await quantized(0, 6, 4);
    using _m = model;
    assertEquals(r.method, "efficientqat");
    assertEquals(r.layers.length, 14);
    assertEquals(r.bitsPerWeight, 2 + 18 / 16, "uint2, f16 step and 2-bit zero per 16");
    for (const row of r.layers) {
      const lin = model.getLinear(row.name);
      assert(lin instanceof QuantLinear && lin.packed && lin.codes, `${row.name}: ${lin}`);
      assertEquals(lin.codes.quantizer.format, "uint2");
      assert(Number.isFinite(row.sqnrDb), `${row.name} SQNR ${row.sqnrDb}`);
    }
    for (const b of r.details.blocks) {
      assert(b.after < b.before, `block ${b.layer}: ${b.before} → ${b.after}`);
    }
    const l = r.details.e2eLoss;
    assertEquals(l.length, 4);
    assert(l.at(-1)! < l[0], `E2E-QP loss ${l}`);
  },
);

gpuTest("efficientQat: same seed same bits", async () => {
  const a = await quantized(1, 2, 1);
  const b = await quantized(1, 2, 1);
  using ma = a.model, mb = b.model;
  using ya = ma.forward(ids);
  using yb = mb.forward(ids);
  assertEquals(await yb.data(), await ya.data(), "same calibration seed → identical logits");
});

gpuTest("efficientQat on the embedded model saves and loads on the low-bit kernels", async () => {
  using model = await loadModel("data/tiny");
  const seqs = calibrationSequences(text, { n: 1, seqLen: 16, seed: 0 });
  await efficientQat(model, seqs, {
    weight: int(2, { group: 64, symmetric: false }),
    blockSteps: 1,
    e2eSteps: 1,
  });
  using y = model.forward(ids);
  const root = await Deno.makeTempDir();
  try {
    await saveQuantized(model, `${root}/q`);
    using again = await loadQuantized(`${root}/q`);
    for (const [name, lin] of again.linears()) {
      if (name === "lm_head") continue;
      assert(lin instanceof QuantLinear && lin.packed, `${name}: ${lin}`);
    }
    using y2 = again.forward(ids);
    assertEquals(await y2.data(), await y.data(), "logits after save/load");
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

gpuTest(
  "efficientQat through quantizeModel; a symmetric quantizer is refused with the fix",
  async () => {
    using model = randomLlama(CONFIG);
    const seqs = calibrationSequences(text, { n: 1, seqLen: 16, seed: 0 });
    await assertRejects(
      () => efficientQat(model, seqs, { weight: int(2, { group: 16 }) }),
      TypeError,
      "symmetric: false",
    );
    const r = await quantizeModel(model, {
      method: "efficientqat",
      quantizer: q,
      calibration: { sequences: seqs },
      options: { blockSteps: 1, e2eSteps: 0 },
    });
    assertEquals(r.layers.length, 14);
    assert(model.getLinear("layers.1.mlp.down_proj") instanceof QuantLinear);
  },
);
