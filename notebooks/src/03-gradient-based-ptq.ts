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
// problem in closed form with second-order updates. We ask the paper's questions of it, on the
// embedded 820k-parameter byte-level Llama at int3 with groups of 32: does the calibration set
// (which windows, how many) matter? Does the Hessian damping? The column order (act-order)? Static
// or dynamic group scales? And how do they compare with a better range setting for plain RTN?
//
// **The algorithm** (per linear layer, calibration inputs $X$, layers in order, each calibrated on
// the outputs of the already quantized ones):
//
// - $H = \tfrac{2}{n}X^\top X + \lambda\,\mathrm{mean}(\mathrm{diag}\,H)\,I$ — the damping $\lambda$ ("damp");
// - optionally permute columns by decreasing $H_{jj}$ (act-order);
// - group scales either from the original $W$ (static) or from the current, already-updated
//   columns when a group is entered (dynamic);
// - for $j = 1\dots d_{in}$: $q_j = \mathrm{quant}(w_j)$, $w_k \leftarrow w_k - \frac{w_j - q_j}{U_{jj}} U_{jk}$ for $k > j$, with $H^{-1} = U^\top U$.
//
// Budget: every setting quantizes all 28 decoder linears from scratch and is evaluated by
// perplexity on the first 512 bytes of the validation text; calibration uses 4 (or 8) windows
// of 128 bytes of the training text.

// %%
import * as lb from "../mod.ts";
const gpu = await lb.initGPU();
console.log(gpu.adapterName);
const EVAL_BYTES = 512;
const valid = (await Deno.readTextFile("../data/corpus/valid.txt")).slice(0, EVAL_BYTES);
const train = await Deno.readTextFile("../data/corpus/train.txt");
let base: number;
{
  using fp = await lb.loadModel("../data/tiny");
  base = (await lb.perplexity(fp, valid)).perplexity;
}
console.log(`full precision: perplexity ${base.toFixed(4)} on ${EVAL_BYTES} bytes`);
const MSE: lb.RangeSetting = { kind: "mse", grid: 20, minRatio: 0.3 };
const W3 = lb.int(3, { group: 32 });

// %% [markdown]
// ## Baselines: round to nearest
//
// RTN with min-max group scales (the grid GPTQ uses below) and with MSE-optimal clipping.

// %%
type Run = { setting: string; calib: string; perplexity: number; seconds: number };
const runs: Run[] = [];
for (const [setting, q] of [["RTN, min-max", W3], ["RTN, MSE clipping", lb.int(3, { group: 32, range: MSE })]] as const) {
  using m = await lb.loadModel("../data/tiny");
  const t0 = performance.now();
  await lb.rtn(m, q);
  const seconds = (performance.now() - t0) / 1000;
  runs.push({ setting, calib: "—", perplexity: (await lb.perplexity(m, valid)).perplexity, seconds });
}
console.log(runs.map((r) => `${r.setting}: ${r.perplexity.toFixed(4)}`).join("\n"));

// %% [markdown]
// ## GPTQ, one choice at a time
//
// The reference is GPTQ's usual default ($\lambda = 0.01$, natural column order, dynamic groups)
// on 4 windows (seed 0). From $\lambda = 0.1$, which turns out to be the better damping here, we
// change the calibration set: another random draw of 4 windows (seed 1). Each GPTQ run takes
// 15–20 s on a CPU adapter, so the default run stops there; set `FULL = true` for the other
// choices (act-order with dynamic and with static groups, static groups alone, 8 windows,
// $\lambda$ = 0.001 and 1, $\lambda = 0.01$ on seed 1, GPTQ on the MSE-clipped grid) — about
// four times the run time. The conclusion quotes the `FULL` numbers.

