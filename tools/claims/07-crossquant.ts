/**
 * Sweep for notebooks/07-crossquant: CrossQuant with static column maxima
 * (calibrated on train.txt, folded into the weights) against per-token
 * dynamic activation quantization with the same weights and activation bits,
 * at W8A8, W4A8 and W8A4, for calibration seeds 0, 1, 2. Also the paper's
 * mechanism, the quantization kernel (fraction of nonzero activations that
 * round to zero), of both on the float model's linear inputs.
 * Writes data/claims/07-crossquant.json.
 *
 * Perplexity: first 4096 bytes of valid.txt (256-token windows, 16 × 255
 * predictions); check value: the first 1024 bytes (the first 4 windows).
 * Kernel: the q/o/gate/down inputs of all 4 layers on the first 1024 bytes of
 * valid.txt (4 windows of 256 tokens).
 *
 *   deno run -A tools/claims/07-crossquant.ts
 *
 * @module
 */
import * as lb from "../../mod.ts";
import { ByteTokenizer } from "../../model/mod.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const SEEDS = [0, 1, 2];
const ALPHA = 0.15;
const CALIBRATION = { n: 8, seqLen: 128 };
const EVAL_BYTES = 4096, CHECK_BYTES = 1024, SEQ_LEN = 256;
const KERNEL_INPUTS = /q_proj|o_proj|gate_proj|down_proj/; // q/k/v and gate/up share inputs
const CONFIGS = { W8A8: [8, 8], W4A8: [4, 8], W8A4: [8, 4] } as const;
type ConfigName = keyof typeof CONFIGS;

const gpu = await lb.initGPU();
const valid = await Deno.readTextFile(`${ROOT}data/corpus/valid.txt`);
const train = await Deno.readTextFile(`${ROOT}data/corpus/train.txt`);
const tok = new ByteTokenizer();

/** Perplexity on the first EVAL_BYTES and (check value) on the first CHECK_BYTES, in one pass. */
async function evaluate(model: lb.LlamaModel): Promise<{ perplexity: number; check: number }> {
  const a = await lb.perplexity(model, valid.slice(0, CHECK_BYTES), { seqLen: SEQ_LEN });
  const b = await lb.perplexity(model, valid.slice(CHECK_BYTES, EVAL_BYTES), { seqLen: SEQ_LEN });
  const nll = (a.meanNll * a.tokens + b.meanNll * b.tokens) / (a.tokens + b.tokens);
  return { perplexity: Math.exp(nll), check: a.perplexity };
}

/** Static column maxima of every linear input of the float model, from calibration seed `seed`. */
async function calibrateColumns(model: lb.LlamaModel, seed: number) {
  const sequences = lb.calibrationSequences(train, { ...CALIBRATION, seed });
  const cap = await lb.captureLayerInputs(model, sequences, {
    observers: (name) => new lb.calib.MinMaxObserver(name),
    progress: false,
  });
  const cols = new Map<string, Float32Array>();
  for (const [name, obs] of cap.observers) {
    cols.set(name, (await (obs as lb.calib.MinMaxObserver).finish()).absmax);
  }
  return cols;
}

// ── quantization kernel on the float model's inputs ──────────────────────────
const kernelWindows = Array.from(
  { length: CHECK_BYTES / SEQ_LEN },
  (_, i) => tok.encode(valid.slice(i * SEQ_LEN, (i + 1) * SEQ_LEN)),
);
interface KernelRow {
  seed: number;
  input: string;
  bits: number;
  perToken: number;
  crossQuant: number;
}
const kernels: KernelRow[] = [];
{
  using model = await lb.loadModel(`${ROOT}data/tiny`);
  for (const seed of SEEDS) {
    const cols = await calibrateColumns(model, seed);
    await lb.captureLayerInputs(model, kernelWindows, {
      progress: false,
      onLinearInput: async (name, x) => {
        if (!KERNEL_INPUTS.test(name)) return;
        using columns = lb.Tensor.fromArray(cols.get(name)!);
        for (const bits of [8, 4]) {
          const act = lb.int(bits, { per: "token" });
          using a = lb.methods.perTokenQuantize(x, act);
          using b = lb.methods.crossQuantize(x, { act, alpha: ALPHA, columns });
          kernels.push({
            seed,
            input: name,
            bits,
            perToken: await lb.kernelFraction(x, a),
            crossQuant: await lb.kernelFraction(x, b),
          });
        }
      },
    });
    for (const bits of [8, 4]) {
      const rows = kernels.filter((k) => k.seed === seed && k.bits === bits);
      const m = (f: (k: KernelRow) => number) => rows.reduce((s, k) => s + f(k), 0) / rows.length;
      console.log(
        `kernel int${bits} seed ${seed}: per-token ${m((k) => k.perToken)} CrossQuant ${
          m((k) => k.crossQuant)
        }`,
      );
    }
  }
}

// ── perplexity ───────────────────────────────────────────────────────────────
interface Run {
  config: ConfigName | "fp32";
  method: string;
  seed: number | null;
  bits: number;
  perplexity: number;
  check: number;
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
  const [wbits, abits] = CONFIGS[config];
  const weight = lb.int(wbits), act = lb.int(abits, { per: "token" });
  {
    const t = performance.now();
    using model = await lb.loadModel(`${ROOT}data/tiny`);
    const r = await lb.methods.rtn(model, weight, { act });
    log({
      config,
      method: "per-token",
      seed: null,
      bits: r.bitsPerWeight,
      ...(await evaluate(model)),
      seconds: (performance.now() - t) / 1e3,
    });
  }
  for (const seed of SEEDS) {
    const t = performance.now();
    using model = await lb.loadModel(`${ROOT}data/tiny`);
    const sequences = lb.calibrationSequences(train, { ...CALIBRATION, seed });
    const r = await lb.methods.crossquant(model, weight, { act, alpha: ALPHA, sequences });
    log({
      config,
      method: "CrossQuant",
      seed,
      bits: r.bitsPerWeight,
      ...(await evaluate(model)),
      seconds: (performance.now() - t) / 1e3,
    });
  }
}

const out = {
  script: "tools/claims/07-crossquant.ts",
  date: new Date().toISOString(),
  adapter: gpu.adapterName,
  settings: {
    seeds: SEEDS,
    alpha: ALPHA,
    calibration: { ...CALIBRATION, source: "train.txt" },
    evaluation: {
      bytes: EVAL_BYTES,
      checkBytes: CHECK_BYTES,
      seqLen: SEQ_LEN,
      source: "valid.txt",
    },
    kernel: { bytes: CHECK_BYTES, seqLen: SEQ_LEN, inputs: String(KERNEL_INPUTS) },
    configs: CONFIGS,
    weights: "int, symmetric, per output channel, round to nearest",
    activations:
      "int, symmetric, per token (CrossQuant: per element from row and static column maxima)",
  },
  kernels,
  runs,
};
await Deno.mkdir(`${ROOT}data/claims`, { recursive: true });
await Deno.writeTextFile(
  `${ROOT}data/claims/07-crossquant.json`,
  JSON.stringify(out, null, 1) + "\n",
);
console.log("wrote data/claims/07-crossquant.json");
