/**
 * GEMV tuning sweep: threads per row × rows per thread of the paired GEMV
 * (kernels/lowbit/fastgemv.ts) against the generic GEMV, per format and
 * shape, with the WGSL copy kernel's bandwidth measured in the same run.
 * Prints one line per configuration and the best per (format, shape, batch);
 * writes the rows as JSON to `--out` (default stdout only).
 *
 * Usage: `deno run -A bench/gemv_sweep.ts [--quick] [--out=file.json]`.
 *
 * @example
 * ```ts ignore
 * // deno run -A bench/gemv_sweep.ts --quick
 * ```
 * @module
 */
import { gpu, initGPU } from "../kernels/gpu.ts";
import { Tensor } from "../kernels/tensor.ts";
import { flush, upload } from "../kernels/runtime.ts";
import { timeCalls } from "../kernels/timing.ts";
import { type LowbitMatmulOptions, planMatmul } from "../kernels/lowbit/kernel.ts";
import { createPackedWeight, type LowbitFormat, rowWords } from "../kernels/lowbit/layout.ts";

const args = new Map<string, string>();
for (const a of Deno.args) {
  const [k, v] = a.replace(/^--/, "").split("=");
  args.set(k, v ?? "true");
}
const quick = args.has("quick");

let seed = 0x1234567;
function randomWords(n: number, mask = 0xffffffff, or = 0): Uint32Array {
  const a = new Uint32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    a[i] = ((s >>> 0) & mask) | or;
  }
  seed = s;
  return a;
}
function randomF16(shape: number[]): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const t = Tensor.empty(shape, "f16");
  upload(t.buffer, randomWords(Math.ceil(n / 2), 0x83ff83ff, 0x2c002c00));
  return t;
}

interface F {
  name: string;
  format: LowbitFormat | "f16";
  gs?: number;
  zeros?: boolean;
}
const FORMATS: F[] = [
  { name: "f16", format: "f16" },
  { name: "int4 g128", format: "int4", gs: 128 },
  { name: "int4 g128 asym", format: "int4", gs: 128, zeros: true },
  { name: "int2 g128", format: "int2", gs: 128 },
  { name: "ternary", format: "ternary" },
  { name: "int8", format: "int8" },
];
const SHAPES: [number, number, number][] = quick
  ? [[96, 512, 1]]
  : [[14336, 4096, 1], [4096, 14336, 1], [4096, 4096, 1], [14336, 4096, 4]];
const TS = quick ? [8, 16] : [4, 8, 16, 32, 64];
const RPTS = quick ? [1, 2] : [1, 2, 4];

await initGPU();
const { device } = gpu();
console.log(`adapter: ${gpu().adapterName}`);
// Copy-kernel bandwidth (read + write), 1 GiB.
const bytes = quick ? 1 << 24 : 1 << 30;
const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
const a = device.createBuffer({ size: bytes, usage });
const b = device.createBuffer({ size: bytes, usage });
const vecs = bytes / 16;
const groups = Math.ceil(Math.min(vecs, 132 * 2048 * 4) / 256);
const copyK = `@group(0) @binding(0) var<storage, read> A: array<vec4<u32>>;
@group(0) @binding(1) var<storage, read_write> B: array<vec4<u32>>;
@compute @workgroup_size(256) fn main(@builtin(global_invocation_id) g: vec3u) {
  for (var i = g.x; i < ${vecs}u; i += ${groups * 256}u) { B[i] = A[i]; }
}`;
const ct = await timeCalls(
  [{ label: "copy", code: copyK, buffers: [a, b], params: null, workgroups: [groups] }],
  { runs: quick ? 3 : 30, warmupMs: quick ? 0 : 200 },
);
a.destroy();
b.destroy();
const copyGBps = (2 * bytes) / (ct.median * 1e-6) / 1e9;
console.log(`copy kernel ${copyGBps.toFixed(0)} GB/s`);

const rows: Record<string, unknown>[] = [];
const bests: string[] = [];
for (const [N, K, M] of SHAPES) {
  using x = randomF16([M, K]);
  for (const f of FORMATS) {
    let w: Tensor | ReturnType<typeof createPackedWeight>;
    let wbytes: number;
    if (f.format === "f16") {
      w = randomF16([N, K]);
      wbytes = N * K * 2;
    } else {
      const gs = f.gs ?? K;
      const words = randomWords(N * rowWords(K, f.format));
      w = createPackedWeight({
        format: f.format,
        shape: [N, K],
        groupSize: gs,
        words,
        scales: randomF16([N, K / gs]),
        zeros: f.zeros ? randomF16([N, K / gs]) : undefined,
      });
      wbytes = words.byteLength + (N * K / gs) * 2 * (f.zeros ? 2 : 1);
    }
    const configs: LowbitMatmulOptions[] = [{ gemv: "generic", threadsPerRow: 16 }, {
      gemv: "generic",
      threadsPerRow: 32,
    }];
    for (const T of TS) {
      for (const R of RPTS) configs.push({ gemv: "paired", threadsPerRow: T, rowsPerThread: R });
    }
    configs.push({}); // the defaults
    let best: { us: number; cfg: string } | undefined;
    for (const cfg of configs) {
      const call = planMatmul(x, w, cfg);
      try {
        const t = await timeCalls([call], {
          runs: quick ? 3 : 40,
          warmup: 3,
          warmupMs: quick ? 0 : 20,
        });
        const tag = cfg.gemv === undefined
          ? "default"
          : `${cfg.gemv} T=${cfg.threadsPerRow}${
            cfg.rowsPerThread ? ` R=${cfg.rowsPerThread}` : ""
          }`;
        const pct = (wbytes / (t.median * 1e-6) / 1e9 / copyGBps) * 100;
        rows.push({ format: f.name, N, K, M, cfg: tag, us: t.median, min: t.min, pctCopy: pct });
        console.log(
          `${f.name.padEnd(15)} ${N}x${K} M${M} ${tag.padEnd(20)} ${
            t.median.toFixed(1).padStart(7)
          } µs ${pct.toFixed(0).padStart(4)}%`,
        );
        if (cfg.gemv && (!best || t.median < best.us)) best = { us: t.median, cfg: tag };
      } finally {
        call.out.dispose();
      }
    }
    bests.push(`BEST ${f.name} ${N}x${K} M${M}: ${best!.cfg} ${best!.us.toFixed(1)} µs`);
    w.dispose();
    flush();
  }
}
console.log(bests.join("\n"));
const out = args.get("out");
if (out) {
  await Deno.writeTextFile(
    out,
    JSON.stringify({ adapter: gpu().adapterName, copyGBps, rows }, null, 1),
  );
}
