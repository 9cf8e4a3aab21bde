/**
 * Loading speed (issue #13, target 1: ≥ 1 GB/s from safetensors to GPU
 * tensors): writes a random bf16 Llama checkpoint of a real shape (HF layout:
 * `config.json`, shards and `model.safetensors.index.json`), then in the same
 * run times a plain sequential read of its shards (the disk's rate, in 64 MiB
 * reads) and `loadModel` (read, upload, convert, NaN/Inf check, finished on
 * the GPU). The number to report is the ratio of the two rates. Both read
 * from the page cache (the checkpoint was just written) unless `--cold`
 * drops it before each measurement (needs root).
 *
 * Shapes: `1b` (Llama-3.2-1B: 1.24 B parameters, tied, 2.47 GB in 3 shards),
 * `8b` (Llama-3-8B: 8.03 B, 16.1 GB in 4 shards), `small` (41 MB) and
 * `tiny` (a few hundred KB), the last two for lavapipe. `--cpu` also times the previous path in the same run
 * (each tensor read whole, converted and NaN-checked in JS, then uploaded).
 *
 * Usage: `deno run -A bench/load.ts [--shape=tiny|small|1b|8b] [--dtype=f32|f16]
 * [--runs=N] [--dir=DIR] [--keep] [--cpu] [--cold] [--json=OUT.json]`. Without
 * `--dir` the checkpoint goes to a temporary directory that is removed at the
 * end (`--keep` keeps it); an existing `DIR/config.json` is reused as is.
 *
 * @example
 * ```ts ignore
 * // deno run -A bench/load.ts --shape=tiny --cpu
 * ```
 * @module
 */
import * as lb from "../mod.ts";
import { Rng } from "../kernels/random.ts";
import { Tensor } from "../kernels/tensor.ts";
import { expectedTensorNames, parseLlamaConfig } from "../model/config.ts";
import { describeNonFinite } from "../model/finite.ts";
import { f32ToBf16 } from "../model/safetensors_dtype.ts";
import { INDEX_FILE, openCheckpoint } from "../model/safetensors.ts";

const opt = (k: string) => Deno.args.find((a) => a.startsWith(`--${k}=`))?.split("=")[1];
const flag = (k: string) => Deno.args.includes(`--${k}`);

/** HF config.json fields of each shape, and the shard size HF would use. */
const SHAPES: Record<string, { config: Record<string, unknown>; shardBytes: number }> = {
  tiny: {
    config: {
      hidden_size: 64,
      intermediate_size: 176,
      num_hidden_layers: 3,
      num_attention_heads: 4,
      num_key_value_heads: 2,
      vocab_size: 301,
      tie_word_embeddings: false,
    },
    shardBytes: 100_000,
  },
  small: {
    config: {
      hidden_size: 512,
      intermediate_size: 1536,
      num_hidden_layers: 4,
      num_attention_heads: 8,
      num_key_value_heads: 2,
      vocab_size: 8192,
      tie_word_embeddings: false,
    },
    shardBytes: 16e6,
  },
  "1b": {
    config: {
      hidden_size: 2048,
      intermediate_size: 8192,
      num_hidden_layers: 16,
      num_attention_heads: 32,
      num_key_value_heads: 8,
      vocab_size: 128256,
      tie_word_embeddings: true,
    },
    shardBytes: 1e9,
  },
  "8b": {
    config: {
      hidden_size: 4096,
      intermediate_size: 14336,
      num_hidden_layers: 32,
      num_attention_heads: 32,
      num_key_value_heads: 8,
      vocab_size: 128256,
      tie_word_embeddings: false,
    },
    shardBytes: 5e9,
  },
};

const shapeName = opt("shape") ?? "tiny";
const shape = SHAPES[shapeName];
if (!shape) throw new Error(`--shape=${shapeName}: use one of ${Object.keys(SHAPES).join(", ")}`);
const dtype = (opt("dtype") ?? "f32") as "f32" | "f16";
const runs = Number(opt("runs") ?? (shapeName === "8b" ? 2 : 3));
const givenDir = opt("dir");
const dir = givenDir ?? await Deno.makeTempDir({ prefix: `lowbit-load-${shapeName}-` });
const CHUNK = 64 * 2 ** 20;

