/**
 * Sweep behind the claims of notebooks/21-efficientqat: EfficientQAT (Block-AP
 * then E2E-QP) against GPTQ (MSE-searched ranges) and round-to-nearest (min-max
 * and MSE-searched ranges) at the same quantizer —
 * 2-bit asymmetric integers in groups of 64 with f16 steps and 2-bit zero
 * points (2.28 bits per weight) — and full precision, over calibration seeds.
 * Writes `data/claims/21-efficientqat.json`.
 *
 * Every run is evaluated on the first {@link EVAL_CHARS} characters of
 * valid.txt in windows of {@link SEQ_LEN}; the perplexity of the first
 * {@link CHECK_CHARS} is the run's check value. `efficientqat` starts from
 * min-max steps and zero points (the paper), `efficientqat-mse` from the
 * MSE-searched ones (those of the strongest RTN). The run `efficientqat-live`
 * (seed 0, {@link LIVE}) is the small configuration the notebook recomputes.
 *
 * Usage: `nice -n 10 deno run -A tools/claims/21-efficientqat.ts`
 * @module
 */
import { runLog } from "./_run_log.ts";
import * as lb from "../../mod.ts";
import { evaluateSlices } from "./_eval.ts";

/** Calibration seeds; each draws its own windows of train.txt. */
export const SEEDS = [0, 1, 2];
/** Calibration windows × tokens per window. */
export const CALIBRATION = { n: 2, seqLen: 128 };
/** Characters of valid.txt evaluated per run, the check slice, and the window. */
export const EVAL_CHARS = 1024, CHECK_CHARS = 1024, SEQ_LEN = 256;
/** Weight bits and group size (asymmetric integers, f16 steps). */
export const BITS = 2, GROUP = 64;
/** EfficientQAT's schedule in the sweep: steps per block, E2E-QP steps, learning rates. */
export const SCHEDULE = { blockSteps: 8, e2eSteps: 4, weightLr: 1e-3, quantLr: 1e-3, e2eLr: 2e-4 };
/** The live configuration (one small window set, a few steps). */
export const LIVE = {
  calibration: { n: 1, seqLen: 64 },
  schedule: { ...SCHEDULE, blockSteps: 2, e2eSteps: 1 },
};
/** MSE clipping: the clip that minimises the squared error over this grid of ratios. */
export const MSE = { kind: "mse", grid: 100, minRatio: 0.2 } as const;

/** The quantizer of every run (min-max or MSE-searched ranges). */
export function weightQuantizer(mse: boolean): lb.Quantizer {
  return lb.int(BITS, { group: GROUP, symmetric: false, ...(mse ? { range: MSE } : {}) });
}

const root = new URL("../../", import.meta.url);
const path = (p: string) => new URL(p, root).pathname;

/** One configuration. */
export interface Config {
  /** Its name in the stored runs. */
  method:
    | "rtn"
    | "rtn-mse"
    | "gptq"
    | "gptq-mse"
    | "efficientqat"
    | "efficientqat-mse"
    | "efficientqat-live";
  /** Calibration seed, or null for a run without data. */
  seed: number | null;
}

/** Every configuration, data-free and live first, then seed by seed. */
export function configs(): Config[] {
  const out: Config[] = [
    { method: "rtn", seed: null },
    { method: "rtn-mse", seed: null },
    { method: "efficientqat-live", seed: 0 },
  ];
  for (const seed of SEEDS) {
    for (const method of ["gptq-mse", "efficientqat"] as const) out.push({ method, seed });
  }
  // a variant: s and z initialised from the MSE-searched ranges (the strongest RTN) instead of min-max
  for (const seed of SEEDS) out.push({ method: "efficientqat-mse", seed });
  return out;
}

/** Quantizes `model` in place as `c` says; returns the bits per weight and the method's details. */
export async function quantizeConfig(
  model: lb.LlamaModel,
  c: Config,
  train: string,
): Promise<{ bitsPerWeight: number; details?: unknown }> {
  if (c.method === "rtn" || c.method === "rtn-mse") {
    const r = await lb.methods.rtn(model, weightQuantizer(c.method === "rtn-mse"));
    return { bitsPerWeight: r.bitsPerWeight };
  }
  const live = c.method === "efficientqat-live";
  const calibration = lb.calibrationSequences(train, {
    ...(live ? LIVE.calibration : CALIBRATION),
    seed: c.seed!,
  });
  if (c.method === "gptq" || c.method === "gptq-mse") {
    const r = await lb.methods.gptqModel(
      model,
      weightQuantizer(c.method === "gptq-mse"),
      calibration,
    );
    return { bitsPerWeight: r.bitsPerWeight };
  }
  const r = await lb.methods.efficientQat(model, calibration, {
    weight: weightQuantizer(c.method === "efficientqat-mse"),
    ...(live ? LIVE.schedule : SCHEDULE),
  });
  return { bitsPerWeight: r.bitsPerWeight, details: r.details };
}

if (import.meta.main) {
  const gpu = await lb.initGPU();
  const text = (await Deno.readTextFile(path("data/corpus/valid.txt"))).slice(0, EVAL_CHARS);
  const train = await Deno.readTextFile(path("data/corpus/train.txt"));
  const outPath = path("data/claims/21-efficientqat.json");
  const settings = {
    seeds: SEEDS,
    calibration: { ...CALIBRATION, source: "data/corpus/train.txt" },
    evaluation: {
      source: "data/corpus/valid.txt",
      chars: EVAL_CHARS,
      seqLen: SEQ_LEN,
      checkChars: CHECK_CHARS,
    },
    weight: `uint${BITS}, groups of ${GROUP}, asymmetric (zero point), f16 steps`,
    mse: { grid: MSE.grid, minRatio: MSE.minRatio },
    schedule: SCHEDULE,
    live: LIVE,
  };
  // runs of an earlier invocation with the same settings are kept (the sweep resumes)
  const key = (r: { method: unknown; seed: unknown }) => `${r.method}|${r.seed}`;
  const done = new Map<string, Record<string, unknown>>();
  try {
    const old = JSON.parse(await Deno.readTextFile(outPath));
    if (
      JSON.stringify(old.settings) === JSON.stringify(settings) && old.adapter === gpu.adapterName
    ) {
      for (const r of old.runs) done.set(key(r), r);
    }
  } catch { /* no earlier sweep */ }
  const { log, seconds } = runLog(
    "tools/claims/21-efficientqat.ts",
    outPath,
    gpu.adapterName,
    settings,
    [
      "details",
    ],
  );
  const evaluate = (m: lb.LlamaModel) =>
    evaluateSlices(m, text, { checkChars: CHECK_CHARS, seqLen: SEQ_LEN });
  const fp = { method: "fp32", seed: null };
  if (done.has(key(fp))) await log(done.get(key(fp))!);
  else {
    using model = await lb.loadModel(path("data/tiny"));
    await log({ ...fp, bitsPerWeight: 32, ...await evaluate(model) });
  }
  for (const c of configs()) {
    if (done.has(key(c))) {
      await log(done.get(key(c))!);
      continue;
    }
    using model = await lb.loadModel(path("data/tiny"));
    const t = performance.now();
    const r = await quantizeConfig(model, c, train);
    const seconds = (performance.now() - t) / 1000;
    await log({
      ...c,
      bitsPerWeight: r.bitsPerWeight,
      seconds,
      ...await evaluate(model),
      details: r.details,
    });
  }
  console.log(`wrote ${outPath} in ${seconds().toFixed(0)} s`);
}
