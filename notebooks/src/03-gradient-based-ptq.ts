// %% [markdown]
// # Which choices in GPTQ-style PTQ matter? A small-scale check of the status quo
//
// E. Yvinec, A. Dapogny, K. Bailly, *Gradient-Based Post-Training Quantization: Challenging the
// Status Quo*, 2023, [arXiv:2308.07662](https://arxiv.org/abs/2308.07662). The method run here:
// E. Frantar, S. Ashkboos, T. Hoefler, D. Alistarh, *GPTQ: Accurate Post-Training Quantization for
// Generative Pre-trained Transformers*, ICLR 2023, [arXiv:2210.17323](https://arxiv.org/abs/2210.17323).
//
// **The idea.** Yvinec et al. take apart post-training quantization methods that *learn the
// rounding* of each layer's weights on a small calibration set, and ask which of the customary
// choices matter. Their abstract reports that the process is, to a certain extent, **robust to
// the choice of calibration set** (and to weight selection and feature augmentation), while the
// formulation of the problem — the loss, the degrees of freedom, the quantization grid — is where
// the gains are. Their "GPTQ" means gradient-based PTQ (AdaRound/BRECQ-style learned rounding);
// lowbit's `gptqModel` is Frantar et al.'s GPTQ, which solves the same layer-wise reconstruction
// problem in closed form with second-order updates. We ask the paper's main question of it, on the
// embedded 820k-parameter byte-level Llama at int3 with groups of 32 (3.5 bits per weight with the
// f16 group scales): does the calibration set matter? And two of GPTQ's own choices: the Hessian
// damping, and the column order (act-order).
//
// **The algorithm** (per linear layer, calibration inputs $X$, layers in order, each calibrated on
// the outputs of the already quantized ones):
//
// - $H = \tfrac{2}{n}X^\top X + \lambda\,\mathrm{mean}(\mathrm{diag}\,H)\,I$ — the damping $\lambda$ ("damp");
// - optionally permute columns by decreasing $H_{jj}$ (act-order), with the group scales then
//   taken from the original $W$ (static groups);
// - for $j = 1\dots d_{in}$: $q_j = \mathrm{quant}(w_j)$, $w_k \leftarrow w_k - \frac{w_j - q_j}{U_{jj}} U_{jk}$ for $k > j$, with $H^{-1} = U^\top U$.
//
// **Equal bits and the fair baseline.** Every variant uses the same quantizer (int3, groups of 32,
// one f16 scale per group, ranges chosen by MSE clipping), so all store the same bits; the
// baseline for "GPTQ helps whatever the calibration set" is round-to-nearest on that grid, the
// strongest RTN at these bits (min-max RTN is shown too).
//
// **How the claims are measured.** `tools/claims/03-gradient-based-ptq.ts` runs GPTQ on five
// random calibration sets (seeds 0–4) and the two variants on three of them, each evaluated on the
// same validation text. This notebook loads that sweep, recomputes seed 0 of GPTQ and RTN on the
// first slice of the evaluation text, checks them against the stored numbers, and judges the
// claims over the seeds.

// %%
import * as lb from "../mod.ts";
const gpu = await lb.initGPU();
console.log(gpu.adapterName);
type Run = { method: string; seed: number | null; bitsPerWeight: number; perplexity: number; check: number; seconds?: number };
const stored = JSON.parse(await Deno.readTextFile("../data/claims/03-gradient-based-ptq.json")) as {
  date: string;
  adapter: string;
  settings: {
    seeds: number[];
    choiceSeeds: number[];
    calibration: { n: number; seqLen: number };
    evaluation: { chars: number; seqLen: number; checkChars: number };
    mse: lb.RangeSetting;
    damp: number;
    dampHeavy: number;
  };
  runs: Run[];
};
const { seeds: SEEDS, choiceSeeds: CHOICE_SEEDS, calibration: CALIB, evaluation: EVAL, mse: MSE, damp: DAMP, dampHeavy: DAMP_HEAVY } = stored.settings;
console.log(`sweep of ${stored.date.slice(0, 10)} on ${stored.adapter}: ${stored.runs.length} runs`);
console.log(`calibration: ${CALIB.n} windows × ${CALIB.seqLen} bytes of train.txt per seed`);
const EVALUATION = `the first ${EVAL.chars} bytes of valid.txt, windows of ${EVAL.seqLen} ` +
  `(${EVAL.chars / EVAL.seqLen} windows × ${EVAL.seqLen - 1} predictions); seeds draw the calibration windows`;
