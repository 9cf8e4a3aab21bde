/**
 * What the benchmarks share: command-line flags, random weights drawn as
 * bits, and the GEMV candidate loop (time each configuration of the paired
 * and the generic GEMV on one weight, keep the best).
 *
 * @example
 * ```ts ignore
 * const { best } = await timeCandidates(x, w, gemvCandidates(x, w, { generic: [16], paired: [[8, 2, 2]] }), { runs: 5 });
 * ```
 * @module
 */
import { Tensor } from "../kernels/tensor.ts";
import { upload } from "../kernels/runtime.ts";
import { timeCalls, type Timing } from "../kernels/timing.ts";
import { type LowbitMatmulOptions, planMatmul } from "../kernels/lowbit/kernel.ts";
import type { PackedWeight } from "../kernels/lowbit/layout.ts";

/** `--name=value` and `--flag` arguments. */
export function parseArgs(argv: string[] = Deno.args): Map<string, string> {
  const args = new Map<string, string>();
  for (const a of argv) {
    const [k, v] = a.replace(/^--/, "").split("=");
    args.set(k, v ?? "true");
  }
  return args;
}

/** A xorshift generator of random words and f16 tensors (bits drawn directly). */
export class Bits {
  #s: number;
  constructor(seed: number) {
    this.#s = seed >>> 0 || 1;
  }
  /** `n` random words, `(w & mask) | or`. */
  words(n: number, mask = 0xffffffff, or = 0): Uint32Array {
    const a = new Uint32Array(n);
    let s = this.#s;
    for (let i = 0; i < n; i++) {
      s ^= s << 13;
      s ^= s >>> 17;
      s ^= s << 5;
      a[i] = ((s >>> 0) & mask) | or;
    }
    this.#s = s;
    return a;
  }
  /** Random f16 values in ±[2^-4, 2^-3) as a tensor. */
  f16(shape: number[]): Tensor {
    const n = shape.reduce((a, b) => a * b, 1);
    const t = Tensor.empty(shape, "f16");
    upload(t.buffer, this.words(Math.ceil(n / 2), 0x83ff83ff, 0x2c002c00));
    return t;
  }
}

/** A short name of a GEMV configuration. */
export function cfgName(o: LowbitMatmulOptions): string {
  if (o.gemv === undefined) return "default";
  return o.gemv === "paired"
    ? `paired T=${o.threadsPerRow} R=${o.rowsPerThread}${o.unroll ? ` U=${o.unroll}` : ""}`
    : `generic T=${o.threadsPerRow}`;
}

/**
 * The GEMV configurations to try on one weight: the generic GEMV at each of
 * `generic` threads per row, and, where the paired GEMV applies, each
 * `[T, rows per thread, unroll]` of `paired`.
 */
export function gemvCandidates(
  x: Tensor,
  w: PackedWeight | Tensor,
  grid: { generic: number[]; paired: [number, number, number?][] },
): LowbitMatmulOptions[] {
  const cands: LowbitMatmulOptions[] = grid.generic.map((T) => ({
    gemv: "generic",
    threadsPerRow: T,
  }));
  try {
    planMatmul(x, w, { gemv: "paired" }).out.dispose();
  } catch {
    return cands;
  }
  for (const [T, R, U] of grid.paired) {
    cands.push({ gemv: "paired", threadsPerRow: T, rowsPerThread: R, unroll: U });
  }
  return cands;
}

/**
 * Times every configuration (`onEach` sees each result) and returns the
 * fastest one with an explicit GEMV variant, and the fastest generic one.
 */
export async function timeCandidates(
  x: Tensor,
  w: PackedWeight | Tensor,
  cands: LowbitMatmulOptions[],
  timing: { runs: number; warmup: number; warmupMs: number },
  onEach?: (cfg: LowbitMatmulOptions, t: Timing) => void,
): Promise<{ t: Timing; cfg: LowbitMatmulOptions; generic?: Timing }> {
  let best: { t: Timing; cfg: LowbitMatmulOptions } | undefined;
  let generic: Timing | undefined;
  for (const cfg of cands) {
    const call = planMatmul(x, w, cfg);
    let t: Timing;
    try {
      t = await timeCalls([call], timing);
    } finally {
      call.out.dispose();
    }
    onEach?.(cfg, t);
    if (cfg.gemv === "generic" && (!generic || t.median < generic.median)) generic = t;
    if (cfg.gemv && (!best || t.median < best.t.median)) best = { t, cfg };
  }
  if (!best) throw new RangeError("timeCandidates: no candidate names a GEMV variant");
  return { ...best, generic };
}