// %%
const FULL = false;
type Setting = { setting: string; n: number; seed: number; q?: lb.Quantizer; options: lb.GptqModelOptions };
const settings: Setting[] = [
  { setting: "GPTQ λ=0.01", n: 4, seed: 0, options: { damp: 0.01 } },
  { setting: "GPTQ λ=0.1", n: 4, seed: 0, options: { damp: 0.1 } },
  { setting: "GPTQ λ=0.1", n: 4, seed: 1, options: { damp: 0.1 } },
];
if (FULL) {
  settings.push(
    { setting: "GPTQ λ=0.1, act-order, dynamic groups", n: 4, seed: 0, options: { damp: 0.1, actOrder: true } },
    { setting: "GPTQ λ=0.1, act-order, static groups", n: 4, seed: 0, options: { damp: 0.1, actOrder: true, staticGroups: true } },
    { setting: "GPTQ λ=0.1", n: 8, seed: 0, options: { damp: 0.1 } },
    { setting: "GPTQ λ=0.01", n: 4, seed: 1, options: { damp: 0.01 } },
    { setting: "GPTQ λ=0.001", n: 4, seed: 0, options: { damp: 0.001 } },
    { setting: "GPTQ λ=1", n: 4, seed: 0, options: { damp: 1 } },
    { setting: "GPTQ λ=0.1, static groups", n: 4, seed: 0, options: { damp: 0.1, staticGroups: true } },
    { setting: "GPTQ λ=0.1, MSE clipping", n: 4, seed: 0, q: lb.int(3, { group: 32, range: MSE }), options: { damp: 0.1 } },
  );
}
for (const s of lb.viz.progress(settings, { label: "GPTQ runs" })) {
  const seqs = lb.calibrationSequences(train, { n: s.n, seqLen: 128, seed: s.seed });
  using m = await lb.loadModel("../data/tiny");
  const report = await lb.gptqModel(m, s.q ?? W3, seqs, { ...s.options, progress: false });
  const perplexity = (await lb.perplexity(m, valid)).perplexity;
  runs.push({ setting: s.setting, calib: `${s.n} × 128, seed ${s.seed}`, perplexity, seconds: report.seconds });
}
lb.viz.showTable(
  runs.map((r) => ({ ...r, perplexity: r.perplexity.toFixed(4), "Δ vs f32": (r.perplexity - base).toFixed(4), seconds: r.seconds.toFixed(1) })),
  { title: `int3 g32 on the embedded model: perplexity on ${EVAL_BYTES} bytes (f32: ${base.toFixed(4)})` },
);

// %%
lb.viz.bar(
  runs.map((r) => r.calib === "—" ? r.setting : `${r.setting} · ${r.calib}`),
  runs.map((r) => r.perplexity - base),
  { title: "Perplexity increase over f32 (int3 g32; lower is better)", yTitle: "Δ perplexity", horizontal: true, height: 460 },
);

// %% [markdown]
// ## The claim
//
// What the abstract says that we can test here: the result is robust to the choice of the
// calibration set. Checked as: two random calibration sets of 4 windows (seeds 0 and 1) at the
// same settings give perplexities that differ by at most a quarter of the damage RTN does (its
// perplexity increase over f32), and GPTQ beats RTN min-max with both. And what the sweep shows matters more than the calibration set: going from
// $\lambda = 0.01$ to $\lambda = 0.1$ moves perplexity by more than that spread. With `FULL`, also:
// act-order is no free gain — with dynamic groups it is worse than the natural order by more than
// the calibration spread, and with static groups not better by more than the spread.