/** The stored runs of one method over `seeds` (RTN and f32: the single run, repeated). */
function runsOf(method: string, seeds: number[]): Run[] {
  return seeds.map((seed) => {
    const r = stored.runs.find((x) => x.method === method && (x.seed === null || x.seed === seed));
    if (!r) throw new Error(`no stored run ${method} seed ${seed}`);
    return r;
  });
}
const W3 = lb.int(3, { group: 32, range: MSE });

// %% [markdown]
// ## Live: seed 0 of GPTQ and RTN on the first slice of the evaluation text

// %%
const valid = await Deno.readTextFile("../data/corpus/valid.txt");
const train = await Deno.readTextFile("../data/corpus/train.txt");
const CHECK_TEXT = valid.slice(0, EVAL.checkChars);
{
  using m = await lb.loadModel("../data/tiny");
  const calib = lb.calibrationSequences(train, { n: CALIB.n, seqLen: CALIB.seqLen, seed: SEEDS[0] });
  await lb.methods.gptqModel(m, W3, calib, { damp: DAMP, progress: false });
  const live = (await lb.perplexity(m, CHECK_TEXT, { seqLen: EVAL.seqLen })).perplexity;
  lb.checkStored(`GPTQ W3 g32 MSE seed ${SEEDS[0]}: perplexity on ${EVAL.checkChars} bytes`, runsOf("gptq", SEEDS)[0].check, live);
  console.log(`GPTQ seed ${SEEDS[0]}: ${live.toFixed(4)} (matches the sweep)`);
}
{
  using m = await lb.loadModel("../data/tiny");
  await lb.methods.rtn(m, W3);
  const live = (await lb.perplexity(m, CHECK_TEXT, { seqLen: EVAL.seqLen })).perplexity;
  lb.checkStored(`RTN W3 g32 MSE: perplexity on ${EVAL.checkChars} bytes`, runsOf("rtn-mse", SEEDS)[0].check, live);
  console.log(`RTN: ${live.toFixed(4)} (matches the sweep)`);
}

// %% [markdown]
// ## The sweep

// %%
const mean = (v: number[]) => v.reduce((s, x) => s + x, 0) / v.length;
const std = (v: number[]) => Math.sqrt(v.reduce((s, x) => s + (x - mean(v)) ** 2, 0) / (v.length - 1));
const f32 = runsOf("fp32", [0])[0].perplexity;
const LABELS: Record<string, string> = {
  "rtn": "RTN, min-max",
  "rtn-mse": "RTN, MSE clipping",
  "gptq": `GPTQ λ=${DAMP}`,
  "gptq-damp-heavy": `GPTQ λ=${DAMP_HEAVY}`,
  "gptq-act-order": `GPTQ λ=${DAMP}, act-order, static groups`,
};
const table = Object.entries(LABELS).map(([method, label]) => {
  const rs = stored.runs.filter((r) => r.method === method);
  const ppl = rs.map((r) => r.perplexity);
  return {
    setting: label,
    seeds: rs[0].seed === null ? "—" : rs.map((r) => r.seed).join(", "),
    perplexity: rs.length > 1 ? `${mean(ppl).toFixed(4)} ± ${std(ppl).toFixed(4)}` : ppl[0].toFixed(4),
    "Δ vs f32": (mean(ppl) - f32).toFixed(4),
    values: ppl,
  };
});
lb.viz.showTable(table.map(({ values: _, ...r }) => r), {
  title: `int3 g32 (3.5 bits per weight): perplexity on ${EVAL.chars} bytes (f32: ${f32.toFixed(4)}); mean ± std over calibration seeds`,
});

// %%
lb.viz.linePlot(
  ["gptq", "gptq-damp-heavy", "gptq-act-order"].map((method) => {
    const rs = stored.runs.filter((r) => r.method === method);
    return { name: LABELS[method], x: rs.map((r) => r.seed!), y: rs.map((r) => r.perplexity) };
  }).concat(["rtn-mse"].map((method) => ({
    name: LABELS[method],
    x: SEEDS,
    y: SEEDS.map(() => runsOf(method, [0])[0].perplexity),
  }))),
  { title: "Perplexity by calibration set (int3 g32, MSE grid)", xTitle: "calibration seed", yTitle: "perplexity" },
);

