/**
 * The GGUF export checked by llama.cpp itself (node-llama-cpp 3.21.1, its
 * prebuilt CPU build): data/tiny is exported as each type, llama.cpp loads the
 * file and evaluates the first 64 bytes of the validation text, and its
 * next-token distribution at every position is compared with lowbit's model
 * running the same file's dequantized weights (read back with lowbit's GGUF
 * reader). node-llama-cpp gives probabilities (temperature 1, no top-k/top-p/
 * min-p), so logits are compared as log-probabilities (logits minus their
 * log-sum-exp, which drops only the constant a softmax ignores).
 */
import { assert, assertEquals } from "@std/assert";
import { getLlama, type Llama, LlamaLogLevel, type Token } from "node-llama-cpp";
import { logSoftmax } from "../../kernels/ops/softmax.ts";
import { loadGgufModel } from "../../model/gguf_import.ts";
import { exportGguf } from "../../model/gguf_llama.ts";
import type { GgmlType } from "../../model/gguf_format.ts";
import { gpuTest } from "../_helpers.ts";
import { expectedTensorNames, parseLlamaConfig } from "../../model/config.ts";
import { TINY_LLAMA_CONFIG } from "../../model/random_llama.ts";
import { type TensorInput, writeSafetensors } from "../../model/safetensors.ts";

const N = 64;

/**
 * Tolerances on |Δ log p| over the 64 positions × 256 tokens where lowbit's
 * p > 1e-4 (rarer tokens carry no mass and their logs amplify rounding):
 * the max, the mean, and the least top-1 agreement. Measured on lavapipe with
 * node-llama-cpp 3.21.1's CPU build, f32 KV cache, no flash attention
 * (max / mean): F32 1.5e-5 / 2.5e-6 (summation order only: the file is
 * exact); F16 9.4e-3 / 1.2e-3, since ggml's CPU matmul rounds the activations
 * to f16 for F16 weights; Q8_0 0.31 / 0.040, Q4_0 0.28 / 0.036, Q4_1 0.27 /
 * 0.040, since ggml quantizes the activations to Q8_0/Q8_1 blocks for its
 * integer dot products while lowbit multiplies f32 activations by the
 * dequantized weights (Q8_0's own weight error is far below that noise).
 * Q4_K and TQ2_0 cannot store data/tiny (its rows of 128 and 384 are not
 * multiples of 256), so they run on a seeded random 256-wide Llama
 * ({@link wideCheckpoint}), whose logits are far more sensitive: F32 1.3e-4 /
 * 6.4e-6, Q4_K 1.65 / 0.18 (against 20.7 for the original weights), TQ2_0
 * 1.65 / 0.27 (against 94); ggml quantizes activations to Q8_K for both. Bounds are about 2× the measured max and 2–8× the mean (F32: 4×).
 * For the 4-bit types the test also requires the dequantized weights to
 * explain llama.cpp at least 4× better than the original f32 weights do
 * (measured 9–57×), so a wrong block layout cannot pass.
 */
const TOLERANCE: Record<GgmlType, { max: number; mean: number; top1: number }> = {
  F32: { max: 5e-4, mean: 2e-5, top1: 1 },
  F16: { max: 2e-2, mean: 4e-3, top1: 1 },
  Q8_0: { max: 0.6, mean: 0.1, top1: 0.9 },
  Q4_0: { max: 0.6, mean: 0.1, top1: 0.9 },
  Q4_1: { max: 0.6, mean: 0.1, top1: 0.9 },
  Q4_K: { max: 3.5, mean: 0.4, top1: 0.9 },
  TQ2_0: { max: 3.5, mean: 0.6, top1: 0.9 },
};

async function llamaCppLogProbs(
  llama: Llama,
  path: string,
  ids: number[],
): Promise<Float64Array[]> {
  const model = await llama.loadModel({ modelPath: path });
  try {
    // the byte-level vocabulary: llama.cpp's own tokenizer gives id = byte, and back
    const text = new TextDecoder().decode(Uint8Array.from(ids));
    assertEquals([...model.tokenize(text)], ids);
    assertEquals(model.detokenize(ids as Token[]), text);
    const ctx = await model.createContext({
      contextSize: 128,
      batchSize: 128,
      threads: 1,
      flashAttention: false,
      experimentalKvCacheKeyType: "F32",
      experimentalKvCacheValueType: "F32",
    });
    try {
      const seq = ctx.getSequence();
      const options = { temperature: 1, topK: 0, topP: 1, minP: 0 };
      const out = await seq.controlledEvaluate(
        ids.map((t) => [t as Token, { generateNext: { probabilities: true, options } }]),
      );
      return out.map((o, i) => {
        const probs = o?.next.probabilities;
        assert(
          probs !== undefined && probs.size === 256,
          `llama.cpp gave no probabilities at ${i}`,
        );
        const lp = new Float64Array(256);
        for (const [tok, p] of probs) lp[tok] = Math.log(p);
        return lp;
      });
    } finally {
      await ctx.dispose();
    }
  } finally {
    await model.dispose();
  }
}

