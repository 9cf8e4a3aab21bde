// %% [markdown]
// # GPFQ: greedy path-following quantization
//
// J. Zhang, Y. Zhou, R. Saab, *Post-training Quantization for Neural Networks with Provable
// Guarantees*, 2022 (arXiv:2201.11113); the algorithm is from E. Lybrand, R. Saab, *A Greedy
// Algorithm for Quantizing Neural Networks*, JMLR 2021.
//
// **Idea.** Quantize a neuron's weights one input at a time and let each choice correct the error
// the previous ones left in the neuron's *output* on the calibration data: the running error
// $u_t$ is a vector of layer outputs, and the next weight is rounded so as to cancel as much of
// it as possible along its own input direction $X_t$. The paper proves error bounds for this
// greedy walk that shrink with the layer's width.
//
// **Algorithm** (one neuron $w\in\mathbb R^N$, inputs $X_t$ = column $t$ of the calibration
// inputs, $Q$ = rounding to the alphabet):
//
// $u_0 = 0,\qquad q_t = Q\!\left(\frac{\langle X_t,\ u_{t-1} + w_t X_t\rangle}{\|X_t\|^2}\right),\qquad u_t = u_{t-1} + w_t X_t - q_t X_t .$
//
// With $H = X^\top X$ the step is $q_t = Q\big(w_t + \sum_{j<t}(w_j-q_j)H_{jt}/H_{tt}\big)$: one
// pass of lowbit's coordinate kernel (`kernels/ops/coordinate.ts`) started from $\hat w = w$.
// The alphabet here is the integer grid of `int(b, {group: 32})` with its RTN scales.
//
// **What is compared.** GPFQ greedily minimises the same layer-wise output error as GPTQ, so the
// strongest fair baseline at equal bits is GPTQ (and RTN with an MSE-clipped range), not only RTN:
//
// - *layer error*: $(w-q)^\top H(w-q)/w^\top Hw$ summed over rows, averaged over the 28 decoder
//   linears, every solver given the same $H$ of the float model's inputs;
// - *perplexity* of the whole model, each method run layer by layer on its own calibration.
//
// Earlier versions of this notebook found GPFQ ahead of RTN at W3 with one calibration draw, a result
// that flipped with calibration seed 2, and at W4 only with 8 × 128 calibration tokens; here every
// comparison is over three calibration seeds.

// %% [markdown]
// ## The stored sweep and a live check
//
// `tools/claims/12-gpfq.ts` ran every configuration over three calibration seeds into
// `data/claims/12-gpfq.json` (run $i$: calibration seed $i$, evaluation slice $i$ of `valid.txt`).
// The cell below recomputes seed 0's layer errors of decoder layer 0 at 4 bits for GPFQ and GPTQ, and
// RTN's check perplexity.

// %%
import * as lb from "../mod.ts";
const gpu = await lb.initGPU();
interface Run {
  method: string;
  bits: number;
  seed: number;
  bitsPerWeight: number;
  perplexity: number;
  check: number;
}
interface LayerRun {
  bits: number;
  seed: number;
  mean: Record<string, number>;
  layers: { name: string; errors: Record<string, number> }[];
}
const stored = JSON.parse(await Deno.readTextFile("../data/claims/12-gpfq.json")) as {
  script: string;
  date: string;
  adapter: string;
  settings: {
    seeds: number[];
    calibration: { n: number; seqLen: number };
    evaluation: { chars: number; seqLen: number; checkChars: number };
    damp: number;
    gpfq: Record<string, string>;
  };
  runs: Run[];
  layerRuns: LayerRun[];
};
const S = stored.settings;
const seeds = S.seeds;
const BITS = [...new Set(stored.runs.map((r) => r.bits))];
const find = (method: string, bits: number, seed: number) => {
  const r = stored.runs.find((x) => x.method === method && x.bits === bits && x.seed === seed);
  if (!r) throw new Error(`no stored run ${method} W${bits} seed ${seed}; rerun ${stored.script}`);
  return r;
};
const layerRun = (bits: number, seed: number) => stored.layerRuns.find((x) => x.bits === bits && x.seed === seed)!;
const q = (bits: number) => lb.int(bits, { group: 32 });
console.log(`stored: ${stored.script}, ${stored.date.slice(0, 16)}, on ${stored.adapter}; live on ${gpu.adapterName}`);

