/**
 * The whole model's gradient: every parameter of a tiny random Llama against
 * central finite differences of the f64 reference forward
 * (`tests/reference/llama.ts`), and `checkpointLayers` against the plain tape.
 * Needs the backward rules of every op of the forward (embedding, rmsNorm,
 * rope, linear, attention, silu, add, mul).
 */
import { assert, assertEquals } from "@std/assert";
import { Tensor } from "../../kernels/tensor.ts";
import { Rng } from "../../kernels/random.ts";
import { valueAndGrad } from "../../kernels/autograd.ts";
import { mul } from "../../kernels/ops/elementwise.ts";
import { sumAll } from "../../kernels/ops/reduce_all.ts";
import { expectedTensorNames, parseLlamaConfig } from "../../model/config.ts";
import { LlamaModel } from "../../model/llama.ts";
import { gpuTest } from "../_helpers.ts";
import { type CpuWeights, llamaForwardRef } from "../reference/llama.ts";

/** hidden 8, 2 heads of dim 4 sharing 1 kv head, vocab 11, one layer; seq 5, batch 2. */
const BASE = {
  model_type: "llama",
  hidden_size: 8,
  intermediate_size: 12,
  num_hidden_layers: 1,
  num_attention_heads: 2,
  num_key_value_heads: 1,
  vocab_size: 11,
  rms_norm_eps: 1e-5,
};
const IDS = [[1, 4, 4, 10, 0], [7, 2, 9, 3, 4]];

function randomWeights(config: ReturnType<typeof parseLlamaConfig>, seed: number) {
  const rng = new Rng(seed);
  const w = new Map<string, { shape: number[]; v: Float32Array }>();
  for (const { name, shape } of expectedTensorNames(config)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const v = rng.normal(n, 0, 0.5);
    // norm weights near 1, as trained models have them
    if (name.endsWith("norm.weight")) { for (let i = 0; i < n; i++) v[i] = 1 + 0.3 * v[i]; }
    w.set(name, { shape, v });
  }
  return w;
}

async function checkModel(raw: Record<string, unknown>, seed: number) {
  const config = parseLlamaConfig(raw);
  const w = randomWeights(config, seed);
  const V = config.vocabSize, B = IDS.length, T = IDS[0].length;
  const r = new Rng(seed + 100).normal(B * T * V, 0, 1);
  // L(θ) = Σ logits ⊙ r in f64.
  const f64 = new Map([...w].map(([n, { v }]) => [n, Float64Array.from(v)]));
  const loss = () => {
    let s = 0;
    for (const [b, ids] of IDS.entries()) {
      // the reference reads weights by index only: f64 arrays keep the perturbation exact
      const { logits } = llamaForwardRef(config, f64 as unknown as CpuWeights, ids);
      for (let i = 0; i < logits.length; i++) s += logits[i] * r[b * T * V + i];
    }
    return s;
  };
  using model = new LlamaModel(
    config,
    new Map([...w].map(([n, { shape, v }]) => [n, Tensor.fromArray(v, shape)])),
  );
  const params = model.parameters();
  assertEquals(
    [...params.keys()].sort(),
    expectedTensorNames(config).map((t) => t.name).sort(),
    "parameters() must list every weight of the checkpoint once",
  );
  using rt = Tensor.fromArray(r, [B, T, V]);
  const run = (checkpointLayers: boolean) =>
    valueAndGrad(() => {
      using logits = model.forward(IDS, { checkpointLayers });
      using lr = mul(logits, rt);
      return sumAll(lr);
    }, params);
  const plain = run(false);
  const ckpt = run(true);
  const l0 = loss();
  const got = await plain.value.item();
  assert(Math.abs(got - l0) <= 1e-4 * Math.max(1, Math.abs(l0)), `loss ${got} vs f64 ${l0}`);
  assertEquals(await ckpt.value.item(), got, "checkpointLayers changes the loss");
  plain.value.dispose();
  ckpt.value.dispose();
  const h = 1e-5;
  const bad: string[] = [];
  for (const [name, g] of plain.grads) {
    const gv = await g.data();
    const gc = await ckpt.grads.get(name)!.data();
    assertEquals(gc, gv, `${name}: checkpointLayers gives other gradients`);
    const p = f64.get(name)!;
    let worst = 0, scale = 1e-6, at = 0;
    const fd = new Float64Array(p.length);
    for (let i = 0; i < p.length; i++) {
      const x = p[i];
      p[i] = x + h;
      const lp = loss();
      p[i] = x - h;
      const lm = loss();
      p[i] = x;
      fd[i] = (lp - lm) / (2 * h);
      scale = Math.max(scale, Math.abs(fd[i]));
    }
    for (let i = 0; i < p.length; i++) {
      const e = Math.abs(gv[i] - fd[i]);
      if (!(e <= worst)) [worst, at] = [e, i];
    }
    // f32 forward and backward over a handful of O(1) terms: ~1e-5 relative; 1e-3 leaves margin
    // while a wrong rule (a missing term, a wrong transpose) gives O(1).
    if (!(worst / scale <= 1e-3)) {
      bad.push(`${name}[${at}]: ${gv[at]} vs ${fd[at]} (${(worst / scale).toExponential(2)})`);
    }
  }
  for (const g of [...plain.grads.values(), ...ckpt.grads.values()]) g.dispose();
  assert(bad.length === 0, `gradients off finite differences:\n${bad.join("\n")}`);
}

gpuTest(
  "tiny Llama: every parameter's gradient matches f64 finite differences (tied)",
  async () => {
    await checkModel({ ...BASE, tie_word_embeddings: true }, 1);
  },
);

gpuTest(
  "tiny Llama: gradients with an untied head, attention biases and 2 layers; checkpointLayers",
  async () => {
    await checkModel({
      ...BASE,
      tie_word_embeddings: false,
      attention_bias: true,
      num_hidden_layers: 2,
    }, 2);
  },
);
