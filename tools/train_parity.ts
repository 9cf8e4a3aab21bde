/**
 * The lowbit side of the PyTorch training parity run (issue #12, done-when
 * #1): loads the initial weights and batch starts that `tools/train_parity.py`
 * wrote, trains with the same schedule, optimizer and clipping, and compares
 * the loss of every step with PyTorch's.
 *
 *   deno run -A tools/train_parity.ts --dir $OUT/parity [--steps 500] [--eval-every 250]
 *
 * Long runs go in pieces (a command may run 10 minutes): each call resumes
 * from `<dir>/lowbit_ckpt` when present and trains up to `--steps` (default:
 * every step in starts.json), checkpointing every `--checkpoint-every` steps.
 * Writes `<dir>/lowbit_curve.json` (the loss curve so far) and
 * `<dir>/comparison.json` (relative loss difference per step, its maximum,
 * and whether every step is within 3%).
 * @module
 */
import * as lb from "../mod.ts";

const args = Object.fromEntries(
  Deno.args.map((a, i) => [a, Deno.args[i + 1]]).filter(([a]) => a.startsWith("--")),
) as Record<string, string>;
const dir = args["--dir"];
if (!dir) throw new Error("train_parity: pass --dir <folder written by tools/train_parity.py>");

const startsJson = JSON.parse(await Deno.readTextFile(`${dir}/starts.json`)) as {
  batch: number;
  seq_len: number;
  steps: number;
  starts: number[][];
};
const torch = JSON.parse(await Deno.readTextFile(`${dir}/torch_curve.json`)) as {
  step: number[];
  loss: number[];
  eval_step: number[];
  eval_nll: number[];
  eval_windows: number;
  args: Record<string, number>;
};
const steps = Number(args["--steps"] ?? startsJson.steps);
const a = torch.args;
await lb.initGPU();
const model = await lb.loadModel(`${dir}/init`);
if (typeof (model as { parameters?: unknown }).parameters !== "function") {
  throw new Error("train_parity: LlamaModel.parameters() is missing; this needs the attn branch");
}
const trainable = model as unknown as lb.train.TrainableModel;
const corpus = await Deno.readFile("data/corpus/train.txt");
const valid = await Deno.readFile("data/corpus/valid.txt");
using optimizer = new lb.train.AdamW({
  betas: [0.9, 0.95],
  eps: 1e-8,
  weightDecay: a.weight_decay ?? 0.1,
});
const ckpt = `${dir}/lowbit_ckpt`;
const resume = await Deno.stat(`${ckpt}/trainer.json`).then(() => ckpt, () => undefined);
const evalEvery = Number(args["--eval-every"] ?? a.eval_every ?? 250);
const t0 = performance.now();
const { curve, step } = await lb.train.train(
  trainable,
  lb.train.replayWindows(corpus, startsJson.starts.flat(), {
    batch: startsJson.batch,
    seqLen: startsJson.seq_len,
  }),
  {
    optimizer,
    schedule: lb.train.warmupCosine({
      lr: a.lr ?? 3e-3,
      warmup: a.warmup ?? 200,
      total: a.schedule_steps ?? 2000,
      minRatio: a.min_lr_ratio ?? 0.1,
    }),
    steps,
    clip: 1,
    eval: { every: evalEvery, corpus: valid, seqLen: 256, windows: torch.eval_windows, batch: 8 },
    checkpointDir: ckpt,
    checkpointEvery: Number(args["--checkpoint-every"] ?? 100),
    resume,
    onStep: (r) => {
      if (r.step % 10 === 0 || r.evalLoss !== undefined) {
        console.log(
          `step ${r.step} lr ${r.lr.toExponential(2)} loss ${r.trainLoss.toFixed(4)}` +
            (r.evalLoss !== undefined ? ` valid_nll ${r.evalLoss.toFixed(4)}` : "") +
            ` ${r.seconds.toFixed(1)}s`,
        );
      }
    },
  },
);
const wall = (performance.now() - t0) / 1000;
await Deno.writeTextFile(`${dir}/lowbit_curve.json`, JSON.stringify(curve.toJSON(), null, 1));

const rel = curve.rows.map((r) => {
  const t = torch.loss[torch.step.indexOf(r.step)];
  return {
    step: r.step,
    lowbit: r.trainLoss,
    torch: t,
    rel: Math.abs(r.trainLoss - t) / Math.abs(t),
  };
});
const worst = rel.reduce((w, r) => (r.rel > w.rel ? r : w), rel[0]);
const rows = curve.rows;
const comparison = {
  steps: step,
  maxRelDiff: worst.rel,
  worstStep: worst.step,
  within3pct: rel.every((r) => r.rel <= 0.03),
  evalNll: rows.filter((r) => r.evalLoss !== undefined).map((r) => ({
    step: r.step,
    lowbit: r.evalLoss,
    torch: torch.eval_nll[torch.eval_step.indexOf(r.step)],
  })),
  lowbitSecondsPerStep: rows.at(-1)!.seconds / rows.length,
  wallSecondsThisCall: wall,
  perStep: rel,
};
await Deno.writeTextFile(`${dir}/comparison.json`, JSON.stringify(comparison, null, 1));
console.log(
  `${step} steps; max relative loss difference ${worst.rel.toExponential(3)} at step ` +
    `${worst.step}; within 3% at every step: ${comparison.within3pct}`,
);
model.dispose();
