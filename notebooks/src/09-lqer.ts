// %% [markdown]
// # LQER: Low-Rank Quantization Error Reconstruction
//
// C. Zhang, J. Cheng, G. A. Constantinides, Y. Zhao, *LQER: Low-Rank Quantization Error Reconstruction
// for LLMs*, ICML 2024, [arXiv:2402.02446](https://arxiv.org/abs/2402.02446).
//
// **Idea.** The error a quantizer leaves behind, $E_q = W - Q(W)$, is approximated by a low-rank matrix
// that runs beside the quantized weight in high precision: $y = xQ(W) + (xA_k)B_k$. A plain SVD of $E_q$
// treats all input channels alike; L²QER first scales the error's rows by the activation magnitudes
// $s$ (from calibration), so the rank budget goes where the activations make errors expensive.

// %% [markdown]
// ## Algorithm
//
// $$E_q = W - Q(W),\qquad S = \mathrm{diag}(s),\ s_i = \mathrm{mean}|x_i|,\qquad S E_q \approx U_k \Sigma_k V_k^\top$$
// $$A_k = S^{-1} U_k,\quad B_k = \Sigma_k V_k^\top,\qquad y = x\,Q(W) + (x A_k) B_k$$
//
// (paper's $y = xW$ layout). The truncated SVD is randomized subspace iteration (`lb.ops.truncatedSvd`);
// the factors count as f16 in the bits per weight.

// %%
import * as lb from "../mod.ts";
await lb.initGPU();
const valid = (await Deno.readTextFile("../data/corpus/valid.txt")).slice(0, 1024);
const train = await Deno.readTextFile("../data/corpus/train.txt");
const sequences = lb.calibrationSequences(train, { n: 8, seqLen: 128, seed: 0 });
const ppl = async (m: lb.LlamaModel) => (await lb.perplexity(m, valid, { seqLen: 256 })).perplexity;
const q = lb.int(3, { group: 32 });
const rank = 8;
const rows: { method: string; bits: number; perplexity: number }[] = [];
{
  using model = await lb.loadModel("../data/tiny");
  rows.push({ method: "fp32", bits: 32, perplexity: await ppl(model) });
}
{
  using model = await lb.loadModel("../data/tiny");
  const r = await lb.rtn(model, q);
  rows.push({ method: "RTN W3 g32", bits: r.bitsPerWeight, perplexity: await ppl(model) });
}
{
  using model = await lb.loadModel("../data/tiny");
  const r = await lb.lqer(model, q, { rank });
  rows.push({ method: `LQER k=${rank}`, bits: r.bitsPerWeight, perplexity: await ppl(model) });
}
let report: lb.LqerReport;
{
  using model = await lb.loadModel("../data/tiny");
  report = await lb.lqer(model, q, { rank, sequences });
  rows.push({ method: `L²QER k=${rank}`, bits: report.bitsPerWeight, perplexity: await ppl(model) });
}
lb.viz.showTable(lb.viz.recordsTable(rows));

// %%
lb.viz.bar(
  report.correction.map((c) => c.name.replace("layers.", "L").replace("self_attn.", "").replace("mlp.", "")),
  report.correction.map((c) => c.sqnrCorrectedDb - c.sqnrQuantDb),
  { title: `SQNR gained by the rank-${rank} L²QER correction, per layer`, yTitle: "ΔSQNR (dB)" },
);

// %%
// claim: at the same quantizer (W3 g32), LQER/L²QER with a small rank beat plain RTN
const rtn = rows[1].perplexity, lqer = rows[2].perplexity, l2qer = rows[3].perplexity;
console.log(`RTN ${rtn.toFixed(3)}, LQER ${lqer.toFixed(3)}, L²QER ${l2qer.toFixed(3)} (fp ${rows[0].perplexity.toFixed(3)})`);
console.log(`bits/weight: RTN ${rows[1].bits.toFixed(2)}, LQER ${rows[2].bits.toFixed(2)}`);
if (!(l2qer < rtn && lqer < rtn)) throw new Error("LQER did not beat RTN at the same quantizer");

// %% [markdown]
// ## Conclusion
//
// A rank-8 correction removes a large part of 3-bit RTN's perplexity increase. The price is large on this
// tiny model: with 128–384-wide layers, rank 8 in f16 adds about 1.5–2 bits per weight (on a 4096-wide LLM
// the same rank costs ~0.06 bits), so the honest comparison at equal *memory* is W3+LQER vs ~W4–W5 RTN;
// the paper's point — a small rank on top of W4 matches much larger formats — needs wide layers to pay off.
//
// **What did not reproduce:** the paper finds L²QER (activation-scaled SVD) better than plain LQER. Here, at
// W3 g32 rank 8, plain LQER was better (3.509 vs 3.558, RTN 3.674, fp 3.069); at W4 per-channel a run while
// writing this had L²QER ahead (3.19 vs 3.23, RTN 3.30). The claim cell checks only that both beat RTN.
