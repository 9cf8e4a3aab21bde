/**
 * ggml's TQ2_0 block (ternary, 2.0625 bits per weight): 256 weights in
 * {−d, 0, +d}. Layout (`block_tq2_0` in `ggml/src/ggml-common.h`, 66 bytes):
 * u8 qs[64] · f16 d. Each weight is stored as q = t + 1 ∈ {0, 1, 2} in two
 * bits: byte 32h + m (h = 0, 1) holds the weights 128h + 32n + m in bits
 * 2n..2n+1 (n = 0..3). Quantization as ggml's `quantize_row_tq2_0_ref`:
 * d = max|x|, t = round(x / d) (half away from zero), x ≈ d·t.
 *
 * @example
 * ```ts
 * import { dequantizeTq2_0, quantizeTq2_0 } from "./gguf_tq2_0.ts";
 * const x = Float32Array.from({ length: 256 }, (_, i) => (i % 3) - 1);
 * const bytes = quantizeTq2_0(x);
 * console.log(bytes.length, dequantizeTq2_0(bytes, 256).slice(0, 3)); // 66 Float32Array(3) [ -1, 0, 1 ]
 * ```
 * @module
 */

/** Bytes of one TQ2_0 block of 256 weights. */
export const TQ2_0_BLOCK_BYTES = 66;

function checkCount(op: string, count: number): void {
  if (count % 256 !== 0) {
    throw new RangeError(
      `${op}: ${count} elements are not a whole number of TQ2_0 blocks of 256; ` +
        "store rows whose length is not a multiple of 256 in another type",
    );
  }
}

/** Quantizes `x` (length a multiple of 256, finite) into TQ2_0 blocks; `x` is not modified. */
export function quantizeTq2_0(x: Float32Array): Uint8Array {
  checkCount("quantizeTq2_0", x.length);
  const out = new Uint8Array((x.length / 256) * TQ2_0_BLOCK_BYTES);
  const view = new DataView(out.buffer);
  for (let b = 0; b < x.length / 256; b++) {
    const s = b * 256;
    let amax = 0;
    for (let i = 0; i < 256; i++) {
      const v = x[s + i];
      if (!Number.isFinite(v)) {
        throw new RangeError(`quantizeTq2_0: element ${s + i} is ${v}; remove non-finite weights`);
      }
      amax = Math.max(amax, Math.abs(v));
    }
    const id = amax ? Math.fround(1 / amax) : 0;
    const o = b * TQ2_0_BLOCK_BYTES;
    for (let h = 0; h < 2; h++) {
      for (let m = 0; m < 32; m++) {
        let q = 0;
        for (let n = 0; n < 4; n++) {
          const v = Math.fround(x[s + 128 * h + 32 * n + m] * id);
          q |= ((Math.sign(v) * Math.round(Math.abs(v)) + 1) & 3) << (2 * n);
        }
        out[o + 32 * h + m] = q;
      }
    }
    view.setFloat16(o + 64, amax, true);
  }
  return out;
}

/** Decodes `count` weights from TQ2_0 blocks, as ggml's `dequantize_row_tq2_0` does. */
export function dequantizeTq2_0(bytes: Uint8Array, count: number): Float32Array {
  checkCount("dequantizeTq2_0", count);
  if (bytes.length !== (count / 256) * TQ2_0_BLOCK_BYTES) {
    throw new RangeError(
      `dequantizeTq2_0: ${count} elements need ${
        (count / 256) * TQ2_0_BLOCK_BYTES
      } bytes, got ${bytes.length}`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const y = new Float32Array(count);
  for (let b = 0; b < count / 256; b++) {
    const o = b * TQ2_0_BLOCK_BYTES;
    const d = view.getFloat16(o + 64, true);
    for (let h = 0; h < 2; h++) {
      for (let n = 0; n < 4; n++) {
        for (let m = 0; m < 32; m++) {
          const q = (bytes[o + 32 * h + m] >> (2 * n)) & 3;
          y[b * 256 + 128 * h + 32 * n + m] = (q - 1) * d;
        }
      }
    }
  }
  return y;
}
