/**
 * Low-bit matmul benchmarks: every weight format against the project's best
 * dense f16 kernel for the regime (the dense.ts GEMV for batch ≤ 8, the
 * ops/matmul.ts `linear` GEMM above) and the device's own copy bandwidth,
 * measured in the same run.
 *
 * GPU time comes from timestamp queries around each pass (median of ≥ 50 runs
 * after warm-up); a buffer-to-buffer copy has no pass, so it is timed by the
 * wall clock over many back-to-back copies (printed as such). Prints a table
 * and writes `bench/results/<date>-<adapter>.json`; `deno run -A
 * bench/chart.ts` turns the JSON into a plotly chart.
 *
 * Usage: `deno task bench [--quick] [--runs=N] [--formats=int4,ternary] [--out=dir] [--tag=name]`.
 * `--quick` uses small shapes (for lavapipe / CI: well under a minute).
 *
 * @example
 * ```ts ignore
 * // deno task bench --quick
 * ```
 * @module
 */
import { gpu, initGPU } from "../kernels/gpu.ts";
import { Tensor } from "../kernels/tensor.ts";
import { flush } from "../kernels/runtime.ts";
import { timeBetweenPasses, timeCalls, timeEncoder, type Timing } from "../kernels/timing.ts";
import { timeQueued } from "../kernels/timing.ts";
import { linear } from "../kernels/ops/matmul.ts";
import { type KernelCall, planMatmul } from "../kernels/lowbit/kernel.ts";
import { Bits, cfgName, gemvCandidates, parseArgs, timeCandidates } from "./_gemv.ts";
import {
  createPackedWeight,
  type LowbitFormat,
  type PackedWeight,
  rowWords,
} from "../kernels/lowbit/layout.ts";
import { hasDot4I8, planW8A8, quantizeInt8Rows } from "../kernels/lowbit/w8a8.ts";
import { formats } from "../mod.ts";

const args = parseArgs();
const quick = args.has("quick");
const RUNS = Number(args.get("runs") ?? (quick ? 6 : 50));
const WARMUP = quick ? 1 : 5;

/** A benchmarked weight format. */
interface Spec {
  name: string;
  format: LowbitFormat | "f16" | "w8a8";
  groupSize?: number; // undefined: K
  zeros?: boolean;
}

const SPECS: Spec[] = [
  { name: "f16", format: "f16" },
  { name: "int8", format: "int8" },
  { name: "w8a8", format: "w8a8" },
  { name: "int4 g128", format: "int4", groupSize: 128 },
  { name: "int4 g128 asym", format: "int4", groupSize: 128, zeros: true },
  { name: "int3 g128", format: "int3", groupSize: 128 },
  { name: "int2 g128", format: "int2", groupSize: 128 },
  { name: "ternary", format: "ternary" },
  { name: "ternary5", format: "ternary5" },
  { name: "binary g128", format: "binary", groupSize: 128 },
  { name: "nvfp4", format: "nvfp4", groupSize: 16 },
  { name: "mxfp4", format: "mxfp4", groupSize: 32 },
  { name: "nf4", format: "nf4", groupSize: 64 },
];
const only = args.get("formats")?.split(",");
const specs = SPECS.filter((s) => !only || s.name === "f16" || only.includes(s.name));

const SHAPES: [number, number][] = quick
  ? [[96, 256]]
  : [[14336, 4096], [4096, 4096], [4096, 14336], [2048, 2048], [1024, 1024]];
const BATCHES = quick ? [1, 4, 16] : [1, 4, 16, 512];

const bits = new Bits(0x9e3779b9);
const randomWords = bits.words.bind(bits);
const randomF16 = bits.f16.bind(bits);

