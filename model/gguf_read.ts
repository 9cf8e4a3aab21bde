/**
 * GGUF v3 reader: parses the header, metadata and tensor infos of a GGUF
 * file, validates them against the file (like ggml's `gguf_init_from_file`:
 * magic, version, string and array lengths inside the file, known types,
 * dims, aligned and in-bounds non-overlapping tensor data), and decodes a
 * tensor into f32 on request (`model/gguf_blocks.ts`). Every error is a
 * {@link GgufError} naming the file and the field.
 *
 * @example
 * ```ts
 * import { encodeGguf } from "./gguf_write.ts";
 * import { parseGguf } from "./gguf_read.ts";
 * const bytes = encodeGguf({ "llama.block_count": { type: "u32", value: 4 } }, [
 *   { name: "w", dims: [2], type: "F16", data: new Float32Array([0.5, -1]) },
 * ]);
 * const file = parseGguf(bytes);
 * console.log(file.metadata.get("llama.block_count")?.value, file.read("w")); // 4 Float32Array(2) [ 0.5, -1 ]
 * ```
 * @module
 */
import { dequantizeBlocks } from "./gguf_blocks.ts";
import {
  GGML_TYPES,
  type GgmlType,
  ggmlTypeName,
  GGUF_DEFAULT_ALIGNMENT,
  GGUF_MAGIC,
  GGUF_VALUE_TYPES,
  GGUF_VERSION,
  GgufError,
  type GgufScalarType,
  type GgufValue,
} from "./gguf_format.ts";

/** A tensor's entry in the file. */
export interface GgufTensorInfo {
  /** Its name. */
  name: string;
  /** ggml dims, ne[0] (contiguous) first. */
  dims: number[];
  /** Its type. */
  type: GgmlType;
  /** Absolute byte offset of its data in the file. */
  offset: number;
  /** Its data size in bytes. */
  byteLength: number;
}

/** A parsed GGUF file. */
export interface GgufFile {
  /** The GGUF version (3). */
  version: number;
  /** The metadata, in file order. */
  metadata: Map<string, GgufValue>;
  /** The tensor infos, in file order. */
  tensors: GgufTensorInfo[];
  /** The raw stored bytes of tensor `name`. */
  raw(name: string): Uint8Array;
  /** Tensor `name` decoded to f32, in row-major order (ne[0] fastest). */
  read(name: string): Float32Array;
}

const SCALAR_SIZES: Record<string, number> = {
  u8: 1,
  i8: 1,
  u16: 2,
  i16: 2,
  u32: 4,
  i32: 4,
  f32: 4,
  bool: 1,
  u64: 8,
  i64: 8,
  f64: 8,
};
const TYPE_BY_ID = new Map(Object.entries(GGUF_VALUE_TYPES).map(([k, v]) => [v, k]));
const dec = new TextDecoder("utf-8", { fatal: true });

/** A bounds-checked little-endian cursor over the file. */
class Cursor {
  pos = 0;
  readonly view: DataView;
  constructor(readonly bytes: Uint8Array, readonly file: string) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  need(n: number, what: string): number {
    if (n > this.bytes.length - this.pos) {
      throw new GgufError(
        this.file,
        `${what} needs ${n} bytes at offset ${this.pos} but the file ends at ${this.bytes.length}; ` +
          "the file is truncated or not GGUF",
      );
    }
    const at = this.pos;
    this.pos += n;
    return at;
  }
  u32(what: string): number {
    return this.view.getUint32(this.need(4, what), true);
  }
  u64(what: string): number {
    const v = this.view.getBigUint64(this.need(8, what), true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw new GgufError(this.file, `${what} is ${v}, larger than any valid size`);
    }
    return Number(v);
  }
  string(what: string): string {
    const n = this.u64(`${what} length`);
    const at = this.need(n, what);
    try {
      return dec.decode(this.bytes.subarray(at, at + n));
    } catch {
      throw new GgufError(this.file, `${what} at offset ${at} is not valid UTF-8`);
    }
  }
  scalar(type: GgufScalarType, what: string): string | number | boolean | bigint {
    if (type === "string") return this.string(what);
    const at = this.need(SCALAR_SIZES[type], what);
    const v = this.view;
    switch (type) {
      case "u8":
        return v.getUint8(at);
      case "i8":
        return v.getInt8(at);
      case "u16":
        return v.getUint16(at, true);
      case "i16":
        return v.getInt16(at, true);
      case "u32":
        return v.getUint32(at, true);
      case "i32":
        return v.getInt32(at, true);
      case "f32":
        return v.getFloat32(at, true);
      case "f64":
        return v.getFloat64(at, true);
      case "u64":
        return v.getBigUint64(at, true);
      case "i64":
        return v.getBigInt64(at, true);
      case "bool": {
        const b = v.getUint8(at);
        if (b > 1) throw new GgufError(this.file, `${what} is a bool with byte ${b}, not 0 or 1`);
        return b === 1;
      }
    }
  }
  valueType(what: string): string {
    const id = this.u32(`${what} type`);
    const name = TYPE_BY_ID.get(id as never);
    if (name === undefined) {
      throw new GgufError(
        this.file,
        `${what} has value type ${id}, which GGUF does not define (0–12)`,
      );
    }
    return name;
  }
}

