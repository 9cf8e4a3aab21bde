/**
 * Sweep behind the claims of notebooks/13-norm-tweaking: per-channel int3 and
 * int4, each base quantizer (RTN, GPTQ) with and without norm tweaking, over
 * calibration seeds, plus RTN with MSE clipping as a data-free baseline.
 * Writes `data/claims/13-norm-tweaking.json`.
 *
 * Every run is evaluated on the first {@link EVAL_CHARS} characters of
 * valid.txt (ASCII, so bytes) in windows of {@link SEQ_LEN}: four slices of
 * 1024, whose token-weighted mean NLL gives the perplexity; the perplexity of
 * the first slice is the run's cheap check value, which the notebook
 * recomputes live.
 *
 * Usage: `nice -n 10 deno run -A tools/claims/13-norm-tweaking.ts`
 * @module
 */
import { runLog } from "./_run_log.ts";
import * as lb from "../../mod.ts";
import { evaluateSlices } from "./_eval.ts";

/** Calibration seeds; each draws its own windows of train.txt. */
export const SEEDS = [0, 1, 2];
/** Calibration windows × tokens per window. */
export const CALIBRATION = { n: 4, seqLen: 128 };
/** Characters of valid.txt evaluated per run, and the slice of the check value. */
export const EVAL_CHARS = 4096, CHECK_CHARS = 1024, SEQ_LEN = 256;
/** Weight bit widths (per-channel int, f16 scales). */
export const BITS = [3, 4];

const root = new URL("../../", import.meta.url);
const path = (p: string) => new URL(p, root).pathname;

/** Perplexity of `model` on `text` (slices of CHECK_CHARS) and on its first slice. */
function evaluate(model: lb.LlamaModel, text: string) {
  return evaluateSlices(model, text, { checkChars: CHECK_CHARS, seqLen: SEQ_LEN });
}

/** One configuration: base quantizer (RTN or GPTQ, min-max or MSE clipping), tweak or not. */
export interface Config {
  /** Its name in the stored runs, e.g. `"gptq-mse+nt"`. */
  method: string;
  /** Weight bits (per-channel int). */
  bits: number;
  /** Calibration seed, or null for a run without data (RTN). */
  seed: number | null;
  /** Round to nearest or GPTQ. */
  base: "rtn" | "gptq";
  /** MSE-searched clipping ranges instead of min-max. */
  mse: boolean;
  /** Tweak the norms after quantizing. */
  tweak: boolean;
}

/** Every configuration, the ones the first claims need first. */
export function configs(): Config[] {
  const out: Config[] = [];
  const name = (c: Omit<Config, "method">) =>
    `${c.base}${c.mse ? "-mse" : ""}${c.tweak ? "+nt" : ""}`;
  const add = (c: Omit<Config, "method">) => out.push({ method: name(c), ...c });
  const stage = (base: "rtn" | "gptq", mse: boolean, tweaks: boolean[], bitsList = BITS) => {
    for (const bits of bitsList) {
      for (const seed of SEEDS) {
        for (const tweak of tweaks) add({ bits, seed, base, mse, tweak });
      }
    }
  };
  for (const bits of BITS) {
    for (const mse of [false, true]) add({ bits, seed: null, base: "rtn", mse, tweak: false });
  }
  stage("rtn", false, [true]);
  stage("gptq", false, [false, true]);
  for (const bits of [...BITS].reverse()) {
    stage("gptq", true, [false, true], [bits]);
    stage("rtn", true, [true], [bits]);
  }
  return out;
}

/** MSE clipping: the clip that minimises the squared error over this grid of ratios. */
export const MSE = { kind: "mse", grid: 100, minRatio: 0.2 } as const;

if (import.meta.main) {
  const gpu = await lb.initGPU();
  const text = (await Deno.readTextFile(path("data/corpus/valid.txt"))).slice(0, EVAL_CHARS);
  const train = await Deno.readTextFile(path("data/corpus/train.txt"));
  const outPath = path("data/claims/13-norm-tweaking.json");
  const settings = {
    seeds: SEEDS,
    calibration: { ...CALIBRATION, source: "data/corpus/train.txt" },
    evaluation: {
      source: "data/corpus/valid.txt",
      chars: EVAL_CHARS,
      seqLen: SEQ_LEN,
      checkChars: CHECK_CHARS,
    },
    weight: "int<bits>, per output channel, symmetric, min-max, f16 scales",
    mse: { grid: MSE.grid, minRatio: MSE.minRatio },
    damp: 0.01,
  };
  // runs of an earlier invocation with the same settings are kept (the sweep resumes)
  const key = (r: { method: unknown; bits: unknown; seed: unknown }) =>
    `${r.method}|${r.bits}|${r.seed}`;
  const done = new Map<string, Record<string, unknown>>();
  for (const file of [outPath, `${outPath}.part`]) {
    try {
      const old = JSON.parse(await Deno.readTextFile(file));
      if (
        JSON.stringify(old.settings) === JSON.stringify(settings) &&
        old.adapter === gpu.adapterName
      ) {
        for (const r of old.runs) done.set(key(r), r);
      }
    } catch { /* no earlier sweep */ }
  }
  // SWEEP_ONLY=m1,m2 runs only those methods into `<out>.part` (to run parts in parallel);
  // a plain run afterwards merges them
  const only = Deno.env.get("SWEEP_ONLY")?.split(",");
  const writePath = only ? `${outPath}.part` : outPath;
  const { log, seconds } = runLog(
    "tools/claims/13-norm-tweaking.ts",
    writePath,
    gpu.adapterName,
    settings,
    [
      "tweaks",
    ],
  );
  const fp = { method: "fp32", bits: 32, seed: null };
  if (done.has(key(fp))) await log(done.get(key(fp))!);
  else if (!only) {
    using model = await lb.loadModel(path("data/tiny"));
    await log({ ...fp, bitsPerWeight: 32, ...await evaluate(model, text) });
  }
  for (const c of configs()) {
    if (only && !only.includes(c.method)) continue;
    if (done.has(key(c))) {
      await log(done.get(key(c))!);
      continue;
    }
    const q = c.mse ? lb.int(c.bits, { range: MSE }) : lb.int(c.bits);
    using model = await lb.loadModel(path("data/tiny"));
    if (c.seed === null) {
      const r = await lb.methods.rtn(model, q);
      await log({
        method: c.method,
        bits: c.bits,
        seed: null,
        bitsPerWeight: r.bitsPerWeight,
        ...await evaluate(model, text),
      });
    } else {
      const calibration = lb.calibrationSequences(train, { ...CALIBRATION, seed: c.seed });
      const r = await lb.methods.normTweaking(model, calibration, {
        weight: q,
        base: c.base,
        tweak: c.tweak,
      });
      await log({
        method: c.method,
        bits: c.bits,
        seed: c.seed,
        bitsPerWeight: r.bitsPerWeight,
        ...await evaluate(model, text),
        tweaks: c.tweak ? r.details.tweaks : undefined,
      });
    }
  }
  console.log(
    `wrote ${writePath} in ${seconds().toFixed(0)} s`,
  );
}
