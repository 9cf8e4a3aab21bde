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
 * Bounds are about 2× the measured max and 2.5–8× the mean. For the 4-bit
 * types the test also requires the dequantized weights to explain llama.cpp
 * at least 4× better than the original f32 weights do (measured 9–10×), so a
 * wrong block layout cannot pass.
 */
const TOLERANCE: Record<GgmlType, { max: number; mean: number; top1: number }> = {
  F32: { max: 1e-4, mean: 2e-5, top1: 1 },
  F16: { max: 2e-2, mean: 4e-3, top1: 1 },
  Q8_0: { max: 0.6, mean: 0.1, top1: 0.9 },
  Q4_0: { max: 0.6, mean: 0.1, top1: 0.9 },
  Q4_1: { max: 0.6, mean: 0.1, top1: 0.9 },
};

async function llamaCppLogProbs(
  llama: Llama,
  path: string,
  ids: number[],
): Promise<Float64Array[]> {
  const model = await llama.loadModel({ modelPath: path });
  try {
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

gpuTest(
  "gguf: llama.cpp's next-token log-probs match lowbit's dequantized model, per type",
  async () => {
    const text = await Deno.readFile("data/corpus/valid.txt");
    const ids = [...text.subarray(0, N)];
    const dir = await Deno.makeTempDir();
    const llama = await getLlama({ gpu: false, build: "never", logLevel: LlamaLogLevel.error });
    try {
      let full: Float32Array | undefined;
      for (const type of ["F32", "F16", "Q8_0", "Q4_0", "Q4_1"] as GgmlType[]) {
        const path = `${dir}/tiny-${type}.gguf`;
        await exportGguf("data/tiny", path, { type });
        const ours = await lowbitLogProbs(path, ids);
        full ??= ours;
        const theirs = await llamaCppLogProbs(llama, path, ids);
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
        console.log(
          `${type}: max |Δ log p| ${worst.toExponential(2)} (mean ${
            (mean / count).toExponential(2)
          }; ` +
            `lowbit f32 weights vs llama.cpp ${
              control.toExponential(2)
            }), top-1 agreement ${agree}/${N}`,
        );
        const tol = TOLERANCE[type];
        assert(worst <= tol.max, `${type}: max |Δ log p| ${worst} exceeds ${tol.max}`);
        assert(
          mean / count <= tol.mean,
          `${type}: mean |Δ log p| ${mean / count} exceeds ${tol.mean}`,
        );
        if (type.startsWith("Q4")) {
          assert(worst * 4 <= control, `${type}: dequantized ${worst} vs original ${control}`);
        }
        assert(agree / N >= tol.top1, `${type}: top-1 agreement ${agree}/${N}`);
      }
    } finally {
      await llama.dispose();
      await Deno.remove(dir, { recursive: true });
    }
    assertEquals(ids.length, N);
  },
);
