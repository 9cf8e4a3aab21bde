/**
 * Backward kernels of the normalisations, softmax, RoPE, the gathers and
 * the Hadamard transform at Llama-7B-like sizes (issue #12): for each op,
 * the backward's time as a multiple of its forward's, and the fraction of
 * the memory bandwidth the backward reaches (bytes it must move / time,
 * against `--peak` GB/s, default the H200's 4800). These kernels are memory
 * bound: the target is a backward within ~2–3× of its forward.
 *
 * Usage: `deno run -A bench/grad_ops.ts [--small] [--peak=4800] [--json=OUT.json]`
 * (`--small` runs tiny shapes, to check the script on lavapipe).
 * @module
 */
import * as lb from "../mod.ts";
import { Tensor } from "../kernels/tensor.ts";
import { timeQueued } from "../kernels/timing.ts";
import { layerNorm, rmsNorm } from "../kernels/ops/norm.ts";
import { layerNormGrad, rmsNormGrad } from "../kernels/ops/norm_grad.ts";
import { softmax } from "../kernels/ops/softmax.ts";
import { softmaxGrad } from "../kernels/ops/softmax_grad.ts";
import { rope, ropeInvFreq } from "../kernels/ops/rope.ts";
import { embedding } from "../kernels/ops/gather.ts";
import { indexSelectGrad } from "../kernels/ops/gather_grad.ts";
import { hadamard } from "../kernels/ops/hadamard.ts";
import { cast } from "../kernels/ops/elementwise.ts";

const small = Deno.args.includes("--small");
const opt = (k: string) => Deno.args.find((a) => a.startsWith(`--${k}=`))?.split("=")[1];
const peak = Number(opt("peak") ?? 4800);
await lb.initGPU();

// tokens, hidden, heads, headDim, vocab, attention rows × keys
const [T, H, NH, HD, V, SR, SK] = small
  ? [37, 64, 2, 32, 101, 66, 33]
  : [2048, 4096, 32, 128, 32000, 32 * 1024, 1024];
const runs = small ? 2 : 10;
const reps = small ? 1 : 10;

interface Row {
  op: string;
  shape: string;
  backwardOverForward: number;
  backwardBandwidthFraction: number;
}
const rows: Row[] = [];

async function measure(
  op: string,
  shape: string,
  fwd: () => { dispose(): void },
  bwd: () => { dispose(): void } | void,
  bwdBytes: number,
) {
  const f = await timeQueued(fwd, { runs, reps });
  const b = await timeQueued(bwd, { runs, reps });
  const row = {
    op,
    shape,
    backwardOverForward: b.median / f.median,
    backwardBandwidthFraction: bwdBytes / (b.median * 1e-6) / 1e9 / peak,
  };
  rows.push(row);
  console.log(
    `${op.padEnd(22)} ${shape.padEnd(22)} backward/forward ${
      row.backwardOverForward.toFixed(2).padStart(6)
    }   backward at ${
      (100 * row.backwardBandwidthFraction).toFixed(1).padStart(5)
    }% of ${peak} GB/s`,
  );
}

const disposeAll = (ts: readonly (Tensor | undefined)[]) => ({
  dispose: () => ts.forEach((t) => t?.dispose()),
});

{
  using x = Tensor.randn([T, H], { seed: 1 });
  using w = Tensor.randn([H], { seed: 2 });
  using g = Tensor.randn([T, H], { seed: 3 });
  const bytes = 5 * T * H * 4; // row pass: x, g in, dx out; column pass: x, g
  await measure(
    "rmsNorm",
    `[${T}, ${H}]`,
    () => rmsNorm(x, w),
    () => disposeAll(rmsNormGrad(g, x, w, 1e-6)),
    bytes,
  );
  await measure(
    "layerNorm (w, b)",
    `[${T}, ${H}]`,
    () => layerNorm(x, w, w),
    () => disposeAll(layerNormGrad(g, x, w, true, 1e-5)),
    bytes,
  );
  using h16 = cast(x, "f16");
  using w16 = cast(w, "f16");
  using g16 = cast(g, "f16");
  await measure(
    "rmsNorm f16",
    `[${T}, ${H}]`,
    () => rmsNorm(h16, w16),
    () => disposeAll(rmsNormGrad(g16, h16, w16, 1e-6)),
    bytes / 2,
  );
}
{
  using s = Tensor.randn([SR, SK], { seed: 4 });
  using g = Tensor.randn([SR, SK], { seed: 5 });
  using y = softmax(s);
  await measure(
    "softmax",
    `[${SR}, ${SK}]`,
    () => softmax(s),
    () => softmaxGrad(g, y, false, {}),
    3 * SR * SK * 4,
  );
  using s3 = s.reshape([SR / SK, SK, SK]);
  using g3 = g.reshape([SR / SK, SK, SK]);
  using y3 = softmax(s3, { causal: true });
  await measure(
    "softmax causal",
    `[${SR / SK}×${SK}, ${SK}]`,
    () => softmax(s3, { causal: true }),
    () => softmaxGrad(g3, y3, false, { causal: true }),
    3 * SR * SK * 4,
  );
}
{
  using q = Tensor.randn([1, T, NH, HD], { seed: 6 });
  const f = ropeInvFreq(HD, 10000);
  await measure(
    "rope (inverse)",
    `[1, ${T}, ${NH}, ${HD}]`,
    () => rope(q, f),
    () => rope(q, f, { inverse: true }),
    2 * T * NH * HD * 4,
  );
}
{
  using table = Tensor.randn([V, H], { seed: 7 });
  const ids = Int32Array.from({ length: T }, (_, k) => (k * 7919) % V);
  using gpuIds = Tensor.fromArray(ids, [T], "i32");
  using g = Tensor.randn([T, H], { seed: 8 });
  const bytes = (V * H + T * H) * 4; // write the table gradient, read g
  await measure(
    "embedding, CPU ids",
    `[${V}, ${H}] × ${T}`,
    () => embedding(table, ids),
    () => indexSelectGrad(g, undefined, [V, H], 0, ids),
    bytes,
  );
  await measure(
    "embedding, GPU ids",
    `[${V}, ${H}] × ${T}`,
    () => embedding(table, gpuIds),
    () => indexSelectGrad(g, gpuIds, [V, H], 0),
    bytes,
  );
}
{
  using x = Tensor.randn([T, H], { seed: 9 });
  await measure("hadamard", `[${T}, ${H}]`, () => hadamard(x), () => hadamard(x), 2 * T * H * 4);
}

const json = opt("json");
if (json) {
  Deno.writeTextFileSync(json, JSON.stringify({ device: lb.gpu().adapterName, rows }, null, 2));
}
