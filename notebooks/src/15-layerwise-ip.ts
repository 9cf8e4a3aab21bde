// %% [markdown]
// # Mixed precision by integer programming (with layer-wise calibration)
//
// I. Hubara, Y. Nahshan, Y. Hanani, R. Banner, D. Soudry, *Improving Post Training Neural
// Quantization: Layer-wise Calibration and Integer Programming*, 2020 (arXiv:2006.10518).
//
// **Idea.** Layers differ in how much quantization hurts them. Measure, for every layer $l$ and
// bit width $b$, the degradation $\Delta L_{l,b}$ when *only* that layer is quantized; assume the
// degradations add up; then choose one bit width per layer by an integer program that minimises
// the summed degradation under a model-size budget. The paper combines this with layer-wise
// calibration (minimising each layer's reconstruction error on calibration data).
//
// **Algorithm.**
//
// $\min_{x}\ \sum_l\sum_b x_{l,b}\,\Delta L_{l,b}\quad\text{s.t.}\quad \sum_l\sum_b x_{l,b}\,n_l\,\mathrm{bpw}_b \le B\sum_l n_l,\quad \sum_b x_{l,b}=1,\ x_{l,b}\in\{0,1\}$
//
// a multiple-choice knapsack, solved exactly by dynamic programming over the layers
// (`lb.alloc.ipAllocate`). Here $\Delta L_{l,b}$ is the KL divergence of the next-token
// distributions to the full-precision model, $b$ runs over the candidate widths (printed below),
// each int-$b$ in groups of 32 with f16 scales ($\mathrm{bpw}_b = b + 16/32$), and the budget $B$
// is the size of uniform int3 g32.

// %% [markdown]
// ## How the claims are measured
//
// The sweep `tools/claims/15-layerwise-ip.ts` stored every number in
// `data/claims/15-layerwise-ip.json`. For each seed it measures the sensitivity table on its own
// windows of train.txt, solves the IP at the budget, and quantizes the IP allocation and uniform
// int3 g32 — which has exactly the budget's size — with the **same solver**: round to nearest,
// or COMQ's layer-wise calibration on the seed's calibration windows (the paper's layer-wise
// step). So each comparison is at equal bits and differs only in the allocation. Every model is
// also compared with the full-precision one by the KL divergence of the next-token distributions
// — the quantity whose per-layer sum the IP minimises.
//
// The notebook reruns two cheap runs live (uniform RTN, and the seed-0 allocation with RTN
// from the stored sensitivity table) on the first slice of the evaluation text.

// %%
import * as lb from "../mod.ts";
const gpu = await lb.initGPU();
interface Run {
  method: string;
  seed: number | null;
  bitsPerWeight: number;
  perplexity: number;
  kl: number;
  check: number;
  slices: number[];
  klSlices: number[];
  predictedIp: number;
  predictedUniform: number;
  allocation: number[];
  sensitivity: lb.alloc.SensitivityRow[];
}
const sweep = JSON.parse(await Deno.readTextFile("../data/claims/15-layerwise-ip.json"));
const S = sweep.settings;
const runs: Run[] = sweep.runs;
const run = (method: string, seed: number | null) => {
  const r = runs.find((r) => r.method === method && r.seed === seed);
  if (!r) throw new Error(`the sweep has no run ${method} seed ${seed}; rerun ${sweep.script}`);
  return r;
};
const E = S.evaluation;
const budget: number = S.budget;
const sens = `${S.sensitivity.n} × ${S.sensitivity.seqLen} tokens`;
const cal = `${S.calibration.n} × ${S.calibration.seqLen} tokens`;
const evaluation = `${E.slices * E.sliceChars} bytes of valid.txt (${E.slices * E.sliceChars / E.seqLen} windows × ${E.seqLen - 1} predictions)`;
console.log(`sweep: ${sweep.script}, ${sweep.date}, ${sweep.adapter}; budget ${budget} bits per weight; candidate widths ${S.sensitivity.bits.join(", ")}; sensitivity on ${sens}, COMQ calibration on ${cal} of train.txt; seeds ${S.seeds.join(", ")}`);

// live: uniform int3 g32 RTN, and the seed-0 IP allocation (from the stored sensitivity) with RTN
const valid = await Deno.readTextFile("../data/corpus/valid.txt");
const first = valid.slice(0, E.sliceChars);
const ppl = async (m: lb.LlamaModel) => (await lb.perplexity(m, first, { seqLen: E.seqLen })).perplexity;
const sensitivity0 = run("sensitivity", 0).sensitivity;
{
  using model = await lb.loadModel("../data/tiny");
  await lb.methods.rtn(model, lb.int(3, { group: 32 }));
  lb.checkStored("uniform int3 g32 RTN perplexity on the first slice", run("uniform-rtn", null).check, await ppl(model));
}
{
  using model = await lb.loadModel("../data/tiny");
  const r = await lb.methods.layerwiseIp(model, { avgBits: budget, sensitivity: sensitivity0, bits: S.sensitivity.bits });
  lb.checkStored("IP allocation (seed 0) + RTN perplexity on the first slice", run("ip-rtn", 0).check, await ppl(model));
}
console.log(`${gpu.adapterName}: the live runs reproduce the stored check values`);

