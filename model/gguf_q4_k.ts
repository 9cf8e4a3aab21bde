/**
 * ggml's Q4_K block: 256 weights in 8 sub-blocks of 32, each with a 6-bit
 * scale and a 6-bit min, both scaled by the block's f16 `d` and `dmin`:
 * x ≈ d·sc·q − dmin·m with q ∈ [0, 15]. Layout (`block_q4_K` in
 * `ggml/src/ggml-common.h`, 144 bytes): f16 d · f16 dmin · u8 scales[12] ·
 * u8 qs[128]. `scales` packs the eight (sc, m) pairs as `get_scale_min_k4`
 * reads them: for j < 4, sc = scales[j] & 63 and m = scales[j+4] & 63; for
 * j ≥ 4, sc = (scales[j+4] & 15) | (scales[j−4] >> 6) << 4 and
 * m = (scales[j+4] >> 4) | (scales[j] >> 6) << 4. `qs` holds 64 weights per
 * 32 bytes: byte l of chunk c has weight 64c + l in its low nibble and
 * weight 64c + 32 + l in its high nibble.
 *
 * The quantizer here is round-to-nearest, not ggml's `make_qkx2_quants`
 * search: each sub-block's range [min(0, min x), max x] is split in 15 steps,
 * the steps and mins are rounded to 6 bits against the block's largest, and
 * the weights are rounded onto the resulting grid. The file format is the
 * same; only the choice of scales differs from `llama-quantize`.
 *
 * @example
 * ```ts
 * import { dequantizeQ4K, quantizeQ4K } from "./gguf_q4_k.ts";
 * const x = Float32Array.from({ length: 256 }, (_, i) => (i % 16) - 8);
 * const bytes = quantizeQ4K(x);
 * console.log(bytes.length, dequantizeQ4K(bytes, 256).slice(0, 3)); // 144 Float32Array(3) [ -7.998046875, -6.998291015625, -5.99853515625 ]
 * ```
 * @module
 */

/** Bytes of one Q4_K block of 256 weights. */
export const Q4_K_BLOCK_BYTES = 144;

/**
 * Quantizes `x` (length a multiple of 256, finite) into Q4_K blocks.
 * `x` is not modified.
 */
export function quantizeQ4K(x: Float32Array): Uint8Array {
  if (x.length % 256 !== 0) {
    throw new RangeError(
      `quantizeQ4K: ${x.length} elements are not a whole number of Q4_K blocks of 256; ` +
        "store rows whose length is not a multiple of 256 as Q4_0 or Q8_0",
    );
  }
  const out = new Uint8Array((x.length / 256) * Q4_K_BLOCK_BYTES);
  const view = new DataView(out.buffer);
  const steps = new Float32Array(8);
  const mins = new Float32Array(8);
  for (let b = 0; b < x.length / 256; b++) {
    const s = b * 256;
    for (let j = 0; j < 8; j++) {
      let lo = 0;
      let hi = -Infinity;
      for (let l = 0; l < 32; l++) {
        const v = x[s + 32 * j + l];
        if (!Number.isFinite(v)) {
          throw new RangeError(
            `quantizeQ4K: element ${s + 32 * j + l} is ${v}; remove non-finite weights`,
          );
        }
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
      steps[j] = (hi - lo) / 15;
      mins[j] = -lo;
    }
    const o = b * Q4_K_BLOCK_BYTES;
    view.setFloat16(o, Math.max(...steps) / 63, true);
    view.setFloat16(o + 2, Math.max(...mins) / 63, true);
    const d = view.getFloat16(o, true);
    const dmin = view.getFloat16(o + 2, true);
    const sc = steps.map((v) => (d > 0 ? Math.min(63, Math.round(v / d)) : 0));
    const m = mins.map((v) => (dmin > 0 ? Math.min(63, Math.round(v / dmin)) : 0));
    const scales = out.subarray(o + 4, o + 16);
    for (let j = 0; j < 8; j++) {
      if (j < 4) {
        scales[j] = sc[j];
        scales[j + 4] = m[j];
      } else {
        scales[j + 4] = (sc[j] & 15) | ((m[j] & 15) << 4);
        scales[j - 4] |= (sc[j] >> 4) << 6;
        scales[j] |= (m[j] >> 4) << 6;
      }
    }
    const q = new Uint8Array(256);
    for (let j = 0; j < 8; j++) {
      const step = d * sc[j];
      const offset = dmin * m[j];
      for (let l = 0; l < 32; l++) {
        const v = step > 0 ? Math.round((x[s + 32 * j + l] + offset) / step) : 0;
        q[32 * j + l] = Math.max(0, Math.min(15, v));
      }
    }
    for (let c = 0; c < 4; c++) {
      for (let l = 0; l < 32; l++) {
        out[o + 16 + 32 * c + l] = q[64 * c + l] | (q[64 * c + 32 + l] << 4);
      }
    }
  }
  return out;
}

/** Decodes `count` weights from Q4_K blocks, as ggml's `dequantize_row_q4_K` does. */
export function dequantizeQ4K(bytes: Uint8Array, count: number): Float32Array {
  if (count % 256 !== 0 || bytes.length !== (count / 256) * Q4_K_BLOCK_BYTES) {
    throw new RangeError(
      `dequantizeQ4K: ${count} elements need ${(count / 256) * Q4_K_BLOCK_BYTES} bytes (count a ` +
        `multiple of 256), got ${bytes.length}`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const y = new Float32Array(count);
  for (let b = 0; b < count / 256; b++) {
    const o = b * Q4_K_BLOCK_BYTES;
    const d = view.getFloat16(o, true);
    const dmin = view.getFloat16(o + 2, true);
    const sc = bytes.subarray(o + 4, o + 16);
    for (let j = 0; j < 8; j++) {
      const ls = j < 4 ? sc[j] & 63 : (sc[j + 4] & 15) | ((sc[j - 4] >> 6) << 4);
      const lm = j < 4 ? sc[j + 4] & 63 : (sc[j + 4] >> 4) | ((sc[j] >> 6) << 4);
      const scale = Math.fround(d * ls);
      const min = Math.fround(dmin * lm);
      const c = j >> 1;
      const shift = (j & 1) * 4;
      for (let l = 0; l < 32; l++) {
        const q = (bytes[o + 16 + 32 * c + l] >> shift) & 15;
        y[b * 256 + 32 * j + l] = Math.fround(scale * q) - min;
      }
    }
  }
  return y;
}
