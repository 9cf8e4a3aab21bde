/**
 * NVFP4: E2M1 elements, an E4M3 scale per block of 16, and an f32 scale per tensor.
 *
 * Source: NVIDIA, "Pretraining Large Language Models with NVFP4" (arXiv:2509.25149, 2025),
 * §2 and Appendix (two-level scaling), and the reference emulation in NVIDIA Transformer
 * Engine (`transformer_engine/common/cast/nvfp4/core_nvfp4.cuh`), which fixes the f32 order
 * of operations. With amax the tensor's max |x| and amax_b the block's:
 *
 *   s_enc   = f32(448 · 6 / amax)          (1 if amax = 0; capped at the largest f32)
 *   s_dec   = f32(1 / s_enc)               ≈ amax / 2688, the per-tensor decode scale
 *   sb      = e4m3(f32(f32(amax_b / 6) · s_enc))        block scale code, RNE, saturating
 *   enc_b   = min(f32(1 / f32(e4m3value(sb) · s_dec)), f32 max)
 *   code_i  = e2m1(f32(x_i · enc_b))                     RNE, saturating, sign kept
 *   x̂_i     = f32(f32(e2m1value(code_i) · e4m3value(sb)) · s_dec)
 *
 * Every step is one correctly rounded f32 operation (emulated with `Math.fround`). Transformer
 * Engine forms the block scale as amax_b · f32(s_enc · f32(1/6)), which can differ in the last
 * f32 bit before the E4M3 rounding and then flip an E4M3 tie (a pinned case is in
 * tests/quant/formats/nvfp4_test.ts); this file follows the paper's amax_b / 6 · s_enc. A block
 * whose scale underflows E4M3 (code 0) dequantizes to zeros. Bits per weight: 4 + 8/16 = 4.5,
 * plus 32 bits per tensor.
 *
 * @module
 */

import {
  type BlockFormat,
  checkBlocks,
  checkedAmax,
  F32_MAX,
  quantizeBlocks,
  type QuantizedBlocks,
  type ScaleFormatRecord,
} from "./format.ts";
import { e2m1, e4m3 } from "./minifloat.ts";

/** NVFP4 block size. */
export const NVFP4_BLOCK_SIZE = 16;

const f = Math.fround;

/**
 * The per-tensor encode scale s_enc = f32(2688 / amax); 1 when amax is 0, the largest f32
 * when the quotient overflows.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { nvfp4TensorEncodeScale } from "./nvfp4.ts";
 * assert(nvfp4TensorEncodeScale(2688) === 1 && nvfp4TensorEncodeScale(0) === 1);
 * assert(nvfp4TensorEncodeScale(1344) === 2);
 * ```
 */
export function nvfp4TensorEncodeScale(amax: number): number {
  if (!(amax >= 0) || !Number.isFinite(amax)) {
    throw new RangeError(`nvfp4: tensor amax must be finite and ≥ 0, got ${amax}`);
  }
  if (amax === 0) return 1;
  const s = f(f(448 * 6) / f(amax));
  if (s === 0) return 1;
  return Math.min(s, F32_MAX);
}

/** Options for {@link nvfp4Quantize}. */
export interface Nvfp4Options {
  /** Tensor amax to use instead of max |x| (e.g. a calibrated activation amax). */
  tensorAmax?: number;
  /** Elements per block (default 16). */
  blockSize?: number;
}

/**
 * Quantizes `x` to NVFP4 (see the module doc for the exact arithmetic). Throws a RangeError
 * naming the index of the first NaN/Inf.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { nvfp4Dequantize, nvfp4Quantize } from "./nvfp4.ts";
 * const q = nvfp4Quantize([6, -3, 1, 0.2]);
 * assert(q.scales[0] === 0x7e); // block scale 448 (the block holds the tensor amax)
 * const y = nvfp4Dequantize(q); // 6 · 448 · f32(1/448) is 6 within one f32 ulp, not exactly 6
 * assert(Math.abs(y[0] - 6) < 1e-6 && Math.abs(y[1] + 3) < 1e-6 && y[2] === 1 && y[3] === 0);
 * ```
 */
