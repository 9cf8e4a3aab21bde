/**
 * Sweep behind the claims of notebooks/10-lq-lora: the LQ-LoRA decomposition
 * W ≈ Q + L₁L₂ (alternating quantization and truncated SVD) against its own
 * first iterate (quantize, then one SVD of the error) and against plain
 * RTN / GPTQ at equal bits per weight. Writes `data/claims/10-lq-lora.json`.
 *
 * - NF4 g64 + rank 8, T = ITERATIONS and T = 1, on every decoder linear: the
 *   relative error ‖W − (Q + L₁L₂)‖_F/‖W‖_F of each iterate per layer, and
 *   the perplexity of the model built from the kept iterate;
 * - int3 g32 + rank 3 (4.09 bits per weight) vs int4 per channel RTN,
 *   RTN-MSE and GPTQ, and NF4 per channel RTN (4.10–4.25 bits).
 *
 * Run i uses SVD seed i (the randomized SVD), calibration seed i (GPTQ) and
 * the evaluation slice i of valid.txt, characters [i·EVAL_CHARS,
 * (i+1)·EVAL_CHARS), in windows of SEQ_LEN, as sub-slices of CHECK_CHARS;
 * the perplexity of the first sub-slice is the run's check value. RTN is
 * quantized once and evaluated on every slice.
 *
 * Usage: `nice -n 10 deno run -A tools/claims/10-lq-lora.ts`
 * @module
 */
import * as lb from "../../mod.ts";
import { evaluateSlices } from "./_eval.ts";

/** Seeds: SVD seed, calibration seed and evaluation slice of each run. */
export const SEEDS = [0, 1, 2];
/** GPTQ calibration windows × tokens per window. */
export const CALIBRATION = { n: 8, seqLen: 128 };
/** Characters of valid.txt per run; sub-slice of the check value; window length. */
export const EVAL_CHARS = 2048, CHECK_CHARS = 1024, SEQ_LEN = 256;
/** GPTQ's damping. */
export const DAMP = 0.01;
/** MSE range search of the RTN-MSE baseline. */
export const MSE: lb.RangeSetting = { kind: "mse", grid: 20, minRatio: 0.3 };
/** Alternating iterations T of the decomposition. */
export const ITERATIONS = 6;
/** The paper-like setting: NF4 in groups of 64 (f32 scales, the library's default) + rank 8. */
export const NF4_RANK = 8;
/** The equal-bits setting: int3 g32 + rank 3. */
export const LOW_RANK = 3;

/** Quantizers by key. */
export const QUANTIZERS: Record<string, () => lb.Quantizer> = {
  "nf4g64": () => lb.nf4({ group: 64 }),
  "nf4pc": () => lb.nf4({ per: "channel" }),
  "w3g32": () => lb.int(3, { group: 32 }),
  "w4pc": () => lb.int(4, { per: "channel" }),
  "w4pc-mse": () => lb.int(4, { per: "channel", range: MSE }),
};

/** The evaluation slice of run `seed`. */
export function evalSlice(valid: string, seed: number): string {
  return valid.slice(seed * EVAL_CHARS, (seed + 1) * EVAL_CHARS);
}

/** Perplexity of `model` on `text` (sub-slices of CHECK_CHARS) and on its first sub-slice. */
export function evaluate(model: lb.LlamaModel, text: string) {
  return evaluateSlices(model, text, { checkChars: CHECK_CHARS, seqLen: SEQ_LEN });
}

const root = new URL("../../", import.meta.url);
const path = (p: string) => new URL(p, root).pathname;

if (import.meta.main) {
  const gpu = await lb.initGPU();
  const valid = await Deno.readTextFile(path("data/corpus/valid.txt"));
  const train = await Deno.readTextFile(path("data/corpus/train.txt"));
  const runs: Record<string, unknown>[] = [];
  const t0 = performance.now();
  const log = (r: Record<string, unknown>) => {
    runs.push(r);
    const short = { ...r, layers: r.layers ? "…" : undefined };
    console.log(`${((performance.now() - t0) / 1000).toFixed(0)} s`, JSON.stringify(short));
  };
  const lqLoraRun = async (quant: string, rank: number, iterations: number, seed: number) => {
    using model = await lb.loadModel(path("data/tiny"));
    const r = await lb.methods.lqLora(model, QUANTIZERS[quant](), { rank, iterations, seed });
    log({
      method: "lq-lora",
      quant,
      rank,
      iterations,
      seed,
      bitsPerWeight: r.bitsPerWeight,
      ...await evaluate(model, evalSlice(valid, seed)),
      layers: r.details.errors,
    });
  };
  {
    using model = await lb.loadModel(path("data/tiny"));
    for (const seed of SEEDS) {
      log({
        method: "fp32",
        quant: null,
        seed,
        bitsPerWeight: 32,
        ...await evaluate(model, evalSlice(valid, seed)),
      });
    }
  }
  for (const seed of SEEDS) {
    await lqLoraRun("nf4g64", NF4_RANK, ITERATIONS, seed);
    await lqLoraRun("nf4g64", NF4_RANK, 1, seed);
  }
  for (const quant of ["w4pc", "w4pc-mse", "nf4pc"]) {
    using model = await lb.loadModel(path("data/tiny"));
    const r = await lb.methods.rtn(model, QUANTIZERS[quant]());
    for (const seed of SEEDS) {
      log({
        method: "rtn",
        quant,
        seed,
        bitsPerWeight: r.bitsPerWeight,
        ...await evaluate(model, evalSlice(valid, seed)),
      });
    }
  }
  for (const seed of SEEDS) {
    using model = await lb.loadModel(path("data/tiny"));
    const calibration = lb.calibrationSequences(train, { ...CALIBRATION, seed });
    const r = await lb.methods.gptqModel(model, QUANTIZERS["w4pc"](), calibration, {
      damp: DAMP,
      progress: false,
    });
    log({
      method: "gptq",
      quant: "w4pc",
      seed,
      bitsPerWeight: r.bitsPerWeight,
      ...await evaluate(model, evalSlice(valid, seed)),
    });
  }
  for (const seed of SEEDS) await lqLoraRun("w3g32", LOW_RANK, ITERATIONS, seed);
  const out = {
    script: "tools/claims/10-lq-lora.ts",
    date: new Date().toISOString(),
    adapter: gpu.adapterName,
    settings: {
      seeds: SEEDS,
      calibration: { ...CALIBRATION, source: "data/corpus/train.txt", usedBy: "gptq" },
      evaluation: {
        source: "data/corpus/valid.txt",
        slice: "run i: characters [i·chars, (i+1)·chars)",
        chars: EVAL_CHARS,
        seqLen: SEQ_LEN,
        checkChars: CHECK_CHARS,
      },
      quantizers:
        "nf4: NF4 codes, f32 scales; int<b>: symmetric, f16 scales; g<n> groups of n inputs, pc per output channel; -mse: MSE-clipped range",
      mse: MSE,
      damp: DAMP,
      iterations: ITERATIONS,
      lqLora:
        "factors in f16; run i uses SVD seed i; the kept iterate has the smallest Frobenius error",
    },
    runs,
  };
  Deno.mkdirSync(path("data/claims"), { recursive: true });
  await Deno.writeTextFile(
    path("data/claims/10-lq-lora.json"),
    JSON.stringify(out, null, 1) + "\n",
  );
  console.log(
    `wrote data/claims/10-lq-lora.json in ${((performance.now() - t0) / 1000).toFixed(0)} s`,
  );
}