async function lowbitLogProbs(path: string, ids: number[]): Promise<Float32Array> {
  using model = await loadGgufModel(path);
  using logits = model.forward([ids]);
  using lp = logSoftmax(logits);
  return await lp.data() as Float32Array;
}

/**
 * A seeded random Llama checkpoint whose matrix rows are multiples of 256 (Q4_K's block):
 * hidden 256, MLP 512, 2 layers, 4 heads of 64, 2 KV heads, byte vocabulary.
 */
async function wideCheckpoint(dir: string): Promise<void> {
  const config = {
    ...TINY_LLAMA_CONFIG,
    hidden_size: 256,
    intermediate_size: 512,
    num_hidden_layers: 2,
    num_attention_heads: 4,
    num_key_value_heads: 2,
    head_dim: 64,
    vocab_size: 256,
    tie_word_embeddings: true,
  };
  await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify(config));
  let s = 12345;
  const normal = () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    const u = (s + 1) / (2 ** 31 + 1);
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return Math.sqrt(-2 * Math.log(u)) * Math.cos((2 * Math.PI * s) / 2 ** 31);
  };
  const tensors: Record<string, TensorInput> = {};
  for (const { name, shape } of expectedTensorNames(parseLlamaConfig(config))) {
    const n = shape.reduce((a, b) => a * b, 1);
    const std = shape.length === 1 ? 0 : name.includes("embed") ? 1 : 1.5 / Math.sqrt(shape[1]);
    const data = Float32Array.from({ length: n }, () => (std === 0 ? 1 : std * normal()));
    tensors[name] = { dtype: "F32", shape, data };
  }
  await writeSafetensors(`${dir}/model.safetensors`, tensors);
}

interface Stats {
  worst: number;
  mean: number;
  control: number;
  agree: number;
}

function compare(ours: Float32Array, full: Float32Array, theirs: Float64Array[]): Stats {
  let worst = 0;
  let control = 0;
  let mean = 0;
  let count = 0;
  let agree = 0;
  for (let t = 0; t < N; t++) {
    let a = 0;
    let b = 0;
    for (let v = 0; v < 256; v++) {
      const o = ours[t * 256 + v];
      if (o > ours[t * 256 + a]) a = v;
      if (theirs[t][v] > theirs[t][b]) b = v;
      if (Math.exp(o) > 1e-4) {
        worst = Math.max(worst, Math.abs(o - theirs[t][v]));
        control = Math.max(control, Math.abs(full[t * 256 + v] - theirs[t][v]));
        mean += Math.abs(o - theirs[t][v]);
        count++;
      }
    }
    if (a === b) agree++;
  }
  return { worst, mean: mean / count, control, agree };
}

const CASES: [string, GgmlType[]][] = [
  ["data/tiny", ["F32", "F16", "Q8_0", "Q4_0", "Q4_1"]],
  ["wide", ["F32", "Q4_K", "TQ2_0"]],
];

gpuTest(
  "gguf: llama.cpp's next-token log-probs match lowbit's dequantized model, per type",
  async () => {
    const text = await Deno.readFile("data/corpus/valid.txt");
    const ids = [...text.subarray(0, N)];
    const dir = await Deno.makeTempDir();
    const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
    try {
      for (const [source, types] of CASES) {
        let src = source;
        if (source === "wide") {
          src = `${dir}/wide`;
          await Deno.mkdir(src);
          await wideCheckpoint(src);
        }
        let full: Float32Array | undefined;
        for (const type of types) {
          const path = `${dir}/${source.replace("/", "-")}-${type}.gguf`;
          await exportGguf(src, path, { type });
          const ours = await lowbitLogProbs(path, ids);
          full ??= ours;
          const { worst, mean, control, agree } = compare(
            ours,
            full,
            await llamaCppLogProbs(llama, path, ids),
          );
          const label = `${source} ${type}`;
          console.log(
            `${label}: max |Δ log p| ${worst.toExponential(2)} (mean ${mean.toExponential(2)}; ` +
              `lowbit f32 weights vs llama.cpp ${
                control.toExponential(2)
              }), top-1 agreement ${agree}/${N}`,
          );
          const tol = TOLERANCE[type];
          assert(worst <= tol.max, `${label}: max |Δ log p| ${worst} exceeds ${tol.max}`);
          assert(mean <= tol.mean, `${label}: mean |Δ log p| ${mean} exceeds ${tol.mean}`);
          if (type.startsWith("Q4") || type === "TQ2_0") {
            assert(worst * 4 <= control, `${label}: dequantized ${worst} vs original ${control}`);
          }
          assert(agree / N >= tol.top1, `${label}: top-1 agreement ${agree}/${N}`);
        }
      }
    } finally {
      await llama.dispose();
      await Deno.remove(dir, { recursive: true });
    }
    assertEquals(ids.length, N);
  },
);
