/**
 * Integer quantization with a per-group scale and zero point (the affine
 * integer grid), rounding half to even or stochastically.
 *
 * Reference: `tests/reference/quantize.ts` (`affineQuantizeRef`).
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { affineQuantize } from "./affine.ts";
 * await initGPU();
 * using x = Tensor.fromArray([-0.4, 0.4]);
 * using scale = Tensor.fromArray([0.1]);
 * using zero = Tensor.fromArray([0]);
 * const q = affineQuantize(x, { groupSize: 2, bits: 4, qmin: -8, qmax: 7, scale, zero });
 * console.log(await q.codes.data()); // Uint32Array [12, 4] (−4 in 4-bit two's complement, 4)
 * q.codes.dispose(); q.dequantized.dispose();
 * ```
 * @module
 */
import { dispatch, grid, linearIndex, Params } from "../runtime.ts";
import { Tensor } from "../tensor.ts";
import { ENTRY_BUILTINS, expectDType, header } from "../ops/wgsl.ts";
import { checkGroups, PCG } from "./_wgsl.ts";
import type { TableQuantized } from "./decision_table.ts";

/** Options of {@link affineQuantize}. */
export interface AffineQuantizeOptions {
  /** Elements per group along the last axis. */
  groupSize: number;
  /** Bits of the integer codes (1–8). */
  bits: number;
  /** Smallest and largest integer (e.g. −8, 7 for signed int4; 0, 15 for unsigned). */
  qmin: number;
  qmax: number;
  /** Per-group scale [groups] (x ≈ scale · (q − zero)). */
  scale: Tensor;
  /** Per-group integer zero point [groups] (f32 holding integers). */
  zero: Tensor;
  /** Stochastic rounding seed. */
  stochasticSeed?: number;
}

/**
 * Integer quantization with a zero point, per group:
 * q = clamp(round_half_even(x / scale) + zero, qmin, qmax), code = q mod 2^bits,
 * x̂ = (q − zero) · scale.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { affineQuantize } from "./affine.ts";
 * await initGPU();
 * using x = Tensor.fromArray([-1, 0.5, 2]);
 * using scale = Tensor.fromArray([0.2]);
 * using zero = Tensor.fromArray([5]);
 * const q = affineQuantize(x, { groupSize: 3, bits: 4, qmin: 0, qmax: 15, scale, zero });
 * console.log(await q.codes.data()); // Uint32Array [0, 7, 15] (2.5 rounds to even 2)
 * ```
 */
export function affineQuantize(x: Tensor, o: AffineQuantizeOptions): TableQuantized {
  expectDType("affineQuantize", x, "f32", "f16");
  const { groups } = checkGroups("affineQuantize", x, o.groupSize);
  if (o.scale.size !== groups || o.zero.size !== groups) {
    throw new RangeError(
      `affineQuantize: scale/zero have ${o.scale.size}/${o.zero.size} entries; need ${groups}`,
    );
  }
  const codes = Tensor.empty(x.shape, "u32");
  const deq = Tensor.empty(x.shape, "f32");
  if (x.size === 0) return { codes, dequantized: deq };
  const T = x.dtype;
  const WG = 256;
  const stochastic = o.stochasticSeed !== undefined;
  const code = `${header(T)}
struct Params { qmin: f32, qmax: f32, mask: u32, seed: u32, }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> X: array<${T}>;
@group(0) @binding(2) var<storage, read> S: array<f32>;
@group(0) @binding(3) var<storage, read> Z: array<f32>;
@group(0) @binding(4) var<storage, read_write> C: array<u32>;
@group(0) @binding(5) var<storage, read_write> Y: array<f32>;
${PCG}
@compute @workgroup_size(${WG}) fn main(${ENTRY_BUILTINS}) {
  let i = ${linearIndex(WG)};
  if (i >= ${x.size}u) { return; }
  let g = i / ${o.groupSize}u;
  let v = f32(X[i]) / S[g];
  ${
    stochastic
      ? "let r = floor(v) + select(0.0, 1.0, uniform01(P.seed, i) < v - floor(v));"
      : "let r = round(v);"
  }
  let q = clamp(r + Z[g], P.qmin, P.qmax);
  C[i] = bitcast<u32>(i32(q)) & P.mask;
  Y[i] = (q - Z[g]) * S[g];
}`;
  dispatch(
    "affineQuantize",
    code,
    [x.buffer, o.scale.buffer, o.zero.buffer, codes.buffer, deq.buffer],
    new Params().f(o.qmin, o.qmax).u((1 << o.bits) - 1, o.stochasticSeed ?? 0),
    grid(x.size, WG),
  );
  return { codes, dequantized: deq };
}