function makeWeight(s: Spec, N: number, K: number): { w: PackedWeight | Tensor; bytes: number } {
  if (s.format === "f16") return { w: randomF16([N, K]), bytes: N * K * 2 };
  const format = s.format === "w8a8" ? "int8" : s.format;
  const gs = s.groupSize ?? K;
  const G = K / gs;
  const words = randomWords(N * rowWords(K, format));
  let scales: ArrayLike<number> | Tensor;
  let scaleBytes: number;
  if (format === "nvfp4" || format === "mxfp4") {
    scales = Array.from(randomWords(N * G, 0xf, format === "nvfp4" ? 0x30 : 120));
    scaleBytes = N * G;
  } else {
    scales = randomF16([N, G]);
    scaleBytes = N * G * 2;
  }
  const w = createPackedWeight({
    format,
    shape: [N, K],
    groupSize: gs,
    words,
    scales,
    zeros: s.zeros ? randomF16([N, G]) : undefined,
    tensorScale: format === "nvfp4" ? 0.5 : undefined,
    codebook: format === "nf4" ? formats.NF4_VALUES : undefined,
  });
  return { w, bytes: words.byteLength + scaleBytes * (s.zeros ? 2 : 1) };
}

/** One measured configuration. */
interface Row {
  format: string;
  N: number;
  K: number;
  batch: number;
  kernel: string;
  us: number;
  minUs: number;
  method: string;
  weightBytes: number;
  gbps: number;
  copyRatio: number;
  speedupVsF16: number | null;
  tflops: number;
  threadsPerRow?: number;
  /** GEMV: the chosen configuration (variant, threads per row, rows per thread, unroll). */
  config?: string;
  /** GEMV: the best generic-GEMV time of the same run (the kernel before the paired GEMV). */
  genericUs?: number;
}

async function bandwidth(): Promise<Record<string, number | string>> {
  const { device, limits } = gpu();
  const maxBytes = Math.min(limits.maxBufferSize, limits.maxStorageBufferBindingSize);
  const bytes = Math.min(quick ? 64 << 20 : 1 << 30, Math.floor(maxBytes / 16) * 16);
  const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
  const a = device.createBuffer({ size: bytes, usage });
  const b = device.createBuffer({ size: bytes, usage });
  const reps = quick ? 2 : 20;
  const copy = await timeEncoder((e) => {
    for (let i = 0; i < reps; i++) e.copyBufferToBuffer(a, 0, b, 0, bytes);
  }, { runs: quick ? 3 : 10, warmup: 1 });
  const copyWall = (2 * bytes * reps) / (copy.median * 1e-6);
  const copyTs = await timeBetweenPasses((e) => e.copyBufferToBuffer(a, 0, b, 0, bytes), {
    runs: quick ? 3 : 20,
  });
  const copyBps = copyTs ? (2 * bytes) / (copyTs.median * 1e-6) : copyWall;
  const vecs = bytes / 16;
  const threads = Math.min(vecs, 132 * 2048 * 4);
  const wg = 256;
  const groups = Math.ceil(threads / wg);
  const read = `@group(0) @binding(0) var<storage, read> A: array<vec4<u32>>;
@group(0) @binding(1) var<storage, read_write> B: array<u32>;
@compute @workgroup_size(${wg}) fn main(@builtin(global_invocation_id) g: vec3u) {
  var acc = vec4<u32>(0u);
  for (var i = g.x; i < ${vecs}u; i += ${groups * wg}u) { acc = acc ^ A[i]; }
  let r = acc.x ^ acc.y ^ acc.z ^ acc.w;
  if (r == 0x12345678u) { B[g.x] = r; }
}`;
  const copyK = `@group(0) @binding(0) var<storage, read> A: array<vec4<u32>>;
@group(0) @binding(1) var<storage, read_write> B: array<vec4<u32>>;
@compute @workgroup_size(${wg}) fn main(@builtin(global_invocation_id) g: vec3u) {
  for (var i = g.x; i < ${vecs}u; i += ${groups * wg}u) { B[i] = A[i]; }
}`;
  const r = await timeCalls(
    [{ label: "read", code: read, buffers: [a, b], params: null, workgroups: [groups] }],
    { runs: quick ? 5 : 50, warmupMs: quick ? 0 : 300 },
  );
  const c = await timeCalls(
    [{ label: "copy kernel", code: copyK, buffers: [a, b], params: null, workgroups: [groups] }],
    { runs: quick ? 5 : 50 },
  );
  a.destroy();
  b.destroy();
  return {
    bytes,
    copyGBps: copyBps / 1e9,
    copyMethod: copyTs ? "timestamps between passes" : `wallclock over ${reps} copies per submit`,
    copyWallclockGBps: copyWall / 1e9,
    readKernelGBps: bytes / (r.median * 1e-6) / 1e9,
    readMethod: r.method,
    copyKernelGBps: (2 * bytes) / (c.median * 1e-6) / 1e9,
  };
}

