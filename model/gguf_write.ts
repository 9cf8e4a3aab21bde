/**
 * GGUF v3 writer: metadata and tensors into one file, in the layout of the
 * GGUF specification (see `model/gguf_format.ts`): header, metadata, tensor
 * infos, padding to `general.alignment` (32 unless the metadata says
 * otherwise), then each tensor's bytes at an aligned offset.
 *
 * @example
 * ```ts
 * import { encodeGguf } from "./gguf_write.ts";
 * const bytes = encodeGguf({ "general.architecture": { type: "string", value: "llama" } }, [
 *   { name: "w", dims: [32], type: "Q8_0", data: new Float32Array(32) },
 * ]);
 * console.log(new TextDecoder().decode(bytes.subarray(0, 4)), bytes.length); // GGUF 192
 * ```
 * @module
 */
import { quantizeBlocks } from "./gguf_blocks.ts";
import {
  GGML_TYPES,
  type GgmlType,
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_MAGIC,
  GGUF_VALUE_TYPES,
  GGUF_VERSION,
  type GgufScalarType,
  type GgufValue,
} from "./gguf_format.ts";
import { commitTemp, writeTemp } from "./safetensors_write.ts";

/** One tensor to write: GGUF dims (contiguous dimension first), the type, and f32 values. */
export interface GgufTensorInput {
  /** The tensor name, e.g. `blk.0.attn_q.weight`. */
  name: string;
  /** ggml dims, ne[0] first: an HF `[out, in]` matrix is `[in, out]`. */
  dims: readonly number[];
  /** The stored type; ne[0] must be a multiple of its block size. */
  type: GgmlType;
  /** The values in row-major order of the HF shape (ne[0] varies fastest). */
  data: Float32Array;
}

/** Metadata to write: key → typed value, in insertion order. */
export type GgufMetadata = Record<string, GgufValue>;

const enc = new TextEncoder();

