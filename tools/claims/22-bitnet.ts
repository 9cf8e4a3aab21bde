/**
 * Sweep behind the claims of notebooks/22-bitnet: a small Llama trained from
 * scratch on data/corpus/train.txt in three ways with the same config, init,
 * batches, schedule and steps (per seed):
 *
 * - `fp`: full precision (f32) — then post-training ternarized: `ptq-absmean`
 *   (RTN with BitNet's absmean γ, per tensor), `ptq-mse` (ternary with the
 *   MSE-searched scale per output channel, the strongest data-free PTQ of the
 *   project) and `gptq` (ternary per output channel with GPTQ's error
 *   feedback on calibration windows of train.txt); all PTQ runs keep f32
 *   activations (a head start over BitNet's 8-bit ones);
 * - `qat-absmean`: BitNet b1.58 (ternary absmean weights, 8-bit absmax
 *   activations, STE) from the first step; also evaluated after packing
 *   (`packed`: the ternary kernel);
 * - `qat-absmedian`: the same with b1.58 Reloaded's absmedian γ.
 *
 * Seeds vary the order of the training batches (`randomWindows`' seed) and
 * the calibration windows; the initial weights are `randomLlama`'s (fixed:
 * tensor i seeded with i), the same in every run.
 *
 * Evaluation: perplexity on the first {@link EVAL_CHARS} bytes of valid.txt in
 * windows of {@link SEQ_LEN} (`_eval.ts`). Each run also stores its loss
 * curve; the notebook retrains the first {@link CHECK_STEPS} steps of seed 0
 * live and checks them against it.
 *
 * Usage: `nice -n 10 deno run -A tools/claims/22-bitnet.ts`
 * @module
 */
import { runLog } from "./_run_log.ts";
import * as lb from "../../mod.ts";
import { evaluateSlices } from "./_eval.ts";

/** Seeds (batch order and calibration windows). */
export const SEEDS = [0, 1, 2];
/** The model: a 2-layer Llama over bytes (the config of notebook 20 and the trainer test). */
export const CONFIG = {
  hidden_size: 32,
  intermediate_size: 64,
  num_hidden_layers: 2,
  num_attention_heads: 2,
  num_key_value_heads: 1,
  vocab_size: 256,
  max_position_embeddings: 64,
};
/** Initial weights: N(0, 0.02²), norm gains 1 (HF's init). */
export const INIT = { std: 0.02, normWeight: 1 };
/** Training: optimizer steps, batch × window, AdamW, warm-up + cosine, clipping. */
export const TRAIN = {
  steps: 150,
  batch: 4,
  seqLen: 32,
  lr: 1e-2,
  warmup: 10,
  minRatio: 0.1,
  betas: [0.9, 0.95] as [number, number],
  weightDecay: 0.1,
  clip: 1,
};
/** Bytes of valid.txt evaluated per run, slice of the check value, window. */
export const EVAL_CHARS = 2048, CHECK_CHARS = 1024, SEQ_LEN = 64;
/** Steps the notebook retrains live (seed 0) and compares with the stored curves. */
export const CHECK_STEPS = 5;
/** GPTQ calibration windows × tokens. */
export const CALIBRATION = { n: 8, seqLen: 64 };
/** MSE scale search of the data-free ternary PTQ. */
export const MSE = { kind: "mse", grid: 100, minRatio: 0.2 } as const;

/** How a run trains: float, or BitNet b1.58 with γ = absmean / absmedian. */
export type Variant = "fp" | "qat-absmean" | "qat-absmedian";

/** A fresh model of {@link CONFIG} for `variant` (BitLinears swapped in for QAT) and what trains. */
export function makeModel(
  variant: Variant,
): { model: lb.LlamaModel; trainable: lb.train.TrainableModel } {
  const model = lb.randomLlama(CONFIG, INIT);
  if (variant === "fp") return { model, trainable: model };
  const bitnet = lb.qat.toBitNet(model, {
    scale: variant === "qat-absmean" ? "absmean" : "absmedian",
  });
  return { model, trainable: bitnet };
}

/**
 * Trains `variant` for `steps` (default TRAIN.steps) of the schedule of
 * TRAIN.steps on seed `seed`'s batches. The caller owns the model.
 */
