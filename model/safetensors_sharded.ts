/**
 * Checkpoints of one or several safetensors files. A directory holds either
 * `model.safetensors`, or shards `model-00001-of-0000N.safetensors` with an
 * index `model.safetensors.index.json` (`{"metadata": …, "weight_map":
 * {tensor: file}}`). {@link openCheckpoint} presents either as one reader;
 * {@link writeShardedSafetensors} writes either.
 *
 * @example
 * ```ts
 * import { openCheckpoint, writeShardedSafetensors } from "./safetensors_sharded.ts";
 * const dir = await Deno.makeTempDir();
 * const t = (v: number) => ({ dtype: "F32" as const, shape: [4], data: new Float32Array(4).fill(v) });
 * await writeShardedSafetensors(dir, { a: t(1), b: t(2) }, { maxShardBytes: 16 });
 * await using ckpt = await openCheckpoint(dir);
 * console.log(ckpt.files.length, (await ckpt.read("b")).data); // 2 Float32Array [2, 2, 2, 2]
 * ```
 * @module
 */

import { SafetensorsError } from "./safetensors_header.ts";
import {
  openSafetensors,
  type ReadOptions,
  type SafetensorsReader,
  type TensorData,
  type TensorInfo,
} from "./safetensors_read.ts";
import {
  type ByteSlice,
  readSlices,
  type SliceJob,
  type SliceOptions,
} from "./safetensors_slices.ts";
import { checkWriteMetadata, type PreparedTensor, prepareTensors } from "./safetensors_encode.ts";
import { commitTemp, fileChunks, type TensorInput, writeTemp } from "./safetensors_write.ts";

/** The single-file checkpoint name. */
export const SINGLE_FILE = "model.safetensors";
/** The shard index name. */
export const INDEX_FILE = "model.safetensors.index.json";

/** A checkpoint opened by {@link openCheckpoint}: one reader over all its files. */
export interface CheckpointReader extends SafetensorsReader {
  /** The safetensors files, as paths, in shard order. */
  readonly files: readonly string[];
  /** The index's `metadata` object (e.g. `total_size`); empty without an index. */
  readonly indexMetadata: Readonly<Record<string, unknown>>;
}

function join(dir: string, name: string): string {
  return dir.endsWith("/") ? dir + name : `${dir}/${name}`;
}

async function statOrNull(path: string): Promise<Deno.FileInfo | null> {
  try {
    return await Deno.stat(path);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw new SafetensorsError(path, `cannot stat (${(e as Error).message}); check --allow-read`, {
      field: "path",
    });
  }
}

class Checkpoint implements CheckpointReader {
  readonly path: string;
  readonly names: readonly string[];
  readonly metadata: Readonly<Record<string, string>>;
  readonly files: readonly string[];
  readonly indexMetadata: Readonly<Record<string, unknown>>;
  #owner: Map<string, SafetensorsReader>;
  #shards: SafetensorsReader[];

  constructor(
    path: string,
    shards: SafetensorsReader[],
    owner: Map<string, SafetensorsReader>,
    indexMetadata: Record<string, unknown>,
  ) {
    this.path = path;
    this.#shards = shards;
    this.#owner = owner;
    this.files = Object.freeze(shards.map((s) => s.path));
    this.names = Object.freeze(shards.flatMap((s) => s.names.filter((n) => owner.get(n) === s)));
    this.metadata = Object.freeze(Object.assign({}, ...shards.map((s) => s.metadata)));
    this.indexMetadata = Object.freeze({ ...indexMetadata });
  }

