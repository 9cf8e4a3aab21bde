// %% [markdown]
// # Training on WebGPU: autograd, a trainer, and parity with PyTorch
//
// lowbit issue #12. Optimizer: I. Loshchilov, F. Hutter, "Decoupled Weight Decay Regularization"
// (AdamW), ICLR 2019, arXiv:1711.05101. Model: H. Touvron et al., "LLaMA: Open and Efficient
// Foundation Language Models", arXiv:2302.13971.
//
// Two thirds of the quantization papers lowbit covers train something: quantization-aware
// training, learned rounding or clipping, low-precision optimizers. They all need gradients.
// lowbit computes them with a tape over its WGSL ops, and trains with AdamW in f32. This notebook
// shows the autograd API in three short cells, trains a tiny Llama live, generates text from the
// embedded model, and then asks whether lowbit trains *the same way* as PyTorch: the embedded
// model's architecture trained from scratch with the same initial weights, batches, schedule
// and clipping in both.
//
// **The algorithm.** One step t with batch B and learning rate ηₜ (warm-up, then cosine):
//
// - L(θ) = −(1/|B|) Σ log softmax(f_θ(x))[y], g = ∇L (reverse mode, the tape);
// - g ← g · min(1, c/‖g‖₂) (clipping to norm c = 1);
// - m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², θ ← θ − ηₜ(m̂/(√v̂ + ε) + λθ) (AdamW, λ only on matrices).
// %%
import * as lb from "../mod.ts";
const gpu = await lb.initGPU();
console.log(`${gpu.adapterName} · shader-f16 ${gpu.hasF16}`);
// %% [markdown]
// ## The autograd API
//
// `valueAndGrad(fn, params)` runs `fn` once while a tape records every op that touches a
// parameter, then returns the value and one gradient per parameter; the tape is gone when it
// returns (GPU buffers are not garbage collected, so nothing outlives the call). Here
// d/dw Σ (w·x)² = 2(w·x)·x:
// %%
{
  using w = lb.Tensor.fromArray([1, -2, 0.5]);
  using x = lb.Tensor.fromArray([3, 1, 2]);
  const { value, grads } = lb.autograd.valueAndGrad(() => {
    using wx = lb.ops.mul(w, x);
    using sq = lb.ops.mul(wx, wx);
    return lb.ops.sum(sq, 0);
  }, { w });
  console.log(`value ${await value.item()}  grad ${Array.from(await grads.get("w")!.data())}`);
  value.dispose();
  grads.get("w")!.dispose();
}
// %% [markdown]
// A custom rule is a forward and a backward function. Rounding has a zero gradient almost
// everywhere; quantization-aware training replaces it with the straight-through estimator
// (Bengio et al., arXiv:1308.3432): d round(x)/dx := 1.
// %%
const roundSte = lb.autograd.customGrad(
  "round-ste",
  (x: lb.Tensor) => lb.ops.unary("round", x),
  (gy) => [gy.share()],
);
for (const [name, f] of [["round", (x: lb.Tensor) => lb.ops.unary("round", x)], ["round-ste", roundSte]] as const) {
  using x = lb.Tensor.fromArray([0.4, 1.6, -2.3]);
  const { value, grads } = lb.autograd.valueAndGrad(() => {
    using r = f(x);
    return lb.ops.sum(r, 0);
  }, { x });
  console.log(`${name.padEnd(9)} Σ round(x) = ${await value.item()}  gradient ${Array.from(await grads.get("x")!.data())}`);
  value.dispose();
  grads.get("x")!.dispose();
}
// %% [markdown]
// Activation checkpointing keeps only each decoder layer's input and recomputes the layer in
// the backward pass: `model.forward(ids, { checkpointLayers: true })`. The loss and gradients
// must be the same as without it (every kernel is deterministic), for one extra forward pass.
// %%
const CI_LLAMA = {
  hidden_size: 32,
  intermediate_size: 64,
  num_hidden_layers: 2,
  num_attention_heads: 2,
  num_key_value_heads: 1,
  vocab_size: 256,
  max_position_embeddings: 64,
};
const trainText = await Deno.readFile("../data/corpus/train.txt");
const validText = await Deno.readFile("../data/corpus/valid.txt");
{
  using model = lb.randomLlama(CI_LLAMA, { std: 0.02, normWeight: 1 });
  const ids = trainText.subarray(0, 24), targets = Int32Array.from(trainText.subarray(1, 25));
  const run = (checkpointLayers: boolean) =>
    lb.autograd.valueAndGrad(() => {
      using logits = model.forward(ids, { checkpointLayers });
      return lb.ops.crossEntropy(logits, targets);
    }, model.parameters());
  const plain = run(false), ckpt = run(true);
  let maxDiff = 0;
  for (const [name, g] of plain.grads) {
    const a = await g.data(), b = await ckpt.grads.get(name)!.data();
    a.forEach((v, i) => (maxDiff = Math.max(maxDiff, Math.abs(v - b[i]))));
  }
  console.log(`loss ${await plain.value.item()} / with checkpointing ${await ckpt.value.item()}; ` +
    `max |Δ gradient| over ${plain.grads.size} tensors: ${maxDiff}`);
  if (maxDiff !== 0) throw new Error(`checkpointLayers changed a gradient by ${maxDiff}`);
  for (const r of [plain, ckpt]) {
    r.value.dispose();
    for (const g of r.grads.values()) g.dispose();
  }
}
// %% [markdown]
// ## Training a tiny Llama live
//
// `train(model, data, options)` runs the loop above: batches of random windows of the corpus
// (seeded), AdamW, a warm-up + cosine schedule, clipping, a validation NLL every few steps, a
// progress bar, and the loss curve as an Arrow table. The model is the CI test's: 2 layers,
// hidden 32, 2 query heads sharing 1 key/value head, 256 byte tokens, initialised as HF
// transformers does (N(0, 0.02²), norms 1). At step 1 the loss is ln 256 ≈ 5.55.
// %%
const STEPS = 40;
const tiny = lb.randomLlama(CI_LLAMA, { std: 0.02, normWeight: 1 });
const opt = new lb.train.AdamW({ betas: [0.9, 0.95], weightDecay: 0.1 });
const live = await lb.train.train(
  tiny,
  lb.train.randomWindows(trainText.subarray(0, 1 << 16), { batch: 4, seqLen: 32, seed: 7 }),
  {
    optimizer: opt,
    schedule: lb.train.warmupCosine({ lr: 1e-2, warmup: 10, total: STEPS, minRatio: 0.1 }),
    steps: STEPS,
    clip: 1,
    eval: { every: 20, corpus: validText, seqLen: 32, windows: 4 },
    progress: new lb.viz.Progress({ label: "training", total: STEPS }),
  },
);
tiny.dispose();
opt.dispose();
const liveTable = live.curve.toTable();
lb.viz.showTable(liveTable.slice(liveTable.numRows - 5), { title: "The last rows of the loss curve (Arrow)" });
// %%
lb.viz.lossCurveFigure([
  { name: "train", steps: lb.viz.column(liveTable, "step"), loss: lb.viz.column(liveTable, "train_loss") },
  { name: "validation", steps: lb.viz.column(liveTable, "step"), loss: lb.viz.column(liveTable, "eval_loss"), dashed: true },
], { title: `Tiny Llama, ${STEPS} steps of AdamW on lavapipe-sized batches (4 × 32 bytes)` });
// %% [markdown]
// ## Generating text
//
// `generate` runs the prompt once, keeps every layer's keys and values in a cache, and then
// decodes one token per step (greedy here: temperature 0). The embedded model (`data/tiny`, 820k
// parameters trained by `tools/train_tiny.py` on the King James Bible) continues the start of a
// validation verse:
// %%
const embedded = await lb.loadModel("../data/tiny");
const promptText = new TextDecoder().decode(validText.subarray(0, 40));
const gen = await lb.generate(embedded, [Array.from(new TextEncoder().encode(promptText))], { maxNewTokens: 60 });
const continuation = new TextDecoder().decode(new Uint8Array(gen.tokens[0]));
embedded.dispose();
console.log(`${JSON.stringify(promptText)}\n  → ${JSON.stringify(continuation)}`);
// %% [markdown]
// ## Parity with PyTorch
//
// `tools/train_parity.py` trained the embedded model's architecture from scratch in PyTorch on
// the GPU server (f32, TF32 off, eager attention) exactly as `tools/train_tiny.py` does — seed
// 1234, batch 128 × 256 bytes, 200 warm-up steps to 3·10⁻³, cosine to 3·10⁻⁴, AdamW (0.9, 0.95),
// weight decay 0.1 on matrices, clipping 1 — and wrote its initial weights, the batch starts of
// every step and its loss at every step. `tools/train_parity.ts` trained lowbit from the same
// weights on the same batches and compared. Both curves are committed in `data/training/`, the
// comparison in `bench/results/training-parity.json`; the notebook reads them (a full run is
// hours on lavapipe).
// %%
const readJson = async <T,>(path: string, how: string): Promise<T> => {
  try {
    return JSON.parse(await Deno.readTextFile(path)) as T;
  } catch (e) {
    throw new Error(`20-training: cannot read ${path} (${(e as Error).message}); ${how}`);
  }
};
const HOW = "run tools/train_parity.py and tools/train_parity.ts on the GPU server and commit their " +
  "outputs (torch_curve.json, lowbit_curve.json, starts.json and init/ into data/training/, " +
  "comparison.json as bench/results/training-parity.json)";
