/**
 * The command stream: compiled pipelines (cached by WGSL source), one open
 * command encoder that many ops queue into, uniform parameters, buffer reuse
 * and readback. Ops call {@link dispatch}; tensors call {@link allocate},
 * {@link release}, {@link upload} and {@link readback}.
 *
 * Ordering: every write is encoded into the same command stream as the
 * kernels, or (large uploads) issued with `queue.writeBuffer` right after the
 * stream is submitted, so a buffer returned to the pool and reused by the
 * next op is never overwritten before the work that reads it.
 *
 * @module
 */
import { gpu, throwIfFailed } from "./gpu.ts";

const STORAGE = 0x80 | 0x04 | 0x08; // STORAGE | COPY_SRC | COPY_DST
const MAX_PENDING = 512;
/**
 * Uploads of at least this many bytes go through `queue.writeBuffer` after a
 * flush (measured 4-6× faster than a mapped staging buffer on lavapipe);
 * smaller ones stay in the command stream so they do not force a submit.
 */
const DIRECT_UPLOAD_BYTES = 1 << 18;

let encoder: GPUCommandEncoder | undefined;
let pendingDispatches = 0;
let trash: GPUBuffer[] = [];
const pipelines = new Map<string, GPUComputePipeline>();
const pool = new Map<number, GPUBuffer[]>();
let pooledBytes = 0;
let liveBytes = 0;
let peakLiveBytes = 0;

/**
 * Counters for tests and notebooks: what the runtime holds. `peakLiveBytes`
 * is the high-water mark of `liveBytes` (bytes of buffers handed to tensors,
 * in pool buckets) since the start or the last {@link resetPeakLiveBytes}: the
 * analogue of PyTorch's `torch.cuda.max_memory_allocated`.
 */
export function runtimeStats(): {
  pipelines: number;
  pooledBytes: number;
  liveBytes: number;
  peakLiveBytes: number;
  pendingDispatches: number;
} {
  return { pipelines: pipelines.size, pooledBytes, liveBytes, peakLiveBytes, pendingDispatches };
}

/**
 * Restarts the high-water mark of live bytes at the current live bytes.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../mod.ts";
 * import { resetPeakLiveBytes, runtimeStats } from "./runtime.ts";
 * await initGPU();
 * resetPeakLiveBytes();
 * const before = runtimeStats().liveBytes;
 * Tensor.zeros([1024]).dispose();
 * console.log(runtimeStats().peakLiveBytes - before); // 4096
 * ```
 */
export function resetPeakLiveBytes(): void {
  peakLiveBytes = liveBytes;
}

function currentEncoder(): GPUCommandEncoder {
  encoder ??= gpu().device.createCommandEncoder({ label: "lowbit" });
  return encoder;
}

/** Rounds a byte size up to its pool bucket: 256 B minimum, then 8 buckets per octave. */
export function bucketSize(bytes: number): number {
  if (bytes <= 256) return 256;
  const step = 2 ** Math.max(8, Math.floor(Math.log2(bytes)) - 3);
  return Math.ceil(bytes / step) * step;
}

/**
 * Gives a storage buffer of at least `bytes` bytes (contents undefined),
 * reusing a released one of the same bucket when there is one. Rejects sizes
 * over the device's `maxStorageBufferBindingSize` with the size and the limit.
 */
export function allocate(bytes: number, what = "tensor"): GPUBuffer {
  const { device, limits } = gpu();
  const cap = Math.floor(limits.maxStorageBufferBindingSize / 4) * 4;
  const size = Math.min(bucketSize(Math.max(4, bytes)), cap);
  if (bytes > limits.maxStorageBufferBindingSize) {
    throw new RangeError(
      `${what} needs ${bytes} bytes, more than this device's maxStorageBufferBindingSize ` +
        `(${limits.maxStorageBufferBindingSize} bytes). Split it, e.g. process the weight in ` +
        `row blocks or one layer at a time.`,
    );
  }
  const free = pool.get(size);
  const reused = free?.pop();
  if (reused) {
    pooledBytes -= size;
    liveBytes += size;
    peakLiveBytes = Math.max(peakLiveBytes, liveBytes);
    return reused;
  }
  const buffer = device.createBuffer({ size, usage: STORAGE });
  liveBytes += size;
  peakLiveBytes = Math.max(peakLiveBytes, liveBytes);
  return buffer;
}

