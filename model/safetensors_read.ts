/**
 * Lazy safetensors reading: open a file, look at its header, and read one
 * tensor's bytes at a time, so a model larger than memory can be processed
 * layer by layer. An in-memory variant parses a `Uint8Array`.
 *
 * @example
 * ```ts
 * import { openSafetensors } from "./safetensors_read.ts";
 * import { writeSafetensors } from "./safetensors_write.ts";
 * const path = (await Deno.makeTempDir()) + "/m.safetensors";
 * await writeSafetensors(path, { w: { dtype: "F32", shape: [2], data: new Float32Array([1, 2]) } });
 * await using file = await openSafetensors(path);
 * console.log(file.names, (await file.read("w")).data); // ["w"] Float32Array [1, 2]
 * ```
 * @module
 */

import type { SafetensorsDType } from "./safetensors_dtype.ts";
import { checkDecodeAs, decodeTensor, type TensorArray } from "./safetensors_decode.ts";
import {
  type ByteSlice,
  checkSliceBytes,
  planSlices,
  readSlices,
  type SliceJob,
  type SliceOptions,
} from "./safetensors_slices.ts";
import {
  type HeaderEntry,
  parseHeader,
  readHeaderLength,
  SafetensorsError,
} from "./safetensors_header.ts";

/** A tensor's header facts, known without reading its bytes. */
export interface TensorInfo {
  /** The stored element type. */
  dtype: SafetensorsDType;
  /** The shape (empty for a scalar). */
  shape: number[];
  /** Its size in the file, in bytes. */
  byteLength: number;
}

/** A tensor read from a file. */
export interface TensorData {
  /** The stored dtype (even when `data` was converted). */
  dtype: SafetensorsDType;
  /** The shape. */
  shape: number[];
  /** The values; its type depends on the dtype and {@link ReadOptions.as}. */
  data: TensorArray;
}

/** Options for {@link SafetensorsReader.read}. */
export interface ReadOptions {
  /**
   * Left out: the stored dtype's typed array (BF16 as raw `Uint16Array` bits).
   * `"f32"` / `"f16"`: any float dtype converted to `Float32Array` /
   * `Float16Array`. `"raw"`: the little-endian bytes as a `Uint8Array`.
   */
  as?: "f32" | "f16" | "raw";
}

/** An open safetensors file (or checkpoint of several files). */
export interface SafetensorsReader extends AsyncDisposable {
  /** The file, directory or name it was opened from. */
  readonly path: string;
  /** Tensor names, in file order. */
  readonly names: readonly string[];
  /** The `__metadata__` strings. */
  readonly metadata: Readonly<Record<string, string>>;
  /** Whether the file holds tensor `name`. */
  has(name: string): boolean;
  /** The dtype, shape and byte length of tensor `name`, without reading it. */
  info(name: string): TensorInfo;
  /** Reads tensor `name`'s bytes (and only those) and decodes them. */
  read(name: string, options?: ReadOptions): Promise<TensorData>;
  /**
   * Reads the raw bytes of tensors `names` in large slices, in file order, the
   * next slice read while the caller handles the current one (see
   * `model/safetensors_slices.ts`). A slice's bytes are valid until the next is asked for.
   */
  slices(names: readonly string[], options?: SliceOptions): AsyncGenerator<ByteSlice>;
  /** The reads {@link SafetensorsReader.slices} makes, for joining several files into one stream. */
  sliceJobs(names: readonly string[], options?: SliceOptions): SliceJob[];
  /** Releases the file handle(s); later reads throw. Safe to call twice. */
  close(): void;
}

/** Where a {@link TensorFile} gets bytes from. */
interface ByteSource {
  /** Reads `length` bytes at `offset`, into `into` when given (exactly `length` long). */
  read(offset: number, length: number, into?: Uint8Array): Promise<Uint8Array>;
  close(): void;
}

