/**
 * Correctness and loading speed at real sizes (issue #13, targets 1 and 2):
 * loads a checkpoint made by `bench/peers/hf_reference.py` (a randomly
 * initialised Llama-family model written by transformers), times the load,
 * and compares lowbit's residual stream after every layer and its logits with
 * the ones transformers computed in f32 from the same weights.
 *
 * Usage: `deno run -A bench/scale.ts DIR [--dtype=f32|f16] [--json=OUT.json]`
 *
 * Prints, per layer, the largest absolute difference of the residual stream
 * relative to its largest magnitude, then the logits' largest difference
 * relative to the largest logit (the target is ≤ 1e-4), and the load rate.
 * @module
 */
import * as lb from "../mod.ts";
import { openSafetensors } from "../model/safetensors.ts";

const args = Deno.args.filter((a) => !a.startsWith("--"));
const opt = (k: string) => Deno.args.find((a) => a.startsWith(`--${k}=`))?.split("=")[1];
const dir = args[0];
if (!dir) throw new Error("usage: deno run -A bench/scale.ts DIR [--dtype=f32|f16] [--json=OUT]");
const dtype = (opt("dtype") ?? "f32") as "f32" | "f16";

await lb.initGPU();
let bytes = 0;
for (const e of Deno.readDirSync(dir)) {
  if (e.name.endsWith(".safetensors") && e.name !== "reference.safetensors") {
    bytes += Deno.statSync(`${dir}/${e.name}`).size;
  }
}
const t0 = performance.now();
using model = await lb.loadModel(dir, { dtype });
await lb.sync();
const loadS = (performance.now() - t0) / 1000;
console.log(
  `load: ${(bytes / 1e9).toFixed(2)} GB in ${loadS.toFixed(1)} s = ` +
    `${(bytes / 1e6 / loadS).toFixed(0)} MB/s (${dtype}, ${lb.gpu().adapterName})`,
);

await using ref = await openSafetensors(`${dir}/reference.safetensors`);
const ids = Int32Array.from((await ref.read("ids")).data as ArrayLike<number>);
const refLogits = (await ref.read("logits", { as: "f32" })).data as Float32Array;

function relMax(a: ArrayLike<number>, b: ArrayLike<number>): { diff: number; scale: number } {
  let diff = 0, scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return { diff, scale };
}

const layers: { layer: number; diff: number; scale: number }[] = [];
const batch = model.tokenBatch([ids]);
let h = model.embed(batch.ids);
for (let i = 0; i <= model.config.numHiddenLayers; i++) {
  if (i > 0) {
    const next = model.layerForward(i - 1, h, batch.batch, batch.seq);
    h.dispose();
    h = next;
  }
  if (i === model.config.numHiddenLayers) break; // HF's last hidden state is after the final norm
  const want = (await ref.read(`hidden.${i}`, { as: "f32" })).data as Float32Array;
  let values: Float32Array;
  if (h.dtype === "f32") values = await h.data() as Float32Array;
  else {
    using h32 = lb.ops.cast(h, "f32");
    values = await h32.data() as Float32Array;
  }
  const r = relMax(values, want);
  layers.push({ layer: i, ...r });
  console.log(
    `hidden ${i}: max |Δ| ${r.diff.toExponential(3)} of ${r.scale.toFixed(3)} (${
      (r.diff / r.scale).toExponential(2)
    })`,
  );
}
using logits = model.head(h, batch.batch, batch.seq);
h.dispose();
const got = await logits.data() as Float32Array;
const lg = relMax(got, refLogits);
console.log(
  `logits: max |Δ| ${lg.diff.toExponential(3)}, max |logit| ${lg.scale.toFixed(4)}, ` +
    `ratio ${(lg.diff / lg.scale).toExponential(2)} (target ≤ 1e-4)`,
);
const out = opt("json");
if (out) {
  await Deno.writeTextFile(
    out,
    JSON.stringify(
      {
        adapter: lb.gpu().adapterName,
        date: new Date().toISOString(),
        dir,
        dtype,
        bytes,
        loadSeconds: loadS,
        layers,
        logits: { maxAbsDiff: lg.diff, maxAbsLogit: lg.scale, ratio: lg.diff / lg.scale },
      },
      null,
      1,
    ),
  );
}