function fmt(v: number | null, d = 1): string {
  return v === null || !Number.isFinite(v) ? "—" : v.toFixed(d);
}

await initGPU();
const ctx = gpu();
console.log(`adapter: ${ctx.adapterName}  features: ${[...ctx.features].join(", ")}`);
if (!ctx.hasTimestamps) {
  console.log("timestamp-query is absent: kernel times are wall clock (submit + wait per run)");
}
const bw = await bandwidth();
// The reference bandwidth: the best of the buffer copy and the WGSL copy kernel (read + write).
const copyGBps = Math.max(bw.copyGBps as number, bw.copyKernelGBps as number);
console.log(
  `buffer copy ${fmt(bw.copyGBps as number)} GB/s (read+write, ${bw.copyMethod}; wall clock ${
    fmt(bw.copyWallclockGBps as number)
  }); ` +
    `WGSL read kernel ${fmt(bw.readKernelGBps as number)} GB/s; ` +
    `WGSL copy kernel ${fmt(bw.copyKernelGBps as number)} GB/s (read+write); ` +
    `%copy is relative to ${fmt(copyGBps)} GB/s`,
);

const date = new Date().toISOString().slice(0, 10);
const adapter = ctx.adapterName.replace(/[^A-Za-z0-9]+/g, "-").replace(/^-|-$/g, "");
const outDir = args.get("out") ?? new URL("./results/", import.meta.url).pathname;
const tag = args.get("tag") ? `-${args.get("tag")}` : "";
const file = `${outDir.replace(/\/$/, "")}/${date}-${adapter}${quick ? "-quick" : ""}${tag}.json`;

/** Writes the rows measured so far. */
async function save(): Promise<void> {
  await Deno.mkdir(outDir, { recursive: true });
  await Deno.writeTextFile(
    file,
    JSON.stringify(
      {
        date: new Date().toISOString(),
        adapter: ctx.adapterName,
        features: [...ctx.features],
        quick,
        runs: RUNS,
        timing: ctx.hasTimestamps ? "timestamp-query, median per pass" : "wallclock",
        denseBaseline: "dense.ts GEMV (batch ≤ 8); ops/matmul.ts linear, wall clock (batch > 8)",
        bandwidth: bw,
        rows,
      },
      null,
      1,
    ),
  );
}

const rows: Row[] = [];
const dense = new Map<string, number>();
const header =
  "format            N×K          batch kernel      µs      GB/s  %copy  ×f16  TFLOP/s";
console.log(
  "×f16 = dense f16 time / this time; dense f16 = the dense.ts GEMV (best of the same GEMV " +
    "candidates) for batch ≤ 8, ops/matmul.ts linear (wall clock over 10 calls per submit) above",
);
console.log(header);
const t0 = performance.now();

async function measure(call: KernelCall): Promise<Timing> {
  try {
    return await timeCalls([call], { runs: RUNS, warmup: WARMUP, warmupMs: quick ? 0 : 50 });
  } finally {
    call.out.dispose();
  }
}

/** GEMV candidates: the paired GEMV's (T, rows per thread, unroll) where it applies. */
const PAIRED: [number, number, number][] = quick
  ? [[8, 2, 2]]
  : [[16, 2, 2], [8, 2, 2], [32, 2, 2], [8, 4, 2], [16, 4, 2], [32, 4, 2], [16, 4, 1], [32, 4, 1]];
