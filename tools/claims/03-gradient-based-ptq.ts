/**
 * Sweep behind the claims of notebooks/03-gradient-based-ptq: GPTQ at int3
 * with groups of 32 (3.5 bits per weight, f16 scales) on the MSE-clipped grid
 * over five random calibration sets, against round-to-nearest on the same
 * grid and on the min-max grid; and two of GPTQ's own choices over three
 * calibration sets each: the damping λ (0.1 against the customary 0.01) and
 * the column order (act-order with static groups against the natural order).
 * Writes `data/claims/03-gradient-based-ptq.json`.
 *
 * Every run is evaluated on the first {@link EVAL_CHARS} characters of
 * valid.txt (ASCII, so bytes) in windows of {@link SEQ_LEN}, as slices of
 * {@link CHECK_CHARS}; the token-weighted mean NLL over the slices gives the
 * perplexity, and the perplexity of the first slice is the run's check value,
 * which the notebook recomputes live. RTN runs once (its value is the same
 * for every seed).
 *
 * Usage: `nice -n 10 deno run -A tools/claims/03-gradient-based-ptq.ts [LOG…]`. Each LOG is
 * the output of an earlier run of this script, or of `tools/claims/02-gptq.ts` (whose int3 MSE-grid
 * GPTQ runs have the same settings as this script's `gptq` runs); a run printed there is reused
 * instead of recomputed (the logs are read again before each run, so a sweep running beside this
 * one can supply runs as it goes).
 * @module
 */
import * as lb from "../../mod.ts";
import { evaluateSlices } from "./_eval.ts";

/** Calibration seeds of the calibration-set claim; the first three also for the other choices. */
export const SEEDS = [0, 1, 2, 3, 4];
/** Seeds of the damping and column-order comparisons. */
export const CHOICE_SEEDS = [0, 1, 2];
/** Calibration windows × tokens per window. */
export const CALIBRATION = { n: 8, seqLen: 128 };
/** Characters of valid.txt evaluated per run; slice of the check value; window length. */
export const EVAL_CHARS = 4096, CHECK_CHARS = 1024, SEQ_LEN = 256;
/** GPTQ's customary damping, and the heavier one compared with it. */
export const DAMP = 0.01, DAMP_HEAVY = 0.1;
/** MSE range search (grid of clipping ratios). */
export const MSE: lb.RangeSetting = { kind: "mse", grid: 20, minRatio: 0.3 };
/** Weight bits and group size. */
export const BITS = 3, GROUP = 32;

const root = new URL("../../", import.meta.url);
const path = (p: string) => new URL(p, root).pathname;

/** Perplexity of `model` on `text` (slices of CHECK_CHARS) and on its first slice. */
export function evaluate(model: lb.LlamaModel, text: string) {
  return evaluateSlices(model, text, { checkChars: CHECK_CHARS, seqLen: SEQ_LEN });
}

if (import.meta.main) {
  const gpu = await lb.initGPU();
  const text = (await Deno.readTextFile(path("data/corpus/valid.txt"))).slice(0, EVAL_CHARS);
  const train = await Deno.readTextFile(path("data/corpus/train.txt"));
  const runs: Record<string, unknown>[] = [];
  const t0 = performance.now();
  const log = (r: Record<string, unknown>) => {
    runs.push(r);
    console.log(`${((performance.now() - t0) / 1000).toFixed(0)} s`, JSON.stringify(r));
  };
  /** An earlier run of `method` on `seed` in the logs given on the command line, if any. */
  const earlier = (method: string, seed: number | null) => {
    for (const file of Deno.args) {
      for (const line of Deno.readTextFileSync(file).split("\n")) {
        const m = line.match(/^\d+ s (\{.*\})$/);
        if (!m) continue;
        const r = JSON.parse(m[1]);
        if (r.bits === undefined && r.method === method && r.seed === seed) return r;
        if (
          r.bits === BITS && r.grid === "mse" && r.method === "gptq" && method === "gptq" &&
          r.seed === seed && CALIBRATION.n === 8 && CALIBRATION.seqLen === 128 && DAMP === 0.01
        ) {
          const { bits: _b, grid: _g, ...rest } = r;
          return { ...rest, note: "same configuration as tools/claims/02-gptq.ts; run there" };
        }
      }
    }
    return undefined;
  };
  {
    using model = await lb.loadModel(path("data/tiny"));
    const e = earlier("fp32", null);
    log(e ?? { method: "fp32", seed: null, bitsPerWeight: 32, ...await evaluate(model, text) });
  }
  const minmax = lb.int(BITS, { group: GROUP }), mse = lb.int(BITS, { group: GROUP, range: MSE });
  for (const [method, q] of [["rtn", minmax], ["rtn-mse", mse]] as const) {
    const e = earlier(method, null);
    if (e) {
      log(e);
      continue;
    }
    using model = await lb.loadModel(path("data/tiny"));
    const r = await lb.methods.rtn(model, q);
    log({ method, seed: null, bitsPerWeight: r.bitsPerWeight, ...await evaluate(model, text) });
  }
  const variants: [string, lb.methods.GptqModelOptions, number[]][] = [
    ["gptq", { damp: DAMP }, SEEDS],
    ["gptq-damp-heavy", { damp: DAMP_HEAVY }, CHOICE_SEEDS],
    ["gptq-act-order", { damp: DAMP, actOrder: true, staticGroups: true }, CHOICE_SEEDS],
  ];
  for (const seed of SEEDS) {
    const calibration = lb.calibrationSequences(train, { ...CALIBRATION, seed });
    for (const [method, options, seeds] of variants) {
      if (!seeds.includes(seed)) continue;
      const e = earlier(method, seed);
      if (e) {
        log(e);
        continue;
      }
      using model = await lb.loadModel(path("data/tiny"));
      const r = await lb.methods.gptqModel(model, mse, calibration, {
        ...options,
        progress: false,
      });
      log({
        method,
        seed,
        bitsPerWeight: r.bitsPerWeight,
        seconds: r.seconds,
        ...await evaluate(model, text),
      });
    }
  }
  const out = {
    script: "tools/claims/03-gradient-based-ptq.ts",
    date: new Date().toISOString(),
    adapter: gpu.adapterName,
    settings: {
      seeds: SEEDS,
      choiceSeeds: CHOICE_SEEDS,
      calibration: { ...CALIBRATION, source: "data/corpus/train.txt" },
      evaluation: {
        source: "data/corpus/valid.txt",
        chars: EVAL_CHARS,
        seqLen: SEQ_LEN,
        checkChars: CHECK_CHARS,
      },
      weight: `int${BITS}, groups of ${GROUP}, symmetric, f16 scales; GPTQ on the MSE-clipped grid`,
      mse: MSE,
      damp: DAMP,
      dampHeavy: DAMP_HEAVY,
      variants: Object.fromEntries(variants.map(([m, o, s]) => [m, { ...o, seeds: s }])),
    },
    runs,
  };
  await Deno.writeTextFile(
    path("data/claims/03-gradient-based-ptq.json"),
    JSON.stringify(out, null, 1) + "\n",
  );
  console.log(
    `wrote data/claims/03-gradient-based-ptq.json in ${
      ((performance.now() - t0) / 1000).toFixed(0)
    } s`,
  );
}
