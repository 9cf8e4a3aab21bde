/**
 * Sweep behind the claims of notebooks/14-dfq: cross-layer equalization
 * (CLE) and bias correction (BC) against RTN at W4 per-tensor, and against the
 * per-channel baselines that store as many bits as the correction's biases;
 * CLE's effect on the float logits; W8 per-tensor. Writes
 * `data/claims/14-dfq.json`.
 *
 * Every quantized model is evaluated on the first {@link EVAL_CHARS}
 * characters of valid.txt (ASCII, so bytes) as {@link SLICES} slices of
 * {@link SLICE_CHARS} in windows of {@link SEQ_LEN}; each slice's perplexity
 * is stored (deterministic methods use the slices as their runs), the
 * token-weighted mean NLL gives the whole text's perplexity (runs over
 * calibration seeds use that), and the first slice's perplexity is the cheap
 * check value the notebook recomputes live.
 *
 * Usage: `nice -n 10 deno run -A tools/claims/14-dfq.ts`
 * @module
 */
import * as lb from "../../mod.ts";

/** Calibration seeds (bias correction and GPTQ draw their windows of train.txt with them). */
export const SEEDS = [0, 1, 2];
/** Calibration windows × tokens per window. */
export const CALIBRATION = { n: 4, seqLen: 128 };
/** Evaluation: slices of valid.txt, characters per slice, window length. */
export const SLICES = 4, SLICE_CHARS = 1024, SEQ_LEN = 256;
/** Characters of valid.txt evaluated per run. */
export const EVAL_CHARS = SLICES * SLICE_CHARS;
/** Bits of one stored bias entry (an f16, like the scales). */
export const BIAS_BITS = 16;

const root = new URL("../../", import.meta.url);
const path = (p: string) => new URL(p, root).pathname;

/** Perplexity per slice, of the whole text, and of the first slice (the check value). */
async function evaluate(model: lb.LlamaModel, text: string) {
  let nll = 0, tokens = 0;
  const slices: number[] = [];
  for (let k = 0; k < SLICES; k++) {
    const part = text.slice(k * SLICE_CHARS, (k + 1) * SLICE_CHARS);
    const r = await lb.perplexity(model, part, { seqLen: SEQ_LEN });
    slices.push(r.perplexity);
    nll += r.meanNll * r.tokens;
    tokens += r.tokens;
  }
  return { perplexity: Math.exp(nll / tokens), slices, check: slices[0], tokens };
}

/** Mean stored bits per weight of a report's layers, plus one bias entry per output row. */
function bitsWithBias(report: lb.QuantReport): number {
  let bits = 0, n = 0;
  for (const l of report.layers) {
    bits += l.bitsPerWeight * l.out * l.in + BIAS_BITS * l.out;
    n += l.out * l.in;
  }
  return bits / n;
}

/** The first window of each slice, as token ids. */
function firstWindows(text: string): number[][] {
  return Array.from(
    { length: SLICES },
    (_, k) =>
      Array.from(new TextEncoder().encode(text.slice(k * SLICE_CHARS, k * SLICE_CHARS + SEQ_LEN))),
  );
}

/** max |a − b| / max |b| of each row `[rows, …]`. */
async function relativeChange(after: lb.Tensor, before: lb.Tensor): Promise<number[]> {
  const a = await after.data(), b = await before.data();
  const rows = before.shape[0], per = b.length / rows;
  return Array.from({ length: rows }, (_, r) => {
    let d = 0, m = 0;
    for (let i = r * per; i < (r + 1) * per; i++) {
      d = Math.max(d, Math.abs(a[i] - b[i]));
      m = Math.max(m, Math.abs(b[i]));
    }
    return d / m;
  });
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
  const load = () => lb.loadModel(path("data/tiny"));
  {
    using model = await load();
    log({
      method: "fp32",
      bits: 32,
      quantizer: "none",
      seed: null,
      bitsPerWeight: 32,
      ...await evaluate(model, text),
    });
    using before = model.forward(firstWindows(text));
    await lb.methods.crossLayerEqualize(model);
    using after = model.forward(firstWindows(text));
    log({
      method: "cle-fp32",
      bits: 32,
      quantizer: "none",
      seed: null,
      bitsPerWeight: 32,
      logitChange: await relativeChange(after, before),
    });
  }
  const perTensor = (b: number) => lb.int(b, { per: "tensor" });
  for (const bits of [4, 8]) {
    for (const [method, equalize] of [["rtn", false], ["cle", true]] as const) {
      using model = await load();
      const r = await lb.methods.dfq(model, perTensor(bits), { equalize });
      log({
        method,
        bits,
        quantizer: "per-tensor",
        seed: null,
        bitsPerWeight: r.bitsPerWeight,
        ...await evaluate(model, text),
      });
    }
  }
  for (
    const [method, q, equalize] of [
      ["rtn", lb.int(4), false],
      ["rtn-mse", lb.int(4, { range: { kind: "mse", grid: 100, minRatio: 0.2 } }), false],
      ["cle", lb.int(4), true],
    ] as const
  ) {
    using model = await load();
    const r = await lb.methods.dfq(model, q, { equalize });
    log({
      method,
      bits: 4,
      quantizer: "per-channel",
      seed: null,
      bitsPerWeight: r.bitsPerWeight,
      ...await evaluate(model, text),
    });
  }
  for (const seed of SEEDS) {
    const calibration = lb.calibrationSequences(train, { ...CALIBRATION, seed });
    {
      using model = await load();
      const r = await lb.methods.dfq(model, perTensor(4), { sequences: calibration });
      log({
        method: "cle+bc",
        bits: 4,
        quantizer: "per-tensor",
        seed,
        bitsPerWeight: bitsWithBias(r),
        bitsWithoutBias: r.bitsPerWeight,
        ...await evaluate(model, text),
      });
    }
    {
      using model = await load();
      const r = await lb.methods.gptqModel(model, lb.int(4), calibration, { progress: false });
      log({
        method: "gptq",
        bits: 4,
        quantizer: "per-channel",
        seed,
        bitsPerWeight: r.bitsPerWeight,
        ...await evaluate(model, text),
      });
    }
  }
  const out = {
    script: "tools/claims/14-dfq.ts",
    date: new Date().toISOString(),
    adapter: gpu.adapterName,
    settings: {
      seeds: SEEDS,
      calibration: { ...CALIBRATION, source: "data/corpus/train.txt" },
      evaluation: {
        source: "data/corpus/valid.txt",
        slices: SLICES,
        sliceChars: SLICE_CHARS,
        seqLen: SEQ_LEN,
      },
      logitChange: `max |Δlogit| / max |logit| on the first ${SEQ_LEN} characters of each slice`,
      weight: "int<bits>, symmetric, min-max, f16 scales; per tensor or per output channel",
      mse: { grid: 100, minRatio: 0.2 },
      biasBits: BIAS_BITS,
    },
    runs,
  };
  await Deno.writeTextFile(path("data/claims/14-dfq.json"), JSON.stringify(out, null, 1) + "\n");
  console.log(`wrote data/claims/14-dfq.json in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
}
