/**
 * `y = x · Wᵀ (+ bias)` for a weight `W` `[N, K]` — packed in any low-bit
 * format, or a dense f16/f32 matrix (the identity loader) — planned as one
 * dispatch of the matmul generators:
 *
 * - batch 1–8: the **paired GEMV** (paired.ts) where the weight's storage
 *   allows it (2/4/8-bit codes and dense f16 whenever a 16-byte chunk lies in
 *   one group), else the **generic GEMV** (gemv.ts, every format);
 * - larger batches: the **tiled GEMM** (tiled.ts), the same kernel as the
 *   dense `matmul`, with the weight's tile loader dequantizing in registers.
 *
 * Activations f32 or f16, output f32 (or f16), accumulation in f32.
 *
 * Reference: `tests/reference/lowbit.ts` (dequantize, then a dense matmul in f64).
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { packInt } from "../lowbit/pack.ts";
 * import { planMatmul, run } from "./plan.ts";
 * await initGPU();
 * using w = packInt([1, 2, 3, 4, 0xf, 0xe, 0xd, 0xc], [2, 4], { bits: 4, scales: [1, 0.5] });
 * using x = Tensor.fromArray([[1, 1, 1, 1]]);
 * using bias = Tensor.fromArray([100, 200]);
 * using y = run(planMatmul(x, w, { bias }));
 * console.log(await y.data()); // Float32Array [110, 195]
 * ```
 * @module
 */
import { gpu } from "../gpu.ts";
import { type Binding, dispatch, Params } from "../runtime.ts";
import { Tensor } from "../tensor.ts";
import type { PackedWeight } from "../lowbit/layout.ts";
import { gemvCode, gemvThreads, pow2floor } from "./gemv.ts";
import { fastGemvCode, fastGemvFits, type FastGemvSource } from "./paired.ts";
import { denseSource, gemvDecls, type IoTypes, packedSource, type WeightSource } from "./source.ts";
import { gemmCode, gemmTuning } from "./tiled.ts";

const WG = 256;

/** Options of {@link planMatmul} (and `lowbitMatmul`, `denseMatmul`). */
export interface LowbitMatmulOptions {
  /** Bias `[N]` (f32 or f16) added to every output row. */
  bias?: Tensor;
  /** Output dtype (default f32; f16 needs `shader-f16`). */
  outDtype?: "f32" | "f16";
  /** Force a kernel (default: GEMV for batch ≤ 8, GEMM above). */
  kernel?: "gemv" | "gemm";
  /** GEMV threads per output row (power of two 1…256; default from K). */
  threadsPerRow?: number;
  /** Paired GEMV: output rows per thread (default 2 for batch ≤ 4, else 1). */
  rowsPerThread?: number;
  /** Paired GEMV: 16-byte chunks per thread and iteration (default 2 for batch ≤ 4, else 1). */
  unroll?: number;
  /**
   * GEMV variant: "paired" (paired.ts; int2/4/8, ternary, dense f16 when a
   * 16-byte chunk lies in one group) or "generic" (every format). Default:
   * paired where it applies.
   */
  gemv?: "paired" | "generic";
}

/** One queued (or timeable) dispatch: what `dispatch` needs, plus its output. */
export interface KernelCall {
  /** Label for errors and profiles. */
  readonly label: string;
  /** WGSL source (entry point `main`). */
  readonly code: string;
  /** Storage bindings (after the uniform params when given). */
  readonly buffers: Binding[];
  /** Uniform parameters, or null. */
  readonly params: Params | null;
  /** Workgroup counts. */
  readonly workgroups: [number, number, number];
  /** The output tensor the call writes. */
  readonly out: Tensor;
}