export function nvfp4Quantize(x: ArrayLike<number>, options: Nvfp4Options = {}): QuantizedBlocks {
  const blockSize = options.blockSize ?? NVFP4_BLOCK_SIZE;
  const amax = checkedAmax(x, "nvfp4");
  const sEnc = nvfp4TensorEncodeScale(options.tensorAmax ?? amax);
  const sDec = f(1 / sEnc);
  const q = quantizeBlocks(x, {
    name: "nvfp4",
    blockSize,
    scales: "code",
    block(start, end, codes) {
      const amaxB = f(checkedAmax(x, "nvfp4", start, end));
      const sb = e4m3.encode(f(f(amaxB / 6) * sEnc));
      const encB = Math.min(f(1 / f(e4m3.decode(sb) * sDec)), F32_MAX);
      for (let i = start; i < end; i++) codes[i] = e2m1.encode(f(f(x[i]) * encB));
      return sb;
    },
  });
  return { ...q, tensorScale: sDec };
}

/**
 * Dequantizes NVFP4 data: f32(f32(e2m1 · e4m3) · tensorScale).
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { nvfp4Dequantize, nvfp4Quantize } from "./nvfp4.ts";
 * const x = new Float32Array([0.5, -0.25, 0.125, 0]);
 * assert(Array.from(nvfp4Dequantize(nvfp4Quantize(x))).join() === "0.5,-0.25,0.125,0");
 * ```
 */
export function nvfp4Dequantize(q: QuantizedBlocks): Float32Array {
  checkBlocks(q, "nvfp4");
  const sDec = q.tensorScale;
  if (sDec === undefined) throw new TypeError("nvfp4: tensorScale is missing");
  const out = new Float32Array(q.length);
  for (let i = 0; i < q.length; i++) {
    const blockScale = e4m3.decode(q.scales[Math.floor(i / q.blockSize)]);
    out[i] = f(f(e2m1.decode(q.codes[i]) * blockScale) * sDec);
  }
  return out;
}

/** NVFP4 as a {@link BlockFormat}: 4.5 bits per weight (plus one f32 per tensor). */
export const nvfp4: BlockFormat = {
  name: "nvfp4",
  element: e2m1,
  scaleFormat: e4m3,
  blockSize: NVFP4_BLOCK_SIZE,
  bitsPerWeight: 4 + 8 / NVFP4_BLOCK_SIZE,
  quantize: (x: ArrayLike<number>): QuantizedBlocks => nvfp4Quantize(x),
  dequantize: nvfp4Dequantize,
};

/**
 * E4M3 block scales (NVFP4) as a quantizer's scale format: the tensor's encode
 * scale from its amax (the largest group range, or a calibrated
 * `tensorAmax`), each group's E4M3 scale of f32(clip / maxValue) · s_enc,
 * elements multiplied by 1 / (scale · tensorScale) to encode, values decoded
 * × scale × tensorScale (tensorScale = 1 / s_enc).
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { E4M3_SCALES } from "./nvfp4.ts";
 * import { e2m1 } from "./minifloat.ts";
 * const r = E4M3_SCALES.rule!(e2m1, {
 *   kind: "clip", clip: Float32Array.of(6), min: new Float32Array(1), max: new Float32Array(1),
 *   store: (s) => s,
 * });
 * assert(r.scaleCodes![0] === 126 && r.decode[0] === 448); // E4M3 448
 * ```
 */
export const E4M3_SCALES: ScaleFormatRecord = {
  name: "e4m3",
  rule(element, ranges) {
    const n = ranges.clip.length;
    let amax = ranges.tensorAmax ?? 0;
    if (ranges.tensorAmax === undefined) { for (const c of ranges.clip) amax = Math.max(amax, c); }
    const sEnc = nvfp4TensorEncodeScale(amax);
    const tensorScale = f(1 / sEnc);
    const emax = f(element.maxValue);
    const scaleCodes = new Uint8Array(n);
    const encode = new Float32Array(n);
    const decode = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const sb = e4m3.encode(f(f(f(ranges.clip[i]) / emax) * sEnc));
      scaleCodes[i] = sb;
      decode[i] = e4m3.decode(sb);
      encode[i] = Math.min(f(1 / f(decode[i] * tensorScale)), F32_MAX);
    }
    return { encode, mode: "mul", decode, scaleCodes, tensorScale };
  },
};
