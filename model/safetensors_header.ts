/**
 * The safetensors header: its error type, and the checks that the reference
 * implementation makes before any tensor byte is trusted.
 *
 * A file is an 8-byte little-endian header length `N`, then `N` bytes of
 * UTF-8 JSON mapping each tensor name to `{dtype, shape, data_offsets}` (plus
 * an optional `__metadata__` object of strings), then the data section, which
 * the tensors must cover back to back with no gap and no overlap.
 *
 * @example
 * ```ts
 * import { parseHeader } from "./safetensors_header.ts";
 * const json = new TextEncoder().encode('{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}');
 * const header = parseHeader(json, 8, "w.safetensors");
 * console.log(header.tensors.get("w")); // { name: "w", dtype: "F32", shape: [2], begin: 0, end: 8 }
 * ```
 * @module
 */

import { DTYPE_BYTES, DTYPES, isDtype, type SafetensorsDType } from "./safetensors_dtype.ts";

/** The largest header the reader accepts, in bytes (the reference's bound). */
export const MAX_HEADER_BYTES = 100_000_000;

/** Where in a file a {@link SafetensorsError} points. */
export interface SafetensorsErrorPlace {
  /** The tensor the problem is in, when there is one. */
  tensor?: string;
  /** The header field at fault (`dtype`, `shape`, `data_offsets`, `__metadata__`, …). */
  field?: string;
}

/**
 * A malformed or unreadable safetensors file, or a tensor that cannot be
 * written. The message starts with the file name, then the tensor, then says
 * which field is wrong, what was expected and how to fix it.
 *
 * @example
 * ```ts
 * import { SafetensorsError } from "./safetensors_header.ts";
 * const e = new SafetensorsError("m.safetensors", "dtype F33 is unknown", {
 *   tensor: "w",
 *   field: "dtype",
 * });
 * console.log(e.message); // m.safetensors: tensor "w": dtype F33 is unknown
 * ```
 */
export class SafetensorsError extends Error {
  /** The file the problem is in. */
  readonly file: string;
  /** The tensor the problem is in, if any. */
  readonly tensor?: string;
  /** The field at fault, if any. */
  readonly field?: string;

  /**
   * Builds the message `file: tensor "name": detail`.
   *
   * @param file the file name, shown first in the message
   * @param detail what is wrong, what was expected, and how to fix it
   * @param place the tensor and field, when known
   */
  constructor(file: string, detail: string, place: SafetensorsErrorPlace = {}) {
    const where = place.tensor === undefined ? "" : `tensor ${JSON.stringify(place.tensor)}: `;
    super(`${file}: ${where}${detail}`);
    this.name = "SafetensorsError";
    this.file = file;
    this.tensor = place.tensor;
    this.field = place.field;
  }
}

/** One tensor's header entry, with offsets relative to the start of the data section. */
export interface HeaderEntry {
  /** The tensor's name. */
  name: string;
  /** Its element type. */
  dtype: SafetensorsDType;
  /** Its shape (an empty array for a scalar). */
  shape: number[];
  /** First byte, relative to the data section. */
  begin: number;
  /** One past the last byte, relative to the data section. */
  end: number;
}

/** A validated header. */
export interface ParsedHeader {
  /** Tensors in the order of their bytes in the data section. */
  tensors: Map<string, HeaderEntry>;
  /** The `__metadata__` strings (empty when the file has none). */
  metadata: Record<string, string>;
}

/**
 * Reads and checks the 8-byte header length against the bound and the file
 * size, returning `N`, the number of JSON bytes that follow.
 *
 * @param first8 the file's first bytes (at least 8 unless the file is shorter)
 * @param fileSize the whole file's size in bytes
 * @param file the file name, for errors
 *
 * @example
 * ```ts
 * import { readHeaderLength } from "./safetensors_header.ts";
 * const bytes = new Uint8Array([2, 0, 0, 0, 0, 0, 0, 0, 123, 125]); // N = 2, then "{}"
 * console.log(readHeaderLength(bytes, bytes.length, "x.safetensors")); // 2
 * ```
 */
