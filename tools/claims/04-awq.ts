/**
 * Sweep behind the claims of notebooks/04-awq: AWQ against the strongest
 * baselines at the same quantizer — round-to-nearest with min-max and with
 * MSE-clipped group ranges, and GPTQ on the MSE-clipped grid — at int3 and
 * int4 with groups of 32 (3.5 and 4.5 bits per weight, f16 scales), the
 * calibrated methods over calibration seeds (the same windows for AWQ and
 * GPTQ). Writes `data/claims/04-awq.json`.
 *
 * Every run is evaluated on the first {@link EVAL_CHARS} characters of
 * valid.txt (ASCII, so bytes) in windows of {@link SEQ_LEN}, as slices of
 * {@link CHECK_CHARS}; the token-weighted mean NLL over the slices gives the
 * perplexity, and the perplexity of the first slice is the run's check value,
 * which the notebook recomputes live. RTN runs once (its value is the same
 * for every seed).
 *
 * Usage: `nice -n 10 deno run -A tools/claims/04-awq.ts [LOG…]`. Each LOG is the output of an
 * earlier run of this script, or of `tools/claims/02-gptq.ts` (whose MSE-grid GPTQ runs have the
 * same settings as this script's `gptq-mse` runs); a run printed there is reused instead of
 * recomputed (the logs are read again before each run, so a sweep running beside this one can
 * supply runs as it goes). With `--wait=LOG` (LOG: the output of `tools/claims/02-gptq.ts` while
 * it runs), a GPTQ run is waited for until that sweep prints it or ends; GPTQ runs come last.
 * @module
 */
import * as lb from "../../mod.ts";
import { evaluateSlices } from "./_eval.ts";

/** Calibration seeds; each draws its own windows of train.txt. */
export const SEEDS = [0, 1, 2];
/** Calibration windows × tokens per window. */
export const CALIBRATION = { n: 8, seqLen: 128 };
/** Characters of valid.txt evaluated per run; slice of the check value; window length. */
export const EVAL_CHARS = 4096, CHECK_CHARS = 1024, SEQ_LEN = 256;
/** AWQ's searches: α grid points, clip ratios tried in [minClip, 1]. */
export const AWQ = { grid: 20, clipGrid: 10, minClip: 0.5 };
/** GPTQ's damping (its paper's 1% of the mean Hessian diagonal). */
export const DAMP = 0.01;
/** MSE range search (grid of clipping ratios) for the RTN and GPTQ baselines. */
export const MSE: lb.RangeSetting = { kind: "mse", grid: 20, minRatio: 0.3 };
/** Weight bit widths, groups of {@link GROUP}. */
export const BITS = [3, 4], GROUP = 32;

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
  const logs = Deno.args.filter((a) => !a.startsWith("--wait="));
  const wait = Deno.args.find((a) => a.startsWith("--wait="))?.slice("--wait=".length);
  /** An earlier run of `method` at `bits` on `seed` in the logs given on the command line, if any. */
  const earlier = (method: string, bits: number, seed: number | null) => {
    for (const file of logs) {
      for (const line of Deno.readTextFileSync(file).split("\n")) {
        const m = line.match(/^\d+ s (\{.*\})$/);
        if (!m) continue;
        const r = JSON.parse(m[1]);
        if (r.grid === undefined && r.method === method && r.bits === bits && r.seed === seed) {
          return r;
        }
        if (
          r.grid === "mse" && r.method === "gptq" && method === "gptq-mse" && r.bits === bits &&
          r.seed === seed && CALIBRATION.n === 8 && CALIBRATION.seqLen === 128 && DAMP === 0.01
        ) {
          const { grid: _g, ...rest } = r;
          return {
            ...rest,
            method,
            note: "same configuration as tools/claims/02-gptq.ts; run there",
          };
        }
      }
    }
    return undefined;
  };
  /** Logs an earlier run if there is one; false when it must be run. */
  const reuse = (method: string, bits: number, seed: number | null) => {
    const e = earlier(method, bits, seed);
    if (e) log(e);
    return e !== undefined;
  };
  if (!reuse("fp32", 32, null)) {
    using model = await lb.loadModel(path("data/tiny"));
    log({
      method: "fp32",
      bits: 32,
      seed: null,
      bitsPerWeight: 32,
      ...await evaluate(model, text),
    });
  }
  const q = (bits: number) => lb.int(bits, { group: GROUP });
  const qMse = (bits: number) => lb.int(bits, { group: GROUP, range: MSE });
  for (const bits of BITS) {
    for (const [method, quantizer] of [["rtn", q(bits)], ["rtn-mse", qMse(bits)]] as const) {
      if (reuse(method, bits, null)) continue;
      using model = await lb.loadModel(path("data/tiny"));
      const r = await lb.methods.rtn(model, quantizer);
      log({
        method,
        bits,
        seed: null,
        bitsPerWeight: r.bitsPerWeight,
        ...await evaluate(model, text),
      });
    }
    for (const seed of SEEDS) {
      if (reuse("awq", bits, seed)) continue;
      const sequences = lb.calibrationSequences(train, { ...CALIBRATION, seed });
      using model = await lb.loadModel(path("data/tiny"));
      const t = performance.now();
      const r = await lb.methods.awq(model, q(bits), { sequences, ...AWQ });
      const seconds = (performance.now() - t) / 1000;
      const alphas = r.details.groups.filter((g) => g.scaled).map((g) => g.alpha);
      log({
        method: "awq",
        bits,
        seed,
        bitsPerWeight: r.bitsPerWeight,
        seconds,
        alphas,
        ...await evaluate(model, text),
      });
    }
  }
  for (const bits of BITS) {
    for (const seed of SEEDS) {
      // a sweep of 02-gptq running beside this one makes the same run: wait for it
      while (
        wait && !earlier("gptq-mse", bits, seed) && !Deno.readTextFileSync(wait).includes("wrote ")
      ) {
        await new Promise((resolve) => setTimeout(resolve, 20_000));
      }
      if (reuse("gptq-mse", bits, seed)) continue;
      const sequences = lb.calibrationSequences(train, { ...CALIBRATION, seed });
      using model = await lb.loadModel(path("data/tiny"));
      const r = await lb.methods.gptqModel(model, qMse(bits), sequences, {
        damp: DAMP,
        progress: false,
      });
      log({
        method: "gptq-mse",
        bits,
        seed,
        bitsPerWeight: r.bitsPerWeight,
        seconds: r.seconds,
        ...await evaluate(model, text),
      });
    }
  }
  const out = {
    script: "tools/claims/04-awq.ts",
    date: new Date().toISOString(),
    adapter: gpu.adapterName,
    settings: {
      seeds: SEEDS,
      calibration: { ...CALIBRATION, source: "data/corpus/train.txt" },
      evaluation: {
        source: "data/corpus/valid.txt",
        chars: EVAL_CHARS,
        seqLen: SEQ_LEN,
        checkChars: CHECK_CHARS,
      },
      weight: `int<bits>, groups of ${GROUP}, symmetric, f16 scales`,
      awq: AWQ,
      mse: MSE,
      damp: DAMP,
    },
    runs,
  };
  await Deno.writeTextFile(path("data/claims/04-awq.json"), JSON.stringify(out, null, 1) + "\n");
  console.log(`wrote data/claims/04-awq.json in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
}
