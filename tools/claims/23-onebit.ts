/**
 * Sweep behind the claims of notebooks/23-onebit: 1-bit weights on every
 * linear layer of the embedded tiny model (lm_head stays float).
 * - sign × row mean |W| (binary per output channel, f16 scale: XNOR-Net's
 *   rule per row, the paper's "sign × row mean" baseline), data-free;
 * - at no fewer bits than OneBit (1 + 16/64 = 1.25 ≥ 1.198): sign × mean |w|
 *   per group of 64 columns, rounded to nearest and by GPTQ (calibration seed);
 * - OneBit, SVID initialisation only (data-free);
 * - OneBit, SVID + knowledge distillation (training seed: window draw).
 * Writes `data/claims/23-onebit.json`.
 *
 * Every run is evaluated on the first {@link EVAL_CHARS} characters of
 * valid.txt in windows of {@link SEQ_LEN}; the first slice's perplexity is
 * the check value the notebook recomputes live.
 *
 * Usage: `nice -n 10 deno run -A tools/claims/23-onebit.ts`
 * @module
 */
import { runLog } from "./_run_log.ts";
import * as lb from "../../mod.ts";
import { evaluateSlices } from "./_eval.ts";

/** Seeds: calibration windows (GPTQ) and training windows (KD). */
export const SEEDS = [0, 1, 2];
/** GPTQ calibration windows × tokens. */
export const CALIBRATION = { n: 4, seqLen: 128 };
/** Knowledge distillation: steps, windows per batch, tokens per window, learning rate, α. */
export const KD = { steps: 16, batch: 1, seqLen: 128, lr: 2e-3, alpha: 1 };
/** Steps of the short KD run the notebook recomputes live (seed 0). */
export const LIVE_STEPS = 2;
/** Characters of valid.txt evaluated per run, the check slice, and the window length. */
export const EVAL_CHARS = 2048, CHECK_CHARS = 1024, SEQ_LEN = 256;
/** The baselines' quantizer: binary, one f16 mean |w| per output channel. */
export const BINARY_ROW = lb.binary({ per: "channel", scale: "f16" });
/** The equal-bits baselines' quantizer: binary, one f16 mean |w| per group of 64 columns. */
export const BINARY_G64 = lb.binary({ group: 64, scale: "f16" });

const root = new URL("../../", import.meta.url);
const path = (p: string) => new URL(p, root).pathname;

function evaluate(model: lb.LlamaModel, text: string) {
  return evaluateSlices(model, text, { checkChars: CHECK_CHARS, seqLen: SEQ_LEN });
}

/** Runs OneBit KD for one seed on a fresh copy of the tiny model; returns the student (exported). */
export async function oneBitKd(
  seed: number,
  train: Uint8Array,
  options: { steps?: number; packed?: boolean; onStep?: lb.qat.DistillOptions["onStep"] } = {},
): Promise<{ model: lb.LlamaModel; losses: number[]; ce: number[]; mse: number[]; bits: number }> {
  using teacher = await lb.loadModel(path("data/tiny"));
  const model = await lb.loadModel(path("data/tiny"));
  await lb.qat.oneBitStudent(model);
  const r = await lb.qat.distillOneBit(teacher, model, train, {
    ...KD,
    steps: options.steps ?? KD.steps,
    seed,
    onStep: options.onStep,
  });
  const rep = await lb.qat.exportOneBit(model, { packed: options.packed });
  return { model, ...r, bits: rep.bitsPerWeight };
}

if (import.meta.main) {
  const gpu = await lb.initGPU();
  const text = (await Deno.readTextFile(path("data/corpus/valid.txt"))).slice(0, EVAL_CHARS);
  const trainText = await Deno.readTextFile(path("data/corpus/train.txt"));
  const train = new TextEncoder().encode(trainText);
  const outPath = path("data/claims/23-onebit.json");
  const settings = {
    seeds: SEEDS,
    calibration: { ...CALIBRATION, source: "data/corpus/train.txt" },
    kd: {
      ...KD,
      liveSteps: LIVE_STEPS,
      source: "data/corpus/train.txt",
      optimizer: "AdamW, no weight decay",
    },
    evaluation: {
      source: "data/corpus/valid.txt",
      chars: EVAL_CHARS,
      seqLen: SEQ_LEN,
      checkChars: CHECK_CHARS,
    },
    baselines: "binary, f16 scale = mean |w| per output channel (row) or per group of 64",
  };
  const { log, seconds } = runLog("tools/claims/23-onebit.ts", outPath, gpu.adapterName, settings, [
    "losses",
    "ce",
    "mse",
  ]);
  {
    using model = await lb.loadModel(path("data/tiny"));
    await log({ method: "fp32", seed: null, bitsPerWeight: 32, ...await evaluate(model, text) });
  }
  {
    using model = await lb.loadModel(path("data/tiny"));
    const r = await lb.methods.rtn(model, BINARY_ROW);
    await log({
      method: "sign-rowmean",
      seed: null,
      bitsPerWeight: r.bitsPerWeight,
      ...await evaluate(model, text),
    });
  }
  {
    using model = await lb.loadModel(path("data/tiny"));
    const r = await lb.methods.rtn(model, BINARY_G64);
    await log({
      method: "sign-g64",
      seed: null,
      bitsPerWeight: r.bitsPerWeight,
      ...await evaluate(model, text),
    });
  }
  {
    using model = await lb.loadModel(path("data/tiny"));
    const r = await lb.methods.onebit(model);
    await log({
      method: "onebit-svid",
      seed: null,
      bitsPerWeight: r.bitsPerWeight,
      ...await evaluate(model, text),
    });
  }
  for (const seed of SEEDS) {
    using model = await lb.loadModel(path("data/tiny"));
    const sequences = lb.calibrationSequences(trainText, { ...CALIBRATION, seed });
    const r = await lb.quantizeModel(model, {
      method: "gptq",
      quantizer: BINARY_G64,
      calibration: { sequences },
    });
    await log({
      method: "gptq-g64",
      seed,
      bitsPerWeight: r.bitsPerWeight,
      ...await evaluate(model, text),
    });
  }
  {
    const r = await oneBitKd(0, train, { steps: LIVE_STEPS });
    using model = r.model;
    await log({
      method: `onebit-kd${LIVE_STEPS}`,
      seed: 0,
      bitsPerWeight: r.bits,
      ...await evaluate(model, text),
    });
  }
  for (const seed of SEEDS) {
    const r = await oneBitKd(seed, train);
    using model = r.model;
    await log({
      method: "onebit-kd",
      seed,
      bitsPerWeight: r.bits,
      ...await evaluate(model, text),
      losses: r.losses,
      ce: r.ce,
      mse: r.mse,
    });
  }
  console.log(`wrote ${outPath} in ${seconds().toFixed(0)} s`);
}
