/**
 * safetensors for lowbit: read and write, single and sharded, validated like
 * the reference implementation (header size bound, offsets in bounds, no
 * overlap or gap, dtype × shape = byte length). Tensors are read lazily, one
 * at a time; writes go to a temporary file renamed into place, and never
 * modify their inputs.
 *
 * @example
 * ```ts
 * import { openCheckpoint, writeSafetensors } from "./safetensors.ts";
 * const dir = await Deno.makeTempDir();
 * await writeSafetensors(`${dir}/model.safetensors`, {
 *   "model.norm.weight": { dtype: "BF16", shape: [4], data: new Float32Array([1, 1, 1, 1]) },
 * });
 * await using ckpt = await openCheckpoint(dir);
 * const norm = await ckpt.read("model.norm.weight", { as: "f32" });
 * console.log(norm.dtype, norm.data); // BF16 Float32Array [1, 1, 1, 1]
 * ```
 * @module
 */

export { DTYPE_BYTES, DTYPES, type SafetensorsDType } from "./safetensors_dtype.ts";
export { MAX_HEADER_BYTES, SafetensorsError } from "./safetensors_header.ts";
export type { TensorArray } from "./safetensors_decode.ts";
export {
  openSafetensors,
  parseSafetensors,
  type ReadOptions,
  type SafetensorsReader,
  type TensorData,
  type TensorInfo,
} from "./safetensors_read.ts";
export type { ByteSlice, SliceJob, SliceOptions, SlicePart } from "./safetensors_slices.ts";
export { type TensorInput, writeSafetensors } from "./safetensors_write.ts";
export {
  type CheckpointReader,
  INDEX_FILE,
  openCheckpoint,
  type ShardedWrite,
  type ShardOptions,
  SINGLE_FILE,
  writeShardedSafetensors,
} from "./safetensors_sharded.ts";