// %%
// claim: GPTQ is robust to the calibration set (spread ≤ ¼ of RTN's damage); damping matters more
{
  const ppl = (setting: string, calib = "4 × 128, seed 0") => runs.find((r) => r.setting === setting && (r.calib === calib || r.calib === "—"))!.perplexity;
  const rtn = ppl("RTN, min-max");
  const sets = ["4 × 128, seed 0", "4 × 128, seed 1"].map((c) => ppl("GPTQ λ=0.1", c));
  const spread = Math.max(...sets) - Math.min(...sets);
  const dampEffect = ppl("GPTQ λ=0.01") - ppl("GPTQ λ=0.1");
  console.log(`calibration sets: ${sets.map((p) => p.toFixed(4)).join(", ")} — spread ${spread.toFixed(4)}; RTN Δ ${(rtn - base).toFixed(4)} (ratio ${(spread / (rtn - base)).toFixed(2)})`);
  console.log(`λ 0.01 → 0.1: ${dampEffect.toFixed(4)}`);
  const checks: [string, boolean][] = [
    ["calibration spread ≤ ¼ of RTN's perplexity increase", spread <= 0.25 * (rtn - base)],
    ["GPTQ (λ=0.1) beats RTN min-max on every calibration set", sets.every((p) => p < rtn)],
    ["λ=0.1 beats λ=0.01 by more than the calibration spread", dampEffect > spread],
  ];
  if (FULL) {
    const actDynamic = ppl("GPTQ λ=0.1, act-order, dynamic groups") - ppl("GPTQ λ=0.1");
    const actStatic = ppl("GPTQ λ=0.1, act-order, static groups") - ppl("GPTQ λ=0.1");
    console.log(`act-order: dynamic groups ${actDynamic.toFixed(4)}, static groups ${actStatic.toFixed(4)}`);
    checks.push(
      ["act-order with dynamic groups is worse by more than the spread", actDynamic > spread],
      ["act-order with static groups gains nothing beyond the spread", actStatic > -spread],
    );
  }
  for (const [what, ok] of checks) console.log(`${ok ? "✓" : "✗"} ${what}`);
  const failed = checks.filter(([, ok]) => !ok);
  if (failed.length) throw new Error(`claim failed: ${failed.map(([w]) => w).join("; ")}`);
}

// %% [markdown]
// ## Conclusion
//
// On the tiny Llama at int3 g32 (perplexity on 512 bytes, f32 2.778; RTN min-max 3.313):
//
// - **The calibration set.** Two random draws of 4 windows give 3.082 and 3.129 at $\lambda = 0.1$
//   (spread 0.047, 9% of RTN's damage); 8 windows give 3.070 (`FULL`). In that sense the paper's
//   robustness claim holds here. But it only holds once the damping is right: at the customary
//   $\lambda = 0.01$ the same two draws give 3.249 and 3.322, and with seed 1 GPTQ is *worse* than
//   RTN min-max — the choice of calibration set then moves perplexity as much as GPTQ's whole gain.
// - **Damping is the knob that matters** among GPTQ's own: $\lambda$ = 0.001 / 0.01 / 0.1 / 1 give
//   3.433 / 3.249 / 3.082 / 3.082 (`FULL`). With 512 calibration tokens for 128–384 inputs, $X^\top X$
//   is poorly estimated and a heavier ridge helps; the usual 0.01 comes from a setting with far
//   more calibration data (128 × 2048 tokens).
// - **Act-order** (`FULL`) does not help here: with dynamic groups (groups of 32 consecutive columns in the
//   permuted order, as in the reference code) it is clearly worse (3.379), with static groups about
//   neutral (3.157); static groups without act-order give 3.137 (`FULL`), dynamic 3.082.
// - **The grid matters more than the rounding.** RTN with MSE-optimal clipping (2.904) beats every
//   GPTQ variant on the min-max grid; GPTQ on the MSE-clipped grid gives 3.006 (`FULL`). That
//   ordering of the two is within the evaluation noise: on the next 1024 bytes of the validation
//   text (measured separately, f32 3.477) GPTQ + MSE clipping (3.671) beats RTN + MSE clipping
//   (3.817). Differences below about 0.1 in this notebook should be read as ties.
//
// **What was not tested / did not transfer.** The paper studies gradient-based learned rounding
// (AdaRound/BRECQ-style), its optimizer and variable choices, non-uniform grids and an
// importance-based mixed precision; lowbit has no gradient-based rounding method, so those parts
// are not reproduced, and the questions above were put to Frantar et al.'s closed-form GPTQ
// instead. At this scale GPTQ's gain over RTN is modest (Δ perplexity 0.30 vs 0.54 at best on the
// min-max grid), smaller than what a better range setting alone buys.
