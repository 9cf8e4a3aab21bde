// %% [markdown]
// # PTQ leaderboard
//
// Every post-training quantization method of `quant/methods/` on the embedded tiny model, in each
// configuration where the method has the mode: weights int4/int3/int2 in groups of 32 (f16
// scales), W8A8 (int8 per channel, int8 per-token activations), W4A8, the per-channel weight-only
// baselines W4/W5/W6/W8 (one f16 scale per row), LLM-FP4's own FP4 search (weights only, or
// weights and activations), and the layer-wise IP allocation under a 3.5-bit budget. Scores:
// perplexity and KL divergence to the full-precision model (`compareModels`), and the bits per
// weight each row really stores — scales, zeros and low-rank factors counted. Methods: RTN (Nagel
// et al. 2021), GPTQ (Frantar et al. 2022), AWQ (Lin et al. 2023), QuIP (Chee et al. 2023), LQER
// (Zhang et al. 2024), LQ-LoRA (Guo et al. 2023), AQAS (Lee et al. 2023), COMQ (Zhang et al.
// 2024), GPFQ (Zhang, Zhou, Saab 2022), CrossQuant (Liu et al. 2024), LLM-FP4 (Liu et al. 2023),
// DFQ (Nagel et al. 2019), Norm Tweaking (Li et al. 2024, on GPTQ) and layer-wise IP allocation
// with COMQ.
//
// **Equal bits.** A method is only better than another if it is better at no more bits per
// weight. LQER and LQ-LoRA add rank-8 factors to the quantized weight, so LQER "W3 g32" stores
// about 5.1 bits per weight and sits next to the 5-bit per-channel baselines, not next to W3.
// The rows are therefore grouped by bits per weight, and the chart shows the bits–perplexity
// Pareto front: the rows that no other row beats on both.
//
// **How.** All methods × configs do not fit a notebook's time budget on a CPU adapter, so
// `tools/leaderboard.ts` computes them once and stores `data/leaderboard.arrow` (Arrow IPC) and
// `data/leaderboard.json` (with the script, the date, the adapter and the protocol); some rows are
// repeated with calibration seeds 1 and 2. This notebook loads that table, **recomputes two rows
// live** with the same protocol and requires them to equal the stored ones, and makes its
// equal-bits claims from the stored multi-seed rows.

// %%
import * as lb from "../mod.ts";
const gpu = await lb.initGPU();
const table = await lb.calib.readArrowIPC("../data/leaderboard.arrow");
const meta = JSON.parse(await Deno.readTextFile("../data/leaderboard.json"));
console.log(`stored ${meta.date} by ${meta.script} on ${meta.adapter}; this kernel runs on ${gpu.adapterName}`);
console.log(`protocol: ${JSON.stringify(meta.protocol)}`);
type Row = { method: string; config: string; seed: number; perplexity: number; kl: number; top1: number; bits_per_weight: number; error: string };
const all = lb.calib.tableToRecords(table) as Row[];
const ok = all.filter((r) => !r.error);
// the leaderboard proper: one row per method × config (calibration seed 0)
const rows = ok.filter((r) => r.seed === 0 && r.method !== "fp32");
const fp32 = ok.find((r) => r.method === "fp32")!;
const seedsOf = (m: string, c: string) => ok.filter((r) => r.method === m && r.config === c).sort((a, b) => a.seed - b.seed);
const group = (bits: number) => `${Math.floor(bits)}–${Math.floor(bits) + 1} b`;

// %% [markdown]
// ## The rows, grouped by bits per weight
//
// Within each group, rows are sorted by perplexity; `front` marks the rows on the Pareto front
// (no other row has both fewer or equal bits and a lower perplexity). Failed rows keep their
// error text in `data/leaderboard.arrow`.