  #shard(name: string): SafetensorsReader {
    const s = this.#owner.get(name);
    if (s === undefined) {
      throw new SafetensorsError(
        this.path,
        `no such tensor in this checkpoint of ${this.names.length} tensors (e.g. ` +
          `${this.names.slice(0, 3).map((n) => JSON.stringify(n)).join(", ")})`,
        { tensor: name, field: "name" },
      );
    }
    return s;
  }

  has(name: string): boolean {
    return this.#owner.has(name);
  }

  info(name: string): TensorInfo {
    return this.#shard(name).info(name);
  }

  read(name: string, options?: ReadOptions): Promise<TensorData> {
    try {
      return this.#shard(name).read(name, options);
    } catch (e) {
      return Promise.reject(e);
    }
  }

  sliceJobs(names: readonly string[], options?: SliceOptions): SliceJob[] {
    const byShard = new Map<SafetensorsReader, string[]>(this.#shards.map((s) => [s, []]));
    for (const name of names) byShard.get(this.#shard(name))!.push(name);
    return this.#shards.flatMap((s) => {
      const own = byShard.get(s)!;
      return own.length ? s.sliceJobs(own, options) : [];
    });
  }

  slices(names: readonly string[], options?: SliceOptions): AsyncGenerator<ByteSlice> {
    // one stream over the shards: the first slice of the next shard is read ahead too
    return readSlices(this.sliceJobs(names, options));
  }

  close(): void {
    for (const s of this.#shards) s.close();
  }

  async [Symbol.asyncDispose](): Promise<void> {
    for (const s of this.#shards) await s[Symbol.asyncDispose]();
  }
}

function single(reader: SafetensorsReader): Checkpoint {
  return new Checkpoint(reader.path, [reader], new Map(reader.names.map((n) => [n, reader])), {});
}

function parseIndex(
  indexPath: string,
  text: string,
): { weightMap: Record<string, string>; metadata: Record<string, unknown> } {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (e) {
    throw new SafetensorsError(indexPath, `the index is not valid JSON (${(e as Error).message})`, {
      field: "index",
    });
  }
  if (raw === null || typeof raw !== "object" || Array.isArray(raw)) {
    throw new SafetensorsError(indexPath, 'the index must be a JSON object with a "weight_map"', {
      field: "index",
    });
  }
  const { weight_map: map, metadata } = raw as Record<string, unknown>;
  if (map === null || typeof map !== "object" || Array.isArray(map)) {
    throw new SafetensorsError(
      indexPath,
      'weight_map is missing or not an object; expected {"tensor name": "shard file", …}',
      { field: "weight_map" },
    );
  }
  for (const [tensor, file] of Object.entries(map)) {
    if (
      typeof file !== "string" || file === "" || file === "." || file === ".." ||
      /[/\\]/.test(file)
    ) {
      throw new SafetensorsError(
        indexPath,
        `weight_map gives file ${JSON.stringify(file)}; expected the plain name of a ` +
          ".safetensors file in the same directory",
        { tensor, field: "weight_map" },
      );
    }
  }
  const meta = metadata !== null && typeof metadata === "object" && !Array.isArray(metadata)
    ? metadata as Record<string, unknown>
    : {};
  return { weightMap: map as Record<string, string>, metadata: meta };
}

async function openIndexed(indexPath: string): Promise<Checkpoint> {
  let text: string;
  try {
    text = await Deno.readTextFile(indexPath);
  } catch (e) {
    throw new SafetensorsError(indexPath, `cannot read the index (${(e as Error).message})`, {
      field: "path",
    });
  }
  const { weightMap, metadata } = parseIndex(indexPath, text);
  const dir = indexPath.slice(0, Math.max(indexPath.lastIndexOf("/"), 0)) ||
    (indexPath.startsWith("/") ? "/" : ".");
  const byFile = new Map<string, string[]>();
  for (const [tensor, file] of Object.entries(weightMap)) {
    byFile.set(file, [...(byFile.get(file) ?? []), tensor]);
  }
  const shards: SafetensorsReader[] = [];
  const owner = new Map<string, SafetensorsReader>();
  try {
    for (const file of [...byFile.keys()].sort()) {
      const path = join(dir, file);
      const tensors = byFile.get(file)!;
      if (!(await statOrNull(path))?.isFile) {
        throw new SafetensorsError(
          indexPath,
          `weight_map names shard ${JSON.stringify(file)} for ${tensors.length} tensor(s), but ` +
            `${path} does not exist; copy the missing shard or fix the index`,
          { tensor: tensors[0], field: "weight_map" },
        );
      }
      const reader = await openSafetensors(path);
      shards.push(reader);
      for (const t of tensors) {
        if (!reader.has(t)) {
          throw new SafetensorsError(
            indexPath,
            `weight_map places this tensor in ${JSON.stringify(file)}, but that file does not ` +
              "hold it; the index and the shards are from different saves",
            { tensor: t, field: "weight_map" },
          );
        }
        owner.set(t, reader);
      }
    }
  } catch (e) {
    for (const s of shards) s.close();
    throw e;
  }
  return new Checkpoint(indexPath, shards, owner, metadata);
}

/**
 * Opens a checkpoint: a directory with `model.safetensors.index.json` (used
 * first) or `model.safetensors`, or the path of an index or a single
 * `.safetensors` file. Every shard's header is validated, every file the index
 * names must exist, and every tensor must be in the file the index names.
 * Tensors that a shard holds but the index does not list are not exposed.
 *
 * @param path a directory, an `*.index.json` file, or a `.safetensors` file
 * @throws {SafetensorsError} naming the file, tensor and field at fault
 *
 * @example
 * ```ts
 * import { openCheckpoint } from "./safetensors_sharded.ts";
 * import { writeSafetensors } from "./safetensors_write.ts";
 * const dir = await Deno.makeTempDir();
 * await writeSafetensors(`${dir}/model.safetensors`, {
 *   w: { dtype: "I32", shape: [1], data: new Int32Array([42]) },
 * });
 * const ckpt = await openCheckpoint(dir);
 * console.log(ckpt.names, ckpt.info("w").dtype); // ["w"] I32
 * ckpt.close();
 * ```
 */
export async function openCheckpoint(path: string): Promise<CheckpointReader> {
  const stat = await statOrNull(path);
  if (stat === null) {
    throw new SafetensorsError(path, "does not exist; give a checkpoint directory or file", {
      field: "path",
    });
  }
  if (stat.isFile) {
    return path.endsWith(".json") ? await openIndexed(path) : single(await openSafetensors(path));
  }
  const index = join(path, INDEX_FILE);
  if ((await statOrNull(index))?.isFile) return await openIndexed(index);
  const file = join(path, SINGLE_FILE);
  if ((await statOrNull(file))?.isFile) return single(await openSafetensors(file));
  const found: string[] = [];
  for await (const e of Deno.readDir(path)) {
    if (e.name.endsWith(".safetensors") || e.name.endsWith(".json")) found.push(e.name);
  }
  throw new SafetensorsError(
    path,
    `holds neither ${SINGLE_FILE} nor ${INDEX_FILE}` +
      (found.length ? ` (found ${found.sort().join(", ")}); open one of those files directly` : ""),
    { field: "path" },
  );
}

/** Options for {@link writeShardedSafetensors}. */
export interface ShardOptions {
  /** Largest shard, in tensor bytes; a bigger tensor gets a shard of its own. */
  maxShardBytes: number;
  /** `__metadata__` strings written into every shard. */
  metadata?: Record<string, string>;
}

/** What {@link writeShardedSafetensors} wrote. */
export interface ShardedWrite {
  /** The safetensors files, in shard order. */
  files: string[];
  /** The index file, or null when everything fit in one `model.safetensors`. */
  index: string | null;
}

function shardName(i: number, n: number): string {
  const pad = (k: number) => String(k).padStart(5, "0");
  return `model-${pad(i + 1)}-of-${pad(n)}.safetensors`;
}

function groupShards(tensors: PreparedTensor[], max: number): PreparedTensor[][] {
  const shards: PreparedTensor[][] = [];
  let current: PreparedTensor[] = [];
  let bytes = 0;
  for (const t of tensors) {
    if (current.length > 0 && bytes + t.bytes.length > max) {
      shards.push(current);
      current = [];
      bytes = 0;
    }
    current.push(t);
    bytes += t.bytes.length;
  }
  if (current.length > 0 || shards.length === 0) shards.push(current);
  return shards;
}

async function removeStale(dir: string, keep: Set<string>): Promise<void> {
  const pattern = /^model-\d{5}-of-\d{5}\.safetensors$/;
  for await (const e of Deno.readDir(dir)) {
    const ours = pattern.test(e.name) || e.name === SINGLE_FILE || e.name === INDEX_FILE;
    if (e.isFile && ours && !keep.has(e.name)) await Deno.remove(join(dir, e.name));
  }
}

/**
 * Writes tensors as a checkpoint in `dir`: shards of at most `maxShardBytes`
 * (tensors kept in the order given) named `model-0000i-of-0000N.safetensors`
 * plus `model.safetensors.index.json`, or a single `model.safetensors` when
 * everything fits in one shard. All files are written to temporary files
 * first and renamed into place only when every one is complete; on error the
 * temporary files are removed. Checkpoint files from an earlier save in `dir`
 * (other shard counts, or the other layout) are then removed so the directory
 * holds one checkpoint.
 *
 * @param dir an existing directory
 * @param tensors tensors by name (see `TensorInput` in safetensors_encode.ts)
 * @param options `maxShardBytes` and optional `metadata`
 * @throws {SafetensorsError} for an invalid tensor or option, or a failed write
 *
 * @example
 * ```ts
 * import { writeShardedSafetensors } from "./safetensors_sharded.ts";
 * const dir = await Deno.makeTempDir();
 * const w = { dtype: "U8" as const, shape: [10], data: new Uint8Array(10) };
 * const out = await writeShardedSafetensors(dir, { a: w, b: w, c: w }, { maxShardBytes: 20 });
 * console.log(out.files.map((f) => f.slice(dir.length + 1)));
 * // ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
 * ```
 */
export async function writeShardedSafetensors(
  dir: string,
  tensors: Record<string, TensorInput>,
  options: ShardOptions,
): Promise<ShardedWrite> {
  const max = options?.maxShardBytes;
  if (!Number.isSafeInteger(max) || max <= 0) {
    throw new SafetensorsError(
      dir,
      `maxShardBytes ${JSON.stringify(max)} must be a positive integer, e.g. 5_000_000_000`,
      { field: "maxShardBytes" },
    );
  }
  const meta = checkWriteMetadata(join(dir, SINGLE_FILE), options.metadata);
  const groups = groupShards(prepareTensors(join(dir, SINGLE_FILE), tensors), max);
  const names = groups.length === 1
    ? [SINGLE_FILE]
    : groups.map((_, i) => shardName(i, groups.length));
  const temps: [string, string][] = [];
  try {
    for (let i = 0; i < groups.length; i++) {
      const path = join(dir, names[i]);
      temps.push([await writeTemp(path, fileChunks(groups[i], meta)), path]);
    }
    if (groups.length > 1) {
      const weightMap: Record<string, string> = {};
      const entries: [string, string][] = groups.flatMap((g, i) =>
        g.map((t) => [t.name, names[i]] as [string, string])
      );
      entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
      for (const [t, f] of entries) {
        Object.defineProperty(weightMap, t, { value: f, enumerable: true });
      }
      const total = groups.flat().reduce((s, t) => s + t.bytes.length, 0);
      const json = JSON.stringify(
        { metadata: { total_size: total }, weight_map: weightMap },
        null,
        2,
      );
      const path = join(dir, INDEX_FILE);
      temps.push([await writeTemp(path, [new TextEncoder().encode(json + "\n")]), path]);
    }
  } catch (e) {
    for (const [tmp] of temps) await Deno.remove(tmp).catch(() => {});
    throw e;
  }
  for (const [tmp, path] of temps) await commitTemp(tmp, path);
  await removeStale(dir, new Set([...names, ...(groups.length > 1 ? [INDEX_FILE] : [])]));
  return {
    files: names.map((n) => join(dir, n)),
    index: groups.length > 1 ? join(dir, INDEX_FILE) : null,
  };
}
