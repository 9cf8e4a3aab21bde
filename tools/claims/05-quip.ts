/**
 * Sweep for notebooks/05-quip: QuIP (incoherence + LDLQ) against LDLQ/GPTQ
 * without incoherence (the same code with `incoherence: false`, so the only
 * difference is the rotation) at equal bits, for calibration seeds 0, 1, 2,
 * plus RTN at the same bits for reference. Writes data/claims/05-quip.json.
 *
 * Every run is evaluated on the first 4096 bytes of valid.txt (256-token
 * windows: 16 × 255 predictions); its check value is the perplexity on the
 * first 1024 bytes (the first 4 of those windows), which the notebook
 * recomputes live for seed 0.
 *
 *   deno run -A tools/claims/05-quip.ts
 *
 * @module
 */
import * as lb from "../../mod.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const SEEDS = [0, 1, 2];
const CALIBRATION = { n: 8, seqLen: 128 };
const EVAL_BYTES = 4096, CHECK_BYTES = 1024, SEQ_LEN = 256;
const CONFIGS = {
  "W2 g32": { bits: 2, group: 32 },
  "W3 per channel": { bits: 3 },
} as const;
type ConfigName = keyof typeof CONFIGS;
const quantizer = (c: ConfigName) => {
  const { bits, ...rest } = CONFIGS[c];
  return lb.int(bits, { ...rest, symmetric: false });
};

const gpu = await lb.initGPU();
const valid = await Deno.readTextFile(`${ROOT}data/corpus/valid.txt`);
const train = await Deno.readTextFile(`${ROOT}data/corpus/train.txt`);

/** Perplexity on the first EVAL_BYTES and (check value) on the first CHECK_BYTES, in one pass. */
async function evaluate(model: lb.LlamaModel): Promise<{ perplexity: number; check: number }> {
  const a = await lb.perplexity(model, valid.slice(0, CHECK_BYTES), { seqLen: SEQ_LEN });
  const b = await lb.perplexity(model, valid.slice(CHECK_BYTES, EVAL_BYTES), { seqLen: SEQ_LEN });
  const nll = (a.meanNll * a.tokens + b.meanNll * b.tokens) / (a.tokens + b.tokens);
  return { perplexity: Math.exp(nll), check: a.perplexity };
}

interface Run {
  config: ConfigName | "fp32";
  method: string;
  seed: number | null;
  bits: number;
  perplexity: number;
  check: number;
  muBefore?: number;
  muAfter?: number;
  muLowerLayers?: number;
  layers?: number;
  seconds: number;
}
const runs: Run[] = [];
const log = (r: Run) => {
  runs.push(r);
  console.log(
    `${r.config} ${r.method} seed ${r.seed}: ppl ${r.perplexity.toFixed(4)} (check ${
      r.check.toFixed(4)
    }) ${r.bits.toFixed(4)} b ${r.seconds.toFixed(0)} s`,
  );
};
const mean = (xs: number[]) => xs.reduce((s, v) => s + v, 0) / xs.length;

{
  const t = performance.now();
  using model = await lb.loadModel(`${ROOT}data/tiny`);
  log({
    config: "fp32",
    method: "fp32",
    seed: null,
    bits: 32,
    ...(await evaluate(model)),
    seconds: (performance.now() - t) / 1e3,
  });
}
for (const config of Object.keys(CONFIGS) as ConfigName[]) {
  const q = quantizer(config);
  {
    const t = performance.now();
    using model = await lb.loadModel(`${ROOT}data/tiny`);
    const r = await lb.methods.rtn(model, q);
    log({
      config,
      method: "RTN",
      seed: null,
      bits: r.bitsPerWeight,
      ...(await evaluate(model)),
      seconds: (performance.now() - t) / 1e3,
    });
  }
  for (const seed of SEEDS) {
    const sequences = lb.calibrationSequences(train, { ...CALIBRATION, seed });
    for (const incoherence of [false, true]) {
      const t = performance.now();
      using model = await lb.loadModel(`${ROOT}data/tiny`);
      const r = await lb.methods.quip(model, q, { sequences, seed, incoherence });
      const inc = r.details.incoherence;
      log({
        config,
        method: incoherence ? "QuIP" : "LDLQ/GPTQ",
        seed,
        bits: r.bitsPerWeight,
        ...(await evaluate(model)),
        muBefore: mean(inc.map((x) => x.before)),
        muAfter: mean(inc.map((x) => x.after)),
        muLowerLayers: inc.filter((x) => x.after < x.before).length,
        layers: inc.length,
        seconds: (performance.now() - t) / 1e3,
      });
    }
  }
}

const out = {
  script: "tools/claims/05-quip.ts",
  date: new Date().toISOString(),
  adapter: gpu.adapterName,
  settings: {
    seeds: SEEDS,
    calibration: { ...CALIBRATION, source: "train.txt" },
    evaluation: {
      bytes: EVAL_BYTES,
      checkBytes: CHECK_BYTES,
      seqLen: SEQ_LEN,
      source: "valid.txt",
    },
    configs: CONFIGS,
    symmetric: false,
    damp: 0.01,
  },
  runs,
};
await Deno.mkdir(`${ROOT}data/claims`, { recursive: true });
await Deno.writeTextFile(`${ROOT}data/claims/05-quip.json`, JSON.stringify(out, null, 1) + "\n");
console.log("wrote data/claims/05-quip.json");
