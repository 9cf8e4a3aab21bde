/**
 * The element types a safetensors file can hold, their sizes, and the
 * conversions between 32-bit floats and the two 16-bit float formats
 * (IEEE half precision and bfloat16).
 *
 * @example
 * ```ts
 * import { bf16ToF32, DTYPE_BYTES, f32ToBf16 } from "./safetensors_dtype.ts";
 * const bits = f32ToBf16(new Float32Array([1.5, -2]));
 * console.log(DTYPE_BYTES.BF16, bf16ToF32(bits)); // 2 Float32Array [1.5, -2]
 * ```
 * @module
 */

/** Bytes per element of every dtype lowbit reads and writes, keyed by its safetensors name. */
export const DTYPE_BYTES = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U64: 8,
  U32: 4,
  U16: 2,
  U8: 1,
  BOOL: 1,
  F8_E4M3: 1,
  F8_E5M2: 1,
} as const;

/** A safetensors dtype name that lowbit supports, such as `"F32"` or `"BF16"`. */
export type SafetensorsDType = keyof typeof DTYPE_BYTES;

/** Every supported dtype name, in the order of {@link DTYPE_BYTES}. */
export const DTYPES: readonly SafetensorsDType[] = Object.keys(DTYPE_BYTES) as SafetensorsDType[];

/**
 * Whether `name` is a dtype lowbit supports.
 *
 * @example
 * ```ts
 * import { isDtype } from "./safetensors_dtype.ts";
 * console.log(isDtype("BF16"), isDtype("bf16"), isDtype("F4")); // true false false
 * ```
 */
export function isDtype(name: unknown): name is SafetensorsDType {
  return typeof name === "string" && Object.hasOwn(DTYPE_BYTES, name);
}

/**
 * Whether a dtype holds floating-point numbers that lowbit converts to f32 or
 * f16 on request (F64, F32, F16, BF16; FP8 is read as raw bits only).
 *
 * @example
 * ```ts
 * import { isFloatDtype } from "./safetensors_dtype.ts";
 * console.log(isFloatDtype("BF16"), isFloatDtype("I8")); // true false
 * ```
 */
export function isFloatDtype(dtype: SafetensorsDType): boolean {
  return dtype === "F64" || dtype === "F32" || dtype === "F16" || dtype === "BF16";
}

/**
 * Rounds 32-bit floats to bfloat16 (round to nearest, ties to even), returning
 * the raw 16-bit patterns. NaN stays NaN (quietened); ±Inf stays ±Inf; values
 * that round past the largest bfloat16 become ±Inf. The input is not modified.
 *
 * @example
 * ```ts
 * import { f32ToBf16 } from "./safetensors_dtype.ts";
 * // 1 + 2^-8 lies halfway between two bfloat16 values and rounds to the even one, 1.
 * const bits = f32ToBf16(new Float32Array([1, 1 + 2 ** -8, -0]));
 * console.log([...bits].map((b) => b.toString(16))); // ["3f80", "3f80", "8000"]
 * ```
 */
export function f32ToBf16(values: Float32Array): Uint16Array {
  const u32 = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < u32.length; i++) {
    const x = u32[i];
    if ((x & 0x7f800000) === 0x7f800000 && (x & 0x007fffff) !== 0) {
      out[i] = (x >>> 16) | 0x0040; // NaN: keep the sign and top payload, force quiet
    } else {
      out[i] = (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
    }
  }
  return out;
}

/**
 * Widens bfloat16 bit patterns to 32-bit floats (exact).
 *
 * @example
 * ```ts
 * import { bf16ToF32 } from "./safetensors_dtype.ts";
 * console.log(bf16ToF32(new Uint16Array([0x3f80, 0xc000, 0x7f80]))); // Float32Array [1, -2, Infinity]
 * ```
 */
export function bf16ToF32(bits: Uint16Array): Float32Array {
  const out = new Uint32Array(bits.length);
  for (let i = 0; i < bits.length; i++) out[i] = bits[i] << 16;
  return new Float32Array(out.buffer);
}

/**
 * Rounds 32-bit floats to IEEE half precision (round to nearest, ties to even).
 *
 * @example
 * ```ts
 * import { f32ToF16 } from "./safetensors_dtype.ts";
 * console.log(f32ToF16(new Float32Array([0.1, 70000]))); // Float16Array [0.0999755859375, Infinity]
 * ```
 */
export function f32ToF16(values: Float32Array): Float16Array {
  return new Float16Array(values);
}

/**
 * Widens half-precision floats (a `Float16Array`, or raw bits in a
 * `Uint16Array`) to 32-bit floats (exact).
 *
 * @example
 * ```ts
 * import { f16ToF32 } from "./safetensors_dtype.ts";
 * console.log(f16ToF32(new Uint16Array([0x3c00, 0xc000]))); // Float32Array [1, -2]
 * ```
 */
export function f16ToF32(values: Float16Array | Uint16Array): Float32Array {
  if (values instanceof Uint16Array) {
    const copy = new Uint16Array(values);
    return new Float32Array(new Float16Array(copy.buffer));
  }
  return new Float32Array(values);
}

/**
 * Whether this machine stores numbers little-endian, as safetensors does.
 * lowbit reads and writes tensor bytes directly and refuses big-endian hosts.
 */
export const LITTLE_ENDIAN: boolean = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
