/**
 * GEMV tuning sweep: threads per row × rows per thread of the paired GEMV
 * (kernels/gemm/paired.ts) against the generic GEMV, per format and
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
import type { Tensor } from "../kernels/tensor.ts";
import { flush } from "../kernels/runtime.ts";
import { Bits, cfgName, gemvCandidates, parseArgs, timeCandidates } from "./_gemv.ts";
import { timeCalls } from "../kernels/timing.ts";
import { createPackedWeight, type LowbitFormat, rowWords } from "../kernels/lowbit/layout.ts";

const args = parseArgs();
const quick = args.has("quick");
const bits = new Bits(0x1234567);

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
  using x = bits.f16([M, K]);
  for (const f of FORMATS) {
    let w: Tensor | ReturnType<typeof createPackedWeight>;
    let wbytes: number;
    if (f.format === "f16") {
      w = bits.f16([N, K]);
      wbytes = N * K * 2;
    } else {
      const gs = f.gs ?? K;
      const words = bits.words(N * rowWords(K, f.format));
      w = createPackedWeight({
        format: f.format,
        shape: [N, K],
        groupSize: gs,
        words,
        scales: bits.f16([N, K / gs]),
        zeros: f.zeros ? bits.f16([N, K / gs]) : undefined,
      });
      wbytes = words.byteLength + (N * K / gs) * 2 * (f.zeros ? 2 : 1);
    }
    const paired = TS.flatMap((T) => RPTS.map((R): [number, number] => [T, R]));
    const configs = gemvCandidates(x, w, { generic: [16, 32], paired });
    configs.push({}); // the defaults
    const timing = { runs: quick ? 3 : 40, warmup: 3, warmupMs: quick ? 0 : 20 };
    const best = await timeCandidates(x, w, configs, timing, (cfg, t) => {
      const tag = cfgName(cfg);
      const pct = (wbytes / (t.median * 1e-6) / 1e9 / copyGBps) * 100;
      rows.push({ format: f.name, N, K, M, cfg: tag, us: t.median, min: t.min, pctCopy: pct });
      console.log(
        `${f.name.padEnd(15)} ${N}x${K} M${M} ${tag.padEnd(20)} ${
          t.median.toFixed(1).padStart(7)
        } µs ${pct.toFixed(0).padStart(4)}%`,
      );
    });
    bests.push(
      `BEST ${f.name} ${N}x${K} M${M}: ${cfgName(best.cfg)} ${best.t.median.toFixed(1)} µs`,
    );
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