/** Returns a buffer to the pool (or frees it once the GPU is done with it if the pool is full). */
export function release(buffer: GPUBuffer): void {
  const size = buffer.size;
  liveBytes -= size;
  const cap = Math.max(256 * 2 ** 20, gpu().limits.maxStorageBufferBindingSize);
  if (pooledBytes + size > cap) {
    trash.push(buffer);
    return;
  }
  let list = pool.get(size);
  if (!list) pool.set(size, list = []);
  list.push(buffer);
  pooledBytes += size;
}

/** Frees every pooled buffer (after pending work completes). */
export function trimPool(): void {
  for (const list of pool.values()) trash.push(...list);
  pool.clear();
  pooledBytes = 0;
  flush();
}

/** Encodes a copy of `data` into `buffer` at `offset`, ordered with the queued kernels. */
export function upload(buffer: GPUBuffer, data: ArrayBufferView, offset = 0): void {
  const { device } = gpu();
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const padded = Math.ceil(bytes.byteLength / 4) * 4;
  if (padded === 0) return;
  if (padded === bytes.byteLength && padded >= DIRECT_UPLOAD_BYTES) {
    // Large, 4-byte multiple: submit what is queued (it may still use this pooled buffer),
    // then let the queue copy the bytes: no mapped staging buffer to allocate and zero.
    flush();
    device.queue.writeBuffer(buffer, offset, bytes as Uint8Array<ArrayBuffer>);
    return;
  }
  const staging = device.createBuffer({
    size: padded,
    usage: GPUBufferUsage.COPY_SRC,
    mappedAtCreation: true,
  });
  new Uint8Array(staging.getMappedRange()).set(bytes);
  staging.unmap();
  currentEncoder().copyBufferToBuffer(staging, 0, buffer, offset, padded);
  trash.push(staging);
}

/** Encodes a zero fill of `bytes` bytes (rounded up to 4) of `buffer`. */
export function clear(buffer: GPUBuffer, bytes = buffer.size): void {
  currentEncoder().clearBuffer(buffer, 0, Math.ceil(bytes / 4) * 4);
}

/** Encodes a buffer-to-buffer copy (sizes rounded up to 4 bytes). */
export function copy(
  src: GPUBuffer,
  srcOffset: number,
  dst: GPUBuffer,
  dstOffset: number,
  bytes: number,
): void {
  currentEncoder().copyBufferToBuffer(src, srcOffset, dst, dstOffset, Math.ceil(bytes / 4) * 4);
}

/** A compiled compute pipeline for `code` (entry point `main`), cached by source. */
export function pipeline(code: string, label = "kernel"): GPUComputePipeline {
  let p = pipelines.get(code);
  if (!p) {
    const { device } = gpu();
    const module = device.createShaderModule({ code, label });
    p = device.createComputePipeline({
      layout: "auto",
      compute: { module, entryPoint: "main" },
      label,
    });
    pipelines.set(code, p);
  }
  return p;
}

/**
 * Builds a uniform block of 4-byte scalars in declaration order, padded to
 * 16 bytes. Use `u` for u32, `i` for i32 and `f` for f32 fields.
 */
export class Params {
  private readonly view: DataView;
  private n = 0;
  /** @param capacity maximum number of 4-byte fields */
  constructor(capacity = 32) {
    this.view = new DataView(new ArrayBuffer(capacity * 4));
  }
  /** Appends a u32 field. */
  u(...values: number[]): this {
    for (const v of values) this.view.setUint32(4 * this.n++, v >>> 0, true);
    return this;
  }
  /** Appends an i32 field. */
  i(...values: number[]): this {
    for (const v of values) this.view.setInt32(4 * this.n++, v | 0, true);
    return this;
  }
  /** Appends an f32 field. */
  f(...values: number[]): this {
    for (const v of values) this.view.setFloat32(4 * this.n++, v, true);
    return this;
  }
  /** The bytes, padded to a multiple of 16. */
  bytes(): Uint8Array {
    const len = Math.max(16, Math.ceil((this.n * 4) / 16) * 16);
    return new Uint8Array(this.view.buffer, 0, len);
  }
}