// %% [markdown]
// ## 1. Sensitivity of every layer (seed 0)

// %%
const layerNames = [...new Set(sensitivity0.map((r) => r.layer))];
lb.viz.heatmap(
  S.sensitivity.bits.map((b: number) => layerNames.map((l) => Math.log10(sensitivity0.find((r) => r.layer === l && r.bits === b)!.kl + 1e-6))),
  layerNames.map((l) => l.replace("layers.", "").replace("self_attn.", "").replace("mlp.", "")),
  S.sensitivity.bits.map((b: number) => `${b} bits`),
  { title: "log10 KL when only this layer is quantized (int, g32), seed 0", zTitle: "log10 KL" },
);

// %% [markdown]
// ## 2. The allocation of each seed, and the IP's front (seed 0)

// %%
const items0 = lb.alloc.toAllocItems(sensitivity0, "kl");
lb.viz.showTable(lb.viz.recordsTable(S.seeds.map((s: number) => ({
  seed: s,
  "bits per layer (IP)": run("sensitivity", s).allocation.join(" "),
  "predicted Σ KL, IP": run("sensitivity", s).predictedIp.toFixed(4),
  "predicted Σ KL, uniform int3": run("sensitivity", s).predictedUniform.toFixed(4),
}))), { title: `Allocations at ${budget} bits per weight (layers in model order)` });
const front = lb.alloc.allocationFront(items0, [2.5, 2.75, 3, 3.25, 3.5, 3.75, 4, 4.5, 5, 6, 8.5]);
lb.viz.paretoFront(front.map((p) => ({ name: p.name, bits: p.bits, error: p.error })), {
  title: "IP allocations (seed 0): predicted Σ KL vs bits per weight",
});

// %% [markdown]
// ## 3. Measured: perplexity and KL to full precision

// %%
const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
const std = (v: number[]) => Math.sqrt(v.reduce((a, b) => a + (b - mean(v)) ** 2, 0) / Math.max(1, v.length - 1));
const seedRuns = (method: string) => S.seeds.map((s: number) => run(method, method === "uniform-rtn" ? null : s));
const METHODS: [string, string][] = [
  ["uniform-rtn", "uniform int3 g32, RTN"],
  ["ip-rtn", "IP allocation, RTN"],
  ["uniform-comq", "uniform int3 g32, COMQ"],
  ["ip-comq", "IP allocation, COMQ"],
];
const pm = (v: number[], d = 4) => `${mean(v).toFixed(d)} ± ${std(v).toFixed(d)}`;
lb.viz.showTable(lb.viz.recordsTable(METHODS.map(([m, name]) => ({
  setting: name,
  "bits per weight": pm(seedRuns(m).map((r: Run) => r.bitsPerWeight), 3),
  perplexity: pm(seedRuns(m).map((r: Run) => r.perplexity)),
  "KL to full precision": pm(seedRuns(m).map((r: Run) => r.kl)),
}))), { title: `On ${evaluation}; mean ± std over seeds ${S.seeds.join(", ")}; full precision ${run("fp32", null).perplexity.toFixed(4)}` });

// %% [markdown]
// ## The claims
//
// The paper: at a given model size, the IP's mixed-precision allocation beats uniform
// quantization. Checked with each solver (RTN, and COMQ as the layer-wise calibration), at the
// same bits, paired by seed; and whether the allocation lowers the measured KL to full
// precision — the quantity its additive cost predicts.

