/**
 * Turns a tensor's little-endian bytes into the typed array for its dtype,
 * or converts floats to f32 or f16 on request.
 *
 * @example
 * ```ts
 * import { decodeTensor } from "./safetensors_decode.ts";
 * const bytes = new Uint8Array(new Float32Array([1, 2]).buffer);
 * console.log(decodeTensor(bytes, "F32", "native", "x.safetensors", "w")); // Float32Array [1, 2]
 * ```
 * @module
 */

import {
  bf16ToF32,
  isFloatDtype,
  LITTLE_ENDIAN,
  type SafetensorsDType,
} from "./safetensors_dtype.ts";
import { SafetensorsError } from "./safetensors_header.ts";

/**
 * How {@link decodeTensor} returns data: `"native"` as the typed array of the
 * stored dtype (BF16 as raw `Uint16Array` bits, FP8 and BOOL as `Uint8Array`),
 * `"f32"` / `"f16"` converted from any float dtype, `"raw"` as the bytes.
 */
export type DecodeAs = "native" | "f32" | "f16" | "raw";

/** Any typed array a tensor can be returned as. */
export type TensorArray =
  | Float64Array
  | Float32Array
  | Float16Array
  | BigInt64Array
  | BigUint64Array
  | Int32Array
  | Int16Array
  | Int8Array
  | Uint32Array
  | Uint16Array
  | Uint8Array;

const MODES: readonly DecodeAs[] = ["native", "f32", "f16", "raw"];

/**
 * Checks that `as` is a valid read mode for a tensor of `dtype`, so a bad
 * request fails before any byte is read.
 *
 * @example
 * ```ts
 * import { checkDecodeAs } from "./safetensors_decode.ts";
 * checkDecodeAs("f32", "BF16", "m.safetensors", "w"); // fine
 * try {
 *   checkDecodeAs("f32", "I8", "m.safetensors", "codes");
 * } catch (e) {
 *   console.log((e as Error).message.includes('as: "f32"')); // true
 * }
 * ```
 */
export function checkDecodeAs(
  as: unknown,
  dtype: SafetensorsDType,
  file: string,
  tensor: string,
): DecodeAs {
  if (!MODES.includes(as as DecodeAs)) {
    throw new SafetensorsError(
      file,
      `read option as: ${JSON.stringify(as)} is not one of "f32", "f16", "raw" (or leave it out ` +
        "for the stored dtype)",
      { tensor, field: "as" },
    );
  }
  if ((as === "f32" || as === "f16") && !isFloatDtype(dtype)) {
    throw new SafetensorsError(
      file,
      `read option as: "${as}" converts floats, but the tensor's dtype is ${dtype}; read it ` +
        'without "as" to get its integers (or as: "raw" for bytes)',
      { tensor, field: "as" },
    );
  }
  if (!LITTLE_ENDIAN && as !== "raw") {
    throw new SafetensorsError(
      file,
      'this machine is big-endian and safetensors is little-endian; read with as: "raw"',
      { tensor, field: "as" },
    );
  }
  return as as DecodeAs;
}

function native(b: Uint8Array, dtype: SafetensorsDType): TensorArray {
  const buf = b.buffer as ArrayBuffer;
  const o = b.byteOffset;
  switch (dtype) {
    case "F64":
      return new Float64Array(buf, o, b.byteLength / 8);
    case "F32":
      return new Float32Array(buf, o, b.byteLength / 4);
    case "F16":
      return new Float16Array(buf, o, b.byteLength / 2);
    case "BF16":
    case "U16":
      return new Uint16Array(buf, o, b.byteLength / 2);
    case "I64":
      return new BigInt64Array(buf, o, b.byteLength / 8);
    case "U64":
      return new BigUint64Array(buf, o, b.byteLength / 8);
    case "I32":
      return new Int32Array(buf, o, b.byteLength / 4);
    case "U32":
      return new Uint32Array(buf, o, b.byteLength / 4);
    case "I16":
      return new Int16Array(buf, o, b.byteLength / 2);
    case "I8":
      return new Int8Array(buf, o, b.byteLength);
    case "U8":
    case "BOOL":
    case "F8_E4M3":
    case "F8_E5M2":
      return b;
  }
}

/**
 * Decodes one tensor's bytes. `bytes` must be owned by the caller and start at
 * an offset aligned for the dtype (a fresh `Uint8Array` is); the result may
 * share its memory.
 *
 * @param bytes the tensor's bytes, little-endian
 * @param dtype the stored dtype
 * @param as the form to return, see {@link DecodeAs}
 * @param file the file name, for errors
 * @param tensor the tensor name, for errors
 *
 * @example
 * ```ts
 * import { decodeTensor } from "./safetensors_decode.ts";
 * const bf16 = new Uint8Array(new Uint16Array([0x3f80, 0x4040]).buffer); // 1, 3
 * console.log(decodeTensor(bf16, "BF16", "f32", "m.safetensors", "w")); // Float32Array [1, 3]
 * ```
 */
export function decodeTensor(
  bytes: Uint8Array,
  dtype: SafetensorsDType,
  as: DecodeAs,
  file: string,
  tensor: string,
): TensorArray {
  checkDecodeAs(as, dtype, file, tensor);
  if (as === "raw") return bytes;
  const data = native(bytes, dtype);
  if (as === "native") return data;
  const floats = dtype === "BF16" ? bf16ToF32(data as Uint16Array) : data as Float32Array;
  if (as === "f32") return floats instanceof Float32Array ? floats : new Float32Array(floats);
  return floats instanceof Float16Array ? floats : new Float16Array(floats);
}
