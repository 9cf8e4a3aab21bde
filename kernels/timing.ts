/**
 * GPU timing of kernel dispatches with `timestamp-query`: each run is one
 * compute pass bracketed by timestamps (`timestampWrites`) holding the
 * given dispatches; the median over runs is reported. Without the feature the
 * runs are timed by the wall clock around submit + `onSubmittedWorkDone`, and
 * the result says so (`method: "wallclock"`).
 *
 * @example
 * ```ts
 * import { initGPU } from "./gpu.ts";
 * import { Tensor } from "./tensor.ts";
 * import { timeCalls } from "./timing.ts";
 * await initGPU();
 * using y = Tensor.empty([1024]);
 * const code = `@group(0) @binding(0) var<storage, read_write> Y: array<f32>;
 * @compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3u) { Y[g.x] = 1.0; }`;
 * const t = await timeCalls([{ label: "fill", code, buffers: [y.buffer], params: null, workgroups: [16, 1, 1] }], { runs: 5 });
 * console.log(t.method, t.samples.length); // "timestamp" 5 (on lavapipe and most GPUs)
 * ```
 * @module
 */
import { gpu } from "./gpu.ts";
import { type Binding, flush, type Params, pipeline } from "./runtime.ts";

/** One dispatch to time (the shape `kernels/lowbit`'s `planMatmul` returns). */
export interface TimedCall {
  /** Label for errors. */
  readonly label: string;
  /** WGSL source with entry point `main`. */
  readonly code: string;
  /** Storage bindings (after the uniform params when given). */
  readonly buffers: Binding[];
  /** Uniform parameters, or null. */
  readonly params: Params | null;
  /** Workgroup counts. */
  readonly workgroups: readonly [number, number?, number?];
}

/** What {@link timeCalls} measured, in microseconds. */
export interface Timing {
  /** Median of the runs. */
  median: number;
  /** Fastest run. */
  min: number;
  /** Mean of the runs. */
  mean: number;
  /** Every run's time. */
  samples: number[];
  /** "timestamp": GPU timestamps around each pass; "wallclock": CPU time around submit and wait. */
  method: "timestamp" | "wallclock";
}

interface Encoded {
  pipe: GPUComputePipeline;
  group: GPUBindGroup;
  wg: [number, number, number];
}

function prepare(calls: readonly TimedCall[], temp: GPUBuffer[]): Encoded[] {
  const { device } = gpu();
  return calls.map((c) => {
    const pipe = pipeline(c.code, c.label);
    const entries: GPUBindGroupEntry[] = [];
    let b = 0;
    if (c.params) {
      const data = c.params.bytes();
      const u = device.createBuffer({
        size: data.byteLength,
        usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
      });
      device.queue.writeBuffer(u, 0, data as Uint8Array<ArrayBuffer>);
      temp.push(u);
      entries.push({ binding: b++, resource: { buffer: u } });
    }
    for (const buf of c.buffers) {
      entries.push({ binding: b++, resource: buf instanceof GPUBuffer ? { buffer: buf } : buf });
    }
    const group = device.createBindGroup({ layout: pipe.getBindGroupLayout(0), entries });
    const [x, y = 1, z = 1] = c.workgroups;
    return { pipe, group, wg: [x, y, z] };
  });
}

function encodeRun(pass: GPUComputePassEncoder, enc: Encoded[]): void {
  for (const e of enc) {
    pass.setPipeline(e.pipe);
    pass.setBindGroup(0, e.group);
    pass.dispatchWorkgroups(...e.wg);
  }
}

function stats(samples: number[], method: Timing["method"]): Timing {
  const s = [...samples].sort((a, b) => a - b);
  const mid = s.length >> 1;
  const median = s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
  return { median, min: s[0], mean: s.reduce((a, b) => a + b, 0) / s.length, samples, method };
}

/**
 * `warmup` untimed then `runs` timed calls of `once`, which does one run and
 * returns its wall-clock time in µs; the statistics of the timed ones.
 */
async function wallclockRuns(
  runs: number,
  warmup: number,
  once: () => Promise<number>,
): Promise<Timing> {
  const samples: number[] = [];
  for (let i = 0; i < warmup + runs; i++) {
    const us = await once();
    if (i >= warmup) samples.push(us);
  }
  return stats(samples, "wallclock");
}

/** µs from submitting `cb` to the queue being idle again. */
async function submitAndWait(cb: GPUCommandBuffer): Promise<number> {
  const { device } = gpu();
  const t0 = performance.now();
  device.queue.submit([cb]);
  await device.queue.onSubmittedWorkDone();
  return (performance.now() - t0) * 1000;
}

