/**
 * Writing safetensors files safely: bytes go to a temporary file in the same
 * directory, which is renamed into place only when complete. On any error the
 * temporary file is removed, so no half-written file is left behind. Writing
 * never modifies the input arrays, and never writes into an existing file: a
 * reader that has the old file open keeps reading the old bytes.
 *
 * @example
 * ```ts
 * import { writeSafetensors } from "./safetensors_write.ts";
 * const dir = await Deno.makeTempDir();
 * await writeSafetensors(`${dir}/q.safetensors`, {
 *   codes: { dtype: "U8", shape: [2, 2], data: new Uint8Array([0x12, 0x34, 0x56, 0x78]) },
 *   scales: { dtype: "F16", shape: [2], data: new Float32Array([0.5, 0.25]) },
 * }, { quantization_config: JSON.stringify({ bits: 4, group_size: 4 }) });
 * console.log((await Deno.stat(`${dir}/q.safetensors`)).isFile); // true
 * ```
 * @module
 */

import {
  checkWriteMetadata,
  encodeHeader,
  type PreparedTensor,
  prepareTensors,
  referenceOrder,
  type TensorInput,
} from "./safetensors_encode.ts";
import { SafetensorsError } from "./safetensors_header.ts";

export type { TensorInput } from "./safetensors_encode.ts";

/** Splits a path into its directory (with trailing separator, or "") and its base name. */
function splitPath(path: string): [string, string] {
  const cut = Math.max(path.lastIndexOf("/"), path.lastIndexOf("\\"));
  return [path.slice(0, cut + 1), path.slice(cut + 1)];
}

async function removeQuietly(path: string): Promise<void> {
  try {
    await Deno.remove(path);
  } catch {
    // already gone
  }
}

/**
 * Writes `chunks` to a new temporary file beside `path` and returns its path.
 * On error the temporary file is removed and a {@link SafetensorsError} naming
 * `path` is thrown.
 *
 * @example
 * ```ts
 * import { writeTemp } from "./safetensors_write.ts";
 * const dir = await Deno.makeTempDir();
 * const tmp = await writeTemp(`${dir}/out.bin`, [new Uint8Array([1, 2, 3])]);
 * console.log(tmp.startsWith(`${dir}/.out.bin.`), (await Deno.readFile(tmp)).length); // true 3
 * ```
 */
export async function writeTemp(path: string, chunks: Iterable<Uint8Array>): Promise<string> {
  const [dir, base] = splitPath(path);
  const tmp = `${dir}.${base}.${crypto.randomUUID().slice(0, 8)}.tmp`;
  let file: Deno.FsFile;
  try {
    file = await Deno.open(tmp, { write: true, createNew: true });
  } catch (e) {
    throw new SafetensorsError(
      path,
      `cannot create a temporary file in ${dir || "."} (${(e as Error).message}); check that ` +
        "the directory exists and that --allow-write covers it",
      { field: "path" },
    );
  }
  try {
    for (const chunk of chunks) {
      let done = 0;
      while (done < chunk.length) done += await file.write(chunk.subarray(done));
    }
    await file.sync();
  } catch (e) {
    file.close();
    await removeQuietly(tmp);
    throw new SafetensorsError(path, `writing failed (${(e as Error).message})`, { field: "path" });
  }
  file.close();
  return tmp;
}

/**
 * Renames a temporary file from {@link writeTemp} onto `path`, removing it if
 * the rename fails.
 *
 * @example
 * ```ts
 * import { commitTemp, writeTemp } from "./safetensors_write.ts";
 * const dir = await Deno.makeTempDir();
 * await commitTemp(await writeTemp(`${dir}/a.bin`, [new Uint8Array([7])]), `${dir}/a.bin`);
 * console.log(await Deno.readFile(`${dir}/a.bin`)); // Uint8Array [7]
 * ```
 */
export async function commitTemp(tmp: string, path: string): Promise<void> {
  try {
    await Deno.rename(tmp, path);
  } catch (e) {
    await removeQuietly(tmp);
    throw new SafetensorsError(
      path,
      `cannot move the finished file into place (${(e as Error).message}); is the path a ` +
        "directory, or is the directory read-only?",
      { field: "path" },
    );
  }
}

/**
 * The chunks of a complete safetensors file: header, then each tensor's
 * bytes, in the reference writer's order.
 *
 * @example
 * ```ts
 * import { fileChunks } from "./safetensors_write.ts";
 * const chunks = [...fileChunks([{ name: "b", dtype: "U8", shape: [1], bytes: new Uint8Array([9]) }], {})];
 * console.log(chunks.length); // 2
 * ```
 */
export function* fileChunks(
  tensors: readonly PreparedTensor[],
  metadata: Record<string, string>,
): Generator<Uint8Array> {
  const ordered = referenceOrder(tensors);
  yield encodeHeader(ordered, metadata);
  for (const t of ordered) yield t.bytes;
}

/**
 * Writes tensors to a safetensors file, atomically: all tensors are checked
 * first (nothing is created if one is invalid), then the bytes go to a
 * temporary file that is renamed onto `path`.
 *
 * @param path the output `.safetensors` file (replaced if it exists)
 * @param tensors tensors by name; see {@link TensorInput} for the accepted data
 * @param metadata optional `__metadata__` strings (e.g. a JSON `quantization_config`)
 * @throws {SafetensorsError} naming the tensor and field when a tensor is invalid,
 *   or the path when the file cannot be written
 *
 * @example
 * ```ts
 * import { writeSafetensors } from "./safetensors_write.ts";
 * const path = (await Deno.makeTempDir()) + "/m.safetensors";
 * await writeSafetensors(path, { w: { dtype: "I8", shape: [3], data: new Int8Array([-1, 0, 1]) } });
 * console.log((await Deno.stat(path)).size); // 67: 8 + a 56-byte header + 3
 * ```
 */
export async function writeSafetensors(
  path: string,
  tensors: Record<string, TensorInput>,
  metadata?: Record<string, string>,
): Promise<void> {
  const meta = checkWriteMetadata(path, metadata);
  const prepared = prepareTensors(path, tensors);
  const tmp = await writeTemp(path, fileChunks(prepared, meta));
  await commitTemp(tmp, path);
}
