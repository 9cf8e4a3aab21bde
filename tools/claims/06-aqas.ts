/**
 * Sweep for notebooks/06-aqas: the paper's two ideas at W4A8 (int4 per-channel
 * weights, int8 per-token activations), for calibration seeds 0, 1, 2:
 *
 * - AQAS: smoothing scales searched on the error of quantizing weights AND
 *   activations, against the same search on the weight-only error (AWQ-like
 *   objective), and against the strongest fair baseline at equal bits (GPTQ
 *   W4 with the same A8 activations, same calibration); at W4A4 too, where
 *   activation error is large enough for the objective to matter.
 * - SLAC: calibrating on windows as long as the evaluation's (256 tokens)
 *   against short windows (32 tokens), with the same number of tokens.
 *
 * Writes data/claims/06-aqas.json. Perplexity: first 4096 bytes of valid.txt
 * (256-token windows, 16 × 255 predictions); check value: the first 1024
 * bytes (the first 4 windows).
 *
 *   deno run -A tools/claims/06-aqas.ts
 *
 * @module
 */
import * as lb from "../../mod.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const SEEDS = [0, 1, 2];
const EVAL_BYTES = 4096, CHECK_BYTES = 1024, SEQ_LEN = 256;
/** Calibration windows matched to the evaluation length (SLAC) and short ones, equal tokens. */
const CALIBRATION = { n: 4, seqLen: 256 };
const SHORT_CALIBRATION = { n: 32, seqLen: 32 };
const SEARCH_TOKENS = 1024; // every calibration token takes part in the search
const ALPHAS = [0.25, 0.5, 0.75];
const WEIGHT = lb.int(4); // symmetric, per output channel
const ACTS = { A8: lb.int(8, { per: "token" }), A4: lb.int(4, { per: "token" }) } as const;

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
  config: string;
  method: string;
  seed: number | null;
  bits: number;
  perplexity: number;
  check: number;
  alphas?: (number | null)[];
  seconds: number;
}
const runs: Run[] = [];
async function run(
  config: string,
  method: string,
  seed: number | null,
  quantize: (
    m: lb.LlamaModel,
  ) => Promise<{ bitsPerWeight: number; details?: object }>,
) {
  const t = performance.now();
  using model = await lb.loadModel(`${ROOT}data/tiny`);
  const r = await quantize(model);
  const row: Run = {
    config,
    method,
    seed,
    bits: r.bitsPerWeight,
    ...(await evaluate(model)),
    alphas: (r.details as Partial<lb.methods.AqasDetails> | undefined)?.sites?.map((s) => s.alpha),
    seconds: (performance.now() - t) / 1e3,
  };
  runs.push(row);
  await save(false);
  console.log(
    `${config} ${method} seed ${seed}: ppl ${row.perplexity.toFixed(4)} (check ${
      row.check.toFixed(4)
    }) ${row.bits.toFixed(4)} b ${row.seconds.toFixed(0)} s ${row.alphas?.join(",") ?? ""}`,
  );
}

await run("fp32", "fp32", null, () => Promise.resolve({ bitsPerWeight: 32 }));
for (const [aname, act] of Object.entries(ACTS)) {
  const config = `W4${aname}`;
  await run(config, "RTN", null, (m) => lb.methods.rtn(m, WEIGHT, { act }));
  for (const seed of SEEDS) {
    const seqs = lb.calibrationSequences(train, { ...CALIBRATION, seed });
    const aqas = (searchAct: lb.Quantizer | null, sequences = seqs) => (m: lb.LlamaModel) =>
      lb.methods.aqas(m, sequences, {
        weight: WEIGHT,
        act,
        searchAct,
        alphas: ALPHAS,
        searchTokens: SEARCH_TOKENS,
      });
    await run(config, "AQAS", seed, aqas(act));
    await run(config, "weight-only search", seed, aqas(null));
    if (aname === "A8") {
      await run(
        config,
        "GPTQ",
        seed,
        (m) => lb.methods.gptqModel(m, WEIGHT, seqs, { act, progress: false }),
      );
      const short = lb.calibrationSequences(train, { ...SHORT_CALIBRATION, seed });
      await run(config, "AQAS, short calibration", seed, aqas(act, short));
    }
  }
}

/** Writes what was measured so far (after every run, so a stopped sweep keeps its runs). */
async function save(complete: boolean) {
  const out = {
    script: "tools/claims/06-aqas.ts",
    complete,
    date: new Date().toISOString(),
    adapter: gpu.adapterName,
    settings: {
      seeds: SEEDS,
      calibration: { ...CALIBRATION, source: "train.txt" },
      shortCalibration: { ...SHORT_CALIBRATION, source: "train.txt" },
      searchTokens: SEARCH_TOKENS,
      alphas: ALPHAS,
      evaluation: {
        bytes: EVAL_BYTES,
        checkBytes: CHECK_BYTES,
        seqLen: SEQ_LEN,
        source: "valid.txt",
      },
      weight: lb.describe(WEIGHT),
      acts: Object.fromEntries(Object.entries(ACTS).map(([k, q]) => [k, lb.describe(q)])),
      gptq: { damp: 0.01, actOrder: false },
    },
    runs,
  };
  await Deno.mkdir(`${ROOT}data/claims`, { recursive: true });
  await Deno.writeTextFile(`${ROOT}data/claims/06-aqas.json`, JSON.stringify(out, null, 1) + "\n");
}
await save(true);
console.log("wrote data/claims/06-aqas.json");
