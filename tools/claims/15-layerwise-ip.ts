/**
 * Sweep behind the claims of notebooks/15-layerwise-ip: the integer-program
 * (IP) bit allocation at 3.5 bits per weight against uniform int3 g32 (also
 * 3.5 bits) with the same solver — round to nearest, and COMQ's layer-wise
 * calibration — over seeds. Seed s draws the sensitivity windows (seed
 * {@link SENS_SEED_OFFSET} + s) and the solver's calibration windows (seed s)
 * from train.txt. Writes `data/claims/15-layerwise-ip.json`.
 *
 * Every model is compared with the full-precision one on the first
 * {@link EVAL_CHARS} characters of valid.txt (ASCII, so bytes), in slices of
 * {@link SLICE_CHARS} and windows of {@link SEQ_LEN}: perplexity and the mean
 * KL(P_fp ‖ P_quant) per prediction (what the IP's additive cost predicts);
 * the first slice's perplexity is the check value the notebook recomputes.
 *
 * Usage: `nice -n 10 deno run -A tools/claims/15-layerwise-ip.ts`
 * @module
 */
import * as lb from "../../mod.ts";

/** Seeds; each picks the sensitivity windows and the calibration windows. */
export const SEEDS = [0, 1, 2];
/** Offset of the sensitivity windows' seed, so they differ from the calibration windows. */
export const SENS_SEED_OFFSET = 100;
/** Sensitivity windows × tokens, and calibration windows × tokens (COMQ). */
export const SENSITIVITY = { n: 2, seqLen: 128 }, CALIBRATION = { n: 4, seqLen: 128 };
/** Budget in stored bits per weight (uniform int3 g32 with f16 scales) and the candidate widths. */
export const BUDGET = 3.5, CANDIDATE_BITS = [2, 3, 4, 8];
/** Evaluation: slices of valid.txt, characters per slice, window length. */
export const SLICES = 4, SLICE_CHARS = 1024, SEQ_LEN = 256;
/** Characters of valid.txt evaluated per run. */
export const EVAL_CHARS = SLICES * SLICE_CHARS;

const root = new URL("../../", import.meta.url);
const path = (p: string) => new URL(p, root).pathname;

/** The evaluation windows of one slice. */
function sliceRows(text: string, k: number): number[][] {
  const ids = new TextEncoder().encode(text.slice(k * SLICE_CHARS, (k + 1) * SLICE_CHARS));
  return Array.from(
    { length: Math.floor(ids.length / SEQ_LEN) },
    (_, w) => Array.from(ids.subarray(w * SEQ_LEN, (w + 1) * SEQ_LEN)),
  );
}

/**
 * Perplexity and KL to the reference logits of every slice (`slices`, `klSlices`), and
 * token-weighted over the text.
 */
async function evaluate(model: lb.LlamaModel, text: string, refs: lb.Tensor[]) {
  let nll = 0, kl = 0, tokens = 0;
  const slices: number[] = [], klSlices: number[] = [];
  for (let k = 0; k < SLICES; k++) {
    const r = await lb.compareModels(refs[k], model, sliceRows(text, k));
    slices.push(r.perplexity);
    klSlices.push(r.kl);
    nll += Math.log(r.perplexity) * r.tokens;
    kl += r.kl * r.tokens;
    tokens += r.tokens;
  }
  return {
    perplexity: Math.exp(nll / tokens),
    kl: kl / tokens,
    check: slices[0],
    slices,
    klSlices,
    tokens,
  };
}

