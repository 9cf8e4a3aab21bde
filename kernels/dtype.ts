/**
 * Element types of GPU tensors and their CPU typed arrays.
 *
 * @example
 * ```ts
 * import { bytesPerElement } from "./dtype.ts";
 * console.log(bytesPerElement("f16")); // 2
 * ```
 * @module
 */

/** Element type of a {@link Tensor}. Packed low-bit weights are stored as `u32` words. */
export type DType = "f32" | "f16" | "i32" | "u32";

/** The typed array that holds each dtype on the CPU. */
export type TypedArrayFor<D extends DType> = D extends "f32" ? Float32Array
  : D extends "f16" ? Float16Array
  : D extends "i32" ? Int32Array
  : Uint32Array;

/** Any typed array a tensor can be read into or created from. */
export type AnyTypedArray = Float32Array | Float16Array | Int32Array | Uint32Array;

/**
 * Bytes per element of a dtype.
 *
 * @example
 * ```ts
 * import { bytesPerElement } from "./dtype.ts";
 * console.log(bytesPerElement("f32")); // 4
 * ```
 */
export function bytesPerElement(dtype: DType): number {
  return dtype === "f16" ? 2 : 4;
}

/**
 * The WGSL scalar type of a dtype.
 *
 * @example
 * ```ts
 * import { wgslType } from "./dtype.ts";
 * console.log(wgslType("i32")); // "i32"
 * ```
 */
export function wgslType(dtype: DType): string {
  return dtype;
}

/** True for `f32` and `f16`. */
export function isFloat(dtype: DType): boolean {
  return dtype === "f32" || dtype === "f16";
}

/**
 * A typed array of `dtype` holding `data` (copied, converted with the
 * dtype's rounding: f16 rounds to nearest even, integers truncate).
 *
 * @example
 * ```ts
 * import { toTypedArray } from "./dtype.ts";
 * console.log(toTypedArray([1.5, 2], "i32")); // Int32Array [1, 2]
 * ```
 */
export function toTypedArray(data: ArrayLike<number>, dtype: DType): AnyTypedArray {
  switch (dtype) {
    case "f32":
      return Float32Array.from(data);
    case "f16":
      return Float16Array.from(data);
    case "i32":
      return Int32Array.from(data);
    case "u32":
      return Uint32Array.from(data);
  }
}

/**
 * Typed-array view of raw bytes as `dtype`.
 *
 * @example
 * ```ts
 * import { viewAs } from "./dtype.ts";
 * console.log(viewAs(new Float32Array([2]).buffer, "f32", 1)); // Float32Array [2]
 * ```
 */
export function viewAs(buffer: ArrayBuffer, dtype: DType, length: number): AnyTypedArray {
  switch (dtype) {
    case "f32":
      return new Float32Array(buffer, 0, length);
    case "f16":
      return new Float16Array(buffer, 0, length);
    case "i32":
      return new Int32Array(buffer, 0, length);
    case "u32":
      return new Uint32Array(buffer, 0, length);
  }
}

/** The dtype matching a typed array, if any. */
export function dtypeOf(data: unknown): DType | undefined {
  if (data instanceof Float32Array) return "f32";
  if (data instanceof Float16Array) return "f16";
  if (data instanceof Int32Array) return "i32";
  if (data instanceof Uint32Array) return "u32";
  return undefined;
}
