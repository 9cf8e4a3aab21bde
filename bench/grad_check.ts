/**
 * The whole-model gradient of the embedded model against PyTorch's (issue #12,
 * "done when": max relative error per tensor ≤ 1e-3, f32).
 *
 * The batch and loss are those of `bench/peers/grad_torch.py`: 2 sequences of
 * 64 bytes of data/corpus/valid.txt at offsets 0 and 10000, mean next-byte
 * cross-entropy over the 2×63 predictions (HF's `labels=ids` loss). For each
 * parameter (`model.parameters()`, HF names) it reports
 * ‖g − g_ref‖∞ / ‖g_ref‖∞ and writes `bench/results/training-grad-<date>.json`.
 *
 * Usage (the reference comes from the GPU server's python):
 *   python3 bench/peers/grad_torch.py --out /tmp/grad_torch.safetensors
 *   deno run -A bench/grad_check.ts /tmp/grad_torch.safetensors [--checkpoint-layers]
 *     [--model=data/tiny] [--json=OUT.json] [--write-own=OWN.safetensors]
 * `--write-own` also writes lowbit's gradients in the same format (a reference
 * for a self-check on a machine without torch).
 * @module
 */
import * as lb from "../mod.ts";
import { valueAndGrad } from "../kernels/autograd.ts";
import { openSafetensors, writeSafetensors } from "../model/safetensors.ts";
import { nextTokenLoss, nextTokenTargets } from "./_loss.ts";

const SEQ = 64;
const OFFSETS = [0, 10000];
const TARGET = 1e-3;

const args = Deno.args.filter((a) => !a.startsWith("--"));
const opt = (k: string) => Deno.args.find((a) => a.startsWith(`--${k}=`))?.split("=")[1];
const refPath = args[0];
const modelDir = opt("model") ?? "data/tiny";
const checkpointLayers = Deno.args.includes("--checkpoint-layers");

await lb.initGPU();
using model = await lb.loadModel(modelDir);
const corpus = await Deno.readFile("data/corpus/valid.txt");
const ids = OFFSETS.map((o) => Array.from(corpus.subarray(o, o + SEQ)));
const targets = nextTokenTargets(ids, model.config.vocabSize);
const params = model.parameters();
const { value, grads } = valueAndGrad(() => {
  using logits = model.forward(ids, { checkpointLayers });
  return nextTokenLoss(logits, targets);
}, params);
targets.hot.dispose();
targets.rows.dispose();
const loss = await value.item();
value.dispose();
const own = new Map<string, Float32Array>();
for (const [name, g] of grads) {
  own.set(name, Float32Array.from(await g.data() as ArrayLike<number>));
  g.dispose();
}
console.log(
  `lowbit loss ${loss.toFixed(6)} (${own.size} gradients, checkpointLayers ${checkpointLayers})`,
);

const ownPath = opt("write-own");
if (ownPath) {
  const t: Record<
    string,
    { dtype: "F32" | "I32"; shape: number[]; data: Float32Array | Int32Array }
  > = {};
  for (const [name, g] of own) {
    t[name] = { dtype: "F32", shape: [...params.get(name)!.shape], data: g };
  }
  t.loss = { dtype: "F32", shape: [1], data: Float32Array.of(loss) };
  t.ids = { dtype: "I32", shape: [ids.length, SEQ], data: Int32Array.from(ids.flat()) };
  await writeSafetensors(ownPath, t);
  console.log(`wrote ${ownPath}`);
}
if (!refPath) {
  console.log("no reference given: pass the file written by bench/peers/grad_torch.py");
  Deno.exit(0);
}

await using ref = await openSafetensors(refPath);
const refIds = Array.from((await ref.read("ids")).data as ArrayLike<number>);
if (refIds.join() !== ids.flat().join()) {
  throw new Error(`${refPath}: its ids differ from this batch; regenerate it with grad_torch.py`);
}
const refLoss = ((await ref.read("loss", { as: "f32" })).data as Float32Array)[0];
const rows: { name: string; maxRelErr: number; refInfNorm: number }[] = [];
for (const [name, g] of own) {
  if (!ref.has(name)) throw new Error(`${refPath} has no gradient "${name}"`);
  const r = (await ref.read(name, { as: "f32" })).data as Float32Array;
  if (r.length !== g.length) throw new Error(`${name}: ${g.length} values vs ${r.length}`);
  let num = 0, den = 0;
  for (let i = 0; i < g.length; i++) {
    num = Math.max(num, Math.abs(g[i] - r[i]));
    den = Math.max(den, Math.abs(r[i]));
  }
  const maxRelErr = den > 0 ? num / den : (num === 0 ? 0 : Infinity);
  rows.push({ name, maxRelErr, refInfNorm: den });
  console.log(`${name.padEnd(48)} ${maxRelErr.toExponential(2)}  ‖g_ref‖∞ ${den.toExponential(2)}`);
}
const worst = rows.reduce((
  a,
  b,
) => (b.maxRelErr > a.maxRelErr || Number.isNaN(b.maxRelErr) ? b : a));
const lossRel = Math.abs(loss - refLoss) / Math.abs(refLoss);
console.log(
  `loss ${loss.toFixed(6)} vs ${refLoss.toFixed(6)} (rel ${
    lossRel.toExponential(2)
  }); worst tensor ` +
    `${worst.name} ${worst.maxRelErr.toExponential(2)} — target ≤ ${TARGET}: ` +
    (rows.every((r) => r.maxRelErr <= TARGET) ? "met" : "NOT met"),
);
const date = new Date().toISOString().slice(0, 10);
const out = opt("json") ?? `bench/results/training-grad-${date}.json`;
await Deno.writeTextFile(
  out,
  JSON.stringify(
    {
      what: "whole-model gradient of data/tiny vs PyTorch (bench/grad_check.ts)",
      device: lb.gpu().adapterName,
      date,
      model: modelDir,
      batch: { sequences: ids.length, seq: SEQ, offsets: OFFSETS, corpus: "data/corpus/valid.txt" },
      loss: { lowbit: loss, torch: refLoss, relErr: lossRel },
      checkpointLayers,
      target: TARGET,
      met: rows.every((r) => r.maxRelErr <= TARGET),
      tensors: rows,
    },
    null,
    2,
  ) + "\n",
);
console.log(`wrote ${out}`);
