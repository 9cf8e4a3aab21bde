/**
 * The sweep shared by notebooks/11-comq and notebooks/12-gpfq: a
 * Hessian-driven integer method (COMQ or GPFQ) against RTN, RTN with an
 * MSE-clipped range, and GPTQ at the same quantizer (equal bits per weight),
 * over calibration seeds, on two measures:
 *
 * - **perplexity** of the whole model, each method run layer by layer on its
 *   own calibration (the library's model-level drivers);
 * - **layer error** (w − ŵ)ᵀH(w − ŵ) / wᵀHw summed over rows, averaged over
 *   the 28 decoder linears, with every solver given the *same* H = 2/n·XᵀX
 *   of the float model's inputs (one layer-wise problem, several solvers).
 *
 * Run i uses calibration seed i and is evaluated on its own slice of
 * valid.txt, characters [i·EVAL_CHARS, (i+1)·EVAL_CHARS), in windows of
 * SEQ_LEN, as sub-slices of CHECK_CHARS (the perplexity of the first is the
 * run's check value). RTN is quantized once and evaluated on every slice.
 * @module
 */
import * as lb from "../../mod.ts";
import { evaluateSlices } from "./_eval.ts";

/** Seeds: calibration seed and evaluation slice of each run. */
export const SEEDS = [0, 1, 2];
/** Calibration windows × tokens per window (every calibrated method). */
export const CALIBRATION = { n: 8, seqLen: 128 };
/** Characters of valid.txt per run; sub-slice of the check value; window length. */
export const EVAL_CHARS = 2048, CHECK_CHARS = 1024, SEQ_LEN = 256;
/** GPTQ's damping. */
export const DAMP = 0.01;
/** MSE range search of the RTN-MSE baseline. */
export const MSE: lb.RangeSetting = { kind: "mse", grid: 20, minRatio: 0.3 };
/** Groups of the int quantizers. */
export const GROUP = 32;

/** The quantizer of `bits` (min-max or MSE-clipped range), groups of {@link GROUP}. */
export function quantizer(bits: number, mse = false): lb.Quantizer {
  return lb.int(bits, { group: GROUP, range: mse ? MSE : undefined });
}

/** The evaluation slice of run `seed`. */
export function evalSlice(valid: string, seed: number): string {
  return valid.slice(seed * EVAL_CHARS, (seed + 1) * EVAL_CHARS);
}

/** Perplexity of `model` on `text` (sub-slices of CHECK_CHARS) and on its first sub-slice. */
export function evaluate(model: lb.LlamaModel, text: string) {
  return evaluateSlices(model, text, { checkChars: CHECK_CHARS, seqLen: SEQ_LEN });
}

/** Σ_rows rᵀHr of r = w − ŵ (ŵ null: of w itself). */
export async function hEnergy(w: lb.Tensor, wq: lb.Tensor | null, h: lb.Tensor): Promise<number> {
  using r = wq ? lb.ops.sub(w, wq) : lb.ops.contiguous(w);
  using rh = lb.ops.matmul(r, h);
  using p = lb.ops.mul(r, rh);
  using s = lb.ops.sumAll(p);
  return await s.item();
}

/** H = 2/n·XᵀX of every decoder linear's input in the float model, by linear name. */
export async function floatHessians(
  model: lb.LlamaModel,
  calibration: readonly ArrayLike<number>[],
): Promise<Map<string, lb.Tensor>> {
  const res = await lb.captureLayerInputs(model, calibration, {
    observers: (name) => new lb.calib.HessianObserver(name),
    progress: false,
  });
  const out = new Map<string, lb.Tensor>();
  for (const [name, obs] of res.observers) {
    out.set(name, await (obs as lb.calib.HessianObserver).finish());
  }
  return out;
}

/** A layer solver: the quantized weight (owned by the caller) of `w` given `h`. */
export type LayerSolver = (w: lb.Tensor, h: lb.Tensor, q: lb.Quantizer) => Promise<lb.Tensor>;

/** GPTQ as a {@link LayerSolver}. */
export const gptqSolver: LayerSolver = async (w, h, q) => {
  const r = await lb.methods.gptq(w, h, q, { damp: DAMP });
  const out = lb.ops.contiguous(r.dequantized);
  r.dispose();
  return out;
};

/** RTN as a {@link LayerSolver}. */
export const rtnSolver: LayerSolver = (w, _h, q) => lb.fakeQuant(q, w);

/** Relative layer errors of every solver on every decoder linear, one shared H per linear. */
export async function layerErrors(
  hessians: Map<string, lb.Tensor>,
  model: lb.LlamaModel,
  q: lb.Quantizer,
  solvers: Record<string, LayerSolver>,
): Promise<{ name: string; errors: Record<string, number> }[]> {
  const rows: { name: string; errors: Record<string, number> }[] = [];
  for (const [name, lin] of model.linears()) {
    const w = (lin as lb.DenseLinear).weight;
    const h = hessians.get(name);
    if (!h) throw new Error(`no Hessian for ${name}`);
    const base = await hEnergy(w, null, h);
    const errors: Record<string, number> = {};
    for (const [s, solve] of Object.entries(solvers)) {
      using wq = await solve(w, h, q);
      errors[s] = (await hEnergy(w, wq, h)) / base;
    }
    rows.push({ name, errors });
  }
  return rows;
}