// %%
const front = new Set(lb.viz.nondominated(rows.map((r) => ({ name: `${r.method} ${r.config}`, bits: r.bits_per_weight, error: r.perplexity }))).map((p) => p.name));
const sorted = [...rows].sort((a, b) => Math.floor(a.bits_per_weight) - Math.floor(b.bits_per_weight) || a.perplexity - b.perplexity);
import { tableFromArrays } from "apache-arrow";
lb.viz.showTable(tableFromArrays({
  bits_group: sorted.map((r) => group(r.bits_per_weight)),
  method: sorted.map((r) => r.method),
  config: sorted.map((r) => r.config),
  bits_per_weight: Float64Array.from(sorted, (r) => r.bits_per_weight),
  perplexity: Float64Array.from(sorted, (r) => r.perplexity),
  kl: Float64Array.from(sorted, (r) => r.kl),
  top1: Float64Array.from(sorted, (r) => r.top1),
  seeds: sorted.map((r) => String(seedsOf(r.method, r.config).length)),
  front: sorted.map((r) => (front.has(`${r.method} ${r.config}`) ? "●" : "")),
}), { title: `Leaderboard by bits per weight (f32 perplexity ${fp32.perplexity.toFixed(3)})`, maxRows: 100 });

// %%
lb.viz.paretoFront(
  rows.map((r) => ({ name: `${r.method} ${r.config}`, bits: r.bits_per_weight, error: r.perplexity })),
  { title: "Perplexity against bits per weight: the Pareto front", xTitle: "bits per weight", yTitle: "perplexity", logY: true },
);

// %% [markdown]
// ## Reproducibility: recompute RTN at W4 g32 and W5 per channel live

// %%
const text = (await Deno.readTextFile("../data/corpus/valid.txt")).slice(0, meta.protocol.evalBytes);
{
  using ref = await lb.loadModel("../data/tiny");
  const live: [string, lb.Quantizer][] = [["W4 g32", lb.int(4, { group: 32 })], ["W5 pc", lb.int(5)]];
  for (const [config, q] of live) {
    using model = await lb.loadModel("../data/tiny");
    await lb.methods.rtn(model, q);
    const r = await lb.compareModels(ref, model, text, { seqLen: meta.protocol.seqLen });
    const stored = rows.find((x) => x.method === "rtn" && x.config === config);
    if (!stored) throw new Error(`data/leaderboard.json has no rtn ${config} row; rerun tools/leaderboard.ts`);
    console.log(`rtn ${config}: live ppl ${r.perplexity.toFixed(6)} kl ${r.kl.toFixed(6)} · stored ppl ${stored.perplexity.toFixed(6)} kl ${stored.kl.toFixed(6)}`);
    lb.checkStored(`rtn ${config} perplexity`, stored.perplexity, r.perplexity, { rel: 1e-5 });
    lb.checkStored(`rtn ${config} KL`, stored.kl, r.kl, { rel: 1e-3 });
  }
}

// %% [markdown]
// ## Claims at equal bits
//
// Each claim compares a calibrated method, over calibration seeds 0, 1, 2, with the strongest
// baseline that stores at least as many bits per weight: the better (by mean perplexity) of RTN
// and GPTQ in the per-channel configuration just above the method's bits. RTN has nothing random,
// so its value is the same in each pair; the spread is that of the method's calibration.

// %%
// claim: at equal bits per weight, low-rank correction and GPTQ against the best plain quantizer
const card = new lb.Scorecard("ptq-leaderboard");
const mean = (v: number[]) => v.reduce((s, x) => s + x, 0) / v.length;
const SEEDS = [0, 1, 2];
// methods without calibration data have one row (seed 0), the same in every pair
const UNCALIBRATED = ["rtn", "lq_lora", "crossquant"];
const side = (method: string, config: string) => {
  const runs = seedsOf(method, config);
  const bySeed = SEEDS.map((s) => runs.find((r) => r.seed === (UNCALIBRATED.includes(method) ? 0 : s)));
  if (bySeed.some((r) => !r)) throw new Error(`${method} ${config}: stored seeds ${runs.map((r) => r.seed)}; need ${SEEDS} (rerun tools/leaderboard.ts ${method} "${config}" --seeds=0,1,2 --resume)`);
  return { name: `${method} ${config}`, bits: bySeed[0]!.bits_per_weight, values: bySeed.map((r) => r!.perplexity) };
};
const strongest = (...cands: [string, string][]) =>
  cands.map(([m, c]) => side(m, c)).sort((a, b) => mean(a.values) - mean(b.values))[0];