if (import.meta.main) {
  const gpu = await lb.initGPU();
  const text = (await Deno.readTextFile(path("data/corpus/valid.txt"))).slice(0, EVAL_CHARS);
  const train = await Deno.readTextFile(path("data/corpus/train.txt"));
  const outPath = path("data/claims/15-layerwise-ip.json");
  const settings = {
    seeds: SEEDS,
    sensitivity: {
      ...SENSITIVITY,
      seedOffset: SENS_SEED_OFFSET,
      bits: CANDIDATE_BITS,
      metric: "kl",
    },
    calibration: { ...CALIBRATION, source: "data/corpus/train.txt" },
    budget: BUDGET,
    evaluation: {
      source: "data/corpus/valid.txt",
      slices: SLICES,
      sliceChars: SLICE_CHARS,
      seqLen: SEQ_LEN,
    },
    weight: "int<b> g32, symmetric, min-max, f16 scales",
  };
  // runs of an earlier invocation with the same settings are kept (the sweep resumes); the
  // round-to-nearest runs are redone when they lack per-slice numbers
  const done = new Map<string, Record<string, unknown>>();
  try {
    const old = JSON.parse(await Deno.readTextFile(outPath));
    if (
      JSON.stringify(old.settings) === JSON.stringify(settings) && old.adapter === gpu.adapterName
    ) {
      for (const r of old.runs) done.set(`${r.method}|${r.seed}`, r);
    }
  } catch { /* no earlier sweep */ }
  const stored = (method: string, seed: number | null, needSlices = false) => {
    const r = done.get(`${method}|${seed}`);
    return r && (!needSlices || r.slices) ? r : undefined;
  };
  const runs: Record<string, unknown>[] = [];
  const t0 = performance.now();
  const log = (r: Record<string, unknown>) => {
    runs.push(r);
    console.log(
      `${((performance.now() - t0) / 1000).toFixed(0)} s`,
      JSON.stringify({ ...r, sensitivity: undefined }),
    );
  };
  const load = () => lb.loadModel(path("data/tiny"));
  const refs: lb.Tensor[] = [];
  {
    using model = await load();
    for (let k = 0; k < SLICES; k++) refs.push(model.forward(sliceRows(text, k)));
    log(
      stored("fp32", null, true) ??
        { method: "fp32", seed: null, bitsPerWeight: 32, ...await evaluate(model, text, refs) },
    );
  }
  const uniformQ = lb.int(3, { group: 32 });
  if (stored("uniform-rtn", null, true)) log(stored("uniform-rtn", null, true)!);
  else {
    using model = await load();
    const r = await lb.methods.rtn(model, uniformQ);
    log({
      method: "uniform-rtn",
      seed: null,
      bitsPerWeight: r.bitsPerWeight,
      ...await evaluate(model, text, refs),
    });
  }
  for (const seed of SEEDS) {
    const sensRows = lb.calibrationSequences(train, {
      ...SENSITIVITY,
      seed: SENS_SEED_OFFSET + seed,
    });
    const calibration = lb.calibrationSequences(train, { ...CALIBRATION, seed });
    let sensitivity = stored("sensitivity", seed)?.sensitivity as
      | lb.alloc.SensitivityRow[]
      | undefined;
    if (!sensitivity) {
      using model = await load();
      sensitivity = await lb.alloc.layerSensitivity(model, sensRows, { bits: CANDIDATE_BITS });
    }
    const items = lb.alloc.toAllocItems(sensitivity, "kl");
    const ip = lb.alloc.ipAllocate(items, BUDGET);
    const uniformCost = items.reduce((a, it) => a + it.options.find((o) => o.bits === 3)!.cost, 0);
    const common = {
      seed,
      predictedIp: ip.cost,
      predictedUniform: uniformCost,
      allocation: ip.picks.map((p) => p.bits),
    };
    log({ method: "sensitivity", sensitivity, ...common });
    for (const solver of ["rtn", "comq"] as const) {
      const again = stored(`ip-${solver}`, seed, solver === "rtn");
      if (again) log(again);
      else {
        using model = await load();
        const r = await lb.methods.layerwiseIp(model, {
          avgBits: BUDGET,
          sensitivity,
          calibration: solver === "comq" ? calibration : undefined,
        });
        log({
          method: `ip-${solver}`,
          bitsPerWeight: r.bitsPerWeight,
          ...common,
          ...await evaluate(model, text, refs),
        });
      }
      if (solver === "comq" && stored("uniform-comq", seed)) log(stored("uniform-comq", seed)!);
      else if (solver === "comq") {
        using model = await load();
        const r = await lb.methods.comq(model, uniformQ, { calibration });
        log({
          method: "uniform-comq",
          bitsPerWeight: r.bitsPerWeight,
          ...common,
          ...await evaluate(model, text, refs),
        });
      }
    }
  }
  for (const t of refs) t.dispose();
  const out = {
    script: "tools/claims/15-layerwise-ip.ts",
    date: new Date().toISOString(),
    adapter: gpu.adapterName,
    settings,
    runs,
  };
  await Deno.writeTextFile(outPath, JSON.stringify(out, null, 1) + "\n");
  console.log(
    `wrote data/claims/15-layerwise-ip.json in ${((performance.now() - t0) / 1000).toFixed(0)} s`,
  );
}