// %% [markdown]
// ## The claims
//
// 1. **Robust to the calibration set** (the paper): GPTQ's gain over the strongest RTN at equal
//    bits is larger than twice its spread over five random calibration sets — the calibration set
//    does not decide whether GPTQ helps.
// 2. **Damping.** A heavier ridge, $\lambda$ = 0.1, beats the customary 0.01 with few calibration
//    tokens. An earlier version of this notebook chose 0.1 after seeing two draws; here it is
//    judged over three calibration sets, with 0.1 fixed beforehand.
// 3. **Act-order** (GPTQ's reference code) with static groups beats the natural column order.

// %%
// claim: GPTQ beats RTN whatever the calibration set; damping and act-order judged over seeds
const card = new lb.Scorecard("03-gradient-based-ptq");
const side = (method: string, seeds: number[]) => {
  const rs = runsOf(method, seeds);
  return { name: LABELS[method], bits: rs[0].bitsPerWeight, values: rs.map((r) => r.perplexity) };
};
card.claim({
  id: "robust-to-calibration-set",
  statement: "PTQ with a calibration set is robust to the choice of that set: GPTQ beats round-to-nearest at int3 g32 by more than twice its spread over random calibration sets",
  metric: "perplexity",
  better: "lower",
  method: side("gptq", SEEDS),
  baseline: side("rtn-mse", SEEDS),
  seeds: SEEDS,
  evaluation: EVALUATION,
  note: `Frantar et al.'s closed-form GPTQ stands in for gradient-based learned rounding; ${CALIB.n} × ${CALIB.seqLen} calibration tokens per set; baseline is RTN on the same MSE-clipped grid`,
});
card.claim({
  id: "damp-heavy-beats-customary",
  statement: `GPTQ with damping λ=${DAMP_HEAVY} beats the customary λ=${DAMP} with ${CALIB.n} × ${CALIB.seqLen} calibration tokens`,
  metric: "perplexity",
  better: "lower",
  method: side("gptq-damp-heavy", CHOICE_SEEDS),
  baseline: side("gptq", CHOICE_SEEDS),
  seeds: CHOICE_SEEDS,
  evaluation: EVALUATION,
  note: `λ=${DAMP_HEAVY} was first picked after seeing two draws (an earlier version of this notebook)`,
});
card.claim({
  id: "act-order-beats-natural-order",
  statement: "GPTQ with act-order (columns by decreasing Hessian diagonal, static groups) beats the natural column order",
  metric: "perplexity",
  better: "lower",
  method: side("gptq-act-order", CHOICE_SEEDS),
  baseline: side("gptq", CHOICE_SEEDS),
  seeds: CHOICE_SEEDS,
  evaluation: EVALUATION,
});
card.finish();
card;

// %% [markdown]
// ## Conclusion

// %%
{
  const r = Object.fromEntries(card.records.map((x) => [x.id, x]));
  const pm = (m: number, s: number) => `${m.toFixed(3)} ± ${s.toFixed(3)}`;
  const say = (id: string) => {
    const x = r[id];
    return `${x.method.name} ${pm(x.methodMean, x.methodSpread)} vs ${x.baseline.name} ${pm(x.baselineMean, x.baselineSpread)}: ` +
      `margin ${x.margin.toFixed(3)} ± ${x.spread.toFixed(3)} over ${x.seeds.length} calibration sets, **${x.outcome}**`;
  };
  const rob = r["robust-to-calibration-set"];
  const rtnMinmax = runsOf("rtn", [0])[0].perplexity;
  lb.markdown(`On the tiny Llama at int3 g32 (perplexity on ${EVAL.chars} bytes; f32 ${f32.toFixed(3)}, RTN min-max ${rtnMinmax.toFixed(3)}):

- **The calibration set.** ${say("robust-to-calibration-set")}. The spread of GPTQ over the calibration sets is ${(100 * rob.methodSpread / (rob.baselineMean - f32)).toFixed(0)}% of the RTN baseline's perplexity increase over f32 — small next to the damage quantization does, but not next to GPTQ's mean gain over that baseline (spread ${rob.spread.toFixed(3)} of the paired gains against a mean of ${rob.margin.toFixed(3)}): the size of GPTQ's gain over RTN on the same grid depends on the calibration set (gain per set: ${rob.method.values.map((v, i) => (rob.baseline.values[i] - v).toFixed(3)).join(", ")}).
- **Damping.** ${say("damp-heavy-beats-customary")}.
- **Act-order.** ${say("act-order-beats-natural-order")}.

**Not tested.** The paper studies gradient-based learned rounding (AdaRound/BRECQ-style), its optimizer and variable choices, non-uniform grids and an importance-based mixed precision; lowbit has no gradient-based rounding method, so those parts are not reproduced, and the questions above were put to the closed-form GPTQ instead.`);
}