// %%
{
  const train = await Deno.readTextFile("../data/corpus/train.txt");
  const calibration = lb.calibrationSequences(train, { ...S.calibration, seed: 0 });
  using model = await lb.loadModel("../data/tiny");
  const cap = await lb.captureLayerInputs(model, calibration, {
    observers: (name) => new lb.calib.HessianObserver(name),
    layers: 1,
    progress: false,
  });
  const energy = async (w: lb.Tensor, wq: lb.Tensor | null, h: lb.Tensor) => {
    using r = wq ? lb.ops.sub(w, wq) : lb.ops.contiguous(w);
    using rh = lb.ops.matmul(r, h);
    using p = lb.ops.mul(r, rh);
    using s = lb.ops.sumAll(p);
    return await s.item();
  };
  const bits = BITS[0];
  const st = layerRun(bits, 0);
  for (const [name, obs] of cap.observers) {
    using h = await (obs as lb.calib.HessianObserver).finish();
    const w = (model.getLinear(name) as lb.DenseLinear).weight;
    const base = await energy(w, null, h);
    const c = await lb.methods.gpfqLayer(w, h, q(bits));
    using g = await lb.methods.gptq(w, h, q(bits), { damp: S.damp });
    const row = st.layers.find((l) => l.name === name)!;
    lb.checkStored(`${name} GPFQ W${bits} layer error, seed 0`, row.errors.gpfq, (await energy(w, c.weight, h)) / base);
    lb.checkStored(`${name} GPTQ W${bits} layer error, seed 0`, row.errors.gptq, (await energy(w, g.dequantized, h)) / base);
    c.weight.dispose();
  }
  const r = await lb.methods.rtn(model, q(bits));
  const s = find("rtn", bits, 0);
  lb.checkStored(`RTN W${bits} g32 bits per weight`, s.bitsPerWeight, r.bitsPerWeight);
  const text = (await Deno.readTextFile("../data/corpus/valid.txt")).slice(0, S.evaluation.checkChars);
  lb.checkStored(`RTN W${bits} g32, seed 0, check perplexity`, s.check, (await lb.perplexity(model, text, { seqLen: S.evaluation.seqLen })).perplexity);
}
console.log("the live runs agree with the stored sweep");

// %% [markdown]
// ## Layer-wise reconstruction error (shared Hessians, seed 0)

// %%
{
  const lr = layerRun(BITS[0], 0);
  const x = lr.layers.map((_, i) => i);
  lb.viz.linePlot(
    ["rtn", "gptq", "gpfq"].map((m) => ({ name: m.toUpperCase(), x, y: lr.layers.map((l) => l.errors[m]) })),
    { title: `Relative reconstruction error per layer, int${BITS[0]} g32 (7 linears per decoder layer)`, xTitle: "layer", yTitle: "relative error", logY: true },
  );
}

// %% [markdown]
// ## Perplexity at equal bits
//
// Mean ± sample standard deviation over the three runs.

// %%
const mean = (v: readonly number[]) => v.reduce((a, x) => a + x, 0) / v.length;
const sd = (v: readonly number[]) => Math.sqrt(v.reduce((a, x) => a + (x - mean(v)) ** 2, 0) / (v.length - 1));
const NAMES: Record<string, string> = { rtn: "RTN", "rtn-mse": "RTN-MSE", gptq: "GPTQ", gpfq: "GPFQ" };
const side = (method: string, bits: number): lb.ClaimSide => {
  const runs = seeds.map((s) => find(method, bits, s));
  return { name: `${NAMES[method]} W${bits} g32`, bits: runs[0].bitsPerWeight, values: runs.map((r) => r.perplexity) };
};
const layerSide = (method: string, bits: number): lb.ClaimSide => ({
  name: `${NAMES[method]} W${bits} g32`,
  bits: find(method, bits, 0).bitsPerWeight,
  values: seeds.map((s) => layerRun(bits, s).mean[method]),
});
lb.viz.showTable(BITS.flatMap((b) =>
  Object.keys(NAMES).map((m) => {
    const s = side(m, b);
    const l = m === "rtn-mse" ? null : layerSide(m, b);
    return {
      configuration: s.name,
      "bits/weight": s.bits.toFixed(3),
      perplexity: `${mean(s.values).toFixed(4)} ± ${sd(s.values).toFixed(4)}`,
      "mean layer error": l ? `${mean(l.values).toFixed(5)} ± ${sd(l.values).toFixed(5)}` : "",
    };
  })
), { title: `Over seeds ${seeds.join(", ")}` });

