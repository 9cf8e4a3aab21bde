// %% [markdown]
// # GPTQ: second-order weight quantization
//
// E. Frantar, S. Ashkboos, T. Hoefler, D. Alistarh, *GPTQ: Accurate Post-Training Quantization
// for Generative Pre-trained Transformers*, ICLR 2023, [arXiv:2210.17323](https://arxiv.org/abs/2210.17323).
//
// **The idea.** Round-to-nearest (RTN) rounds every weight on its own. GPTQ quantizes a layer's
// weight one input column at a time and, after rounding column $j$, moves its rounding error
// onto the columns not yet quantized — in the direction that keeps the layer's *output* on the
// calibration inputs unchanged, as measured by the Hessian $H = \tfrac{2}{n}X^\top X$ of the
// layer-wise loss $\lVert WX - \hat W X\rVert^2$. This is Optimal Brain Quantization with a fixed
// column order, with $H^{-1}$ updated through one Cholesky factor and updates batched in blocks.
//
// **The algorithm** (per layer; $U$ upper with $H^{-1} = U^\top U$):
//
// 1. $H \leftarrow H + \lambda I$, $\lambda = 0.01\cdot\mathrm{mean}(\mathrm{diag}\,H)$; optionally order columns by decreasing $H_{jj}$ ("act-order").
// 2. for $j = 1 \dots d_{in}$: $\;q_j = \mathrm{quant}(w_j)$, $\;e_j = (w_j - q_j)/U_{jj}$, $\;w_k \leftarrow w_k - e_j U_{jk}$ for $k > j$
//    (done in blocks of 128 columns, with the update of later blocks as one matrix product).
// 3. Layers are processed in order; layer $i$ is calibrated on the outputs of the already
//    quantized layers $0 \dots i-1$.
//
// Here: the embedded 820k-parameter byte-level Llama, int4 and int3 with groups of 32, calibrated
// on 4 windows of 128 bytes of the training text, evaluated by perplexity on the first 384 bytes
// of the validation text (to stay fast on a CPU adapter).

// %%
import * as lb from "../mod.ts";
const gpu = await lb.initGPU();
console.log(gpu.adapterName);
const EVAL_BYTES = 384;
const valid = (await Deno.readTextFile("../data/corpus/valid.txt")).slice(0, EVAL_BYTES);
const train = await Deno.readTextFile("../data/corpus/train.txt");
const calib = lb.calibrationSequences(train, { n: 4, seqLen: 128, seed: 0 });
const fp = await lb.loadModel("../data/tiny");
const base = (await lb.perplexity(fp, valid)).perplexity;
fp.dispose();
console.log(`full precision: perplexity ${base.toFixed(4)}`);

// %% [markdown]
// ## RTN against GPTQ at 4 and 3 bits (group 32)
//
// Each run loads a fresh copy of the model and quantizes its 28 decoder linears in place.

// %%
type Row = { method: string; bits: number; perplexity: number; seconds: number };
const rows: Row[] = [];
for (const bits of [4, 3]) {
  const q = lb.int(bits, { group: 32 });
  {
    using m = await lb.loadModel("../data/tiny");
    const t0 = performance.now();
    await lb.rtn(m, q);
    const seconds = (performance.now() - t0) / 1000;
    rows.push({ method: "RTN", bits, perplexity: (await lb.perplexity(m, valid)).perplexity, seconds });
  }
  {
    using m = await lb.loadModel("../data/tiny");
    const report = await lb.gptqModel(m, q, calib, { progress: false });
    rows.push({ method: "GPTQ", bits, perplexity: (await lb.perplexity(m, valid)).perplexity, seconds: report.seconds });
  }
}
lb.viz.showTable(rows.map((r) => ({ ...r, perplexity: r.perplexity.toFixed(4), seconds: r.seconds.toFixed(1) })), {
  title: `Perplexity on ${EVAL_BYTES} bytes (f32: ${base.toFixed(4)})`,
});

// %%
lb.viz.errorVsBits(
  ["RTN", "GPTQ"].map((name) => {
    const r = rows.filter((x) => x.method === name);
    return { name, bits: r.map((x) => x.bits + 0.5), error: r.map((x) => x.perplexity) };
  }),
  { title: `Perplexity vs bits per weight (int, group 32; f32 = ${base.toFixed(3)})`, yTitle: "perplexity", logY: false },
);

// %% [markdown]
// ## The claim
//
// The paper's central claim at small scale: at 3 bits GPTQ is clearly better than RTN (e.g. OPT
// and BLOOM at 3 bits, where RTN collapses). We check that GPTQ's perplexity increase over
// full precision at int3 g32 is at most 0.8× RTN's, and that GPTQ is not worse than RTN at 4 bits.
// Observed ratios GPTQ/RTN at int3: 0.44 (1024 bytes, 16 calibration windows), 0.65 and below
// 0.5 in two runs of this notebook's small setting (384 bytes, 4 windows) — the small evaluation
// is noisy, so the margin checked is 0.8, not the larger gap seen with more data.

// %%
// claim: GPTQ beats RTN at 3 bits (int3 g32: at most 0.8× RTN's perplexity increase over f32)
{
  const at = (method: string, bits: number) => rows.find((r) => r.method === method && r.bits === bits)!.perplexity;
  const rtn3 = at("RTN", 3) - base, gptq3 = at("GPTQ", 3) - base;
  console.log(`int3 g32: Δppl RTN ${rtn3.toFixed(4)}, GPTQ ${gptq3.toFixed(4)} (ratio ${(gptq3 / rtn3).toFixed(2)})`);
  console.log(`int4 g32: Δppl RTN ${(at("RTN", 4) - base).toFixed(4)}, GPTQ ${(at("GPTQ", 4) - base).toFixed(4)}`);
  if (!(gptq3 <= 0.8 * rtn3)) throw new Error(`GPTQ's int3 Δppl ${gptq3} is not ≤ 0.8× RTN's ${rtn3}`);
  if (!(at("GPTQ", 4) <= at("RTN", 4))) throw new Error("GPTQ is worse than RTN at int4 g32");
}

// %% [markdown]
// ## Conclusion
//
// On the tiny model GPTQ removes most of RTN's damage at int3 g32 and a good part at int4 g32,
// at the cost of a calibration pass and one small Cholesky factorization per layer input. The
// whole run — calibration, Hessians, factorizations, the GPU column loop — goes through
// `lb.gptqModel` (`quant/methods/gptq_model.ts`) and `lb.gptq` for a single matrix.