// %%
// claim: at the budget of uniform int3 g32, the IP allocation beats uniform int3 with the same solver (RTN, COMQ) and lowers the measured KL
const card = new lb.Scorecard("15-layerwise-ip");
const side = (m: string, metric: "perplexity" | "kl") => ({
  name: METHODS.find(([k]) => k === m)![1],
  bits: Math.max(...seedRuns(m).map((r: Run) => r.bitsPerWeight)),
  values: seedRuns(m).map((r: Run) => r[metric]),
});
const common = {
  better: "lower" as const,
  seeds: S.seeds,
  evaluation: `${evaluation}; sensitivity on ${sens} (seed ${S.sensitivity.seedOffset} + s), COMQ on ${cal} (seed s) of train.txt`,
};
// round to nearest: each seed's allocation on each evaluation slice, paired with uniform RTN on that slice
const pairs: [number, number][] = S.seeds.flatMap((s: number) => Array.from({ length: E.slices }, (_, k) => [s, k]));
const perSlice = (m: string, metric: "slices" | "klSlices") => ({
  name: METHODS.find(([k]) => k === m)![1],
  bits: Math.max(...seedRuns(m).map((r: Run) => r.bitsPerWeight)),
  values: pairs.map(([s, k]) => run(m, m === "uniform-rtn" ? null : s)[metric][k]),
});
const sliceEval = `${E.slices} disjoint slices of ${E.sliceChars} bytes of valid.txt (${E.sliceChars / E.seqLen} windows × ${E.seqLen - 1} predictions each) × ${S.seeds.length} seeds; run label 100·seed + slice; sensitivity on ${sens} of train.txt (seed ${S.sensitivity.seedOffset} + s)`;
const rtnCommon = { better: "lower" as const, seeds: pairs.map(([s, k]) => 100 * s + k), evaluation: sliceEval };
card.claim({
  id: "ip-vs-uniform-rtn",
  statement: `The IP allocation at ${budget} bits per weight has lower perplexity than uniform int3 g32, both rounded to nearest`,
  metric: "perplexity",
  method: perSlice("ip-rtn", "slices"),
  baseline: perSlice("uniform-rtn", "slices"),
  ...rtnCommon,
  note: "RTN is deterministic given the allocation, so the runs pair each seed's allocation with each evaluation slice: the spread holds both the allocation's and the text's variation",
});
card.claim({
  id: "ip-vs-uniform-comq",
  statement: `With layer-wise calibration (COMQ) as the solver, the IP allocation at ${budget} bits beats uniform int3 g32`,
  metric: "perplexity",
  method: side("ip-comq", "perplexity"),
  baseline: side("uniform-comq", "perplexity"),
  ...common,
  note: "the paper's full recipe against the same solver on the uniform allocation, same calibration windows",
});
card.claim({
  id: "ip-lowers-measured-kl",
  statement: "The IP allocation lowers the measured KL to full precision, the quantity its additive cost predicts (RTN)",
  metric: "KL(P_fp ‖ P_quant) per prediction (nats)",
  method: perSlice("ip-rtn", "klSlices"),
  baseline: perSlice("uniform-rtn", "klSlices"),
  ...rtnCommon,
});
card.finish();
card;

// %% [markdown]
// ## Conclusion

// %%
{
  const r = (id: string) => card.records.find((x) => x.id === id)!;
  const WORD = { holds: "holds", fails: "fails", inconclusive: "within the noise" };
  const say = (id: string) =>
    `${r(id).method.name} ${r(id).methodMean.toFixed(4)} ± ${r(id).methodSpread.toFixed(4)} vs ${r(id).baseline.name} ${r(id).baselineMean.toFixed(4)} ± ${r(id).baselineSpread.toFixed(4)} (margin ${r(id).margin.toFixed(4)} ± ${r(id).spread.toFixed(4)}): **${WORD[r(id).outcome]}**`;
  const sens0 = S.seeds.map((s: number) => run("sensitivity", s));
  const pplMean = (m: string) => mean(seedRuns(m).map((x: Run) => x.perplexity));
  const distinct = new Set(sens0.map((x: Run) => x.allocation.join())).size;
  const predGain = mean(sens0.map((x: Run) => 1 - x.predictedIp / x.predictedUniform));
  const measGain = mean(S.seeds.map((s: number) => 1 - run("ip-rtn", s).kl / run("uniform-rtn", null).kl));
  lb.markdown(`At ${budget} bits per weight (uniform int3 g32's size), over ${S.seeds.length} seeds, on ${evaluation}:

- rounded to nearest, per evaluation slice (${E.sliceChars} bytes) and seed: ${say("ip-vs-uniform-rtn")};
- with COMQ as the layer-wise calibration: ${say("ip-vs-uniform-comq")};
- KL to full precision (RTN), per slice and seed: ${say("ip-lowers-measured-kl")}.

${distinct === 1 ? `All ${S.seeds.length} seeds' sensitivity tables gave the same allocation.` : `The ${S.seeds.length} seeds gave ${distinct} different allocations.`}

The IP predicts, from the summed single-layer KLs, that its allocation cuts the degradation of uniform int3 by
${(100 * predGain).toFixed(0)}% on average; measured on the whole model (RTN, the same text), it cuts the KL by ${(100 * measGain).toFixed(0)}%.
Layer-wise calibration moves uniform int3 from ${pplMean("uniform-rtn").toFixed(4)} (RTN) to ${pplMean("uniform-comq").toFixed(4)} (COMQ)
and the IP allocation from ${pplMean("ip-rtn").toFixed(4)} to ${pplMean("ip-comq").toFixed(4)}: comparing "IP + COMQ" with "uniform + RTN"
measures the solver, not the allocation. The paper's IP also chooses activation bits and its layer-wise step tunes biases; only
weight bits are allocated here, and the sensitivity is measured on ${sens} per seed.`);
}