// %% [markdown]
// ## The claims
//
// At each bit width: GPFQ's mean layer error is below GPTQ's and below RTN's on the same Hessians, and
// GPFQ's perplexity is below the strongest baseline's (lowest mean perplexity among RTN, RTN-MSE and
// GPTQ at the same quantizer, hence the same bits).
// GPTQ here uses the quantizer's min-max grid, as GPFQ does; GPTQ on an MSE-clipped grid was not run.
// The earlier claim of this notebook, GPFQ against plain RTN, is kept as a separate row.

// %%
// claim: GPFQ has lower layer error than GPTQ and RTN, and lower perplexity than the strongest baseline, at W4 and W3 g32
const card = new lb.Scorecard("12-gpfq");
const windows = S.evaluation.chars / S.evaluation.seqLen;
const calib = `calibration ${S.calibration.n}×${S.calibration.seqLen} tokens of train.txt, seed i`;
const evaluation = `run i: ${S.evaluation.chars} characters of valid.txt from character ${S.evaluation.chars}·i ` +
  `(${windows} windows × ${S.evaluation.seqLen - 1} predictions); ${calib}`;
const layerEval = `H = 2/n·XᵀX of the float model's inputs, the same for every solver; ${calib}`;
const strongest = (cands: lb.ClaimSide[]) => cands.reduce((a, b) => (mean(b.values) < mean(a.values) ? b : a));
const claims = BITS.flatMap((b) => [
  card.claim({
    id: `layer-error-vs-gptq-w${b}`,
    statement: `GPFQ's layer-wise reconstruction error is below GPTQ's at W${b} g32`,
    metric: "mean relative layer error over the 28 decoder linears",
    better: "lower",
    method: layerSide("gpfq", b),
    baseline: layerSide("gptq", b),
    seeds,
    evaluation: layerEval,
    note: `GPFQ one greedy pass on the RTN grid; GPTQ damping ${S.damp}`,
  }),
  card.claim({
    id: `layer-error-vs-rtn-w${b}`,
    statement: `GPFQ's layer-wise reconstruction error is below RTN's at W${b} g32`,
    metric: "mean relative layer error over the 28 decoder linears",
    better: "lower",
    method: layerSide("gpfq", b),
    baseline: layerSide("rtn", b),
    seeds,
    evaluation: layerEval,
  }),
  card.claim({
    id: `perplexity-w${b}`,
    statement: `GPFQ has lower perplexity than the strongest baseline at W${b} g32`,
    metric: "perplexity",
    better: "lower",
    method: side("gpfq", b),
    baseline: strongest(["rtn", "rtn-mse", "gptq"].map((m) => side(m, b))),
    seeds,
    evaluation,
    note: "baseline: the lowest mean perplexity among RTN, RTN-MSE and GPTQ at the same quantizer",
  }),  card.claim({
    id: `perplexity-vs-rtn-w${b}`,
    statement: `GPFQ has lower perplexity than RTN at W${b} g32`,
    metric: "perplexity",
    better: "lower",
    method: side("gpfq", b),
    baseline: side("rtn", b),
    seeds,
    evaluation,
    note: "the comparison the earlier version of this notebook made; RTN with min-max range is not the strongest baseline",
  }),
]);
card.finish();
card

// %% [markdown]
// ## Conclusion

// %%
{
  const f = (x: number, d = 3) => x.toPrecision(d);
  const verdict = (r: lb.ClaimRecord) =>
    r.outcome === "holds" ? "holds" : r.outcome === "fails" ? "fails (the baseline is better)" : "is within the noise";
  const line = (r: lb.ClaimRecord, d: number) =>
    `- ${r.statement}: ${f(r.methodMean, d)} ± ${f(r.methodSpread, 2)} vs ${r.baseline.name} ${f(r.baselineMean, d)} ± ` +
    `${f(r.baselineSpread, 2)} (advantage ${f(r.margin, 2)} ± ${f(r.spread, 2)}) — ${verdict(r)}.`;
  lb.markdown(
    `Over ${seeds.length} calibration seeds, at equal bits per weight (${
      BITS.map((b) => `W${b} g32: ${side("rtn", b).bits.toFixed(2)} b`).join(", ")
    }):\n\n` + claims.map((r) => line(r, r.metric === "perplexity" ? 4 : 3)).join("\n") +
      `\n\nGPFQ makes one greedy pass per neuron on RTN's grid (it keeps RTN's scales and never revisits a weight); ` +
      `the layer error is measured on the same H for every solver, the perplexity on each method's own sequential calibration.`,
  );
}