/** A growable little-endian byte buffer. */
class Bytes {
  #buf = new Uint8Array(1024);
  length = 0;
  #grow(n: number): number {
    if (this.length + n > this.#buf.length) {
      const next = new Uint8Array(Math.max(this.#buf.length * 2, this.length + n));
      next.set(this.#buf);
      this.#buf = next;
    }
    const at = this.length;
    this.length += n;
    return at;
  }
  /** A view of `n` new bytes at the end (taken after growing). */
  #at(n: number): DataView {
    const at = this.#grow(n);
    return new DataView(this.#buf.buffer, at, n);
  }
  u8(v: number): void {
    this.#at(1).setUint8(0, v);
  }
  u32(v: number): void {
    this.#at(4).setUint32(0, v, true);
  }
  u64(v: number | bigint): void {
    this.#at(8).setBigUint64(0, BigInt(v), true);
  }
  scalar(type: GgufScalarType, v: string | number | boolean | bigint): void {
    switch (type) {
      case "u8":
        return this.#at(1).setUint8(0, v as number);
      case "i8":
        return this.#at(1).setInt8(0, v as number);
      case "u16":
        return this.#at(2).setUint16(0, v as number, true);
      case "i16":
        return this.#at(2).setInt16(0, v as number, true);
      case "u32":
        return this.#at(4).setUint32(0, v as number, true);
      case "i32":
        return this.#at(4).setInt32(0, v as number, true);
      case "f32":
        return this.#at(4).setFloat32(0, v as number, true);
      case "f64":
        return this.#at(8).setFloat64(0, v as number, true);
      case "u64":
        return this.#at(8).setBigUint64(0, BigInt(v as bigint), true);
      case "i64":
        return this.#at(8).setBigInt64(0, BigInt(v as bigint), true);
      case "bool":
        return this.#at(1).setUint8(0, v ? 1 : 0);
      case "string":
        return this.string(v as string);
    }
  }
  string(s: string): void {
    const b = enc.encode(s);
    this.u64(b.length);
    const at = this.#grow(b.length);
    this.#buf.set(b, at);
  }
  bytes(): Uint8Array {
    return this.#buf.subarray(0, this.length);
  }
}

function checkTensor(t: GgufTensorInput, seen: Set<string>): number {
  const where = `encodeGguf: tensor "${t.name}"`;
  if (seen.has(t.name)) throw new RangeError(`${where} appears twice; tensor names must be unique`);
  seen.add(t.name);
  if (!(t.type in GGML_TYPES)) {
    throw new TypeError(`${where} has type "${t.type}"; use one of ${Object.keys(GGML_TYPES)}`);
  }
  if (t.dims.length < 1 || t.dims.length > 4 || t.dims.some((d) => !Number.isInteger(d) || d < 1)) {
    throw new RangeError(`${where} has dims [${t.dims}]; give 1 to 4 positive integers`);
  }
  const n = t.dims.reduce((a, b) => a * b, 1);
  if (t.data.length !== n) {
    throw new RangeError(`${where} has ${t.data.length} values but dims [${t.dims}] hold ${n}`);
  }
  const { blockSize, typeSize } = GGML_TYPES[t.type];
  if (t.dims[0] % blockSize !== 0) {
    throw new RangeError(
      `${where}: ne[0] = ${
        t.dims[0]
      } is not a multiple of the ${t.type} block size ${blockSize}; ` +
        "store this tensor as F16 or F32",
    );
  }
  return (n / blockSize) * typeSize;
}

/**
 * Encodes a complete GGUF v3 file in memory. Tensors are quantized with
 * {@link quantizeBlocks}; their data offsets are aligned to
 * `general.alignment` (a u32 in `metadata`, default 32). Inputs are not
 * modified.
 *
 * @throws {RangeError} for a duplicate name, dims that do not match the data,
 *   or ne[0] not a multiple of the type's block size
 */
export function encodeGguf(
  metadata: GgufMetadata,
  tensors: readonly GgufTensorInput[],
): Uint8Array {
  const alignValue = metadata["general.alignment"];
  const align = alignValue === undefined ? GGUF_DEFAULT_ALIGNMENT : Number(alignValue.value);
  if (alignValue !== undefined && (alignValue.type !== "u32" || align < 1 || align % 8 !== 0)) {
    throw new RangeError(
      `encodeGguf: general.alignment must be a u32 multiple of 8, got ${
        JSON.stringify(alignValue)
      }`,
    );
  }
  const seen = new Set<string>();
  const sizes = tensors.map((t) => checkTensor(t, seen));
  const pad = (n: number) => Math.ceil(n / align) * align;

  const h = new Bytes();
  h.u32(GGUF_MAGIC);
  h.u32(GGUF_VERSION);
  h.u64(tensors.length);
  h.u64(Object.keys(metadata).length);
  for (const [key, v] of Object.entries(metadata)) {
    h.string(key);
    h.u32(GGUF_VALUE_TYPES[v.type]);
    if (v.type === "array") {
      h.u32(GGUF_VALUE_TYPES[v.itemType]);
      h.u64(v.value.length);
      for (const item of v.value) h.scalar(v.itemType, item);
    } else {
      h.scalar(v.type, v.value);
    }
  }
  let offset = 0;
  const offsets: number[] = [];
  tensors.forEach((t, i) => {
    h.string(t.name);
    h.u32(t.dims.length);
    for (const d of t.dims) h.u64(d);
    h.u32(GGML_TYPES[t.type].id);
    h.u64(offset);
    offsets.push(offset);
    offset = pad(offset + sizes[i]);
  });
  const dataStart = pad(h.length);
  const out = new Uint8Array(dataStart + offset);
  out.set(h.bytes());
  tensors.forEach((t, i) => out.set(quantizeBlocks(t.type, t.data), dataStart + offsets[i]));
  return out;
}

/**
 * Writes {@link encodeGguf}'s file to `path` atomically (a temporary file
 * renamed into place); nothing is left behind on failure.
 *
 * @example
 * ```ts
 * import { writeGguf } from "./gguf_write.ts";
 * const path = (await Deno.makeTempDir()) + "/m.gguf";
 * await writeGguf(path, {}, [{ name: "b", dims: [2], type: "F32", data: new Float32Array(2) }]);
 * console.log((await Deno.stat(path)).size); // 96
 * ```
 */
export async function writeGguf(
  path: string,
  metadata: GgufMetadata,
  tensors: readonly GgufTensorInput[],
): Promise<void> {
  const bytes = encodeGguf(metadata, tensors);
  await commitTemp(await writeTemp(path, [bytes]), path);
}
