/**
 * Training throughput and peak memory (issue #12, "done when"): tokens/s of
 * one training step (forward, mean next-token cross-entropy, backward through
 * every parameter; no optimizer step, so that only the autograd engine and
 * its kernels are measured — `bench/peers/train_torch.py` does the same) and
 * the peak of live GPU bytes (`runtimeStats().peakLiveBytes`: weights,
 * gradients and activations, like `torch.cuda.max_memory_allocated`), with
 * and without activation checkpointing (`checkpointLayers`).
 *
 * Configs: `tiny` = the embedded model (data/tiny: hidden 128, 4 layers,
 * 4/2 heads, vocab 256), batch 8 × seq 256; `125m` = a 125M-parameter Llama
 * (hidden 768, 12 layers, 12 heads, intermediate 2048, vocab 32000, untied,
 * 134M parameters with the head), batch 8 × seq 256; `micro` = a 1-layer
 * hidden-32 model for a smoke test on lavapipe. Random weights (std 0.02) and
 * random tokens, seeded.
 *
 * Usage: `deno run -A bench/train.ts [--config=tiny|125m|micro] [--batch=8] [--seq=256]
 *   [--steps=10] [--warmup=2] [--checkpoint-layers] [--json=OUT.json]`
 * @module
 */
import * as lb from "../mod.ts";
import { valueAndGrad } from "../kernels/autograd.ts";
import { resetPeakLiveBytes, runtimeStats } from "../kernels/runtime.ts";
import { Rng } from "../kernels/random.ts";
import { randomLlama } from "../model/random_llama.ts";
import { nextTokenLoss, nextTokenTargets } from "./_loss.ts";

/** HF config fields of each benchmark model. */
export const CONFIGS: Record<string, Record<string, unknown>> = {
  tiny: {
    hidden_size: 128,
    intermediate_size: 384,
    num_hidden_layers: 4,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    vocab_size: 256,
    tie_word_embeddings: true,
  },
  "125m": {
    hidden_size: 768,
    intermediate_size: 2048,
    num_hidden_layers: 12,
    num_attention_heads: 12,
    num_key_value_heads: 12,
    vocab_size: 32000,
    tie_word_embeddings: false,
  },
  micro: {
    hidden_size: 32,
    intermediate_size: 48,
    num_hidden_layers: 1,
    num_attention_heads: 2,
    num_key_value_heads: 1,
    vocab_size: 16,
    tie_word_embeddings: true,
  },
};

const opt = (k: string) => Deno.args.find((a) => a.startsWith(`--${k}=`))?.split("=")[1];
const name = opt("config") ?? "tiny";
const hf = CONFIGS[name];
if (!hf) throw new RangeError(`--config=${name}: use one of ${Object.keys(CONFIGS).join(", ")}`);
const B = Number(opt("batch") ?? 8), T = Number(opt("seq") ?? 256);
const steps = Number(opt("steps") ?? 10), warmup = Number(opt("warmup") ?? 2);
const checkpointLayers = Deno.args.includes("--checkpoint-layers");

await lb.initGPU();
using model = randomLlama({ model_type: "llama", max_position_embeddings: 4096, ...hf }, {
  std: 0.02,
});
const params = model.parameters();
const nParams = [...params.values()].reduce((a, t) => a + t.size, 0);
const rng = new Rng(1);
const V = model.config.vocabSize;

function step(): void {
  const ids = Array.from({ length: B }, () => Array.from(rng.uniform(T, 0, V), Math.floor));
  const targets = nextTokenTargets(ids, V);
  try {
    const { value, grads } = valueAndGrad(() => {
      using logits = model.forward(ids, { checkpointLayers });
      return nextTokenLoss(logits, targets);
    }, params);
    for (const g of grads.values()) g.dispose();
    value.dispose();
  } finally {
    targets.hot.dispose();
    targets.rows.dispose();
  }
}

for (let i = 0; i < warmup; i++) step();
await lb.sync();
resetPeakLiveBytes();
const t0 = performance.now();
for (let i = 0; i < steps; i++) step();
await lb.sync();
const seconds = (performance.now() - t0) / 1000;
const tokensPerSecond = (B * T * steps) / seconds;
const peak = runtimeStats().peakLiveBytes;
const result = {
  what: "training step throughput (forward + cross-entropy + backward, no optimizer)",
  device: lb.gpu().adapterName,
  date: new Date().toISOString().slice(0, 10),
  config: name,
  params: nParams,
  batch: B,
  seq: T,
  steps,
  checkpointLayers,
  tokensPerSecond,
  secondsPerStep: seconds / steps,
  peakLiveBytes: peak,
};
console.log(
  `${name} (${(nParams / 1e6).toFixed(1)}M params) batch ${B}×${T}, checkpointLayers ` +
    `${checkpointLayers}: ${tokensPerSecond.toFixed(0)} tokens/s, peak ${
      (peak / 2 ** 20).toFixed(1)
    } MiB`,
);
const out = opt("json");
if (out) await Deno.writeTextFile(out, JSON.stringify(result, null, 2) + "\n");