function readValue(c: Cursor, key: string): GgufValue {
  const type = c.valueType(`metadata "${key}"`);
  if (type !== "array") {
    return { type, value: c.scalar(type as GgufScalarType, `metadata "${key}"`) } as GgufValue;
  }
  const itemType = c.valueType(`metadata "${key}" items`);
  if (itemType === "array") {
    throw new GgufError(
      c.file,
      `metadata "${key}" is an array of arrays, which lowbit does not read`,
    );
  }
  const n = c.u64(`metadata "${key}" length`);
  const minItem = itemType === "string" ? 8 : SCALAR_SIZES[itemType];
  if (n * minItem > c.bytes.length - c.pos) {
    throw new GgufError(c.file, `metadata "${key}" claims ${n} items, more than the file holds`);
  }
  const value: (string | number | boolean | bigint)[] = new Array(n);
  for (let i = 0; i < n; i++) {
    value[i] = c.scalar(itemType as GgufScalarType, `metadata "${key}"[${i}]`);
  }
  return { type: "array", itemType: itemType as GgufScalarType, value };
}

function readInfo(c: Cursor, i: number): Omit<GgufTensorInfo, "offset"> & { rel: number } {
  const name = c.string(`tensor ${i} name`);
  const where = `tensor "${name}"`;
  const nDims = c.u32(`${where} n_dims`);
  if (nDims < 1 || nDims > 4) {
    throw new GgufError(c.file, `${where} has ${nDims} dims; GGUF tensors have 1 to 4`);
  }
  const dims: number[] = [];
  for (let d = 0; d < nDims; d++) {
    const v = c.u64(`${where} dim ${d}`);
    if (v < 1) throw new GgufError(c.file, `${where} dim ${d} is ${v}; dims must be positive`);
    dims.push(v);
  }
  const typeId = c.u32(`${where} type`);
  const type = ggmlTypeName(typeId);
  if (type === undefined) {
    throw new GgufError(
      c.file,
      `${where} has ggml type ${typeId}, which lowbit does not read; it reads ` +
        `${Object.entries(GGML_TYPES).map(([k, v]) => `${k} (${v.id})`).join(", ")}`,
    );
  }
  const { blockSize, typeSize } = GGML_TYPES[type];
  if (dims[0] % blockSize !== 0) {
    throw new GgufError(
      c.file,
      `${where}: ne[0] = ${dims[0]} is not a multiple of the ${type} block size ${blockSize}`,
    );
  }
  const count = dims.reduce((a, b) => a * b, 1);
  const rel = c.u64(`${where} offset`);
  return { name, dims, type, rel, byteLength: (count / blockSize) * typeSize };
}

/**
 * Parses a GGUF v3 file held in memory. Tensor data is decoded lazily by
 * {@link GgufFile.read}; `bytes` is kept (not copied) and not modified.
 *
 * @param bytes the whole file
 * @param file the name used in error messages
 * @throws {GgufError} naming the first malformed field
 */
