/**
 * Checks tensors for writing and lays out a safetensors file: the tensors'
 * bytes (viewed, not copied, unless a conversion is asked for) and the padded
 * JSON header.
 *
 * @example
 * ```ts
 * import { encodeHeader, prepareTensors } from "./safetensors_encode.ts";
 * const tensors = prepareTensors("m.safetensors", {
 *   w: { dtype: "F32", shape: [2], data: new Float32Array([1, 2]) },
 * });
 * console.log(encodeHeader(tensors, {}).length % 8); // 0
 * ```
 * @module
 */

import {
  DTYPE_BYTES,
  DTYPES,
  f32ToBf16,
  isDtype,
  LITTLE_ENDIAN,
  type SafetensorsDType,
} from "./safetensors_dtype.ts";
import type { TensorArray } from "./safetensors_decode.ts";
import { SafetensorsError } from "./safetensors_header.ts";

/**
 * A tensor to write. `data` is the typed array of the dtype (`Float32Array`
 * for F32, `Int32Array` for I32, `Uint8Array` for U8/BOOL/FP8, `Uint16Array`
 * bits for BF16, …), or a `Float32Array` for F16/BF16 (rounded to nearest
 * even), or a `Float16Array`/`Uint16Array` for F16, or the little-endian bytes
 * as a `Uint8Array` for any dtype. It is never modified.
 */
export interface TensorInput {
  /** The dtype to store. */
  dtype: SafetensorsDType;
  /** The shape; its product must equal the element count. */
  shape: readonly number[];
  /** The values. */
  data: TensorArray;
}

/** A checked tensor with its bytes, ready to write. */
export interface PreparedTensor {
  /** The tensor name. */
  name: string;
  /** Its dtype. */
  dtype: SafetensorsDType;
  /** Its shape. */
  shape: number[];
  /** Its little-endian bytes (may view the caller's array: do not modify). */
  bytes: Uint8Array;
}

const NATIVE: Record<SafetensorsDType, string> = {
  F64: "Float64Array",
  F32: "Float32Array",
  F16: "Float16Array",
  BF16: "Uint16Array",
  I64: "BigInt64Array",
  I32: "Int32Array",
  I16: "Int16Array",
  I8: "Int8Array",
  U64: "BigUint64Array",
  U32: "Uint32Array",
  U16: "Uint16Array",
  U8: "Uint8Array",
  BOOL: "Uint8Array",
  F8_E4M3: "Uint8Array",
  F8_E5M2: "Uint8Array",
};

function viewBytes(a: ArrayBufferView): Uint8Array {
  return new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
}

function toBytes(file: string, name: string, t: TensorInput, count: bigint): Uint8Array {
  const d: unknown = t.data;
  const kind = ArrayBuffer.isView(d) ? d.constructor.name : typeof d;
  const need = count * BigInt(DTYPE_BYTES[t.dtype]);
  const shapeText = `[${t.shape.join(", ")}]`;
  if (kind === "Uint8Array" && NATIVE[t.dtype] !== "Uint8Array") {
    const bytes = d as Uint8Array;
    if (BigInt(bytes.length) !== need) {
      throw new SafetensorsError(
        file,
        `data is ${bytes.length} raw bytes but dtype ${t.dtype} × shape ${shapeText} needs ` +
          `${need}; fix the shape or the data`,
        { tensor: name, field: "data" },
      );
    }
    return bytes;
  }
  const accepts = [NATIVE[t.dtype]];
  if (t.dtype === "F16" || t.dtype === "BF16") accepts.push("Float32Array");
  if (t.dtype === "F16") accepts.push("Uint16Array");
  if (!accepts.includes(kind)) {
    throw new SafetensorsError(
      file,
      `data is a ${kind} but dtype ${t.dtype} takes ${accepts.join(" or ")} (or its ` +
        "little-endian bytes as a Uint8Array); convert the data or change the dtype",
      { tensor: name, field: "data" },
    );
  }
  const arr = d as TensorArray;
  if (BigInt(arr.length) !== count) {
    throw new SafetensorsError(
      file,
      `data has ${arr.length} elements but shape ${shapeText} needs ${count}; fix the shape ` +
        "or the data",
      { tensor: name, field: "data" },
    );
  }
  if (kind === "Float32Array" && t.dtype === "BF16") {
    return viewBytes(f32ToBf16(arr as Float32Array));
  }
  if (kind === "Float32Array" && t.dtype === "F16") {
    return viewBytes(new Float16Array(arr as Float32Array));
  }
  return viewBytes(arr);
}

function prepareOne(file: string, name: string, t: unknown): PreparedTensor {
  if (name === "" || name === "__metadata__") {
    throw new SafetensorsError(
      file,
      `tensor name ${JSON.stringify(name)} is reserved or empty; rename the tensor`,
      { tensor: name, field: "name" },
    );
  }
  if (t === null || typeof t !== "object") {
    throw new SafetensorsError(file, "expected an object {dtype, shape, data}", {
      tensor: name,
      field: "tensor",
    });
  }
  const { dtype, shape } = t as Record<string, unknown>;
  if (!isDtype(dtype)) {
    throw new SafetensorsError(
      file,
      `dtype ${JSON.stringify(dtype)} is not supported; expected one of ${DTYPES.join(", ")}`,
      { tensor: name, field: "dtype" },
    );
  }
  if (
    !Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)
  ) {
    throw new SafetensorsError(
      file,
      `shape ${JSON.stringify(shape)} is not a list of non-negative integers`,
      { tensor: name, field: "shape" },
    );
  }
  const count = (shape as number[]).reduce((p, s) => p * BigInt(s), 1n);
  const input = t as TensorInput;
  const bytes = toBytes(file, name, input, count);
  return { name, dtype, shape: [...shape as number[]], bytes };
}

