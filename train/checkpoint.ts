/**
 * Training checkpoints: everything a run needs to continue bit-for-bit, in
 * one folder written atomically (a reader sees the previous checkpoint or the
 * complete new one, never a mix — `model/atomic_folder.ts`):
 *
 * - `weights.safetensors` — the parameters, by name, in their dtype;
 * - `optimizer.safetensors` — the optimizer's `state()` (moments, step counts);
 * - `trainer.json` — the step, the data source's position (which fixes its
 *   random generator), the loss curve so far, and free-form `meta`.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../mod.ts";
 * import { readTrainCheckpoint, writeTrainCheckpoint } from "./checkpoint.ts";
 * await initGPU();
 * const dir = `${await Deno.makeTempDir()}/ckpt`;
 * using w = Tensor.fromArray([1.5, -2]);
 * await writeTrainCheckpoint(dir, {
 *   params: new Map([["w", w]]),
 *   optimizer: new Map(),
 *   step: 3,
 *   data: { kind: "random", batches: 3, seed: 1 },
 *   curve: [],
 * });
 * const ck = await readTrainCheckpoint(dir);
 * console.log(ck.step, await ck.params.get("w")!.data()); // 3 Float32Array [1.5, -2]
 * ck.dispose();
 * ```
 * @module
 */
import type { DType } from "../kernels/dtype.ts";
import { Tensor } from "../kernels/tensor.ts";
import { commitFolder } from "../model/atomic_folder.ts";
import {
  openSafetensors,
  type SafetensorsDType,
  type TensorInput,
  writeSafetensors,
} from "../model/safetensors.ts";
import type { CurveRow } from "./curve.ts";
import type { DataPosition } from "./data.ts";

/** File names inside a checkpoint folder. */
export const CHECKPOINT_FILES = {
  weights: "weights.safetensors",
  optimizer: "optimizer.safetensors",
  trainer: "trainer.json",
} as const;

/** What a checkpoint holds (tensors stay owned by the caller when writing). */
export interface TrainState {
  /** The model's parameters by name. */
  params: ReadonlyMap<string, Tensor>;
  /** The optimizer's state tensors by name (`Optimizer.state()`). */
  optimizer: ReadonlyMap<string, Tensor>;
  /** Optimizer steps done. */
  step: number;
  /** Where the batch source stands. */
  data: DataPosition;
  /** The loss curve so far. */
  curve: readonly CurveRow[];
  /** Free-form facts about the run. */
  meta?: Record<string, unknown>;
}

/** A checkpoint read back; its tensors are owned by it until `dispose`. */
export interface LoadedCheckpoint extends TrainState, Disposable {
  /** The saved parameters (owned by the checkpoint). */
  params: Map<string, Tensor>;
  /** The saved optimizer state (owned by the checkpoint). */
  optimizer: Map<string, Tensor>;
  /** Frees every tensor read (safe to call twice). */
  dispose(): void;
}

const TO_ST: Record<DType, SafetensorsDType> = { f32: "F32", f16: "F16", i32: "I32", u32: "U32" };
const FROM_ST: Partial<Record<SafetensorsDType, DType>> = {
  F32: "f32",
  F16: "f16",
  I32: "i32",
  U32: "u32",
};

async function tensorsFile(path: string, tensors: ReadonlyMap<string, Tensor>): Promise<void> {
  const out: Record<string, TensorInput> = {};
  for (const [name, t] of tensors) {
    const data = await t.data();
    out[name] = {
      dtype: TO_ST[t.dtype],
      shape: t.shape,
      data: t.dtype === "f16"
        ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
        : data,
    } as TensorInput;
  }
  await writeSafetensors(path, out);
}

async function readTensors(path: string): Promise<Map<string, Tensor>> {
  await using file = await openSafetensors(path);
  const out = new Map<string, Tensor>();
  try {
    for (const name of file.names) {
      const info = file.info(name);
      const dtype = FROM_ST[info.dtype];
      if (!dtype) {
        throw new TypeError(
          `readTrainCheckpoint: ${path} tensor "${name}" is ${info.dtype}; a training ` +
            `checkpoint holds only F32, F16, I32 and U32 tensors`,
        );
      }
      const { data, shape } = await file.read(name, { as: "raw" });
      const bytes = data as Uint8Array;
      const copy = bytes.slice().buffer;
      const typed = dtype === "f32"
        ? new Float32Array(copy)
        : dtype === "i32"
        ? new Int32Array(copy)
        : dtype === "u32"
        ? new Uint32Array(copy)
        : new Float16Array(copy);
      out.set(name, Tensor.fromArray(typed, shape, dtype));
    }
  } catch (e) {
    for (const t of out.values()) t.dispose();
    throw e;
  }
  return out;
}

/**
 * Writes `state` into the folder `dir` atomically, replacing an earlier
 * checkpoint there. Reads the tensors back from the GPU; modifies nothing.
 */
export async function writeTrainCheckpoint(dir: string, state: TrainState): Promise<void> {
  if (!Number.isInteger(state.step) || state.step < 0) {
    throw new RangeError(`writeTrainCheckpoint: step ${state.step} must be an integer ≥ 0`);
  }
  await commitFolder(dir, { overwrite: true }, async (tmp) => {
    await tensorsFile(`${tmp}/${CHECKPOINT_FILES.weights}`, state.params);
    await tensorsFile(`${tmp}/${CHECKPOINT_FILES.optimizer}`, state.optimizer);
    const json = { step: state.step, data: state.data, curve: state.curve, meta: state.meta ?? {} };
    await Deno.writeTextFile(`${tmp}/${CHECKPOINT_FILES.trainer}`, JSON.stringify(json, null, 1));
  });
}

/** Reads a folder written by {@link writeTrainCheckpoint}; tensors land on the GPU. */
export async function readTrainCheckpoint(dir: string): Promise<LoadedCheckpoint> {
  let json: Omit<TrainState, "params" | "optimizer">;
  try {
    json = JSON.parse(await Deno.readTextFile(`${dir}/${CHECKPOINT_FILES.trainer}`));
  } catch (e) {
    throw new Error(
      `readTrainCheckpoint: cannot read ${dir}/${CHECKPOINT_FILES.trainer} ` +
        `(${(e as Error).message}); pass a folder written by writeTrainCheckpoint (or train's ` +
        `checkpointDir)`,
    );
  }
  const params = await readTensors(`${dir}/${CHECKPOINT_FILES.weights}`);
  let optimizer: Map<string, Tensor>;
  try {
    optimizer = await readTensors(`${dir}/${CHECKPOINT_FILES.optimizer}`);
  } catch (e) {
    for (const t of params.values()) t.dispose();
    throw e;
  }
  const dispose = () => {
    for (const t of [...params.values(), ...optimizer.values()]) t.dispose();
  };
  return { ...json, params, optimizer, dispose, [Symbol.dispose]: dispose };
}