export function readHeaderLength(first8: Uint8Array, fileSize: number, file: string): number {
  if (fileSize < 8 || first8.length < 8) {
    throw new SafetensorsError(
      file,
      `header length: the file is ${fileSize} bytes, too short to hold the 8-byte header length; ` +
        "it is truncated or not a safetensors file",
      { field: "header length" },
    );
  }
  const n = new DataView(first8.buffer, first8.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) {
    throw new SafetensorsError(
      file,
      `header length: the first 8 bytes say the JSON header is ${n} bytes, over the ` +
        `${MAX_HEADER_BYTES}-byte limit; the file is corrupt or not a safetensors file`,
      { field: "header length" },
    );
  }
  if (n > BigInt(fileSize - 8)) {
    throw new SafetensorsError(
      file,
      `header length: the first 8 bytes say the JSON header is ${n} bytes, but only ` +
        `${fileSize - 8} bytes follow them; the file is truncated (download or copy it again)`,
      { field: "header length" },
    );
  }
  return Number(n);
}

function typeName(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "an array";
  if (typeof v === "object") return "an object";
  return `${typeof v} ${JSON.stringify(v)?.slice(0, 40)}`;
}

function isCount(v: unknown): v is number {
  return typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
}

function brief(v: unknown): string {
  const s = JSON.stringify(v) ?? String(v);
  return s.length > 60 ? s.slice(0, 57) + "..." : s;
}

function checkEntry(file: string, name: string, raw: unknown, dataBytes: number): HeaderEntry {
  const at = (field: string) => ({ tensor: name, field });
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw new SafetensorsError(
      file,
      `entry is ${typeName(raw)}; expected an object {"dtype", "shape", "data_offsets"}`,
      at("entry"),
    );
  }
  const e = raw as Record<string, unknown>;
  if (!("dtype" in e)) {
    throw new SafetensorsError(file, 'missing field "dtype"; expected e.g. "F32"', at("dtype"));
  }
  if (!isDtype(e.dtype)) {
    throw new SafetensorsError(
      file,
      `dtype ${brief(e.dtype)} is not supported; expected one of ${DTYPES.join(", ")}`,
      at("dtype"),
    );
  }
  if (!("shape" in e)) {
    throw new SafetensorsError(
      file,
      'missing field "shape"; expected e.g. [4096, 4096]',
      at("shape"),
    );
  }
  if (!Array.isArray(e.shape) || !e.shape.every(isCount)) {
    throw new SafetensorsError(
      file,
      `shape ${brief(e.shape)} is not a list of non-negative integers`,
      at("shape"),
    );
  }
  if (!("data_offsets" in e)) {
    throw new SafetensorsError(
      file,
      'missing field "data_offsets"; expected [begin, end] within the data section',
      at("data_offsets"),
    );
  }
  const off = e.data_offsets;
  if (!Array.isArray(off) || off.length !== 2 || !isCount(off[0]) || !isCount(off[1])) {
    throw new SafetensorsError(
      file,
      `data_offsets ${brief(off)} is not a pair [begin, end] of non-negative integers`,
      at("data_offsets"),
    );
  }
  const [begin, end] = off as [number, number];
  if (begin > end) {
    throw new SafetensorsError(
      file,
      `data_offsets [${begin}, ${end}] has begin > end; expected begin <= end`,
      at("data_offsets"),
    );
  }
  if (end > dataBytes) {
    throw new SafetensorsError(
      file,
      `data_offsets [${begin}, ${end}] ends past the data section, which is ${dataBytes} bytes; ` +
        "the file is truncated or its header is wrong",
      at("data_offsets"),
    );
  }
  const shape = e.shape as number[];
  const size = DTYPE_BYTES[e.dtype];
  const need = shape.reduce((p, d) => p * BigInt(d), 1n) * BigInt(size);
  if (need !== BigInt(end - begin)) {
    throw new SafetensorsError(
      file,
      `data_offsets [${begin}, ${end}] has ${end - begin} bytes but dtype ${e.dtype} × shape ` +
        `[${shape.join(", ")}] needs ${need}`,
      at("data_offsets"),
    );
  }
  return { name, dtype: e.dtype, shape: [...shape], begin, end };
}

