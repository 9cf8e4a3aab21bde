/**
 * Quantization of float rows into ggml's blocks and back, in pure TS. The
 * quantizers follow ggml's reference (round-to-nearest) quantizers
 * (`quantize_row_*_ref` in `ggml/src/ggml-quants.c`), so a file written here
 * holds what llama.cpp's own `llama-quantize` without an importance matrix
 * would write from the same floats:
 *
 * - Q8_0: d = max|x| / 127, q = round(x / d) (half away from zero).
 * - Q4_0: m = the element of largest magnitude (with its sign), d = m / −8,
 *   q = min(15, trunc(x / d + 8.5)); x ≈ d·(q − 8).
 * - Q4_1: d = (max − min) / 15, q = min(15, trunc((x − min) / d + 0.5));
 *   x ≈ d·q + min.
 *
 * - Q4_K: see `model/gguf_q4_k.ts` (round-to-nearest scales, not ggml's search).
 * - TQ2_0: see `model/gguf_tq2_0.ts` (d = max|x|, t = round(x / d)).
 *
 * The scales are stored as f16; dequantization uses the stored f16 values.
 * A block of zeros gets d = 0 and codes that decode to 0.
 *
 * @example
 * ```ts
 * import { dequantizeBlocks, quantizeBlocks } from "./gguf_blocks.ts";
 * const x = Float32Array.from({ length: 32 }, (_, i) => 8 * i - 127);
 * const bytes = quantizeBlocks("Q8_0", x);
 * console.log(bytes.length, dequantizeBlocks("Q8_0", bytes, 32)[0]); // 34 -127
 * ```
 * @module
 */
import { GGML_TYPES, type GgmlType } from "./gguf_format.ts";
import { dequantizeQ4K, quantizeQ4K } from "./gguf_q4_k.ts";
import { dequantizeTq2_0, quantizeTq2_0 } from "./gguf_tq2_0.ts";

/** The number of bytes `count` elements of `type` take (count a multiple of its block size). */
export function ggmlBytes(type: GgmlType, count: number): number {
  const { blockSize, typeSize } = GGML_TYPES[type];
  if (count % blockSize !== 0) {
    throw new RangeError(
      `ggmlBytes: ${count} elements are not a whole number of ${type} blocks of ${blockSize}; ` +
        `pad the row to a multiple of ${blockSize} or export this tensor as F16`,
    );
  }
  return (count / blockSize) * typeSize;
}

function quantizeQ8_0(x: Float32Array, view: DataView, _out: Uint8Array, b: number): void {
  const s = b * 32;
  let amax = 0;
  for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[s + j]));
  const d = amax / 127;
  const id = d ? 1 / d : 0;
  const o = b * 34;
  view.setFloat16(o, d, true);
  for (let j = 0; j < 32; j++) {
    const v = x[s + j] * id;
    // C's roundf: half away from zero.
    view.setInt8(o + 2 + j, Math.sign(v) * Math.round(Math.abs(v)));
  }
}

function quantizeQ4_0(x: Float32Array, view: DataView, out: Uint8Array, b: number): void {
  const s = b * 32;
  let amax = 0;
  let max = 0;
  for (let j = 0; j < 32; j++) {
    const v = x[s + j];
    if (amax < Math.abs(v)) {
      amax = Math.abs(v);
      max = v;
    }
  }
  const d = Math.fround(max / -8);
  const id = d ? Math.fround(1 / d) : 0;
  const o = b * 18;
  view.setFloat16(o, d, true);
  for (let j = 0; j < 16; j++) {
    const lo = Math.min(15, Math.trunc(Math.fround(x[s + j] * id) + 8.5));
    const hi = Math.min(15, Math.trunc(Math.fround(x[s + 16 + j] * id) + 8.5));
    out[o + 2 + j] = lo | (hi << 4);
  }
}

function quantizeQ4_1(x: Float32Array, view: DataView, out: Uint8Array, b: number): void {
  const s = b * 32;
  let min = Infinity;
  let max = -Infinity;
  for (let j = 0; j < 32; j++) {
    min = Math.min(min, x[s + j]);
    max = Math.max(max, x[s + j]);
  }
  const d = Math.fround((max - min) / 15);
  const id = d ? Math.fround(1 / d) : 0;
  const o = b * 20;
  view.setFloat16(o, d, true);
  view.setFloat16(o + 2, min, true);
  for (let j = 0; j < 16; j++) {
    const lo = Math.min(15, Math.trunc(Math.fround((x[s + j] - min) * id) + 0.5));
    const hi = Math.min(15, Math.trunc(Math.fround((x[s + 16 + j] - min) * id) + 0.5));
    out[o + 4 + j] = lo | (hi << 4);
  }
}