/** The paired GEMV (paired.ts) for this source, or null where it does not apply. */
function pairedGemv(
  src: WeightSource,
  io: IoTypes & { M: number },
  opts: LowbitMatmulOptions,
): { code: string; workgroups: [number, number, number] } | null {
  const p = src.paired;
  if (opts.gemv === "generic" || !p || !src.vecOK || !fastGemvFits(p.bits, src.K, src.GS)) {
    if (opts.gemv === "paired") {
      throw new RangeError(`planMatmul: the paired GEMV does not apply to the ${src.what}`);
    }
    return null;
  }
  const chunks = src.K / (128 / p.bits);
  const T = opts.threadsPerRow ?? Math.min(32, Math.max(4, pow2floor(chunks / 8)));
  const M = io.M;
  const RPT = opts.rowsPerThread ?? (M <= 4 ? 2 : 1);
  const unroll = opts.unroll ?? (M <= 4 ? 2 : 1);
  if (!Number.isInteger(Math.log2(T)) || T > WG || !(RPT >= 1 && RPT <= 8)) {
    throw new RangeError(`planMatmul: threadsPerRow ${T} / rowsPerThread ${RPT} out of range`);
  }
  const fsrc: FastGemvSource = {
    N: src.N,
    K: src.K,
    GS: src.GS,
    G: src.G,
    stride: src.stride,
    bits: p.bits,
    signed: p.signed,
    zeros: src.zeros,
    scaled: src.scale !== "none",
  };
  const d = gemvDecls(src, io);
  const finish = [io.bias ? `r = r + bias(nn);` : "", `store(mm * ${src.N}u + nn, r);`].join(
    "\n      ",
  );
  const redBytes = WG * RPT * M * 4;
  const limit = gpu().limits.maxComputeWorkgroupStorageSize;
  const tileBytes = Math.min(32768, limit - redBytes - 1024);
  const { code, rows } = fastGemvCode(
    fsrc,
    { T, RPT, M, tileBytes, unroll },
    d.code,
    finish,
  );
  const groups = Math.ceil(src.N / rows);
  const maxDim = gpu().limits.maxComputeWorkgroupsPerDimension;
  const gy = Math.ceil(groups / maxDim);
  return { code, workgroups: [Math.ceil(groups / gy), gy, 1] };
}

function checkInputs(op: string, x: Tensor, src: WeightSource, opts: LowbitMatmulOptions): number {
  if (x.disposed) void x.buffer; // throws the standard use-after-dispose error
  if (x.dtype !== "f32" && x.dtype !== "f16") {
    throw new TypeError(`${op}: activations ${x} must be f32 or f16`);
  }
  const K = x.shape[x.rank - 1];
  if (x.rank < 1 || K !== src.K) {
    throw new RangeError(
      `${op}: activations ${x} have K = ${K}, but the ${src.what} expects K = ${src.K}`,
    );
  }
  const M = x.size / K;
  if (opts.bias) {
    const b = opts.bias;
    if (b.size !== src.N || (b.dtype !== "f32" && b.dtype !== "f16")) {
      throw new RangeError(`${op}: bias ${b} must be f32 or f16 with ${src.N} elements`);
    }
  }
  if ((opts.outDtype === "f16" || x.dtype === "f16") && !gpu().hasF16) {
    throw new TypeError(`${op}: f16 needs the shader-f16 feature, which this adapter lacks`);
  }
  return M;
}

/**
 * Plans `y = x · Wᵀ (+ bias)` without queueing it: allocates the output and
 * returns the dispatch (for {@link lowbitMatmul} or a benchmark timer).
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { packInt } from "../lowbit/pack.ts";
 * import { planMatmul } from "./plan.ts";
 * await initGPU();
 * using w = packInt(new Array(32).fill(1), [4, 8], { bits: 4, scales: [1, 1, 1, 1] });
 * using x = Tensor.fromArray([new Array(8).fill(1)]);
 * const call = planMatmul(x, w);
 * console.log(call.label, call.out.shape); // "lowbit gemv int4 …" [1, 4]
 * call.out.dispose();
 * ```
 */
