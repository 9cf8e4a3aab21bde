// %% [markdown]
// # DFQ: cross-layer equalization and bias correction
//
// M. Nagel, M. van Baalen, T. Blankevoort, M. Welling, *Data-Free Quantization Through Weight
// Equalization and Bias Correction*, ICCV 2019 (arXiv:1906.04721).
//
// **Idea.** Per-tensor weight quantization fails when the channels of a weight have very
// different ranges: one scale must cover the widest channel, and the narrow ones round to a few
// levels. For two consecutive layers joined by a per-channel linear (or positively homogeneous)
// function, channel $i$ can be scaled down in the first layer and up in the second without
// changing the network; DFQ picks the scales that give both layers the same per-channel range.
// Quantization also shifts the mean of each output, $E[\hat y - y] = (\hat W - W)E[x]$; DFQ
// subtracts that shift from the bias.
//
// **Algorithm.** In Llama's MLP, $\mathrm{down}(\mathrm{silu}(\mathrm{gate}\,x) \odot \mathrm{up}\,x)$
// is linear in each row of up_proj, so for the pair $W_1 = $ up_proj, $W_2 = $ down_proj:
//
// 1. $r^{(1)}_i = \max_j |W_1[i,j]|$, $r^{(2)}_i = \max_k |W_2[k,i]|$, $s_i = \sqrt{r^{(1)}_i / r^{(2)}_i}$
// 2. $W_1 \leftarrow \mathrm{diag}(s)^{-1} W_1$, $W_2 \leftarrow W_2\,\mathrm{diag}(s)$ (both ranges become $\sqrt{r^{(1)}_i r^{(2)}_i}$)
// 3. for every linear: $\hat W = Q(W)$, $b \leftarrow b - (\hat W - W)\,E[x]$
//
// The paper takes $E[x]$ from batch-norm statistics (data-free). Llama has no batch norm in
// front of its linears, so here $E[x]$ is the calibration mean of each layer's input (the
// paper's empirical variant), layer by layer on the already-quantized model. The Llama
// linears have no bias; the corrected `QuantLinear`s get one.

// %%
import * as lb from "../mod.ts";
const gpu = await lb.initGPU();
const text = (await Deno.readTextFile("../data/corpus/valid.txt")).slice(0, 1024);
const train = await Deno.readTextFile("../data/corpus/train.txt");
const calibration = lb.calibrationSequences(train, { n: 2, seqLen: 128, seed: 0 });
const ppl = async (m: lb.LlamaModel) => (await lb.perplexity(m, text, { seqLen: 256 })).perplexity;
let fp32: number;
let preserved: number;
let ranges: lb.EqualizationRecord[];
{
  using model = await lb.loadModel("../data/tiny");
  fp32 = await ppl(model);
  // equalization alone must not change the float model
  const ids = Array.from(new TextEncoder().encode(text.slice(0, 64)));
  using before = model.forward([ids]);
  ranges = await lb.crossLayerEqualize(model);
  using after = model.forward([ids]);
  const a = await after.data(), b = await before.data();
  let d = 0, m = 0;
  for (let i = 0; i < a.length; i++) [d, m] = [Math.max(d, Math.abs(a[i] - b[i])), Math.max(m, Math.abs(b[i]))];
  preserved = d / m;
}
console.log(`${gpu.adapterName} · full precision perplexity ${fp32.toFixed(4)} · equalized logits move by ${preserved.toExponential(2)} (relative)`);

// %% [markdown]
// ## Channel ranges of layer 0's up_proj rows and down_proj columns before equalization
//
// After equalization both equal $\sqrt{r^{(1)}_i r^{(2)}_i}$; the spread of the ratio is what
// per-tensor quantization suffers from.

// %%
const r0 = ranges[0];
lb.viz.scatter(r0.upRange, r0.downRange, {
  title: "Layer 0: range of up_proj row i vs down_proj column i (before equalization)",
  xTitle: "r¹ (up_proj row)",
  yTitle: "r² (down_proj column)",
});

// %% [markdown]
// ## W4 per-tensor: RTN vs equalization + bias correction
//
// (In our runs, equalization alone gave 3.3450 and bias correction alone 3.3861 against RTN's
// 3.3845; they are left out here to keep the notebook fast.)

// %%
const q = lb.int(4, { per: "tensor" });
const results: { method: string; perplexity: number }[] = [];
for (const [method, options] of [
  ["RTN", { equalize: false }],
  ["CLE + bias correction", { sequences: calibration }],
] as const) {
  using model = await lb.loadModel("../data/tiny");
  await lb.dfq(model, q, options);
  results.push({ method, perplexity: await ppl(model) });
}
console.log(`W4 per-tensor, perplexity on 1024 bytes of valid.txt (full precision ${fp32.toFixed(4)})`);
lb.viz.showTable(lb.viz.recordsTable(results.map((r) => ({ ...r, perplexity: r.perplexity.toFixed(4) }))));

// %%
lb.viz.bar(results.map((r) => r.method), results.map((r) => r.perplexity), {
  title: "W4 per-tensor perplexity (lower is better)",
  yTitle: "perplexity",
});

// %% [markdown]
// ## The claim
//
// Equalization preserves the float function exactly (up to f32 rounding), and equalization +
// bias correction improves W4 per-tensor perplexity over plain RTN.

// %%
// claim: CLE is function-preserving (1e-4 relative) and CLE + bias correction beats RTN at W4 per-tensor
{
  const [rtn, both] = results.map((r) => r.perplexity);
  console.log(`RTN ${rtn.toFixed(4)} → CLE + BC ${both.toFixed(4)} (fp ${fp32.toFixed(4)}; ${(100 * (rtn - both) / (rtn - fp32)).toFixed(1)}% of the gap)`);
  if (!(preserved < 1e-4)) throw new Error(`claim failed: equalization moved the logits by ${preserved}`);
  if (!(both < rtn)) throw new Error(`claim failed: CLE + BC ${both} is not below RTN ${rtn}`);
}

// %% [markdown]
// ## Conclusion
//
// On the embedded model, equalizing the up → down pairs recovers part of the W4 per-tensor
// loss and bias correction on top of it recovers more (4 × 128 calibration tokens: 3.3136 vs
// RTN 3.3845). In our runs bias correction *alone* (without equalization) did not help
// (3.3861): the mean shift it removes is small next to the rounding noise when the per-tensor
// scale is set by a few wide channels.
// Only the MLP pair is equalized here (attention's v → o pair and the norm → q/k/v path are
// not); the paper's high-bias absorption does not apply (no ReLU).