/** Writes the checkpoint: random bf16 (normal, std 0.02), a pool of values shifted per tensor. */
async function writeCheckpoint(): Promise<void> {
  const config = {
    architectures: ["LlamaForCausalLM"],
    model_type: "llama",
    rms_norm_eps: 1e-5,
    rope_theta: 500000,
    max_position_embeddings: 8192,
    torch_dtype: "bfloat16",
    ...shape.config,
  };
  await Deno.mkdir(dir, { recursive: true });
  const tensors = expectedTensorNames(parseLlamaConfig(config));
  const pool = f32ToBf16(new Rng(1).normal(CHUNK / 2 + 4096, 0, 0.02));
  const poolBytes = new Uint8Array(pool.buffer);
  // shards in the order of the names, each at most shardBytes (a tensor never split)
  const shards: { name: string; shape: number[] }[][] = [[]];
  let used = 0;
  for (const t of tensors) {
    const bytes = 2 * t.shape.reduce((a, b) => a * b, 1);
    if (used > 0 && used + bytes > shape.shardBytes) {
      shards.push([]);
      used = 0;
    }
    shards.at(-1)!.push(t);
    used += bytes;
  }
  const weightMap: Record<string, string> = {};
  let total = 0;
  for (let s = 0; s < shards.length; s++) {
    const file = `model-${String(s + 1).padStart(5, "0")}-of-${
      String(shards.length).padStart(5, "0")
    }.safetensors`;
    const header: Record<string, unknown> = { __metadata__: { format: "pt" } };
    let offset = 0;
    for (const t of shards[s]) {
      const bytes = 2 * t.shape.reduce((a, b) => a * b, 1);
      header[t.name] = { dtype: "BF16", shape: t.shape, data_offsets: [offset, offset + bytes] };
      offset += bytes;
      weightMap[t.name] = file;
    }
    total += offset;
    let json = new TextEncoder().encode(JSON.stringify(header));
    const padded = new Uint8Array(Math.ceil(json.length / 8) * 8).fill(0x20);
    padded.set(json);
    json = padded;
    using f = await Deno.open(`${dir}/${file}`, { write: true, create: true, truncate: true });
    const head = new Uint8Array(8 + json.length);
    new DataView(head.buffer).setBigUint64(0, BigInt(json.length), true);
    head.set(json, 8);
    await writeAll(f, head);
    for (const [k, t] of shards[s].entries()) {
      let left = 2 * t.shape.reduce((a, b) => a * b, 1);
      const shift = 2 * ((k * 977) % 4096); // tensors differ, still finite bf16 values
      while (left > 0) {
        const n = Math.min(left, CHUNK);
        await writeAll(f, poolBytes.subarray(shift, shift + n));
        left -= n;
      }
    }
  }
  await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify(config, null, 1));
  await Deno.writeTextFile(
    `${dir}/${INDEX_FILE}`,
    JSON.stringify({ metadata: { total_size: total }, weight_map: weightMap }, null, 1),
  );
}

async function writeAll(f: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  for (let done = 0; done < bytes.length;) done += await f.write(bytes.subarray(done));
}

function shardFiles(): string[] {
  return [...Deno.readDirSync(dir)].filter((e) => e.name.endsWith(".safetensors"))
    .map((e) => `${dir}/${e.name}`).sort();
}

/** Reads every shard start to end in 64 MiB reads into one buffer: the disk's rate. */
async function rawRead(): Promise<number> {
  const buf = new Uint8Array(CHUNK);
  let bytes = 0;
  const t0 = performance.now();
  for (const path of shardFiles()) {
    using f = await Deno.open(path, { read: true });
    for (let n; (n = await f.read(buf)) !== null;) bytes += n;
  }
  return bytes / 1e6 / ((performance.now() - t0) / 1000);
}

/** The previous loader: each tensor read whole, converted and NaN-checked in JS, uploaded. */
async function cpuLoad(): Promise<void> {
  const config = parseLlamaConfig(JSON.parse(await Deno.readTextFile(`${dir}/config.json`)));
  await using ckpt = await openCheckpoint(dir);
  const ts: Tensor[] = [];
  for (const { name, shape } of expectedTensorNames(config)) {
    const data = (await ckpt.read(name, { as: dtype })).data as Float32Array | Float16Array;
    if (describeNonFinite(name, data, shape)) throw new Error(`${name} is not finite`);
    ts.push(Tensor.fromArray(data, shape, dtype));
  }
  await lb.sync();
  for (const t of ts) t.dispose();
}