export function parseGguf(bytes: Uint8Array, file = "<memory>"): GgufFile {
  const c = new Cursor(bytes, file);
  const magic = c.u32("magic");
  if (magic !== GGUF_MAGIC) {
    throw new GgufError(
      file,
      `does not start with "GGUF" (magic 0x${magic.toString(16)}); not a GGUF file`,
    );
  }
  const version = c.u32("version");
  if (version !== GGUF_VERSION) {
    throw new GgufError(
      file,
      `is GGUF version ${version}; lowbit reads version 3 (re-export it with a current llama.cpp)`,
    );
  }
  const nTensors = c.u64("tensor count");
  const nKv = c.u64("metadata count");
  if (nTensors > bytes.length / 8 || nKv > bytes.length / 8) {
    throw new GgufError(
      file,
      `claims ${nTensors} tensors and ${nKv} metadata entries, more than the file can hold`,
    );
  }
  const metadata = new Map<string, GgufValue>();
  for (let i = 0; i < nKv; i++) {
    const key = c.string(`metadata key ${i}`);
    if (metadata.has(key)) throw new GgufError(file, `metadata key "${key}" appears twice`);
    metadata.set(key, readValue(c, key));
  }
  const alignEntry = metadata.get("general.alignment");
  let align = GGUF_DEFAULT_ALIGNMENT;
  if (alignEntry !== undefined) {
    if (
      alignEntry.type !== "u32" || alignEntry.value < 1 ||
      (alignEntry.value & (alignEntry.value - 1)) !== 0
    ) {
      throw new GgufError(
        file,
        `general.alignment must be a u32 power of two, got ${JSON.stringify(alignEntry)}`,
      );
    }
    align = alignEntry.value;
  }
  const infos = [];
  const names = new Set<string>();
  for (let i = 0; i < nTensors; i++) {
    const info = readInfo(c, i);
    if (names.has(info.name)) throw new GgufError(file, `tensor "${info.name}" appears twice`);
    names.add(info.name);
    infos.push(info);
  }
  const dataStart = Math.ceil(c.pos / align) * align;
  const tensors: GgufTensorInfo[] = infos.map(({ rel, ...t }) => {
    if (rel % align !== 0) {
      throw new GgufError(
        file,
        `tensor "${t.name}" offset ${rel} is not a multiple of the alignment ${align}`,
      );
    }
    const offset = dataStart + rel;
    if (offset + t.byteLength > bytes.length) {
      throw new GgufError(
        file,
        `tensor "${t.name}" needs bytes ${offset}–${
          offset + t.byteLength
        } but the file ends at ${bytes.length}; the file is truncated`,
      );
    }
    return { ...t, offset };
  });
  const sorted = [...tensors].sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1];
    if (prev.offset + prev.byteLength > sorted[i].offset) {
      throw new GgufError(
        file,
        `tensors "${prev.name}" and "${sorted[i].name}" overlap in the data section`,
      );
    }
  }
  const byName = new Map(tensors.map((t) => [t.name, t]));
  const get = (name: string): GgufTensorInfo => {
    const t = byName.get(name);
    if (t === undefined) {
      throw new GgufError(
        file,
        `has no tensor "${name}"; it has ${tensors.length} tensors, e.g. ${
          tensors.slice(0, 3).map((x) => `"${x.name}"`).join(", ")
        }`,
      );
    }
    return t;
  };
  const raw = (name: string) => {
    const t = get(name);
    return bytes.subarray(t.offset, t.offset + t.byteLength);
  };
  return {
    version,
    metadata,
    tensors,
    raw,
    read: (name) => {
      const t = get(name);
      return dequantizeBlocks(t.type, raw(name), t.dims.reduce((a, b) => a * b, 1));
    },
  };
}

/**
 * Reads and parses a GGUF file ({@link parseGguf}).
 *
 * @example
 * ```ts
 * import { writeGguf } from "./gguf_write.ts";
 * import { readGguf } from "./gguf_read.ts";
 * const path = (await Deno.makeTempDir()) + "/m.gguf";
 * await writeGguf(path, {}, [{ name: "b", dims: [2], type: "F32", data: new Float32Array([3, 4]) }]);
 * console.log((await readGguf(path)).read("b")); // Float32Array(2) [ 3, 4 ]
 * ```
 */
export async function readGguf(path: string): Promise<GgufFile> {
  let bytes: Uint8Array;
  try {
    bytes = await Deno.readFile(path);
  } catch (e) {
    throw new GgufError(
      path,
      `cannot be read (${(e as Error).message}); check the path and --allow-read`,
    );
  }
  return parseGguf(bytes, path);
}
