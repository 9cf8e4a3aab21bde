/**
 * Sweep behind the claims of notebooks/02-gptq: GPTQ against round-to-nearest
 * at int3 and int4 with groups of 32 (3.5 and 4.5 bits per weight, f16
 * scales), each on the min-max grid and on the MSE-clipped grid, GPTQ over
 * calibration seeds. Writes `data/claims/02-gptq.json`.
 *
 * Every run is evaluated on the first {@link EVAL_CHARS} characters of
 * valid.txt (ASCII, so bytes) in windows of {@link SEQ_LEN}, as slices of
 * {@link CHECK_CHARS}; the token-weighted mean NLL over the slices gives the
 * perplexity, and the perplexity of the first slice is the run's check value,
 * which the notebook recomputes live. RTN uses no calibration, so it runs
 * once; its value is the same for every seed.
 *
 * Usage: `nice -n 10 deno run -A tools/claims/02-gptq.ts`
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
/** GPTQ's damping (the paper's 1% of the mean Hessian diagonal). */
export const DAMP = 0.01;
/** MSE range search (grid of clipping ratios). */
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
  {
    using model = await lb.loadModel(path("data/tiny"));
    log({
      method: "fp32",
      bits: 32,
      grid: null,
      seed: null,
      bitsPerWeight: 32,
      ...await evaluate(model, text),
    });
  }
  for (const bits of BITS) {
    const grids = [["minmax", lb.int(bits, { group: GROUP })], [
      "mse",
      lb.int(bits, { group: GROUP, range: MSE }),
    ]] as const;
    for (const [grid, q] of grids) {
      using model = await lb.loadModel(path("data/tiny"));
      const r = await lb.methods.rtn(model, q);
      log({
        method: "rtn",
        bits,
        grid,
        seed: null,
        bitsPerWeight: r.bitsPerWeight,
        ...await evaluate(model, text),
      });
    }
    for (const seed of SEEDS) {
      const calibration = lb.calibrationSequences(train, { ...CALIBRATION, seed });
      for (const [grid, q] of grids) {
        using model = await lb.loadModel(path("data/tiny"));
        const r = await lb.methods.gptqModel(model, q, calibration, {
          damp: DAMP,
          progress: false,
        });
        log({
          method: "gptq",
          bits,
          grid,
          seed,
          bitsPerWeight: r.bitsPerWeight,
          seconds: r.seconds,
          ...await evaluate(model, text),
        });
      }
    }
  }
  const out = {
    script: "tools/claims/02-gptq.ts",
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
      weight: `int<bits>, groups of ${GROUP}, symmetric, f16 scales; grid minmax or mse`,
      mse: MSE,
      damp: DAMP,
    },
    runs,
  };
  await Deno.writeTextFile(path("data/claims/02-gptq.json"), JSON.stringify(out, null, 1) + "\n");
  console.log(
    `wrote data/claims/02-gptq.json in ${((performance.now() - t0) / 1000).toFixed(0)} s`,
  );
}