/** A buffer bound to a kernel, optionally a sub-range. */
export type Binding = GPUBuffer | { buffer: GPUBuffer; offset?: number; size?: number };

/**
 * Queues one compute dispatch. Binding 0 is the uniform `params` block when
 * given; storage buffers follow from binding 1 (or 0 without params), in the
 * order of `buffers`.
 */
export function dispatch(
  label: string,
  code: string,
  buffers: Binding[],
  params: Params | null,
  workgroups: [number, number?, number?],
): void {
  const { device, limits } = gpu();
  const [x, y = 1, z = 1] = workgroups;
  const maxDim = limits.maxComputeWorkgroupsPerDimension;
  if (x > maxDim || y > maxDim || z > maxDim) {
    throw new RangeError(
      `${label}: dispatch of ${x}×${y}×${z} workgroups exceeds the per-dimension limit ${maxDim}`,
    );
  }
  if (x === 0 || y === 0 || z === 0) return;
  const pipe = pipeline(code, label);
  const entries: GPUBindGroupEntry[] = [];
  let binding = 0;
  if (params) {
    const data = params.bytes();
    const ubuf = device.createBuffer({
      size: data.byteLength,
      usage: GPUBufferUsage.UNIFORM,
      mappedAtCreation: true,
    });
    new Uint8Array(ubuf.getMappedRange()).set(data);
    ubuf.unmap();
    trash.push(ubuf);
    entries.push({ binding: binding++, resource: { buffer: ubuf } });
  }
  for (const b of buffers) {
    const resource = b instanceof GPUBuffer ? { buffer: b } : b;
    entries.push({ binding: binding++, resource });
  }
  const bindGroup = device.createBindGroup({
    layout: pipe.getBindGroupLayout(0),
    entries,
    label,
  });
  const pass = currentEncoder().beginComputePass({ label });
  pass.setPipeline(pipe);
  pass.setBindGroup(0, bindGroup);
  pass.dispatchWorkgroups(x, y, z);
  pass.end();
  if (++pendingDispatches >= MAX_PENDING) flush();
}

/**
 * Workgroup counts for `n` invocations in workgroups of `size`, folded into
 * two dimensions when over the per-dimension limit. Kernels recover the linear
 * index with `gid.x + gid.y * nwg.x * size` ({@link LINEAR_INDEX}).
 */
export function grid(n: number, size: number): [number, number] {
  const groups = Math.ceil(n / size);
  const maxDim = gpu().limits.maxComputeWorkgroupsPerDimension;
  if (groups <= maxDim) return [groups, 1];
  const y = Math.ceil(groups / maxDim);
  return [Math.ceil(groups / y), y];
}

/** WGSL expression of the linear invocation index for kernels dispatched with {@link grid}. */
export function linearIndex(size: number): string {
  return `(gid.x + gid.y * nwg.x * ${size}u)`;
}

/** Submits everything queued so far. */
export function flush(): void {
  const { device } = gpu();
  const toFree = trash;
  trash = [];
  if (encoder) {
    device.queue.submit([encoder.finish()]);
    encoder = undefined;
    pendingDispatches = 0;
  }
  if (toFree.length) {
    device.queue.onSubmittedWorkDone().then(() => {
      for (const b of toFree) b.destroy();
    });
  }
}

/**
 * Copies `bytes` bytes of `buffer` (from `offset`) back to the CPU after all
 * queued work, and throws if the GPU reported an error meanwhile.
 */
export async function readback(buffer: GPUBuffer, bytes: number, offset = 0): Promise<ArrayBuffer> {
  const { device } = gpu();
  const padded = Math.max(4, Math.ceil(bytes / 4) * 4);
  const staging = device.createBuffer({
    size: padded,
    usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
  });
  currentEncoder().copyBufferToBuffer(buffer, offset, staging, 0, padded);
  flush();
  try {
    await staging.mapAsync(GPUMapMode.READ);
  } catch (e) {
    throwIfFailed();
    throw e;
  }
  throwIfFailed();
  const out = staging.getMappedRange().slice(0, bytes);
  staging.unmap();
  staging.destroy();
  return out;
}

/** Waits until the GPU has finished all submitted work; throws on a reported GPU error. */
export async function sync(): Promise<void> {
  flush();
  await gpu().device.queue.onSubmittedWorkDone();
  throwIfFailed();
}