function checkMetadata(file: string, raw: unknown): Record<string, string> {
  if (raw === null || raw === undefined) return {};
  if (typeof raw !== "object" || Array.isArray(raw)) {
    throw new SafetensorsError(
      file,
      `__metadata__ is ${typeName(raw)}; expected an object of string values`,
      { field: "__metadata__" },
    );
  }
  const entries = Object.entries(raw as Record<string, unknown>);
  for (const [k, v] of entries) {
    if (typeof v !== "string") {
      throw new SafetensorsError(
        file,
        `__metadata__ key ${JSON.stringify(k)} is ${typeName(v)}; every metadata value must be ` +
          "a string (store structured values as a JSON string)",
        { field: "__metadata__" },
      );
    }
  }
  return Object.fromEntries(entries) as Record<string, string>;
}

/**
 * Parses and validates the JSON header: every entry well-formed, offsets
 * within the `dataBytes`-byte data section, byte counts equal to dtype size ×
 * element count, and tensors covering the data section exactly, with no gap
 * and no overlap.
 *
 * @param json the header's bytes (without the 8-byte length)
 * @param dataBytes the size of the data section that follows the header
 * @param file the file name, for errors
 * @throws {SafetensorsError} naming the file, tensor and field at fault
 *
 * @example
 * ```ts
 * import { parseHeader, SafetensorsError } from "./safetensors_header.ts";
 * const json = new TextEncoder().encode('{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,10]}}');
 * try {
 *   parseHeader(json, 10, "model.safetensors");
 * } catch (e) {
 *   console.log(e instanceof SafetensorsError, (e as Error).message);
 *   // true model.safetensors: tensor "w": data_offsets [0, 10] has 10 bytes but dtype F32 × shape [3] needs 12
 * }
 * ```
 */
export function parseHeader(json: Uint8Array, dataBytes: number, file: string): ParsedHeader {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(json);
  } catch {
    throw new SafetensorsError(file, "header: the JSON header is not valid UTF-8", {
      field: "header",
    });
  }
  if (!text.startsWith("{")) {
    throw new SafetensorsError(
      file,
      `header: the JSON header starts with ${JSON.stringify(text.slice(0, 10))}; expected "{" ` +
        "(a JSON object of tensors)",
      { field: "header" },
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new SafetensorsError(
      file,
      `header: the header is not valid JSON (${(e as Error).message})`,
      { field: "header" },
    );
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new SafetensorsError(
      file,
      `header: the JSON header is ${typeName(parsed)}; expected an object of tensors`,
      { field: "header" },
    );
  }
  const obj = parsed as Record<string, unknown>;
  let metadata: Record<string, string> = {};
  const entries: HeaderEntry[] = [];
  for (const key of Object.keys(obj)) {
    if (key === "__metadata__") metadata = checkMetadata(file, obj[key]);
    else entries.push(checkEntry(file, key, obj[key], dataBytes));
  }
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  let previous: HeaderEntry | undefined;
  for (const e of entries) {
    if (e.begin < covered && previous) {
      throw new SafetensorsError(
        file,
        `data_offsets [${e.begin}, ${e.end}] overlap tensor ${JSON.stringify(previous.name)} at ` +
          `[${previous.begin}, ${previous.end}]; each byte must belong to one tensor`,
        { tensor: e.name, field: "data_offsets" },
      );
    }
    if (e.begin > covered) {
      throw new SafetensorsError(
        file,
        `data_offsets [${e.begin}, ${e.end}] leave a gap: bytes ${covered}..${e.begin} of the ` +
          "data section belong to no tensor; tensors must be packed back to back from offset 0",
        { tensor: e.name, field: "data_offsets" },
      );
    }
    covered = e.end;
    previous = e;
  }
  if (covered !== dataBytes) {
    throw new SafetensorsError(
      file,
      `data_offsets: the data section is ${dataBytes} bytes but the tensors cover only ` +
        `${covered}; ${dataBytes - covered} trailing bytes belong to no tensor (the header is ` +
        "wrong or the file has junk appended)",
      { field: "data_offsets" },
    );
  }
  return { tensors: new Map(entries.map((e) => [e.name, e])), metadata };
}
