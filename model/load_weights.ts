/**
 * `loadWeights`: float tensors of a checkpoint onto the GPU as fast as the
 * disk gives them. The bytes are read in large slices in file order (the next
 * slice read while the current one is uploaded), uploaded exactly as stored,
 * and converted on the GPU (`castBits`: bf16/f16/f32 → f32/f16, bit-exact to
 * the CPU conversion); no element passes through JavaScript. Then one GPU
 * pass per tensor looks for NaN and ±Inf, with one readback for all of them.
 *
 * @example
 * ```ts
 * import { initGPU } from "../mod.ts";
 * import { openCheckpoint } from "./safetensors.ts";
 * import { loadWeights } from "./load_weights.ts";
 * await initGPU();
 * await using ckpt = await openCheckpoint("data/tiny");
 * const weights = await loadWeights(ckpt, [{ name: "model.norm.weight", shape: [128] }], {
 *   dtype: "f16",
 * });
 * const norm = weights.get("model.norm.weight")!;
 * console.log(norm.dtype, norm.shape); // f16 [128]
 * norm.dispose();
 * ```
 * @module
 */
import { upload } from "../kernels/runtime.ts";
import { numel, Tensor } from "../kernels/tensor.ts";
import { castBits, type StoredFloat, storedWords } from "../kernels/ops/cast_bits.ts";
import { findNonFinite } from "../kernels/ops/nonfinite.ts";
import { describeElement } from "./finite.ts";
import { ModelLoadError } from "./load_error.ts";
import type { SafetensorsReader } from "./safetensors_read.ts";

/** Options of {@link loadWeights}. */
export interface LoadWeightsOptions {
  /** The dtype of the GPU tensors. */
  dtype: "f32" | "f16";
  /** Largest read from disk in bytes, a positive multiple of 4. Default 64 MiB. */
  sliceBytes?: number;
}

const STORED: Record<string, StoredFloat> = { F32: "f32", F16: "f16", BF16: "bf16" };

/** Where a tensor's bytes go while its slices arrive: the result itself, or raw words to convert. */
interface Landing {
  shape: readonly number[];
  from: StoredFloat;
  target: Tensor;
  /** True when the stored bytes are the result's bytes (no conversion). */
  direct: boolean;
}

/**
 * Reads `tensors` (each of stored dtype F32, F16 or BF16, and the shape given)
 * onto the GPU as `dtype`, and checks that every element is finite. Returns
 * the tensors by name in the order given, owned by the caller. On any error
 * nothing stays allocated. `initGPU()` must have completed; the shapes are
 * expected to have been checked against the checkpoint (as
 * `validateCheckpoint` does).
 *
 * @param reader an open safetensors file or checkpoint
 * @param tensors the names and shapes to load
 * @param options the result dtype and the read size
 * @throws {ModelLoadError} naming the first tensor (in the order given) that holds NaN or ±Inf,
 *   with the element, exactly as `describeNonFinite` writes it
 *
 * @example
 * ```ts
 * import { initGPU } from "../mod.ts";
 * import { writeSafetensors } from "./safetensors.ts";
 * import { openSafetensors } from "./safetensors.ts";
 * import { loadWeights } from "./load_weights.ts";
 * await initGPU();
 * const path = (await Deno.makeTempDir()) + "/w.safetensors";
 * await writeSafetensors(path, { w: { dtype: "BF16", shape: [3], data: new Float32Array([1, -0.5, 3]) } });
 * await using file = await openSafetensors(path);
 * const w = (await loadWeights(file, [{ name: "w", shape: [3] }], { dtype: "f32" })).get("w")!;
 * console.log(await w.data()); // Float32Array [1, -0.5, 3]
 * w.dispose();
 * ```
 */
export async function loadWeights(
  reader: SafetensorsReader,
  tensors: readonly { name: string; shape: readonly number[] }[],
  options: LoadWeightsOptions,
): Promise<Map<string, Tensor>> {
  const { dtype } = options;
  const shapes = new Map(tensors.map((t) => [t.name, t.shape]));
  const landing = new Map<string, Landing>();
  const done = new Map<string, Tensor>();
  try {
    const slices = reader.slices([...shapes.keys()], { sliceBytes: options.sliceBytes });
    for await (const { bytes, parts } of slices) {
      for (const p of parts) {
        let l = landing.get(p.name);
        if (!l) landing.set(p.name, l = land(reader, p.name, shapes.get(p.name)!, dtype));
        upload(l.target.buffer, bytes.subarray(p.start, p.start + p.length), p.offset);
        if (p.offset + p.length < p.total) continue;
        landing.delete(p.name);
        if (l.direct) done.set(p.name, l.target);
        else {
          using words = l.target;
          done.set(p.name, castBits(words, { from: l.from, to: dtype, shape: l.shape }));
        }
      }
    }
    const ordered = new Map(tensors.map((t) => [t.name, done.get(t.name)!]));
    const hit = await findNonFinite([...ordered.values()]);
    if (hit) throw nonFiniteError(reader, tensors[hit.tensor], hit, dtype);
    return ordered;
  } catch (e) {
    for (const l of landing.values()) l.target.dispose();
    for (const t of done.values()) t.dispose();
    throw e;
  }
}

function land(
  reader: SafetensorsReader,
  name: string,
  shape: readonly number[],
  dtype: "f32" | "f16",
): Landing {
  const stored = reader.info(name).dtype;
  const from = STORED[stored];
  if (!from) {
    throw new ModelLoadError(
      `${reader.path}: tensor "${name}" is ${stored}; expected a float tensor (F32, F16 or BF16)`,
      name,
    );
  }
  const want = numel(shape) * (from === "f32" ? 4 : 2);
  if (reader.info(name).byteLength !== want) {
    throw new ModelLoadError(
      `${reader.path}: tensor "${name}" holds ${reader.info(name).byteLength} bytes but shape ` +
        `[${shape.join(", ")}] of ${stored} needs ${want}; check the shape against the checkpoint`,
      name,
    );
  }
  const direct = from === dtype;
  const target = direct
    ? Tensor.empty(shape, dtype)
    : Tensor.empty([storedWords(from, numel(shape))], "u32");
  return { shape, from, target, direct };
}

function nonFiniteError(
  reader: SafetensorsReader,
  tensor: { name: string; shape: readonly number[] },
  hit: { index: number; value: number },
  dtype: "f32" | "f16",
): ModelLoadError {
  const { name, shape } = tensor;
  const stored = reader.info(name).dtype;
  const bad = describeElement(name, hit.index, hit.value, shape);
  const overflow = dtype === "f16" && stored !== "F16" && !Number.isNaN(hit.value);
  return new ModelLoadError(
    `${reader.path}: ${bad}` +
      (overflow
        ? ` after conversion from ${stored} to f16: the value exceeds the f16 range ` +
          `(±65504); load with { dtype: "f32" }`
        : `; weights must be finite: the checkpoint is corrupt or was saved from a ` +
          `diverged model (download it again, or repair the tensor)`),
    name,
  );
}