const GENERIC = quick ? [16] : [16, 32];

/** The best GEMV over the candidates; also the best generic GEMV. */
function bestGemv(x: Tensor, w: PackedWeight | Tensor) {
  const cands = gemvCandidates(x, w, { generic: GENERIC, paired: PAIRED });
  return timeCandidates(x, w, cands, { runs: RUNS, warmup: WARMUP, warmupMs: quick ? 0 : 50 });
}

for (const [N, K] of SHAPES) {
  const xs = new Map<number, Tensor>();
  for (const M of BATCHES) xs.set(M, randomF16([M, K]));
  for (const s of specs) {
    if (s.format === "w8a8" && !hasDot4I8()) continue;
    const { w, bytes } = makeWeight(s, N, K);
    try {
      for (const M of BATCHES) {
        if (s.format === "w8a8" && M > 8) continue;
        const x = xs.get(M)!;
        let t: Timing;
        let T: number | undefined;
        let config: string | undefined;
        let genericUs: number | undefined;
        let kernel = M <= 8 ? "gemv" : "gemm";
        if (s.format === "w8a8") {
          const q = quantizeInt8Rows(x);
          t = await measure(planW8A8(q, w as PackedWeight));
          q.codes.dispose();
          q.scales.dispose();
          kernel = "gemv-dp4a";
        } else if (M <= 8) {
          const b = await bestGemv(x, w);
          t = b.t;
          T = b.cfg.threadsPerRow;
          config = cfgName(b.cfg);
          genericUs = b.generic?.median;
          if (b.cfg.gemv === "paired") kernel = "gemv-pair";
        } else if (s.format === "f16") {
          // The dense GEMM baseline: ops/matmul.ts `linear` (x · wᵀ, f16 in, f16 out).
          t = await timeQueued(() => linear(x, w as Tensor), {
            runs: quick ? 3 : 10,
            warmup: 2,
            reps: quick ? 2 : 10,
          });
          kernel = "linear";
        } else {
          t = await measure(planMatmul(x, w));
        }
        const key = `${N}x${K}x${M}`;
        if (s.format === "f16") dense.set(key, t.median);
        const d = dense.get(key);
        const row: Row = {
          format: s.name,
          N,
          K,
          batch: M,
          kernel,
          us: t.median,
          minUs: t.min,
          method: t.method,
          weightBytes: bytes,
          gbps: bytes / (t.median * 1e-6) / 1e9,
          copyRatio: bytes / (t.median * 1e-6) / 1e9 / copyGBps,
          speedupVsF16: d === undefined ? null : d / t.median,
          tflops: (2 * M * N * K) / (t.median * 1e-6) / 1e12,
          threadsPerRow: T,
          config,
          genericUs,
        };
        rows.push(row);
        console.log(
          `${s.name.padEnd(17)} ${`${N}×${K}`.padEnd(12)} ${String(M).padStart(5)} ${
            row.kernel.padEnd(9)
          } ${fmt(row.us).padStart(8)} ${fmt(row.gbps, 0).padStart(8)} ${
            fmt(100 * row.copyRatio, 0).padStart(5)
          }% ${fmt(row.speedupVsF16, 2).padStart(5)} ${fmt(row.tflops, 2).padStart(8)}${
            config ? `  ${config}` : ""
          }${genericUs ? ` (generic ${fmt(genericUs)} µs)` : ""}`,
        );
      }
    } finally {
      if (w instanceof Tensor) w.dispose();
      else w.dispose();
      flush();
    }
  }
  for (const x of xs.values()) x.dispose();
  await save(); // after every shape, so that a cut-off run keeps what it measured
}
console.log(`(${((performance.now() - t0) / 1000).toFixed(1)} s of kernels)`);
await save();
console.log(`wrote ${file}`);
