/**
 * Sweep behind the claims of notebooks/01-rtn-white-paper: round-to-nearest
 * with min-max and MSE range setting, one scale per tensor and one per output
 * channel, at several bit widths (f16 scales, symmetric int); and the SQNR of
 * one layer's 4-bit per-tensor activations with each range setting. Writes
 * `data/claims/01-rtn-white-paper.json`.
 *
 * RTN of the weights uses no data, so the seeds pick disjoint evaluation
 * slices: seed s is characters [s·EVAL_CHARS, (s+1)·EVAL_CHARS) of valid.txt
 * (ASCII, so bytes), evaluated in windows of {@link SEQ_LEN} as slices of
 * {@link CHECK_CHARS}; the token-weighted mean NLL over its slices gives the
 * perplexity. The check value of each configuration is the perplexity of the
 * first slice of seed 0 (the first CHECK_CHARS of valid.txt), which the
 * notebook recomputes live. The activations come from calibration windows of
 * train.txt drawn with seed s.
 *
 * Usage: `nice -n 10 deno run -A tools/claims/01-rtn-white-paper.ts [LOG]`; with LOG (the
 * output of an interrupted run of the same settings), the runs it printed are reused.
 * @module
 */
import * as lb from "../../mod.ts";
import { evaluateSlices } from "./_eval.ts";

/** Seeds: evaluation slices for the weight runs, calibration draws for the activations. */
export const SEEDS = [0, 1, 2];
/** Characters of valid.txt per evaluation slice; slice of the check value; window length. */
export const EVAL_CHARS = 4096, CHECK_CHARS = 1024, SEQ_LEN = 256;
/** MSE range search (grid of clipping ratios). */
export const MSE: lb.RangeSetting = { kind: "mse", grid: 20, minRatio: 0.3 };
/** Weight configurations: granularity × range × bit widths. */
export const CONFIGS = [
  { per: "channel", range: "minmax", bits: [3, 4] },
  { per: "channel", range: "mse", bits: [3, 4] },
  { per: "tensor", range: "minmax", bits: [4, 5] },
  { per: "tensor", range: "mse", bits: [4, 5] },
] as const;
/** The layer whose inputs are quantized, calibration windows for them, activation bits. */
export const ACT = { layer: "layers.1.mlp.down_proj", n: 4, seqLen: 128, bits: 4 };

const root = new URL("../../", import.meta.url);
const path = (p: string) => new URL(p, root).pathname;

/** Perplexity of `model` on `text` (slices of CHECK_CHARS) and on its first slice. */
export function evaluate(model: lb.LlamaModel, text: string) {
  return evaluateSlices(model, text, { checkChars: CHECK_CHARS, seqLen: SEQ_LEN });
}

/** SQNR (dB) of ACT.layer's inputs on calibration seed `seed`, 4-bit per tensor, by range. */
export async function activationSqnr(
  model: lb.LlamaModel,
  train: string,
  seed: number,
): Promise<{ minmax: number; mse: number }> {
  const calib = lb.calibrationSequences(train, { n: ACT.n, seqLen: ACT.seqLen, seed });
  const layer = Number(ACT.layer.split(".")[1]);
  const out = { minmax: NaN, mse: NaN };
  await lb.captureLayerInputs(model, calib, {
    layers: layer + 1,
    progress: false,
    onLinearInput: async (name, x) => {
      if (name !== ACT.layer) return;
      for (const range of ["minmax", "mse"] as const) {
        const q = lb.int(ACT.bits, {
          per: "tensor",
          range: range === "mse" ? MSE : { kind: "minmax" },
        });
        using xq = await lb.fakeQuant(q, x);
        out[range] = (await lb.quantError(x, xq)).sqnr;
      }
    },
  });
  return out;
}

if (import.meta.main) {
  const gpu = await lb.initGPU();
  const valid = await Deno.readTextFile(path("data/corpus/valid.txt"));
  const train = await Deno.readTextFile(path("data/corpus/train.txt"));
  const slice = (seed: number) => valid.slice(seed * EVAL_CHARS, (seed + 1) * EVAL_CHARS);
  const runs: Record<string, unknown>[] = [];
  const t0 = performance.now();
  const log = (r: Record<string, unknown>) => {
    runs.push(r);
    console.log(`${((performance.now() - t0) / 1000).toFixed(0)} s`, JSON.stringify(r));
  };
  const key = (r: Record<string, unknown>) =>
    JSON.stringify([r.kind, r.per, r.range, r.bits, r.seed]);
  const earlier = new Map<string, Record<string, unknown>>();
  if (Deno.args[0]) {
    for (const line of (await Deno.readTextFile(Deno.args[0])).split("\n")) {
      const m = line.match(/^\d+ s (\{.*\})$/);
      if (m) earlier.set(key(JSON.parse(m[1])), JSON.parse(m[1]));
    }
  }
  /** Logs an earlier run of this configuration, if any; false when it must be run. */
  const reuse = (r: Record<string, unknown>) => {
    const e = earlier.get(key(r));
    if (e) log(e);
    return e !== undefined;
  };
  {
    using model = await lb.loadModel(path("data/tiny"));
    for (const seed of SEEDS) {
      if (reuse({ kind: "weights", per: null, range: null, bits: 32, seed })) continue;
      log({
        kind: "weights",
        per: null,
        range: null,
        bits: 32,
        seed,
        bitsPerWeight: 32,
        ...await evaluate(model, slice(seed)),
      });
    }
    for (const seed of SEEDS) {
      if (reuse({ kind: "activations", bits: ACT.bits, seed })) continue;
      log({
        kind: "activations",
        layer: ACT.layer,
        bits: ACT.bits,
        seed,
        sqnr: await activationSqnr(model, train, seed),
      });
    }
  }
  for (const c of CONFIGS) {
    for (const bits of c.bits) {
      if (
        SEEDS.every((seed) =>
          earlier.has(key({ kind: "weights", per: c.per, range: c.range, bits, seed }))
        )
      ) {
        for (const seed of SEEDS) {
          reuse({ kind: "weights", per: c.per, range: c.range, bits, seed });
        }
        continue;
      }
      using model = await lb.loadModel(path("data/tiny"));
      const q = lb.int(bits, { per: c.per, range: c.range === "mse" ? MSE : { kind: "minmax" } });
      const r = await lb.methods.rtn(model, q);
      for (const seed of SEEDS) {
        log({
          kind: "weights",
          per: c.per,
          range: c.range,
          bits,
          seed,
          bitsPerWeight: r.bitsPerWeight,
          ...await evaluate(model, slice(seed)),
        });
      }
    }
  }
  const out = {
    script: "tools/claims/01-rtn-white-paper.ts",
    date: new Date().toISOString(),
    adapter: gpu.adapterName,
    settings: {
      seeds: SEEDS,
      evaluation: {
        source: "data/corpus/valid.txt",
        chars: EVAL_CHARS,
        slices: "seed s: characters [s·chars, (s+1)·chars)",
        seqLen: SEQ_LEN,
        checkChars: CHECK_CHARS,
      },
      weight:
        "int<bits>, symmetric, f16 scales, per tensor or per output channel, min-max or MSE range",
      mse: MSE,
      activations: { ...ACT, source: "data/corpus/train.txt", per: "tensor" },
    },
    runs,
  };
  await Deno.writeTextFile(
    path("data/claims/01-rtn-white-paper.json"),
    JSON.stringify(out, null, 1) + "\n",
  );
  console.log(
    `wrote data/claims/01-rtn-white-paper.json in ${
      ((performance.now() - t0) / 1000).toFixed(0)
    } s`,
  );
}
