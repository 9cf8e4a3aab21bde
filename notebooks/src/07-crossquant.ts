// %% [markdown]
// # CrossQuant: a smaller quantization kernel for activations
//
// *CrossQuant: A Post-Training Quantization Method with Smaller Quantization Kernel for Precise
// Large Language Model Compression*, 2024 (arXiv preprint).
//
// **Idea.** The paper calls the set of activations that quantize to zero the *quantization
// kernel*, and finds that the accuracy lost to activation quantization grows with the fraction
// of nonzero activations in it. Per-token quantization sets each row's step by the row's
// largest element, often in an outlier channel, so the row's small elements vanish. CrossQuant
// builds each element's step from both its row maximum and its column maximum.
//
// **Algorithm** ($X \in \mathbb R^{T\times C}$, $q_{\max} = 2^{b-1}-1$):
//
// 1. $t_i = \max_j |X_{ij}|$, $c_j = \max_i |X_{ij}|$
// 2. $\Delta_{ij} = t_i^\alpha c_j^{1-\alpha} / q_{\max}$ ($\alpha = 1$ is per-token; we use $\alpha = 0.15$)
// 3. $\hat X_{ij} = \Delta_{ij}\,\mathrm{clamp}(\mathrm{round}(X_{ij}/\Delta_{ij}), -q_{\max}, q_{\max})$
//
// Since $|X_{ij}| \le \min(t_i, c_j) \le t_i^\alpha c_j^{1-\alpha}$ nothing is clipped; the column
// factor can be folded into the weights for deployment. Kernel fraction:
// $\#\{X_{ij} \ne 0, \hat X_{ij} = 0\} / \#\{X_{ij} \ne 0\}$.

// %%
import * as lb from "../mod.ts";
const gpu = await lb.initGPU();
const text = (await Deno.readTextFile("../data/corpus/valid.txt")).slice(0, 512);
const train = await Deno.readTextFile("../data/corpus/train.txt");
const ppl = async (m: lb.LlamaModel) => (await lb.perplexity(m, text, { seqLen: 256 })).perplexity;
let fp32: number;
{
  using model = await lb.loadModel("../data/tiny");
  fp32 = await ppl(model);
}
console.log(`${gpu.adapterName} · full precision perplexity ${fp32.toFixed(4)}`);

// %% [markdown]
// ## Quantization kernel of every linear input (int8 and int4)

// %%
const kernels: { input: string; bits: number; perToken: number; crossQuant: number }[] = [];
{
  using model = await lb.loadModel("../data/tiny");
  const seqs = lb.calibrationSequences(train, { n: 2, seqLen: 128, seed: 0 });
  await lb.captureLayerInputs(model, seqs, {
    progress: false,
    onLinearInput: async (name, x) => {
      if (!/q_proj|o_proj|gate_proj|down_proj/.test(name)) return; // q/k/v and gate/up share inputs
      for (const bits of [8, 4]) {
        const act = lb.int(bits, { per: "token" });
        using a = lb.perTokenQuantize(x, act);
        using b = lb.crossQuantize(x, { act, alpha: 0.15 });
        kernels.push({ input: name, bits, perToken: await lb.kernelFraction(x, a), crossQuant: await lb.kernelFraction(x, b) });
      }
    },
  });
}
for (const bits of [8, 4]) {
  const rows = kernels.filter((k) => k.bits === bits);
  lb.viz.linePlot([
    { name: "per-token", x: rows.map((_, i) => i), y: rows.map((k) => k.perToken) },
    { name: "CrossQuant α=0.15", x: rows.map((_, i) => i), y: rows.map((k) => k.crossQuant) },
  ], { title: `int${bits}: kernel fraction per input (${rows.map((k) => k.input.replace("layers.", "")).join(", ")})`, xTitle: "input", yTitle: "kernel fraction" });
}

// %% [markdown]
// ## Perplexity: W8A8 and W8A4 (int8 per-channel weights)

// %%
const results: { config: string; method: string; perplexity: number }[] = [];
for (const abits of [8, 4]) {
  const act = lb.int(abits, { per: "token" });
  {
    using model = await lb.loadModel("../data/tiny");
    await lb.rtn(model, lb.int(8), { act });
    results.push({ config: `W8A${abits}`, method: "per-token", perplexity: await ppl(model) });
  }
  {
    using model = await lb.loadModel("../data/tiny");
    await lb.crossquant(model, lb.int(8), { act, alpha: 0.15 });
    results.push({ config: `W8A${abits}`, method: "CrossQuant α=0.15", perplexity: await ppl(model) });
  }
}
console.log(`Perplexity on 512 bytes of valid.txt (full precision ${fp32.toFixed(4)})`);
lb.viz.showTable(lb.viz.recordsTable(results.map((r) => ({ ...r, perplexity: r.perplexity.toFixed(4) }))));

// %% [markdown]
// ## The claim
//
// The paper: CrossQuant's kernel is much smaller than per-token's, and W8A8 with CrossQuant
// keeps the full-precision perplexity. What holds here: the mean kernel is smaller at int8 and
// int4, and W8A8 CrossQuant is within 0.5% of full precision. What did **not** reproduce: at
// W8A4 CrossQuant's perplexity is *worse* than per-token's on this model (see the table), so
// a smaller kernel did not mean lower perplexity at 4-bit activations here.

// %%
// claim: CrossQuant's mean quantization kernel is below per-token's (int8 and int4) and W8A8 CrossQuant is within 0.5% of fp
{
  const failed: string[] = [];
  for (const bits of [8, 4]) {
    const rows = kernels.filter((k) => k.bits === bits);
    const mean = (f: (k: typeof rows[0]) => number) => rows.reduce((s, k) => s + f(k), 0) / rows.length;
    const pt = mean((k) => k.perToken), cq = mean((k) => k.crossQuant);
    console.log(`int${bits}: mean kernel per-token ${(100 * pt).toFixed(2)}% · CrossQuant ${(100 * cq).toFixed(2)}%`);
    if (!(cq < pt)) failed.push(`int${bits} kernel ${cq} not below ${pt}`);
  }
  const w8a8 = results.find((r) => r.config === "W8A8" && r.method.startsWith("Cross"))!.perplexity;
  const w8a4 = results.filter((r) => r.config === "W8A4").map((r) => `${r.method} ${r.perplexity.toFixed(4)}`);
  console.log(`W8A8 CrossQuant ${w8a8.toFixed(4)} vs fp ${fp32.toFixed(4)}; W8A4: ${w8a4.join(" · ")}`);
  if (!(w8a8 < fp32 * 1.005)) failed.push(`W8A8 CrossQuant ${w8a8} is not within 0.5% of fp ${fp32}`);
  if (failed.length) throw new Error(`claim failed: ${failed.join("; ")}`);
}

// %% [markdown]
// ## Conclusion
//
// CrossQuant shrinks the quantization kernel as the paper says, most in the inputs with
// outlier channels (o_proj and down_proj inputs of the first layer). But on the tiny model the
// kernel is small already at int8 (a few percent), and at int4 the column factor gives
// elements in wide channels a coarser step than per-token would: perplexity at W8A4 got worse
// (here 3.333 vs 3.279 per-token on 512 bytes; on 1024 bytes 3.910 vs 3.574, and α = 0.5 gave
// 3.671). The paper's evidence is on 6.7B–70B
// OPT/LLaMA models at 8-bit activations, whose massive outliers this model does not have.