const torch = await readJson<{
  step: number[]; loss: number[]; eval_step: number[]; eval_nll: number[]; device: string;
  step1_row_loss?: number[]; args: Record<string, number>;
}>("../data/training/torch_curve.json", HOW);
const ours = await readJson<{ step: number; trainLoss: number; evalLoss?: number }[]>(
  "../data/training/lowbit_curve.json", HOW);
const parity = await readJson<{
  steps: number; maxRelDiff: number; worstStep: number; within3pct: boolean;
  perStep: { step: number; lowbit: number; torch: number; rel: number }[];
}>("../bench/results/training-parity.json", HOW);
console.log(`PyTorch on ${torch.device}: ${torch.step.length} steps; lowbit: ${ours.length} steps; ` +
  `committed comparison: max relative difference ${(100 * parity.maxRelDiff).toFixed(3)}% at step ${parity.worstStep}`);
// The committed comparison must be the one of the committed curves: recompute it.
const torchAt = new Map(torch.step.map((s, i) => [s, torch.loss[i]]));
const rel = ours.map((r) => {
  const t = torchAt.get(r.step);
  if (t === undefined) throw new Error(`data/training/torch_curve.json has no step ${r.step}; ${HOW}`);
  return { step: r.step, rel: Math.abs(r.trainLoss - t) / Math.abs(t) };
});
const maxRel = Math.max(...rel.map((r) => r.rel));
lb.checkStored("max relative loss difference", parity.maxRelDiff, maxRel, { rel: 1e-9 });
if (parity.perStep.length !== rel.length) {
  throw new Error(`bench/results/training-parity.json compares ${parity.perStep.length} steps, the curves ${rel.length}; ${HOW}`);
}
// %%
lb.viz.lossCurveFigure([
  { name: "PyTorch", steps: torch.step, loss: torch.loss },
  { name: "lowbit", steps: ours.map((r) => r.step), loss: ours.map((r) => r.trainLoss) },
  { name: "PyTorch validation", steps: torch.eval_step, loss: torch.eval_nll, dashed: true },
  { name: "lowbit validation", steps: ours.map((r) => r.step), loss: ours.map((r) => r.evalLoss ?? NaN), dashed: true },
], {
  title: "Training the embedded architecture from scratch: PyTorch vs lowbit (same init and batches)",
  reference: "PyTorch",
  compare: ["lowbit"],
  tolerance: 0.03,
});
// %% [markdown]
// ### A live slice: the first step's loss on the committed initial weights
//
// Re-running a step of the parity run here is not possible at its size (batch 128 × 256 bytes
// through 4 layers is about a minute of lavapipe per forward pass), and a smaller batch would
// give another curve. What can be recomputed honestly is the loss of step 1: the committed
// initial weights on the first rows of the committed first batch, one forward pass. PyTorch's
// loss of each row of that batch is in `torch_curve.json` (`step1_row_loss`), so the live rows
// are compared row by row. (If a curve file without it is dropped in, the mean of the live rows
// is compared with PyTorch's whole-batch loss instead, and the spread of the rows is printed so
// that the sampling error can be judged against the 3% tolerance.)
// %%
const LIVE_ROWS = 4;
const starts = await readJson<{ batch: number; seq_len: number; starts: number[][] }>(
  "../data/training/starts.json", HOW);