/**
 * One command buffer of `runs` runs, run `i` encoded by `encode` between the
 * timestamps `2i` and `2i + 1` of `qs` (which it writes); the µs between each
 * pair, from the resolved query set.
 */
async function timestampRuns(
  runs: number,
  encode: (e: GPUCommandEncoder, qs: GPUQuerySet, i: number) => void,
): Promise<Timing> {
  const { device } = gpu();
  const qs = device.createQuerySet({ type: "timestamp", count: 2 * runs });
  const resolve = device.createBuffer({
    size: 16 * runs,
    usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC,
  });
  const read = device.createBuffer({
    size: 16 * runs,
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
  });
  try {
    const e = device.createCommandEncoder();
    for (let i = 0; i < runs; i++) encode(e, qs, i);
    e.resolveQuerySet(qs, 0, 2 * runs, resolve, 0);
    e.copyBufferToBuffer(resolve, 0, read, 0, 16 * runs);
    device.queue.submit([e.finish()]);
    await read.mapAsync(GPUMapMode.READ);
    const ts = new BigInt64Array(read.getMappedRange().slice(0));
    read.unmap();
    const samples: number[] = [];
    for (let i = 0; i < runs; i++) samples.push(Number(ts[2 * i + 1] - ts[2 * i]) / 1000);
    return stats(samples, "timestamp");
  } finally {
    qs.destroy();
    resolve.destroy();
    read.destroy();
  }
}

/**
 * Times `calls` (one run = all of them in order, in one compute pass):
 * `warmup` untimed runs, then `runs` timed ones (median reported).
 *
 * @example
 * ```ts
 * import { initGPU } from "./gpu.ts";
 * import { Tensor } from "./tensor.ts";
 * import { timeCalls } from "./timing.ts";
 * await initGPU();
 * using y = Tensor.empty([256]);
 * const code = `@group(0) @binding(0) var<storage, read_write> Y: array<f32>;
 * @compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3u) { Y[g.x] = 2.0; }`;
 * const t = await timeCalls([{ label: "fill", code, buffers: [y.buffer], params: null, workgroups: [4] }], { runs: 3, warmup: 1 });
 * console.log(t.median >= 0); // true
 * ```
 */
export async function timeCalls(
  calls: readonly TimedCall[],
  { runs = 50, warmup = 5, warmupMs = 0, forceWallclock = false }: {
    runs?: number;
    warmup?: number;
    /** Keep warming up (batches of `warmup` runs) until this much wall time has passed, so
     * that clocks leave their idle state. */
    warmupMs?: number;
    forceWallclock?: boolean;
  } = {},
): Promise<Timing> {
  const { device, hasTimestamps } = gpu();
  flush();
  const temp: GPUBuffer[] = [];
  try {
    const enc = prepare(calls, temp);
    // Warm-up: batches of back-to-back runs, doubling, until one batch alone keeps the GPU
    // busy for `warmupMs` (or the runs reach 1 << 16). Short batches with CPU waits between
    // them leave the GPU mostly idle: on an H100 (2026-11-26, nvidia-smi at 1 Hz) the SM clock
    // then stayed at or near its 345 MHz idle state instead of 1980 MHz, and short kernels
    // timed up to 4× slower from one run to the next.
    for (let batch = Math.max(1, warmup); warmup > 0; batch *= 2) {
      const e = device.createCommandEncoder();
      for (let i = 0; i < batch; i++) {
        const p = e.beginComputePass();
        encodeRun(p, enc);
        p.end();
      }
      const tw = performance.now();
      device.queue.submit([e.finish()]);
      await device.queue.onSubmittedWorkDone();
      if (performance.now() - tw >= warmupMs || batch >= 1 << 16) break;
    }
    if (!hasTimestamps || forceWallclock) {
      return await wallclockRuns(runs, 0, () => {
        const e = device.createCommandEncoder();
        const p = e.beginComputePass();
        encodeRun(p, enc);
        p.end();
        return submitAndWait(e.finish());
      });
    }
    return await timestampRuns(runs, (e, qs, i) => {
      const p = e.beginComputePass({
        timestampWrites: {
          querySet: qs,
          beginningOfPassWriteIndex: 2 * i,
          endOfPassWriteIndex: 2 * i + 1,
        },
      });
      encodeRun(p, enc);
      p.end();
    });
  } finally {
    for (const b of temp) b.destroy();
  }
}