const QUANTIZERS = { Q8_0: quantizeQ8_0, Q4_0: quantizeQ4_0, Q4_1: quantizeQ4_1 };

/**
 * Encodes `x` (row-major, its length a multiple of the type's block size) as
 * ggml `type` bytes. Throws a RangeError naming the element when `x` holds NaN
 * or ±Inf (a scale must never be computed from them). `x` is not modified.
 *
 * @example
 * ```ts
 * import { quantizeBlocks } from "./gguf_blocks.ts";
 * console.log(quantizeBlocks("F16", new Float32Array([1, -2]))); // Uint8Array(4) [ 0, 60, 0, 192 ]
 * ```
 */
export function quantizeBlocks(type: GgmlType, x: Float32Array): Uint8Array {
  const out = new Uint8Array(ggmlBytes(type, x.length));
  const view = new DataView(out.buffer);
  for (let i = 0; i < x.length; i++) {
    if (!Number.isFinite(x[i])) {
      throw new RangeError(
        `quantizeBlocks(${type}): element ${i} is ${x[i]}; remove non-finite weights before export`,
      );
    }
  }
  if (type === "F32") {
    for (let i = 0; i < x.length; i++) view.setFloat32(i * 4, x[i], true);
  } else if (type === "F16") {
    for (let i = 0; i < x.length; i++) view.setFloat16(i * 2, x[i], true);
  } else if (type === "Q4_K") {
    out.set(quantizeQ4K(x));
  } else if (type === "TQ2_0") {
    out.set(quantizeTq2_0(x));
  } else {
    const q = QUANTIZERS[type];
    for (let b = 0; b < x.length / 32; b++) q(x, view, out, b);
  }
  return out;
}

/**
 * Decodes `count` elements of ggml `type` from `bytes` (exactly
 * {@link ggmlBytes} long) into f32, as ggml's `dequantize_row_*` does.
 *
 * @example
 * ```ts
 * import { dequantizeBlocks } from "./gguf_blocks.ts";
 * console.log(dequantizeBlocks("F16", new Uint8Array([0, 60, 0, 192]), 2)); // Float32Array(2) [ 1, -2 ]
 * ```
 */
export function dequantizeBlocks(type: GgmlType, bytes: Uint8Array, count: number): Float32Array {
  const need = ggmlBytes(type, count);
  if (bytes.length !== need) {
    throw new RangeError(
      `dequantizeBlocks(${type}): ${count} elements need ${need} bytes, got ${bytes.length}`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const y = new Float32Array(count);
  if (type === "F32") {
    for (let i = 0; i < count; i++) y[i] = view.getFloat32(i * 4, true);
  } else if (type === "F16") {
    for (let i = 0; i < count; i++) y[i] = view.getFloat16(i * 2, true);
  } else if (type === "Q4_K") {
    y.set(dequantizeQ4K(bytes, count));
  } else if (type === "TQ2_0") {
    y.set(dequantizeTq2_0(bytes, count));
  } else if (type === "Q8_0") {
    for (let b = 0; b < count / 32; b++) {
      const d = view.getFloat16(b * 34, true);
      for (let j = 0; j < 32; j++) y[b * 32 + j] = d * view.getInt8(b * 34 + 2 + j);
    }
  } else {
    const q41 = type === "Q4_1";
    const size = q41 ? 20 : 18;
    const qs = q41 ? 4 : 2;
    for (let b = 0; b < count / 32; b++) {
      const o = b * size;
      const d = view.getFloat16(o, true);
      const m = q41 ? view.getFloat16(o + 2, true) : 0;
      const zero = q41 ? 0 : 8;
      for (let j = 0; j < 16; j++) {
        const byte = bytes[o + qs + j];
        y[b * 32 + j] = Math.fround(d * ((byte & 15) - zero)) + m;
        y[b * 32 + 16 + j] = Math.fround(d * ((byte >> 4) - zero)) + m;
      }
    }
  }
  return y;
}
