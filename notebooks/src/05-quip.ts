// %% [markdown]
// # QuIP: 2-Bit Quantization with Incoherence Processing
//
// J. Chee, Y. Cai, V. Kuleshov, C. De Sa, *QuIP: 2-Bit Quantization of Large Language Models With
// Guarantees*, NeurIPS 2023, [arXiv:2307.13304](https://arxiv.org/abs/2307.13304).
//
// **Idea.** Rounding is easiest when the weights and the Hessian are *incoherent*: no entry is much larger
// than the average and no input direction dominates. QuIP multiplies the weight on both sides by random
// orthogonal matrices (fast randomized Hadamard transforms here), which spreads outliers over all entries,
// rounds the rotated weight with LDLQ — an adaptive rounding with linear error feedback through the
// Hessian, equivalent to GPTQ — and rotates back at inference.

// %% [markdown]
// ## Algorithm
//
// $$\tilde W = U W V^\top,\quad \tilde H = V H V^\top,\quad \hat{\tilde W} = \mathrm{LDLQ}(\tilde W, \tilde H),\quad \hat W = U^\top \hat{\tilde W} V$$
//
// with $U, V$ randomized Hadamard ($H_n\,\mathrm{diag}(\pm1)/\sqrt n$) for power-of-two sizes and Haar-random
// orthogonal matrices otherwise (384 here). Incoherence of a weight: $\mu = \max_{ij}|W_{ij}|\sqrt{mn}/\|W\|_F$.

// %%
import * as lb from "../mod.ts";
await lb.initGPU();
const valid = (await Deno.readTextFile("../data/corpus/valid.txt")).slice(0, 1024);
const train = await Deno.readTextFile("../data/corpus/train.txt");
const sequences = lb.calibrationSequences(train, { n: 8, seqLen: 128, seed: 0 });
const ppl = async (m: lb.LlamaModel) => (await lb.perplexity(m, valid, { seqLen: 256 })).perplexity;
const q = lb.int(2, { group: 32, symmetric: false });
const results: Record<string, number> = {};
{
  using model = await lb.loadModel("../data/tiny");
  results["fp32"] = await ppl(model);
}
{
  using model = await lb.loadModel("../data/tiny");
  await lb.rtn(model, q);
  results["RTN"] = await ppl(model);
}
{
  using model = await lb.loadModel("../data/tiny");
  await lb.quip(model, q, { sequences, incoherence: false });
  results["LDLQ/GPTQ"] = await ppl(model);
}
let report: lb.QuipReport;
{
  using model = await lb.loadModel("../data/tiny");
  report = await lb.quip(model, q, { sequences, seed: 0 });
  results["QuIP (incoherence + LDLQ)"] = await ppl(model);
}
results;

// %%
lb.viz.bar(
  report.incoherence.map((r) => r.name.replace("layers.", "L").replace("self_attn.", "").replace("mlp.", "")),
  report.incoherence.map((r) => r.before / r.after),
  { title: "Incoherence μ(W) / μ(UWVᵀ) per layer", yTitle: "μ before / μ after" },
);

// %%
lb.viz.bar(Object.keys(results), Object.values(results), { title: "Perplexity at 2 bits (uint2, group 32)", yTitle: "perplexity" });

// %%
// claim: incoherence processing lowers μ on most layers and makes 2-bit LDLQ better than RTN and than LDLQ/GPTQ without it
const mean = (xs: number[]) => xs.reduce((s, v) => s + v, 0) / xs.length;
const dropped = report.incoherence.filter((r) => r.after < r.before).length;
const [muBefore, muAfter] = [mean(report.incoherence.map((r) => r.before)), mean(report.incoherence.map((r) => r.after))];
console.log(`μ: mean before ${muBefore.toFixed(2)}, after ${muAfter.toFixed(2)}; lower on ${dropped}/${report.incoherence.length} layers`);
console.log(results);
if (!(muAfter < muBefore && dropped > report.incoherence.length / 2)) throw new Error("incoherence did not drop");
if (!(results["QuIP (incoherence + LDLQ)"] < results["RTN"])) throw new Error("QuIP did not beat RTN at 2 bits");
if (!(results["QuIP (incoherence + LDLQ)"] < results["LDLQ/GPTQ"])) throw new Error("QuIP did not beat LDLQ without incoherence at 2 bits");

// %% [markdown]
// ## Conclusion
//
// At 2 bits (uint2, group 32) incoherence processing is what makes LDLQ work on this model: in a run while
// writing this, RTN 8.82 → LDLQ/GPTQ 7.82 → QuIP 6.50 (fp 3.07). μ drops on average but **not on every
// layer**: a few of this model's weights are already about as incoherent as a random rotation makes them
// (μ ≈ 4–5 either way), so the rotation can raise μ slightly there.
// **What did not reproduce:** at 3 bits (uint3, per channel) QuIP (3.63) beat RTN (3.72) but *not* plain
// GPTQ (3.50) — on this tiny model the weights are already fairly incoherent, and the rotation's
// smearing costs more than it saves once the grid has 8 levels. The claim cell therefore checks 2 bits only.