/** What a notebook's sweep runs. */
export interface HessianSweep {
  /** Notebook name, e.g. "11-comq": writes `data/claims/<notebook>.json`. */
  notebook: string;
  /** The method's name in the runs, e.g. "comq". */
  method: string;
  /** Bit widths, each with groups of {@link GROUP}. */
  bits: number[];
  /** The model-level method. */
  quantizeModel: (
    model: lb.LlamaModel,
    q: lb.Quantizer,
    calibration: Int32Array[],
  ) => Promise<lb.QuantReport<lb.methods.HessianQuantDetails>>;
  /** The same method on one layer. */
  solver: LayerSolver;
  /** Method settings to record. */
  settings: Record<string, unknown>;
}

const root = new URL("../../", import.meta.url);
const path = (p: string) => new URL(p, root).pathname;

/** Runs the sweep and writes its JSON. */
export async function runHessianSweep(s: HessianSweep): Promise<void> {
  const gpu = await lb.initGPU();
  const valid = await Deno.readTextFile(path("data/corpus/valid.txt"));
  const train = await Deno.readTextFile(path("data/corpus/train.txt"));
  const runs: Record<string, unknown>[] = [];
  const layerRuns: Record<string, unknown>[] = [];
  const t0 = performance.now();
  const log = (r: Record<string, unknown>) => {
    runs.push(r);
    console.log(`${((performance.now() - t0) / 1000).toFixed(0)} s`, JSON.stringify(r));
  };
  // layer errors on shared float-model Hessians
  for (const seed of SEEDS) {
    using model = await lb.loadModel(path("data/tiny"));
    const hessians = await floatHessians(
      model,
      lb.calibrationSequences(train, { ...CALIBRATION, seed }),
    );
    try {
      for (const bits of s.bits) {
        const rows = await layerErrors(hessians, model, quantizer(bits), {
          rtn: rtnSolver,
          gptq: gptqSolver,
          [s.method]: s.solver,
        });
        const mean = (k: string) => rows.reduce((a, r) => a + r.errors[k], 0) / rows.length;
        const summary = {
          bits,
          seed,
          mean: { rtn: mean("rtn"), gptq: mean("gptq"), [s.method]: mean(s.method) },
        };
        console.log(
          `${((performance.now() - t0) / 1000).toFixed(0)} s layer errors`,
          JSON.stringify(summary),
        );
        layerRuns.push({ ...summary, layers: rows });
      }
    } finally {
      for (const h of hessians.values()) h.dispose();
    }
  }
  for (const bits of s.bits) {
    for (const mse of [false, true]) {
      using model = await lb.loadModel(path("data/tiny"));
      const r = await lb.methods.rtn(model, quantizer(bits, mse));
      for (const seed of SEEDS) {
        log({
          method: mse ? "rtn-mse" : "rtn",
          bits,
          seed,
          bitsPerWeight: r.bitsPerWeight,
          ...await evaluate(model, evalSlice(valid, seed)),
        });
      }
    }
    for (const seed of SEEDS) {
      const calibration = lb.calibrationSequences(train, { ...CALIBRATION, seed });
      {
        using model = await lb.loadModel(path("data/tiny"));
        const r = await lb.methods.gptqModel(model, quantizer(bits), calibration, {
          damp: DAMP,
          progress: false,
        });
        log({
          method: "gptq",
          bits,
          seed,
          bitsPerWeight: r.bitsPerWeight,
          ...await evaluate(model, evalSlice(valid, seed)),
        });
      }
      {
        using model = await lb.loadModel(path("data/tiny"));
        const r = await s.quantizeModel(model, quantizer(bits), calibration);
        const mean = (k: "relError" | "rtnRelError") =>
          r.details.errors.reduce((a, e) => a + e[k], 0) / r.details.errors.length;
        log({
          method: s.method,
          bits,
          seed,
          bitsPerWeight: r.bitsPerWeight,
          sequentialRelError: mean("relError"),
          sequentialRtnRelError: mean("rtnRelError"),
          ...await evaluate(model, evalSlice(valid, seed)),
        });
      }
    }
  }
  const out = {
    script: `tools/claims/${s.notebook}.ts`,
    date: new Date().toISOString(),
    adapter: gpu.adapterName,
    settings: {
      seeds: SEEDS,
      calibration: { ...CALIBRATION, source: "data/corpus/train.txt" },
      evaluation: {
        source: "data/corpus/valid.txt",
        slice: "run i: characters [i·chars, (i+1)·chars)",
        chars: EVAL_CHARS,
        seqLen: SEQ_LEN,
        checkChars: CHECK_CHARS,
      },
      weight: `int<bits>, symmetric, f16 scales, groups of ${GROUP}; rtn-mse: MSE-clipped range`,
      mse: MSE,
      damp: DAMP,
      layerError:
        "(w−ŵ)ᵀH(w−ŵ)/wᵀHw summed over rows, mean over the 28 decoder linears; H = 2/n·XᵀX of the float model's inputs on the run's calibration windows, the same H for every solver",
      ...s.settings,
    },
    runs,
    layerRuns,
  };
  Deno.mkdirSync(path("data/claims"), { recursive: true });
  await Deno.writeTextFile(
    path(`data/claims/${s.notebook}.json`),
    JSON.stringify(out, null, 1) + "\n",
  );
  console.log(
    `wrote data/claims/${s.notebook}.json in ${((performance.now() - t0) / 1000).toFixed(0)} s`,
  );
}