export function planMatmul(
  x: Tensor,
  w: PackedWeight | Tensor,
  opts: LowbitMatmulOptions = {},
): KernelCall {
  const K = x.shape[x.rank - 1];
  const vec = K % 4 === 0 && x.size > 0;
  const src = w instanceof Tensor ? denseSource(w) : packedSource(w, vec);
  if (w instanceof Tensor) {
    if (w.rank !== 2 || (w.dtype !== "f16" && w.dtype !== "f32")) {
      throw new TypeError(`matmul: dense weight ${w} must be f16 or f32 [N, K]`);
    }
  } else if (w.codes.disposed) {
    throw new ReferenceError(`lowbitMatmul: the ${src.what} was used after dispose()`);
  }
  const op = w instanceof Tensor ? "denseMatmul" : "lowbitMatmul";
  const M = checkInputs(op, x, src, opts);
  const outDtype = opts.outDtype ?? "f32";
  const outShape = [...x.shape.slice(0, -1), src.N];
  const out = Tensor.empty(outShape, outDtype);
  const kernel = opts.kernel ?? (M <= 8 ? "gemv" : "gemm");
  const biasDtype = opts.bias ? opts.bias.dtype as "f32" | "f16" : null;
  const buffers: Binding[] = [x.buffer, ...src.buffers];
  if (opts.bias) buffers.push(opts.bias.buffer);
  buffers.push(out.buffer);
  const xd = x.dtype as "f32" | "f16";
  if (kernel === "gemv") {
    if (M > 8) {
      throw new RangeError(`${op}: the GEMV handles batch ≤ 8, got ${M} rows of ${x}`);
    }
    const io = { x: xd, bias: biasDtype, out: outDtype, M: Math.max(1, M) };
    const pairedCall = pairedGemv(src, io, opts);
    if (pairedCall) {
      return {
        label: `lowbit gemv-paired ${src.what} M${M}`,
        code: pairedCall.code,
        buffers,
        params: null,
        workgroups: M === 0 ? [0, 1, 1] : pairedCall.workgroups,
        out,
      };
    }
    const T = opts.threadsPerRow ?? gemvThreads(src);
    if (!Number.isInteger(Math.log2(T)) || T < 1 || T > WG) {
      throw new RangeError(`${op}: threadsPerRow must be a power of two 1…${WG}, got ${T}`);
    }
    const groups = Math.ceil(src.N / (WG / T));
    const maxDim = gpu().limits.maxComputeWorkgroupsPerDimension;
    const gy = Math.ceil(groups / maxDim);
    const code = gemvCode(src, io, { M: io.M, T });
    return {
      label: `lowbit gemv ${src.what} M${M}`,
      code,
      buffers,
      params: null,
      workgroups: [M === 0 ? 0 : Math.ceil(groups / gy), gy, 1],
      out,
    };
  }
  // The tiled GEMM with this weight as its B loader (tiles as the dense GEMM picks them).
  const t = Math.ceil(M / 128) * Math.ceil(src.N / 128) >= gemmTuning.bigTiles
    ? gemmTuning.big
    : gemmTuning.small;
  const vk = src.K % 4 === 0;
  const code = gemmCode({
    T: xd,
    out: outDtype,
    ta: false,
    tb: true,
    vecA: vk,
    vecB: vk,
    vecC: src.N % 4 === 0,
    ...t,
    rowsFirst: gemmTuning.rowsFirst,
    bias: biasDtype !== null,
    biasT: biasDtype ?? undefined,
    accumulate: false,
    lowerOnly: false,
    aliasA: false,
    aliasB: false,
    weight: src,
  });
  const N = src.N;
  const params = new Params().u(M, N, K, K, K, N, 0, 0, 0, 0, 0, 0).f(src.tensorScale ?? 1);
  return {
    label: `lowbit gemm ${src.what} M${M}`,
    code,
    buffers,
    params,
    workgroups: [Math.ceil(N / (16 * t.tn)), Math.ceil(M / (16 * t.tm)), 1],
    out,
  };
}

/**
 * Queues a planned call and returns its output.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { packInt } from "../lowbit/pack.ts";
 * import { planMatmul, run } from "./plan.ts";
 * await initGPU();
 * using w = packInt([1, 1, 1, 1], [1, 4], { bits: 8, scales: [2] });
 * using x = Tensor.fromArray([[1, 2, 3, 4]]);
 * using y = run(planMatmul(x, w));
 * console.log(await y.data()); // Float32Array [20]
 * ```
 */
export function run(call: KernelCall): Tensor {
  const [x, y, z] = call.workgroups;
  if (x * y * z > 0) dispatch(call.label, call.code, call.buffers, call.params, call.workgroups);
  return call.out;
}