/** One validated file, reading its bytes from a {@link ByteSource}, one read at a time. */
class TensorFile implements SafetensorsReader {
  readonly path: string;
  readonly names: readonly string[];
  readonly metadata: Readonly<Record<string, string>>;
  #entries: Map<string, HeaderEntry>;
  #source: ByteSource;
  #dataStart: number;
  #queue: Promise<unknown> = Promise.resolve();
  #pending = 0;
  #closed = false;
  #released = false;

  constructor(
    path: string,
    entries: Map<string, HeaderEntry>,
    metadata: Record<string, string>,
    source: ByteSource,
    dataStart: number,
  ) {
    this.path = path;
    this.#entries = entries;
    this.names = Object.freeze([...entries.keys()]);
    this.metadata = Object.freeze({ ...metadata });
    this.#source = source;
    this.#dataStart = dataStart;
  }

  has(name: string): boolean {
    return this.#entries.has(name);
  }

  #entry(name: string): HeaderEntry {
    const e = this.#entries.get(name);
    if (e === undefined) {
      const some = this.names.slice(0, 5).map((n) => JSON.stringify(n)).join(", ");
      const more = this.names.length > 5 ? `, … (${this.names.length} in all)` : "";
      throw new SafetensorsError(
        this.path,
        `no such tensor; this file holds ${some || "no tensors"}${more}`,
        { tensor: name, field: "name" },
      );
    }
    return e;
  }

  info(name: string): TensorInfo {
    const e = this.#entry(name);
    return { dtype: e.dtype, shape: [...e.shape], byteLength: e.end - e.begin };
  }

  async read(name: string, options: ReadOptions = {}): Promise<TensorData> {
    const e = this.#entry(name);
    const as = checkDecodeAs(options.as ?? "native", e.dtype, this.path, name);
    const bytes = await this.#readBytes(e.begin, e.end - e.begin, name);
    return {
      dtype: e.dtype,
      shape: [...e.shape],
      data: decodeTensor(bytes, e.dtype, as, this.path, name),
    };
  }

  sliceJobs(names: readonly string[], options: SliceOptions = {}): SliceJob[] {
    const sliceBytes = checkSliceBytes(options.sliceBytes, this.path);
    const entries = [...new Set(names)].map((n) => this.#entry(n));
    return planSlices(entries, sliceBytes).map((s) => ({
      length: s.length,
      parts: s.parts,
      read: (into: Uint8Array) => this.#readBytes(s.offset, s.length, s.parts[0].name, into),
    }));
  }

  slices(names: readonly string[], options: SliceOptions = {}): AsyncGenerator<ByteSlice> {
    return readSlices(this.sliceJobs(names, options));
  }

  /** Reads data-section bytes through the handle, one read at a time even when reads overlap. */
  async #readBytes(
    offset: number,
    length: number,
    tensor: string,
    into?: Uint8Array,
  ): Promise<Uint8Array> {
    if (this.#closed) {
      throw new SafetensorsError(this.path, "the file was closed; open it again to read", {
        tensor,
      });
    }
    this.#pending++;
    const job = this.#queue.then(() => this.#source.read(this.#dataStart + offset, length, into));
    this.#queue = job.catch(() => {});
    try {
      return await job;
    } finally {
      this.#pending--;
      if (this.#closed && this.#pending === 0) this.#release();
    }
  }

  #release(): void {
    if (this.#released) return;
    this.#released = true;
    this.#source.close();
  }

  close(): void {
    this.#closed = true;
    if (this.#pending === 0) this.#release();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
    await this.#queue;
  }
}

async function readFull(file: Deno.FsFile, buf: Uint8Array, path: string): Promise<void> {
  let got = 0;
  while (got < buf.length) {
    const n = await file.read(buf.subarray(got));
    if (n === null) {
      throw new SafetensorsError(
        path,
        `the file ended ${buf.length - got} bytes early while reading; it was truncated or ` +
          "changed after it was opened",
      );
    }
    got += n;
  }
}

/**
 * Opens a safetensors file and validates its header. Tensor bytes are read
 * only by `read(name)`, through the open handle (seek, then read), one tensor
 * at a time even when reads overlap.
 *
 * @param path the `.safetensors` file
 * @throws {SafetensorsError} when the file cannot be opened or its header is malformed
 *
 * @example
 * ```ts
 * import { openSafetensors } from "./safetensors_read.ts";
 * import { writeSafetensors } from "./safetensors_write.ts";
 * const path = (await Deno.makeTempDir()) + "/m.safetensors";
 * await writeSafetensors(path, {
 *   norm: { dtype: "BF16", shape: [2], data: new Float32Array([0.5, 2]) },
 * }, { note: "hi" });
 * const file = await openSafetensors(path);
 * console.log(file.info("norm"), file.metadata); // { dtype: "BF16", shape: [2], byteLength: 4 } { note: "hi" }
 * console.log((await file.read("norm", { as: "f32" })).data); // Float32Array [0.5, 2]
 * file.close();
 * ```
 */
export async function openSafetensors(path: string): Promise<SafetensorsReader> {
  let file: Deno.FsFile;
  try {
    file = await Deno.open(path, { read: true });
  } catch (e) {
    throw new SafetensorsError(
      path,
      `cannot open the file (${(e as Error).message}); check the path and --allow-read`,
      { field: "path" },
    );
  }
  try {
    const stat = await file.stat();
    if (!stat.isFile) {
      throw new SafetensorsError(
        path,
        "is not a regular file; give a .safetensors file (openCheckpoint takes a directory)",
        { field: "path" },
      );
    }
    const size = stat.size;
    const first8 = new Uint8Array(Math.min(8, size));
    await readFull(file, first8, path);
    const n = readHeaderLength(first8, size, path);
    const json = new Uint8Array(n);
    await readFull(file, json, path);
    const header = parseHeader(json, size - 8 - n, path);
    const source: ByteSource = {
      async read(offset, length, into) {
        const buf = into ?? new Uint8Array(length);
        if (length === 0) return buf;
        await file.seek(offset, Deno.SeekMode.Start);
        await readFull(file, buf, path);
        return buf;
      },
      close: () => file.close(),
    };
    return new TensorFile(path, header.tensors, header.metadata, source, 8 + n);
  } catch (e) {
    file.close();
    throw e;
  }
}

/**
 * Parses a whole safetensors file held in memory, with the same checks and
 * interface as {@link openSafetensors}. Reads return copies, so the results
 * never alias `bytes`.
 *
 * @param bytes the file's contents
 * @param name a name for errors (default `"<memory>"`)
 * @throws {SafetensorsError} when the bytes are not a valid safetensors file
 *
 * @example
 * ```ts
 * import { parseSafetensors } from "./safetensors_read.ts";
 * const header = new TextEncoder().encode('{"b":{"dtype":"U8","shape":[2],"data_offsets":[0,2]}}');
 * const bytes = new Uint8Array(8 + header.length + 2);
 * new DataView(bytes.buffer).setBigUint64(0, BigInt(header.length), true);
 * bytes.set(header, 8);
 * bytes.set([7, 9], 8 + header.length);
 * const file = parseSafetensors(bytes, "b.safetensors");
 * console.log((await file.read("b")).data); // Uint8Array [7, 9]
 * ```
 */
export function parseSafetensors(bytes: Uint8Array, name = "<memory>"): SafetensorsReader {
  const n = readHeaderLength(bytes.subarray(0, 8), bytes.length, name);
  const header = parseHeader(bytes.subarray(8, 8 + n), bytes.length - 8 - n, name);
  const source: ByteSource = {
    read: (offset, length) => Promise.resolve(bytes.slice(offset, offset + length)),
    close: () => {},
  };
  return new TensorFile(name, header.tensors, header.metadata, source, 8 + n);
}