const init = await lb.loadModel("../data/training/init");
const first = lb.train.replayWindows(trainText, starts.starts[0].slice(0, LIVE_ROWS), { batch: 1, seqLen: starts.seq_len });
const liveRows: number[] = [];
for (let r = 0; r < LIVE_ROWS; r++) {
  const b = first.next();
  using logits = init.forward(b.inputs);
  using loss = lb.ops.crossEntropy(logits, b.targets);
  liveRows.push(await loss.item());
}
init.dispose();
const mean = (v: number[]) => v.reduce((s, x) => s + x, 0) / v.length;
let sliceRel: number;
if (torch.step1_row_loss) {
  const want = torch.step1_row_loss.slice(0, LIVE_ROWS);
  sliceRel = Math.max(...liveRows.map((v, i) => Math.abs(v - want[i]) / want[i]));
  liveRows.forEach((v, i) => console.log(`row ${i}: lowbit ${v.toFixed(6)}  PyTorch ${want[i].toFixed(6)}`));
} else {
  const sd = Math.sqrt(liveRows.reduce((s, x) => s + (x - mean(liveRows)) ** 2, 0) / (LIVE_ROWS - 1));
  sliceRel = Math.abs(mean(liveRows) - torch.loss[0]) / torch.loss[0];
  console.log(`no step1_row_loss in torch_curve.json: mean of ${LIVE_ROWS} live rows ${mean(liveRows).toFixed(6)} ` +
    `(row sd ${sd.toExponential(2)}) vs PyTorch's batch loss ${torch.loss[0].toFixed(6)}`);
}
console.log(`step 1, live: largest relative difference ${(100 * sliceRel).toFixed(4)}%`);
if (!(sliceRel <= 0.03)) throw new Error(`the live step-1 loss differs from PyTorch's by ${(100 * sliceRel).toFixed(3)}% > 3%`);
// %% [markdown]
// ## Claims
//
// The claim protocol compares runs, at least three. The parity run is one training run, so its
// logged steps are split into three disjoint thirds (early: warm-up and the fast drop; middle;
// late: the cosine tail), and each third's **largest** relative difference to PyTorch is one
// value. The "baseline" is the tolerance itself, 3% in every third; both sides are f32 (32 bits).
// Lower is better. Since the statement is about *every* step, the notebook also requires the
// protocol's outcome to agree with the plain check "max over all steps ≤ 3%".
// %%
// claim: lowbit's training loss tracks PyTorch's within 3% at every logged step
const card = new lb.Scorecard("20-training");
const third = Math.ceil(rel.length / 3);
const thirds = [0, 1, 2].map((k) => rel.slice(k * third, (k + 1) * third));
const perThird = thirds.map((t) => 100 * Math.max(...t.map((r) => r.rel)));
const claimed = card.claim({
  id: "loss-within-3pct-of-pytorch",
  statement: "Training the embedded architecture from scratch, lowbit's loss is within 3% of PyTorch's at every logged step (same initial weights, batches, schedule, f32)",
  metric: "largest relative loss difference to PyTorch (%)",
  better: "lower",
  method: { name: "lowbit vs PyTorch", bits: 32, values: perThird },
  baseline: { name: "3% tolerance", bits: 32, values: [3, 3, 3] },
  seeds: [0, 1, 2],
  evaluation: `training loss at each of ${rel.length} steps (batch ${starts.batch} × ${starts.seq_len}), ` +
    `split into thirds: steps ${thirds.map((t) => `${t[0].step}–${t.at(-1)!.step}`).join(", ")}`,
  note: "one training run (seed 1234); the three 'seeds' are disjoint thirds of its steps; the PyTorch run is f32 with TF32 off",
});
const everyStep = maxRel <= 0.03;
if ((claimed.outcome === "holds") !== everyStep) {
  throw new Error(`the protocol says ${claimed.outcome} but the largest difference over all steps is ` +
    `${(100 * maxRel).toFixed(3)}%: the claim's statement and its judgement disagree; read the curves`);
}
card.finish();
// %%
lb.markdown(`## Conclusion

Over ${rel.length} steps of training from the same initial weights on the same batches, lowbit's loss
differs from PyTorch's by at most **${(100 * maxRel).toFixed(3)}%** (at step ${parity.worstStep}; per third of the
run: ${perThird.map((v) => `${v.toFixed(3)}%`).join(", ")}), so the 3% claim ${everyStep ? "holds" : "does not hold"}.
Recomputed live, the loss of step 1 on the committed initial weights agrees with PyTorch's to
${(100 * sliceRel).toFixed(4)}% on ${LIVE_ROWS} rows. The tiny Llama trained live went from
${live.curve.rows[0].trainLoss.toFixed(3)} to ${live.curve.rows.at(-1)!.trainLoss.toFixed(3)} in ${STEPS} steps
(${live.curve.rows.at(-1)!.seconds.toFixed(1)} s on ${gpu.adapterName}).`);