/**
 * Checks every tensor and returns them, in the order given, each with its bytes.
 *
 * @param file the output file name, for errors
 * @param tensors the tensors by name
 * @throws {SafetensorsError} naming the tensor and field when one is invalid
 *
 * @example
 * ```ts
 * import { prepareTensors } from "./safetensors_encode.ts";
 * const out = prepareTensors("m.safetensors", {
 *   codes: { dtype: "U8", shape: [4], data: new Uint8Array([1, 2, 3, 4]) },
 *   scale: { dtype: "F32", shape: [1], data: new Float32Array([0.5]) },
 * });
 * console.log(out.map((t) => t.name)); // ["codes", "scale"]
 * ```
 */
export function prepareTensors(
  file: string,
  tensors: Record<string, TensorInput>,
): PreparedTensor[] {
  if (tensors === null || typeof tensors !== "object") {
    throw new SafetensorsError(file, "tensors must be an object mapping names to tensors", {
      field: "tensors",
    });
  }
  if (!LITTLE_ENDIAN) {
    throw new SafetensorsError(file, "writing needs a little-endian machine");
  }
  return Object.keys(tensors).map((name) => prepareOne(file, name, tensors[name]));
}

/**
 * The order of the reference implementation's dtype enum; its writer puts
 * later dtypes first, so larger elements come first.
 */
const REFERENCE_DTYPE_ORDER: readonly SafetensorsDType[] = [
  "BOOL",
  "U8",
  "I8",
  "F8_E5M2",
  "F8_E4M3",
  "I16",
  "U16",
  "F16",
  "BF16",
  "I32",
  "U32",
  "F32",
  "F64",
  "I64",
  "U64",
];

/**
 * Sorts tensors as the reference writer lays them out: by dtype, descending
 * in the reference's dtype order (so larger elements come first and every
 * tensor starts aligned to its element size within the data section), then
 * by name. Returns a new array.
 *
 * @example
 * ```ts
 * import { prepareTensors, referenceOrder } from "./safetensors_encode.ts";
 * const out = referenceOrder(prepareTensors("m.safetensors", {
 *   codes: { dtype: "U8", shape: [4], data: new Uint8Array([1, 2, 3, 4]) },
 *   scale: { dtype: "F32", shape: [1], data: new Float32Array([0.5]) },
 * }));
 * console.log(out.map((t) => t.name)); // ["scale", "codes"]
 * ```
 */
export function referenceOrder(tensors: readonly PreparedTensor[]): PreparedTensor[] {
  const rank = (d: SafetensorsDType) => REFERENCE_DTYPE_ORDER.indexOf(d);
  return [...tensors].sort((a, b) =>
    rank(b.dtype) - rank(a.dtype) || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)
  );
}

/**
 * Checks that every metadata value is a string (the format allows nothing
 * else) and returns a plain copy.
 *
 * @example
 * ```ts
 * import { checkWriteMetadata } from "./safetensors_encode.ts";
 * console.log(checkWriteMetadata("m.safetensors", { format: "pt" })); // { format: "pt" }
 * ```
 */
export function checkWriteMetadata(
  file: string,
  metadata: Record<string, string> | undefined,
): Record<string, string> {
  if (metadata === undefined) return {};
  if (metadata === null || typeof metadata !== "object" || Array.isArray(metadata)) {
    throw new SafetensorsError(file, "__metadata__ must be an object of strings", {
      field: "__metadata__",
    });
  }
  for (const [k, v] of Object.entries(metadata)) {
    if (typeof v !== "string") {
      throw new SafetensorsError(
        file,
        `__metadata__ key ${JSON.stringify(k)} is a ${typeof v}; metadata values must be ` +
          "strings (use JSON.stringify for structured values)",
        { field: "__metadata__" },
      );
    }
  }
  return Object.fromEntries(Object.entries(metadata));
}

/**
 * Builds the file's first bytes: the 8-byte little-endian length, then the
 * JSON header padded with spaces to a multiple of 8 bytes (as the reference
 * writer does), with `data_offsets` laying the tensors out back to back in
 * the given order (see {@link referenceOrder}).
 *
 * @example
 * ```ts
 * import { encodeHeader } from "./safetensors_encode.ts";
 * const head = encodeHeader(
 *   [{ name: "w", dtype: "U8", shape: [1], bytes: new Uint8Array([5]) }],
 *   {},
 * );
 * console.log(new TextDecoder().decode(head.subarray(8)).trimEnd());
 * // {"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}
 * ```
 */
export function encodeHeader(
  tensors: readonly PreparedTensor[],
  metadata: Record<string, string>,
): Uint8Array {
  const entries: [string, unknown][] = [];
  if (Object.keys(metadata).length > 0) entries.push(["__metadata__", metadata]);
  let offset = 0;
  for (const t of tensors) {
    const end = offset + t.bytes.length;
    entries.push([t.name, { dtype: t.dtype, shape: t.shape, data_offsets: [offset, end] }]);
    offset = end;
  }
  // fromEntries defines own properties, so a tensor named "__proto__" stays a tensor.
  let json = new TextEncoder().encode(JSON.stringify(Object.fromEntries(entries)));
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded !== json.length) {
    const p = new Uint8Array(padded).fill(0x20);
    p.set(json);
    json = p;
  }
  const out = new Uint8Array(8 + json.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  return out;
}
