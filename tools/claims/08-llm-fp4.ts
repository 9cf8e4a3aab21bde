/**
 * Sweep for notebooks/08-llm-fp4: W4A4 with the LLM-FP4 search (per-layer FP4
 * format and clip for per-channel weights and static per-tensor inputs),
 * for calibration seeds 0, 1, 2, against FP4 baselines that store at least as
 * many bits per weight:
 *
 * - E2M1 min-max, same granularity (per-channel weights, static per-tensor
 *   inputs calibrated on the same sequences);
 * - E2M1 min-max per-channel weights with dynamic per-token E2M1 inputs;
 * - MXFP4 (E2M1, E8M0 scale per 32 weights: 4.25 b) with inputs in blocks of
 *   32 (dynamic, f32 block scales);
 * - NVFP4 (E2M1, E4M3 scale per 16: 4.5 b) with inputs in blocks of 16.
 *
 * Writes data/claims/08-llm-fp4.json. Perplexity: first 4096 bytes of
 * valid.txt (256-token windows, 16 × 255 predictions); check value: the
 * first 1024 bytes (the first 4 windows).
 *
 *   deno run -A tools/claims/08-llm-fp4.ts
 *
 * @module
 */
import * as lb from "../../mod.ts";

const ROOT = new URL("../../", import.meta.url).pathname;
const SEEDS = [0, 1, 2];
const CALIBRATION = { n: 4, seqLen: 128 };
const EVAL_BYTES = 4096, CHECK_BYTES = 1024, SEQ_LEN = 256;
const SEARCH = { weightRatios: [1, 0.85, 0.7], actRatios: [1, 0.6, 0.4, 0.25], searchTokens: 512 };
const MINMAX = { weightFormats: ["e2m1"], weightRatios: [1], actFormats: ["e2m1"], actRatios: [1] };

const gpu = await lb.initGPU();
const valid = await Deno.readTextFile(`${ROOT}data/corpus/valid.txt`);
const train = await Deno.readTextFile(`${ROOT}data/corpus/train.txt`);

/**
 * A linear layer with a fake-quantized weight whose inputs are quantized in
 * blocks of `block` consecutive channels, each block with its own dynamic
 * scale (E2M1 elements; the block scale is kept in f32).
 */
class BlockActLinear implements lb.Linear {
  readonly inFeatures: number;
  readonly outFeatures: number;
  constructor(
    readonly weight: lb.Tensor,
    readonly bitsPerWeight: number,
    readonly block: number,
  ) {
    [this.outFeatures, this.inFeatures] = weight.shape;
    if (this.inFeatures % block) throw new RangeError(`${this.inFeatures} % ${block} ≠ 0`);
  }
  forward(x: lb.Tensor): lb.Tensor {
    using blocks = x.reshape([x.size / this.block, this.block]);
    using q = lb.methods.perTokenQuantize(blocks, lb.fp("e2m1", { per: "token" }));
    using x2 = q.reshape([x.size / this.inFeatures, this.inFeatures]);
    using y = lb.ops.linear(x2, this.weight);
    return y.reshape([...x.shape.slice(0, -1), this.outFeatures]);
  }
  dispose(): void {
    this.weight.dispose();
  }
  [Symbol.dispose](): void {
    this.dispose();
  }
}

/** W4A4 with block-scaled weights `q` and inputs in blocks of `block`. */
async function blockW4A4(model: lb.LlamaModel, q: lb.Quantizer, block: number) {
  const bits: number[] = [];
  for (const [name, lin] of [...model.linears()]) {
    const w = (lin as lb.methods.WeightedLinear).weight;
    const b = lb.bitsPerWeight(q, w.shape);
    bits.push(b);
    model.setLinear(name, new BlockActLinear(await lb.fakeQuant(q, w), b, block));
  }
  return { bitsPerWeight: bits.reduce((s, v) => s + v, 0) / bits.length };
}

/** Perplexity on the first EVAL_BYTES and (check value) on the first CHECK_BYTES, in one pass. */
async function evaluate(model: lb.LlamaModel): Promise<{ perplexity: number; check: number }> {
  const a = await lb.perplexity(model, valid.slice(0, CHECK_BYTES), { seqLen: SEQ_LEN });
  const b = await lb.perplexity(model, valid.slice(CHECK_BYTES, EVAL_BYTES), { seqLen: SEQ_LEN });
  const nll = (a.meanNll * a.tokens + b.meanNll * b.tokens) / (a.tokens + b.tokens);
  return { perplexity: Math.exp(nll), check: a.perplexity };
}

interface Run {
  method: string;
  seed: number | null;
  bits: number;
  perplexity: number;
  check: number;
  choices?: { name: string; weight: string; act?: string }[];
  seconds: number;
}
const runs: Run[] = [];
async function run(
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
    method,
    seed,
    bits: r.bitsPerWeight,
    ...(await evaluate(model)),
    choices: (r.details as Partial<lb.methods.LlmFp4Details> | undefined)?.choices?.map((c) => ({
      name: c.name,
      weight: c.weight,
      act: c.act?.format,
    })),
    seconds: (performance.now() - t) / 1e3,
  };
  runs.push(row);
  console.log(
    `${method} seed ${seed}: ppl ${row.perplexity.toFixed(4)} (check ${row.check.toFixed(4)}) ${
      row.bits.toFixed(4)
    } b ${row.seconds.toFixed(0)} s`,
  );
}

await run("fp32", null, () => Promise.resolve({ bitsPerWeight: 32 }));
await run(
  "E2M1 min-max, per-token inputs",
  null,
  (m) => lb.methods.rtn(m, lb.fp("e2m1"), { act: lb.fp("e2m1", { per: "token" }) }),
);
await run("MXFP4 W4A4", null, (m) => blockW4A4(m, lb.mxfp4(), 32));
await run("NVFP4 W4A4", null, (m) => blockW4A4(m, lb.nvfp4(), 16));
for (const seed of SEEDS) {
  const seqs = lb.calibrationSequences(train, { ...CALIBRATION, seed });
  await run("LLM-FP4 search", seed, (m) => lb.methods.llmFp4(m, seqs, SEARCH));
  await run("E2M1 min-max, static inputs", seed, (m) => lb.methods.llmFp4(m, seqs, MINMAX));
}

const out = {
  script: "tools/claims/08-llm-fp4.ts",
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
    search: SEARCH,
    minmax: MINMAX,
    blockActivations: "E2M1, dynamic absmax scale per block of input channels, kept in f32",
  },
  runs,
};
await Deno.mkdir(`${ROOT}data/claims`, { recursive: true });
await Deno.writeTextFile(`${ROOT}data/claims/08-llm-fp4.json`, JSON.stringify(out, null, 1) + "\n");
console.log("wrote data/claims/08-llm-fp4.json");