/**
 * Wall-clock time of work that a function queues through the runtime (for
 * ops such as `linear` that dispatch themselves): each run calls `fn` `reps`
 * times, submits and waits; µs per call (median over runs). Outputs that `fn`
 * returns are disposed. Includes submit and wait overhead divided by `reps`.
 *
 * @example
 * ```ts
 * import { initGPU } from "./gpu.ts";
 * import { Tensor } from "./tensor.ts";
 * import { linear } from "./ops/matmul.ts";
 * import { timeQueued } from "./timing.ts";
 * await initGPU();
 * using x = Tensor.randn([64, 64]);
 * using w = Tensor.randn([64, 64]);
 * const t = await timeQueued(() => linear(x, w), { runs: 3, reps: 2 });
 * console.log(t.method, t.samples.length); // "wallclock" 3
 * ```
 */
export async function timeQueued(
  fn: () => { dispose(): void } | void,
  { runs = 10, warmup = 2, reps = 10 }: { runs?: number; warmup?: number; reps?: number } = {},
): Promise<Timing> {
  const { device } = gpu();
  flush();
  await device.queue.onSubmittedWorkDone();
  return await wallclockRuns(runs, warmup, async () => {
    const outs: ({ dispose(): void } | void)[] = [];
    const t0 = performance.now();
    for (let j = 0; j < reps; j++) outs.push(fn());
    flush();
    await device.queue.onSubmittedWorkDone();
    const us = ((performance.now() - t0) * 1000) / reps;
    for (const o of outs) o?.dispose();
    return us;
  });
}

/**
 * Wall-clock time of `fn`'s GPU work: each run encodes with `fn` into a fresh
 * command encoder, submits it and waits (µs per run; median). For work that
 * is not a compute pass, such as `copyBufferToBuffer`; use long runs so the
 * submit and wait overhead is small.
 *
 * @example
 * ```ts
 * import { initGPU, gpu } from "./gpu.ts";
 * import { timeEncoder } from "./timing.ts";
 * await initGPU();
 * const { device } = gpu();
 * const a = device.createBuffer({ size: 1 << 20, usage: GPUBufferUsage.COPY_SRC });
 * const b = device.createBuffer({ size: 1 << 20, usage: GPUBufferUsage.COPY_DST });
 * const t = await timeEncoder((e) => e.copyBufferToBuffer(a, 0, b, 0, 1 << 20), { runs: 3 });
 * console.log(t.method); // "wallclock"
 * ```
 */
export async function timeEncoder(
  fn: (encoder: GPUCommandEncoder) => void,
  { runs = 10, warmup = 2 }: { runs?: number; warmup?: number } = {},
): Promise<Timing> {
  const { device } = gpu();
  flush();
  await device.queue.onSubmittedWorkDone();
  return await wallclockRuns(runs, warmup, () => {
    const e = device.createCommandEncoder();
    fn(e);
    return submitAndWait(e.finish());
  });
}

/**
 * GPU time of non-pass work (e.g. `copyBufferToBuffer`) from timestamps: an
 * empty compute pass writes a timestamp at its end, `fn` encodes the work,
 * another empty pass writes one at its beginning. Median over runs, µs.
 * Returns null without `timestamp-query`.
 *
 * @example
 * ```ts
 * import { initGPU, gpu } from "./gpu.ts";
 * import { timeBetweenPasses } from "./timing.ts";
 * await initGPU();
 * const { device } = gpu();
 * const a = device.createBuffer({ size: 1 << 20, usage: GPUBufferUsage.COPY_SRC });
 * const b = device.createBuffer({ size: 1 << 20, usage: GPUBufferUsage.COPY_DST });
 * const t = await timeBetweenPasses((e) => e.copyBufferToBuffer(a, 0, b, 0, 1 << 20), { runs: 3 });
 * console.log(t === null || t.method === "timestamp"); // true
 * ```
 */
export async function timeBetweenPasses(
  fn: (encoder: GPUCommandEncoder) => void,
  { runs = 10, warmup = 2 }: { runs?: number; warmup?: number } = {},
): Promise<Timing | null> {
  const { device, hasTimestamps } = gpu();
  if (!hasTimestamps) return null;
  flush();
  for (let i = 0; i < warmup; i++) {
    const e = device.createCommandEncoder();
    fn(e);
    device.queue.submit([e.finish()]);
  }
  return await timestampRuns(runs, (e, qs, i) => {
    e.beginComputePass({ timestampWrites: { querySet: qs, endOfPassWriteIndex: 2 * i } }).end();
    fn(e);
    e.beginComputePass({ timestampWrites: { querySet: qs, beginningOfPassWriteIndex: 2 * i + 1 } })
      .end();
  });
}
