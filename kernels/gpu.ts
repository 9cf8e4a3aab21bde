/**
 * The GPU: acquires a WebGPU adapter and device once per process, with every
 * useful feature the adapter has and its full limits, and turns validation
 * errors and device loss into thrown errors.
 *
 * @example
 * ```ts
 * import { initGPU } from "./gpu.ts";
 * const gpu = await initGPU();
 * console.log(gpu.adapterName, gpu.hasF16);
 * ```
 * @module
 */

/** What lowbit found on the machine. */
export interface GPUContext {
  /** The WebGPU device every tensor lives on. */
  readonly device: GPUDevice;
  /** The adapter the device was requested from. */
  readonly adapter: GPUAdapter;
  /** Human-readable adapter name, e.g. "NVIDIA H100 80GB HBM3" or "llvmpipe (LLVM 15…)". */
  readonly adapterName: string;
  /** Adapter vendor and architecture as reported by WebGPU. */
  readonly info: { vendor: string; architecture: string; description: string; fallback: boolean };
  /** Features requested on the device. */
  readonly features: ReadonlySet<string>;
  /** The device's limits (the adapter's full limits). */
  readonly limits: GPUSupportedLimits;
  /** `shader-f16` is enabled: f16 tensors and kernels are available. */
  readonly hasF16: boolean;
  /** `timestamp-query` is enabled: benchmarks use GPU timestamps. */
  readonly hasTimestamps: boolean;
  /** `subgroups` is enabled. */
  readonly hasSubgroups: boolean;
}

/** Thrown when no WebGPU adapter can be used; the message says how to fix it. */
export class GPUUnavailableError extends Error {
  /** An error whose message says what is missing and how to fix it.
   * @param message what is missing and how to fix it */
  constructor(message: string) {
    super(message);
    this.name = "GPUUnavailableError";
  }
}

/** Thrown when the GPU reports a validation or out-of-memory error, or the device is lost. */
export class GPUFailureError extends Error {
  /** An error carrying what the GPU reported.
   * @param message what the GPU reported */
  constructor(message: string) {
    super(message);
    this.name = "GPUFailureError";
  }
}

const WANTED: GPUFeatureName[] = [
  "shader-f16",
  "timestamp-query",
  "subgroups" as GPUFeatureName,
];

const FIX = "On a machine without a GPU install Mesa's lavapipe (Debian: " +
  "`apt-get install mesa-vulkan-drivers`); on an NVIDIA server make the Vulkan loader " +
  "(libvulkan1) and the driver's ICD visible (VK_DRIVER_FILES=…/nvidia_icd.json).";

let current: GPUContext | undefined;
let pending: Promise<GPUContext> | undefined;
let failure: string | undefined;

/**
 * Acquires the GPU once; later calls return the same context.
 *
 * @example
 * ```ts
 * import { initGPU } from "./gpu.ts";
 * const a = await initGPU();
 * const b = await initGPU();
 * console.log(a === b); // true
 * ```
 */
export function initGPU(): Promise<GPUContext> {
  if (current) return Promise.resolve(current);
  pending ??= acquire().then((ctx) => (current = ctx)).finally(() => (pending = undefined));
  return pending;
}

async function acquire(): Promise<GPUContext> {
  if (typeof navigator === "undefined" || !("gpu" in navigator) || !navigator.gpu) {
    throw new GPUUnavailableError(
      "WebGPU is not available in this runtime (navigator.gpu is undefined). Run lowbit with " +
        "Deno 2 (`npm i -g deno`), which ships WebGPU. " + FIX,
    );
  }
  const adapter = await navigator.gpu.requestAdapter({ powerPreference: "high-performance" });
  if (!adapter) {
    throw new GPUUnavailableError(`No WebGPU adapter was found. ${FIX}`);
  }
  const requiredFeatures = WANTED.filter((f) => adapter.features.has(f));
  const requiredLimits: Record<string, number> = {};
  for (const key in adapter.limits) {
    const v = (adapter.limits as unknown as Record<string, unknown>)[key];
    if (typeof v === "number") requiredLimits[key] = v;
  }
  const device = await adapter.requestDevice({ requiredFeatures, requiredLimits });
  device.addEventListener("uncapturederror", (ev) => {
    const err = (ev as GPUUncapturedErrorEvent).error;
    failure ??= `${err.constructor.name}: ${err.message}`;
  });
  device.lost.then((info) => {
    failure ??= `GPU device lost (${info.reason}): ${info.message}`;
    current = undefined;
  });
  const ai = adapter.info;
  const description = ai.description || [ai.vendor, ai.architecture, ai.device].join(" ").trim();
  return {
    device,
    adapter,
    adapterName: description || "unknown adapter",
    info: {
      vendor: ai.vendor,
      architecture: ai.architecture,
      description,
      fallback: Boolean((ai as unknown as { isFallbackAdapter?: boolean }).isFallbackAdapter),
    },
    features: new Set(requiredFeatures),
    limits: device.limits,
    hasF16: requiredFeatures.includes("shader-f16"),
    hasTimestamps: requiredFeatures.includes("timestamp-query"),
    hasSubgroups: requiredFeatures.includes("subgroups" as GPUFeatureName),
  };
}

/**
 * The initialised GPU context. Throws, naming the fix, if `initGPU()` has not
 * completed yet.
 *
 * @example
 * ```ts
 * import { gpu, initGPU } from "./gpu.ts";
 * await initGPU();
 * console.log(gpu().limits.maxStorageBufferBindingSize > 0); // true
 * ```
 */
export function gpu(): GPUContext {
  throwIfFailed();
  if (!current) {
    throw new GPUUnavailableError(
      "The GPU is not initialised: call `await initGPU()` (or `await lowbit.init()`) once " +
        "before creating tensors.",
    );
  }
  return current;
}

/**
 * Throws a `GPUFailureError` if the device has reported an uncaptured error or
 * was lost since the last check. Called on every readback.
 *
 * @example
 * ```ts
 * import { throwIfFailed } from "./gpu.ts";
 * throwIfFailed(); // nothing has failed yet
 * ```
 */
export function throwIfFailed(): void {
  if (failure) {
    const msg = failure;
    failure = undefined;
    throw new GPUFailureError(`The GPU reported an error: ${msg}`);
  }
}