const common = {
  metric: "perplexity",
  better: "lower" as const,
  seeds: SEEDS,
  evaluation: `first ${meta.protocol.evalBytes} bytes of valid.txt, windows of ${meta.protocol.seqLen}; seeds are calibration seeds (${meta.protocol.calibration.n} × ${meta.protocol.calibration.seqLen} tokens of train.txt)`,
};
card.claim({
  ...common,
  id: "lqer-w3-vs-5bit",
  statement: "LQER (L²QER, W3 g32 + rank 8) beats plain quantization at the same bits per weight (LQER paper: a low-rank correction recovers most of W3's loss)",
  method: side("lqer", "W3 g32"),
  baseline: strongest(["rtn", "W5 pc"], ["gptq", "W5 pc"]),
});
card.claim({
  ...common,
  id: "lqer-w2-vs-4bit",
  statement: "LQER (L²QER, W2 g32 + rank 8) beats plain quantization at the same bits per weight",
  method: side("lqer", "W2 g32"),
  baseline: strongest(["rtn", "W4 pc"], ["gptq", "W4 pc"]),
});
card.claim({
  ...common,
  id: "lqer-w4-vs-6bit",
  statement: "LQER (L²QER, W4 g32 + rank 8) beats plain quantization at the same bits per weight",
  method: side("lqer", "W4 g32"),
  baseline: strongest(["rtn", "W6 pc"], ["gptq", "W6 pc"]),
});
card.claim({
  ...common,
  id: "gptq-w3-vs-rtn",
  statement: "GPTQ beats round to nearest at W3 g32 (3.5 bits per weight)",
  method: side("gptq", "W3 g32"),
  baseline: side("rtn", "W3 g32"),
});
const best35 = rows.filter((r) => r.bits_per_weight === 3.5).sort((a, b) => a.perplexity - b.perplexity)[0];
card.claim({
  ...common,
  id: "norm-tweaking-w3-vs-gptq",
  statement: "Norm Tweaking improves its base method GPTQ at W3 g32 (3.5 bits per weight)",
  method: side("norm_tweaking", "W3 g32"),
  baseline: side("gptq", "W3 g32"),
  note: `the paper's claim is over its base method; the best 3.5-b row at seed 0 is ${best35.method} ${best35.config}`,
});
card.claim({
  ...common,
  id: "llm-fp4-w4-vs-int4",
  statement: "LLM-FP4's searched FP4 weights (one scale per channel) beat int4 per channel at the same bits per weight",
  method: side("llm_fp4", "FP4 W4"),
  baseline: strongest(["rtn", "W4 pc"], ["gptq", "W4 pc"]),
});
card.finish();
card;

// %%
const best = [...new Set([...rows].sort((a, b) => a.bits_per_weight - b.bits_per_weight).map((r) => group(r.bits_per_weight)))].map((g) => {
  const inG = rows.filter((r) => group(r.bits_per_weight) === g).sort((a, b) => a.perplexity - b.perplexity);
  return `${g}: **${inG[0].method} ${inG[0].config}** ${inG[0].perplexity.toFixed(3)} (${inG[0].bits_per_weight.toFixed(2)} b; ${inG.length} row${inG.length === 1 ? "" : "s"})`;
});
const claimLine = (r: lb.ClaimRecord) =>
  `- ${r.outcome === "holds" ? "✓" : r.outcome === "fails" ? "✗" : "≈"} ${r.method.name} (${r.method.bits.toFixed(2)} b) ${r.methodMean.toFixed(3)} ± ${r.methodSpread.toFixed(3)} ` +
  `vs ${r.baseline.name} (${r.baseline.bits.toFixed(2)} b) ${r.baselineMean.toFixed(3)} ± ${r.baselineSpread.toFixed(3)}: margin ${r.margin.toFixed(3)} ± ${r.spread.toFixed(3)}`;
lb.markdown(
  `## Conclusion\n\nBest row per bits-per-weight group (seed 0; full precision ${fp32.perplexity.toFixed(3)}):\n\n` +
    best.map((b) => `- ${b}`).join("\n") +
    `\n\nThe Pareto front has ${front.size} of ${rows.length} rows: ${[...front].join(", ")}.\n\nClaims at equal bits:\n\n` +
    card.records.map(claimLine).join("\n") +
    `\n\nRegenerate with \`deno run -A tools/leaderboard.ts [method] [config] --seeds=0,1,2 --resume\` after a method changes.`,
);