export async function trainVariant(
  variant: Variant,
  seed: number,
  train: Uint8Array,
  steps = TRAIN.steps,
): Promise<{ model: lb.LlamaModel; losses: number[]; seconds: number }> {
  const { model, trainable } = makeModel(variant);
  using opt = new lb.train.AdamW({ betas: TRAIN.betas, weightDecay: TRAIN.weightDecay });
  const t0 = performance.now();
  const { curve } = await lb.train.train(
    trainable,
    lb.train.randomWindows(train, { batch: TRAIN.batch, seqLen: TRAIN.seqLen, seed }),
    {
      optimizer: opt,
      schedule: lb.train.warmupCosine({
        lr: TRAIN.lr,
        warmup: TRAIN.warmup,
        total: TRAIN.steps,
        minRatio: TRAIN.minRatio,
      }),
      steps,
      clip: TRAIN.clip,
    },
  );
  return {
    model,
    losses: curve.rows.map((r) => r.trainLoss),
    seconds: (performance.now() - t0) / 1000,
  };
}

const root = new URL("../../", import.meta.url);
const path = (p: string) => new URL(p, root).pathname;

if (import.meta.main) {
  const gpu = await lb.initGPU();
  const text = (await Deno.readTextFile(path("data/corpus/valid.txt"))).slice(0, EVAL_CHARS);
  const trainBytes = await Deno.readFile(path("data/corpus/train.txt"));
  const trainText = new TextDecoder().decode(trainBytes);
  const outPath = path("data/claims/22-bitnet.json");
  const settings = {
    seeds: SEEDS,
    config: CONFIG,
    init: INIT,
    train: { ...TRAIN, source: "data/corpus/train.txt" },
    evaluation: {
      source: "data/corpus/valid.txt",
      chars: EVAL_CHARS,
      seqLen: SEQ_LEN,
      checkChars: CHECK_CHARS,
    },
    calibration: CALIBRATION,
    mse: MSE,
  };
  const evaluate = (m: lb.LlamaModel) =>
    evaluateSlices(m, text, { checkChars: CHECK_CHARS, seqLen: SEQ_LEN });
  const { log, seconds } = runLog("tools/claims/22-bitnet.ts", outPath, gpu.adapterName, settings, [
    "losses",
  ]);
  const stepsEnv = Deno.env.get("BITNET_STEPS");
  const steps = stepsEnv ? Number(stepsEnv) : TRAIN.steps;
  for (const seed of SEEDS) {
    for (const variant of ["fp", "qat-absmean", "qat-absmedian"] as Variant[]) {
      const { model, losses, seconds } = await trainVariant(variant, seed, trainBytes, steps);
      try {
        const bpw = variant === "fp" ? 32 : model.getLinear("layers.0.mlp.up_proj").bitsPerWeight!;
        await log({
          method: variant,
          seed,
          bitsPerWeight: bpw,
          trainSeconds: seconds,
          losses,
          ...await evaluate(model),
        });
        if (variant === "fp") {
          // post-training ternarization of the trained float model, each undone afterwards
          const ptq = async (method: string, fn: () => Promise<lb.QuantReport>) => {
            const edit = model.beginEdit();
            try {
              const r = await fn();
              await log({ method, seed, bitsPerWeight: r.bitsPerWeight, ...await evaluate(model) });
            } finally {
              edit.rollback();
            }
          };
          await ptq("ptq-absmean", () => lb.methods.rtn(model, lb.ternary()));
          await ptq(
            "ptq-mse",
            () => lb.methods.rtn(model, lb.ternary({ per: "channel", range: MSE })),
          );
          await ptq("gptq", () =>
            lb.methods.gptqModel(
              model,
              lb.ternary({ per: "channel" }),
              lb.calibrationSequences(trainText, { ...CALIBRATION, seed }),
            ));
        } else {
          await lb.qat.packBitNet(model);
          await log({
            method: `${variant}-packed`,
            seed,
            bitsPerWeight: model.getLinear("layers.0.mlp.up_proj").bitsPerWeight!,
            ...await evaluate(model),
          });
        }
      } finally {
        model.dispose();
      }
    }
  }
  console.log(`wrote ${outPath} in ${seconds().toFixed(0)} s`);
}
