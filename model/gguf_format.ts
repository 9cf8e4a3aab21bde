/**
 * GGUF (version 3) constants: the magic, the metadata value types and the
 * ggml tensor types lowbit reads and writes, with their block sizes.
 *
 * Source: the GGUF specification (`docs/gguf.md` of ggml-org/ggml) and the
 * block structs of `ggml/src/ggml-common.h` (llama.cpp). A file is:
 * magic `GGUF` · u32 version · u64 tensor count · u64 metadata count ·
 * metadata (key string, u32 value type, value) · tensor infos (name, u32
 * n_dims, u64 dims with the contiguous dimension first, u32 ggml type, u64
 * offset from the data start) · padding to `general.alignment` · tensor data.
 * Strings are a u64 byte length and UTF-8 bytes; all integers little-endian.
 *
 * @example
 * ```ts
 * import { GGML_TYPES } from "./gguf_format.ts";
 * console.log(GGML_TYPES.Q4_0); // { id: 2, blockSize: 32, typeSize: 18 }
 * ```
 * @module
 */

/** `GGUF` read as a little-endian u32. */
export const GGUF_MAGIC = 0x46554747;
/** The version lowbit writes (and the only one it reads). */
export const GGUF_VERSION = 3;
/** The data alignment when `general.alignment` is absent. */
export const GGUF_DEFAULT_ALIGNMENT = 32;

/** The metadata value types of the GGUF spec, by name, with their ids. */
export const GGUF_VALUE_TYPES = {
  u8: 0,
  i8: 1,
  u16: 2,
  i16: 3,
  u32: 4,
  i32: 5,
  f32: 6,
  bool: 7,
  string: 8,
  array: 9,
  u64: 10,
  i64: 11,
  f64: 12,
} as const;

/** A scalar metadata value type's name. */
export type GgufScalarType = Exclude<keyof typeof GGUF_VALUE_TYPES, "array">;

/** One metadata value: a scalar, or an array of scalars of one type. */
export type GgufValue =
  | { type: "string"; value: string }
  | { type: "bool"; value: boolean }
  | { type: "u64" | "i64"; value: bigint }
  | { type: Exclude<GgufScalarType, "string" | "bool" | "u64" | "i64">; value: number }
  | { type: "array"; itemType: GgufScalarType; value: (string | number | boolean | bigint)[] };

/** A ggml tensor type: its id in the file, elements per block and bytes per block. */
export interface GgmlTypeInfo {
  /** The `ggml_type` enum value. */
  id: number;
  /** Elements per block (1 for plain floats). */
  blockSize: number;
  /** Bytes per block. */
  typeSize: number;
}

/**
 * The tensor types lowbit writes and reads. Q8_0: f16 scale d, 32 × i8
 * (x = d·q). Q4_0: f16 d, 16 bytes of nibbles, element j in the low nibble of
 * byte j and element j+16 in the high nibble (x = d·(q−8)). Q4_1: f16 d, f16
 * min m, the same nibbles (x = d·q + m). Q4_K: 256 weights with 6-bit
 * sub-block scales and mins (see `model/gguf_q4_k.ts`). TQ2_0: 256 ternary
 * weights in 2 bits each and an f16 scale (see `model/gguf_tq2_0.ts`).
 */
export const GGML_TYPES = {
  F32: { id: 0, blockSize: 1, typeSize: 4 },
  F16: { id: 1, blockSize: 1, typeSize: 2 },
  Q4_0: { id: 2, blockSize: 32, typeSize: 18 },
  Q4_1: { id: 3, blockSize: 32, typeSize: 20 },
  Q8_0: { id: 8, blockSize: 32, typeSize: 34 },
  Q4_K: { id: 12, blockSize: 256, typeSize: 144 },
  TQ2_0: { id: 35, blockSize: 256, typeSize: 66 },
} as const satisfies Record<string, GgmlTypeInfo>;

/** The name of a tensor type lowbit writes and reads. */
export type GgmlType = keyof typeof GGML_TYPES;

/** Every {@link GgmlType}, in the order F32, F16, Q8_0, Q4_0, Q4_1, Q4_K, TQ2_0. */
export const GGML_TYPE_NAMES: readonly GgmlType[] = [
  "F32",
  "F16",
  "Q8_0",
  "Q4_0",
  "Q4_1",
  "Q4_K",
  "TQ2_0",
];

/**
 * The `general.file_type` (llama.cpp's `llama_ftype`) of a model whose
 * matrices are all of one type: ALL_F32 0, MOSTLY_F16 1, MOSTLY_Q4_0 2,
 * MOSTLY_Q4_1 3, MOSTLY_Q8_0 7, MOSTLY_Q4_K_S 14, MOSTLY_TQ2_0 37.
 */
export const FILE_TYPES: Record<GgmlType, number> = {
  F32: 0,
  F16: 1,
  Q4_0: 2,
  Q4_1: 3,
  Q8_0: 7,
  Q4_K: 14,
  TQ2_0: 37,
};

/** The name of the type with ggml id `id`, or undefined when lowbit does not handle it. */
export function ggmlTypeName(id: number): GgmlType | undefined {
  return GGML_TYPE_NAMES.find((n) => GGML_TYPES[n].id === id);
}

/** A malformed or unsupported GGUF file; the message names the file and what is wrong. */
export class GgufError extends Error {
  /**
   * An error about `file`.
   * @param file the file (or `<memory>`)
   * @param message what is wrong and how to fix it
   */
  constructor(file: string, message: string) {
    super(`${file}: ${message}`);
    this.name = "GgufError";
  }
}
