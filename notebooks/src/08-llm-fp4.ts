// %% [markdown]
// # LLM-FP4: searched 4-bit floating-point weights and activations
//
// S.-y. Liu, Z. Liu, X. Huang, P. Dong, K.-T. Cheng, *LLM-FP4: 4-Bit Floating-Point Quantized
// Transformers*, EMNLP 2023 (arXiv:2310.16836).
//
// **Idea.** A 4-bit float can split its 3 non-sign bits between exponent and mantissa: E1M2 is a
// uniform grid (like int4), E2M1 is OCP's FP4, E3M0 holds only powers of two. Which split fits
// best, and where to clip, depends on the layer's distribution. LLM-FP4 builds a strong FP
// post-training baseline by *searching* both, per layer, for weights (per-channel maxima) and
// for the input activations (one static per-tensor maximum), minimising the layer's output
// error. (Its second contribution, per-channel activation scales folded into the weights as
// pre-shifted exponent biases, is not implemented in lowbit.)
//
// **Algorithm** (per linear layer, calibration input $X$):
//
// 1. weights: for $f \in \{\mathrm{E1M2}, \mathrm{E2M1}, \mathrm{E3M0}\}$ and each row $r$: $m_r = \beta\max|W_r|$, $\beta \in$ grid; keep each row's best $\beta$ and the format with the least total error
// 2. activations: for $f$ and $\beta$: $m = \beta\max|X|$, $\hat X = Q_f(X; m)$; keep the best $(f, \beta)$
//
// The error is the diagonal approximation of the output error $\|\hat X\hat W^\top - XW^\top\|^2$:
// $\sum_j (\hat W_{rj} - W_{rj})^2 E[x_j^2]$ for weights and $\sum_{t,j} (\hat X_{tj} - X_{tj})^2\|W_{:,j}\|^2$ for
// activations (no cross-channel terms: cheap enough to search on any GPU).

// %%
import * as lb from "../mod.ts";
const gpu = await lb.initGPU();
const text = (await Deno.readTextFile("../data/corpus/valid.txt")).slice(0, 512);
const train = await Deno.readTextFile("../data/corpus/train.txt");
const calibration = lb.calibrationSequences(train, { n: 2, seqLen: 128, seed: 0 });
const ppl = async (m: lb.LlamaModel) => (await lb.perplexity(m, text, { seqLen: 256 })).perplexity;
let fp32: number;
{
  using model = await lb.loadModel("../data/tiny");
  fp32 = await ppl(model);
}
console.log(`${gpu.adapterName} · full precision perplexity ${fp32.toFixed(4)}`);
console.log("E1M2", Array.from(lb.fpFormat("e1m2").values.slice(0, 8)).join(" "));
console.log("E2M1", Array.from(lb.fpFormat("e2m1").values.slice(0, 8)).join(" "));
console.log("E3M0", Array.from(lb.fpFormat("e3m0").values.slice(0, 8)).join(" "));

// %% [markdown]
// ## W4A4: E2M1 with min-max ranges vs the LLM-FP4 search
//
// (For reference: int4 RTN weights with dynamic per-token int4 inputs gave 3.8951 on 1024 bytes in
// our runs.)

// %%
const results: { method: string; perplexity: number }[] = [];
{
  using model = await lb.loadModel("../data/tiny");
  await lb.llmFp4(model, calibration, {
    weightFormats: ["e2m1"], weightRatios: [1], actFormats: ["e2m1"], actRatios: [1],
  });
  results.push({ method: "FP4 E2M1, min-max (static inputs)", perplexity: await ppl(model) });
}
let report: lb.LlmFp4Report;
{
  using model = await lb.loadModel("../data/tiny");
  report = await lb.llmFp4(model, calibration, {
    weightRatios: [1, 0.85, 0.7],
    actRatios: [1, 0.6, 0.4, 0.25],
    searchTokens: 256,
  });
  results.push({ method: "LLM-FP4 search (static inputs)", perplexity: await ppl(model) });
}
console.log(`W4A4 perplexity on 512 bytes of valid.txt (full precision ${fp32.toFixed(4)})`);
lb.viz.showTable(lb.viz.recordsTable(results.map((r) => ({ ...r, perplexity: r.perplexity.toFixed(4) }))));

// %% [markdown]
// ## What the search chose

// %%
const count = (xs: string[]) => xs.reduce((m, x) => m.set(x, (m.get(x) ?? 0) + 1), new Map<string, number>());
const wCount = count(report.choices.map((c) => c.weight));
const aCount = count(report.choices.map((c) => c.act!.format));
const fmts = ["e1m2", "e2m1", "e3m0"];
lb.viz.bar(
  [...fmts.map((f) => `W ${f}`), ...fmts.map((f) => `A ${f}`)],
  [...fmts.map((f) => wCount.get(f) ?? 0), ...fmts.map((f) => aCount.get(f) ?? 0)],
  { title: "Formats chosen by the search (28 linears)", yTitle: "layers" },
);
// %%
lb.viz.showTable(lb.viz.recordsTable(report.choices.map((c) => ({
  layer: c.name,
  weight: c.weight,
  input: c.act!.format,
  "input max": c.act!.maxValue.toFixed(3),
}))));

// %% [markdown]
// ## The claim
//
// Searching the FP format and clipping range is what makes W4A4 FP quantization work: the
// searched model has much lower perplexity than E2M1 with min-max ranges.

// %%
// claim: the LLM-FP4 search beats min-max E2M1 at W4A4
{
  const [minmax, search] = results.map((r) => r.perplexity);
  console.log(`W4A4: E2M1 min-max ${minmax.toFixed(4)} · LLM-FP4 search ${search.toFixed(4)} (fp ${fp32.toFixed(4)})`);
  if (!(search < minmax)) throw new Error(`claim failed: search ${search} is not below min-max ${minmax}`);
}

// %% [markdown]
// ## Conclusion
//
// The search matters far more than the format: with min-max ranges, static per-tensor E2M1
// inputs lose most of the model, while searched clipping (mostly E2M1, a few E1M2/E3M0 layers)
// beats even int4 with dynamic per-token inputs (3.56 vs 3.90 on 1024 bytes in our runs, with
// the full grids) while using one static scale per input.
// W4A4 remains far from full precision on this model (the paper also reports a clear gap at
// W4A4 on LLaMA); in weight-only mode the search gave 3.161 vs 3.205 for min-max E2M1 in our
// runs (not repeated here to keep the notebook fast).
