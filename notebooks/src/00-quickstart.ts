// %% [markdown]
// # lowbit quickstart
//
// A tour of lowbit on the embedded model: a 820k-parameter byte-level Llama trained on the King
// James Bible (`data/tiny`). We detect the GPU, measure the full-precision perplexity, quantize
// every linear layer with round-to-nearest (RTN) in several formats, compare perplexity and bits
// per weight, look at one layer's weights against the int4 and FP4 grids, save one layer's
// activation statistics as an Arrow IPC file, and check what the comparison claims — always at
// equal (or fewer) bits per weight, over three evaluation slices.
//
// **How the numbers are made.** Every configuration on enough text to know the spread does not
// fit a notebook's time budget on a CPU adapter (lavapipe), so `tools/claims/00-quickstart.ts`
// computes them once and stores `data/claims/00-quickstart.json` (with the date, the adapter and
// the settings). RTN has nothing random, so its three "seeds" are three disjoint slices of
// `valid.txt`. This notebook loads that file, **recomputes a cheap part live** (the check value of
// full precision, int4 g32 and NVFP4) and requires it to equal the stored one, then makes its
// claims from the stored values.
// %%
import * as lb from "../mod.ts";
const gpu = await lb.initGPU();
console.log(`${gpu.adapterName} · shader-f16 ${gpu.hasF16} · timestamps ${gpu.hasTimestamps}`);
type Run = { config: string; bits: number; perplexity: number[]; check: number };
const stored = JSON.parse(await Deno.readTextFile("../data/claims/00-quickstart.json")) as {
  date: string;
  adapter: string;
  evaluation: string;
  settings: { seeds: number[]; sliceBytes: number; checkBytes: number; seqLen: number };
  runs: Run[];
};
const S = stored.settings;
const run = (config: string): Run => {
  const r = stored.runs.find((x) => x.config === config);
  if (!r) throw new Error(`data/claims/00-quickstart.json has no run "${config}"; rerun the sweep`);
  return r;
};
console.log(`sweep of ${stored.date} on ${stored.adapter}: ${stored.evaluation}`);
// %% [markdown]
// ## The embedded model at full precision
//
// The live check evaluates the first `checkBytes` of the first slice (the sweep's settings are
// printed below).
// %%
const valid = await Deno.readTextFile("../data/corpus/valid.txt");
const checkText = valid.slice(0, S.checkBytes);
const fp = await lb.loadModel("../data/tiny");
console.log(fp.toString());
const base = await lb.perplexity(fp, checkText, { seqLen: S.seqLen });
console.log(`full precision, live: perplexity ${base.perplexity.toFixed(4)} on ${base.tokens} predictions`);
lb.checkStored("f32 check perplexity", run("f32").check, base.perplexity);
console.log(`settings: ${JSON.stringify(S)}`);
// %% [markdown]
// ## Round to nearest in nine formats
//
// Each configuration quantizes all 28 linear layers (the embedding and the tied output head stay
// in f32). Bits per weight count the codes plus the amortised scales: int4 per channel stores one
// f16 scale per row, int4 g32 one per 32 weights (4.5 b), int4 g64 one per 64 (4.25 b); NVFP4 is
// E2M1 with an E4M3 scale per 16 (4.5 b), MXFP4 E2M1 with an E8M0 scale per 32 (4.25 b). Two of
// them are recomputed live here and must equal the stored check values.
// %%
const live: Record<string, lb.Quantizer> = {
  "int4 group 32": lb.int(4, { group: 32 }),
  "NVFP4": lb.nvfp4(),
};
for (const [name, q] of Object.entries(live)) {
  using model = await lb.loadModel("../data/tiny");
  const report = await lb.methods.rtn(model, q);
  const ppl = await lb.perplexity(model, checkText, { seqLen: S.seqLen });
  console.log(`${name.padEnd(14)} ${report.bitsPerWeight.toFixed(3)} b  live check ${ppl.perplexity.toFixed(6)}`);
  lb.checkStored(`${name} bits per weight`, run(name).bits, report.bitsPerWeight, { rel: 1e-9 });
  lb.checkStored(`${name} check perplexity`, run(name).check, ppl.perplexity);
}
// %% [markdown]
// One Arrow table holds the stored results (mean and sample standard deviation over the three
// slices; any Arrow reader opens it); one chart shows perplexity against bits per weight with the
// Pareto front.
// %%
import { tableFromArrays } from "apache-arrow";
const mean = (v: number[]) => v.reduce((s, x) => s + x, 0) / v.length;
const std = (v: number[]) => Math.sqrt(v.reduce((s, x) => s + (x - mean(v)) ** 2, 0) / (v.length - 1));
const results = tableFromArrays({
  config: stored.runs.map((r) => r.config),
  bits_per_weight: Float64Array.from(stored.runs, (r) => r.bits),
  perplexity_mean: Float64Array.from(stored.runs, (r) => mean(r.perplexity)),
  perplexity_std: Float64Array.from(stored.runs, (r) => std(r.perplexity)),
  check_perplexity: Float64Array.from(stored.runs, (r) => r.check),
});
for (const r of stored.runs) {
  console.log(`${r.config.padEnd(18)} ${r.bits.toFixed(3)} b  perplexity ${mean(r.perplexity).toFixed(4)} ± ${std(r.perplexity).toFixed(4)}`);
}
lb.viz.showTable(results, { title: `RTN on the embedded model (${stored.evaluation})` });
// %%
lb.viz.paretoFront(
  stored.runs.filter((r) => r.config !== "f32").map((r) => ({ name: r.config, bits: r.bits, error: mean(r.perplexity) })),
  {
    title: `Perplexity against bits per weight (RTN; f32: ${mean(run("f32").perplexity).toFixed(3)})`,
    xTitle: "bits per weight",
    yTitle: "perplexity (mean of 3 slices)",
  },
);
// %% [markdown]
// ## One layer's weights against the grids
//
// The histogram of `layers.0.mlp.down_proj`'s weights, with the int4 grid of its first output
// channel (per-channel absmax scale) and the FP4 (E2M1) grid at the same scale overlaid: int4 spaces
// its 16 levels evenly, E2M1 puts more of them near zero where most weights are.
// %%
const down = fp.getLinear("layers.0.mlp.down_proj") as lb.DenseLinear;
const w = await down.weight.data() as Float32Array;
const row0 = w.subarray(0, down.inFeatures);
const amax = row0.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
const int4Grid = Array.from(lb.formats.int4.values, (v) => v * amax / 7);
const e2m1Grid = Array.from(lb.formats.e2m1.values, (v) => v * amax / 6);
lb.viz.histogram(w, { title: "layers.0.mlp.down_proj weights with the int4 grid", grid: int4Grid, bins: 120 });
// %%
lb.viz.histogram(w, { title: "… and with the E2M1 (FP4) grid", grid: e2m1Grid, bins: 120 });
// %% [markdown]
// ## Calibration statistics of one layer's inputs
//
// Run 8 calibration windows through the model and observe the input of `layers.1.mlp.down_proj`
// channel by channel (min, max, absmax, moments, kurtosis, percentiles, outlier channels), then
// save them as an Arrow IPC file that pandas, polars or DuckDB read directly, and read it back.
// %%
const train = await Deno.readTextFile("../data/corpus/train.txt");
const calibIds = lb.calibrationSequences(train, { n: 8, seqLen: 128, seed: 0 });
const observer = new lb.calib.ChannelStatsObserver("layers.1.mlp.down_proj");
await lb.captureLayerInputs(fp, calibIds, {
  onLinearInput: (name, x) => {
    if (name === "layers.1.mlp.down_proj") observer.observe(x);
  },
  progress: false,
});
const stats = await observer.finish();
const channelStats = lb.calib.channelTable([stats]);
await Deno.mkdir("../out", { recursive: true });
await lb.calib.writeArrowIPC(channelStats, "../out/quickstart-down_proj-inputs.arrow");
const reread = await lb.calib.readArrowIPC("../out/quickstart-down_proj-inputs.arrow");
if (reread.numRows !== stats.channels || reread.numCols !== channelStats.numCols) {
  throw new Error(`Arrow round trip: ${reread.numRows}×${reread.numCols} read, ${stats.channels}×${channelStats.numCols} written`);
}
console.log(`saved and read back ${reread.numRows} channels × ${reread.numCols} statistics; ${stats.outliers.count} outlier channels`);
lb.viz.channelChart(stats.absmax, { title: "Per-channel absmax of layers.1.mlp.down_proj inputs" });
// %% [markdown]
// ## Claims
//
// Every comparison is at equal bits per weight, or gives the method fewer bits than its baseline:
// integer groups against the FP4 formats at the same storage (int4 g64 vs MXFP4 at 4.25 b, int4
// g32 vs NVFP4 at 4.5 b), and small groups against more bits per channel (int3 g32 at 3.5 b vs
// int4 per channel at 4.1 b; int4 g32 at 4.5 b vs int5 per channel at 5.1 b). Perplexity is
// paired by evaluation slice.
// %%
// claim: RTN orderings at equal bits per weight on the embedded model
const card = new lb.Scorecard("00-quickstart");
const side = (config: string) => ({ name: `RTN ${config}`, bits: run(config).bits, values: run(config).perplexity });
const common = {
  metric: "perplexity",
  better: "lower" as const,
  seeds: S.seeds,
  evaluation: stored.evaluation,
  note: "RTN has nothing random: the seeds pick disjoint evaluation slices",
};
card.claim({
  ...common,
  id: "int4-g64-vs-mxfp4",
  statement: "At 4.25 bits per weight, int4 with an f16 scale per 64 weights beats MXFP4 (E2M1, E8M0 scale per 32)",
  method: side("int4 group 64"),
  baseline: side("MXFP4"),
});
card.claim({
  ...common,
  id: "int4-g32-vs-nvfp4",
  statement: "At 4.5 bits per weight, int4 with an f16 scale per 32 weights beats NVFP4 (E2M1, E4M3 scale per 16)",
  method: side("int4 group 32"),
  baseline: side("NVFP4"),
});
card.claim({
  ...common,
  id: "int3-g32-vs-int4-channel",
  statement: "int3 in groups of 32 (3.5 b) beats int4 per channel (4.1 b) with fewer bits",
  method: side("int3 group 32"),
  baseline: side("int4 per channel"),
});
card.claim({
  ...common,
  id: "int4-g32-vs-int5-channel",
  statement: "int4 in groups of 32 (4.5 b) beats int5 per channel (5.1 b) with fewer bits",
  method: side("int4 group 32"),
  baseline: side("int5 per channel"),
});
card.finish();
card;
// %%
const pct = (r: lb.ClaimRecord) => (100 * r.margin / r.baselineMean).toFixed(1);
const line = (r: lb.ClaimRecord) =>
  `- ${r.outcome === "holds" ? "✓" : r.outcome === "fails" ? "✗" : "≈ (within the noise)"} ` +
  `**${r.method.name}** (${r.method.bits.toFixed(2)} b) ${r.methodMean.toFixed(3)} ± ${r.methodSpread.toFixed(3)} vs ` +
  `**${r.baseline.name}** (${r.baseline.bits.toFixed(2)} b) ${r.baselineMean.toFixed(3)} ± ${r.baselineSpread.toFixed(3)}: ` +
  `margin ${r.margin.toFixed(3)} ± ${r.spread.toFixed(3)} (${pct(r)}% of the baseline)`;
const conclusion = (
  `## Conclusion\n\nFull precision scores ${mean(run("f32").perplexity).toFixed(3)} (mean of the ${S.seeds.length} slices); ` +
    `int8 per channel ${mean(run("int8 per channel").perplexity).toFixed(3)}. At equal or fewer bits:\n\n` +
    card.records.map(line).join("\n")
);
lb.markdown(conclusion);
// %%
fp.dispose();