/** With `--cold`: flushes and drops the page cache, so reads come from the disk (needs root). */
async function dropCaches(): Promise<void> {
  if (!flag("cold")) return;
  const { success, stderr } = await new Deno.Command("sh", {
    args: ["-c", "sync && echo 3 > /proc/sys/vm/drop_caches"],
  }).output();
  if (!success) {
    throw new Error(
      `--cold: cannot drop the page cache (${new TextDecoder().decode(stderr).trim()}); run as ` +
        `root, or leave out --cold to measure reads from the page cache`,
    );
  }
}

async function timed(fn: () => Promise<void>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return (performance.now() - t0) / 1000;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)];

let reused = false;
let wrote = false; // a checkpoint this run wrote to a temporary directory is removed at the end
try {
  if (givenDir && (await Deno.stat(`${dir}/config.json`).catch(() => null))) {
    console.log(`reusing the checkpoint in ${dir}`);
    reused = true;
  } else {
    const s = await timed(writeCheckpoint);
    wrote = true;
    console.log(`wrote a ${shapeName} bf16 checkpoint to ${dir} in ${s.toFixed(1)} s`);
  }
  const bytes = shardFiles().reduce((n, p) => n + Deno.statSync(p).size, 0);
  await lb.initGPU();
  (await lb.loadModel(undefined, { dtype })).dispose(); // compile the pipelines
  {
    using w = Tensor.fromArray(new Uint32Array([0x3f803f80]), [1], "u32");
    using _y = lb.ops.castBits(w, { from: "bf16", to: dtype, shape: [2] }); // the tiny model is f32
    await lb.sync();
  }
  const raw: number[] = [];
  const load: number[] = [];
  const cpu: number[] = [];
  for (let r = 0; r < runs; r++) {
    await dropCaches();
    raw.push(await rawRead());
    await dropCaches();
    const s = await timed(async () => {
      using _model = await lb.loadModel(dir, { dtype });
      await lb.sync();
    });
    load.push(bytes / 1e6 / s);
    if (flag("cpu")) {
      await dropCaches();
      cpu.push(bytes / 1e6 / await timed(cpuLoad));
    }
    console.log(
      `run ${r + 1}: disk ${raw[r].toFixed(0)} MB/s, loadModel ${load[r].toFixed(0)} MB/s` +
        (cpu.length ? `, previous JS path ${cpu[r].toFixed(0)} MB/s` : ""),
    );
  }
  const result = {
    adapter: lb.gpu().adapterName,
    date: new Date().toISOString(),
    shape: reused ? dir : shapeName,
    dtype,
    bytes,
    shards: shardFiles().length,
    cold: flag("cold"),
    diskMBps: median(raw),
    loadMBps: median(load),
    loadSeconds: bytes / 1e6 / median(load),
    ratio: median(load) / median(raw),
    previousMBps: cpu.length ? median(cpu) : undefined,
    targetMBps: 1000,
    met: median(load) >= 1000,
  };
  console.log(
    `${result.shape} ${dtype}, ${(bytes / 1e9).toFixed(2)} GB in ${result.shards} shards ` +
      `(${result.adapter}): loadModel ${result.loadMBps.toFixed(0)} MB/s ` +
      `(${result.loadSeconds.toFixed(2)} s) = ${result.ratio.toFixed(2)} × the disk read ` +
      `${result.diskMBps.toFixed(0)} MB/s` +
      (result.previousMBps ? `; previous JS path ${result.previousMBps.toFixed(0)} MB/s` : "") +
      `; target ≥ 1000 MB/s: ${result.met ? "met" : "not met"} (median of ${runs})`,
  );
  const out = opt("json");
  if (out) await Deno.writeTextFile(out, JSON.stringify(result, null, 1) + "\n");
} finally {
  if (wrote && !givenDir && !flag("keep")) await Deno.remove(dir, { recursive: true });
}
