/**
 * BitNet b1.58 inference speed: the same random Llama run three ways — dense
 * f32 projections (FP), BitLinear fake quantization (what training runs), and
 * packed BitNet (2-bit ternary codes on the ternary kernel, 8-bit per-token
 * activations) — for a decode step (batch 1, one token: the GEMV) and a
 * prefill (one sequence of `--seq` tokens: the GEMM). Reports the median
 * wall time of whole forward passes (each ended by a GPU sync) as ratios to
 * FP, never bare times alone, and the projections' bits per weight.
 *
 * Usage: `deno run -A bench/bitnet.ts [--hidden=2048] [--inter=5632] [--layers=4]
 * [--seq=256] [--runs=10] [--json=OUT.json]`
 *
 * @example
 * ```ts ignore
 * // deno run -A bench/bitnet.ts --hidden=64 --inter=128 --layers=1 --seq=16 --runs=2
 * ```
 * @module
 */
import * as lb from "../mod.ts";

const opt = (k: string, d: number) =>
  Number(Deno.args.find((a) => a.startsWith(`--${k}=`))?.split("=")[1] ?? d);
const json = Deno.args.find((a) => a.startsWith("--json="))?.split("=")[1];
const hidden = opt("hidden", 2048), inter = opt("inter", 5632), layers = opt("layers", 4);
const seq = opt("seq", 256), runs = opt("runs", 10);
const config = {
  hidden_size: hidden,
  intermediate_size: inter,
  num_hidden_layers: layers,
  num_attention_heads: Math.max(1, hidden / 64),
  num_key_value_heads: Math.max(1, hidden / 256),
  vocab_size: 256,
  max_position_embeddings: Math.max(seq, 16),
};

await lb.initGPU();
console.log(`adapter: ${lb.gpu().adapterName}; config ${JSON.stringify(config)}`);

/** Median seconds of `runs` forward passes of `ids` (after two untimed ones). */
async function time(model: lb.LlamaModel, ids: number[][]): Promise<number> {
  const t: number[] = [];
  for (let i = 0; i < runs + 2; i++) {
    const t0 = performance.now();
    using y = model.forward(ids);
    await y.data(); // waits for the GPU
    if (i >= 2) t.push((performance.now() - t0) / 1000);
  }
  t.sort((a, b) => a - b);
  return t[Math.floor(t.length / 2)];
}

const decode = [[1]];
const prefill = [Array.from({ length: seq }, (_, i) => (i * 7) % 256)];
const rows: Record<string, unknown>[] = [];
using model = lb.randomLlama(config, { std: 0.02, normWeight: 1 });
const measure = async (name: string) => {
  const bpw = model.getLinear("layers.0.mlp.up_proj").bitsPerWeight ?? 32;
  rows.push({
    name,
    bitsPerWeight: bpw,
    decodeS: await time(model, decode),
    prefillS: await time(model, prefill),
  });
};
await measure("fp32");
lb.qat.toBitNet(model);
await measure("bitnet fake-quant");
await lb.qat.packBitNet(model);
await measure("bitnet packed (ternary kernel)");
const fp = rows[0] as { decodeS: number; prefillS: number };
for (
  const r of rows as { name: string; bitsPerWeight: number; decodeS: number; prefillS: number }[]
) {
  console.log(
    `${r.name.padEnd(32)} ${r.bitsPerWeight.toFixed(3).padStart(7)} b/w  decode ×${
      (fp.decodeS / r.decodeS).toFixed(2)
    } ` +
      `(${(r.decodeS * 1e3).toFixed(2)} ms)  prefill ${seq} ×${
        (fp.prefillS / r.prefillS).toFixed(2)
      } (${(r.prefillS * 1e3).toFixed(2)} ms)`,
  );
}
if (json) {
  await Deno.writeTextFile(
    json,
    JSON.stringify({ adapter: lb.gpu().adapterName, config, seq, runs, rows }, null, 1) + "\n",
  );
}
