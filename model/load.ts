/**
 * `loadModel(dir)`: a Llama-family checkpoint (HF `config.json` plus
 * `model.safetensors` or a sharded `model.safetensors.index.json`) onto the
 * GPU as a {@link LlamaModel}. Every tensor the config implies is checked
 * (name, shape, float dtype) before any is read, so a malformed checkpoint
 * fails at once with an error naming the tensor; then the bytes are read in
 * large slices (the next read overlapping the current upload), uploaded as
 * stored and converted to the requested dtype on the GPU, and checked for
 * NaN/±Inf on the GPU ({@link loadWeights}). Default directory: the embedded
 * tiny model, `data/tiny`.
 *
 * @example
 * ```ts
 * import { initGPU } from "../mod.ts";
 * import { loadModel } from "./load.ts";
 * await initGPU();
 * using model = await loadModel(); // the embedded tiny model
 * console.log(model.toString()); // LlamaModel(llama, 4 layers, hidden 128, heads 4/2, vocab 256, f32)
 * ```
 * @module
 */
import { gpu } from "../kernels/gpu.ts";
import { expectedTensorNames, type LlamaConfig, loadLlamaConfig } from "./config.ts";
import { LlamaModel } from "./llama.ts";
import { ModelLoadError } from "./load_error.ts";
import { loadWeights } from "./load_weights.ts";
import { openCheckpoint } from "./safetensors.ts";
import { checkSliceBytes } from "./safetensors_slices.ts";

export { ModelLoadError } from "./load_error.ts";

/** The embedded tiny byte-level model shipped with lowbit. */
export const TINY_MODEL_DIR: URL = new URL("../data/tiny/", import.meta.url);

/** Options of {@link loadModel}. */
export interface LoadModelOptions {
  /** Weights and activations in f32 (default) or f16 (needs `shader-f16`). */
  dtype?: "f32" | "f16";
  /**
   * Largest read from disk in bytes, a positive multiple of 4. Default 64 MiB;
   * the next read overlaps the upload of the current one.
   */
  sliceBytes?: number;
}

function toPath(dir: string | URL): string {
  if (typeof dir === "string") return dir;
  if (dir.protocol !== "file:") {
    throw new ModelLoadError(
      `loadModel: ${dir.href} is not a local file URL; download the checkpoint and give its directory`,
    );
  }
  return decodeURIComponent(dir.pathname);
}

/**
 * Checks that a checkpoint holds every tensor `config` implies, with the
 * right shape and a float dtype (F32, F16 or BF16), and exactly the decoder
 * layers `num_hidden_layers` says ({@link checkLayerCount}, first, from the
 * names alone). Other extra tensors (e.g. a stored `lm_head.weight` when
 * embeddings are tied) are ignored.
 *
 * @throws {ModelLoadError} naming the first missing or mismatched tensor
 *
 * @example
 * ```ts
 * import { loadLlamaConfig } from "./config.ts";
 * import { validateCheckpoint } from "./load.ts";
 * import { openCheckpoint } from "./safetensors.ts";
 * const config = await loadLlamaConfig("data/tiny");
 * const ckpt = await openCheckpoint("data/tiny");
 * validateCheckpoint(config, ckpt); // passes silently
 * ckpt.close();
 * ```
 */
export function validateCheckpoint(
  config: LlamaConfig,
  ckpt: {
    path: string;
    names: readonly string[];
    has(name: string): boolean;
    info(name: string): { dtype: string; shape: number[] };
  },
): void {
  checkLayerCount(config, ckpt);
  const dims = `hidden_size ${config.hiddenSize}, intermediate_size ${config.intermediateSize}, ` +
    `heads ${config.numAttentionHeads}/${config.numKeyValueHeads} × head_dim ${config.headDim}, ` +
    `vocab_size ${config.vocabSize}`;
  for (const { name, shape } of expectedTensorNames(config)) {
    if (!ckpt.has(name)) {
      const near = ckpt.names.filter((n) => n.endsWith(name.split(".").slice(-2).join("."))).slice(
        0,
        3,
      );
      throw new ModelLoadError(
        `${ckpt.path}: tensor "${name}" is missing (config.json implies shape [${
          shape.join(", ")
        }]; ` +
          `the checkpoint holds ${ckpt.names.length} tensors${
            near.length ? `, e.g. ${near.join(", ")}` : ""
          })`,
        name,
      );
    }
    const info = ckpt.info(name);
    if (info.shape.length !== shape.length || info.shape.some((d, i) => d !== shape[i])) {
      throw new ModelLoadError(
        `${ckpt.path}: tensor "${name}" has shape [${
          info.shape.join(", ")
        }] but config.json (${dims}) ` +
          `implies [${shape.join(", ")}]`,
        name,
      );
    }
    if (info.dtype !== "F32" && info.dtype !== "F16" && info.dtype !== "BF16") {
      throw new ModelLoadError(
        `${ckpt.path}: tensor "${name}" is ${info.dtype}; expected a float tensor (F32, F16 or BF16)`,
        name,
      );
    }
  }
}

/** A lowbit quantized checkpoint (its config.json names a quantization_config) is not dense. */
async function refuseQuantized(path: string): Promise<void> {
  let qc: { quant_method?: unknown } | undefined;
  try {
    qc = JSON.parse(await Deno.readTextFile(`${path.replace(/\/$/, "")}/config.json`))
      ?.quantization_config;
  } catch {
    return; // loadLlamaConfig has read it already; a file path is checked there
  }
  if (qc) {
    throw new ModelLoadError(
      `loadModel: ${path} is a quantized checkpoint (quantization_config.quant_method ` +
        `${JSON.stringify(qc.quant_method)}); load it with loadQuantized(dir)`,
    );
  }
}

/**
 * Checks `num_hidden_layers` against the decoder layers a checkpoint holds
 * (the `model.layers.<i>.` prefixes of its tensor names), before anything is
 * allocated: too few layers in the config would load a truncated model, too
 * many would ask for tensors that are not there (or, for a huge value, run
 * out of memory listing them).
 *
 * @throws {ModelLoadError} naming both counts, the missing or extra layers, and the fix
 *
 * @example
 * ```ts
 * import { loadLlamaConfig } from "./config.ts";
 * import { checkLayerCount } from "./load.ts";
 * const config = await loadLlamaConfig("data/tiny");
 * const names = ["model.layers.0.mlp.up_proj.weight", "model.layers.1.mlp.up_proj.weight"];
 * try {
 *   checkLayerCount(config, { path: "x.safetensors", names });
 * } catch (e) {
 *   console.log((e as Error).message.split(";")[0]);
 *   // x.safetensors: config.json has num_hidden_layers 4 but the checkpoint holds 2 decoder layers (model.layers.0 … model.layers.1)
 * }
 * ```
 */
export function checkLayerCount(
  config: Pick<LlamaConfig, "numHiddenLayers">,
  ckpt: { path: string; names: readonly string[] },
): void {
  const present = new Set<number>();
  for (const name of ckpt.names) {
    const m = /^model\.layers\.(\d+)\./.exec(name);
    if (m) present.add(Number(m[1]));
  }
  const n = config.numHiddenLayers;
  const held = present.size === 0
    ? "no decoder layers (no model.layers.<i>.* tensors)"
    : `${present.size} decoder layers (${describeRuns([...present].sort((a, b) => a - b))})`;
  const top = present.size ? Math.max(...present) + 1 : 0;
  const fix = top === 0
    ? `use the checkpoint that belongs to this config.json`
    : top === n
    ? `the checkpoint is incomplete: download or save it again`
    : `set num_hidden_layers to ${top} in config.json if the checkpoint is complete, or use ` +
      `the config.json that belongs to it`;
  const extra = [...present].filter((i) => i >= n).sort((a, b) => a - b);
  if (extra.length) {
    throw new ModelLoadError(
      `${ckpt.path}: config.json has num_hidden_layers ${n} but the checkpoint holds ${held}; ` +
        `layers ${describeRuns(extra)} would be left out; ${fix}`,
    );
  }
  if (present.size !== n) {
    const absent: number[] = [];
    for (let i = 0; i < n && absent.length < 4; i++) if (!present.has(i)) absent.push(i);
    const more = n - present.size > absent.length ? `, … (${n - present.size} in all)` : "";
    throw new ModelLoadError(
      `${ckpt.path}: config.json has num_hidden_layers ${n} but the checkpoint holds ${held}; ` +
        `missing layers ${absent.map((i) => `model.layers.${i}`).join(", ")}${more}; ${fix}`,
    );
  }
}

/** `model.layers.0 … model.layers.3, model.layers.7` for sorted layer indices. */
function describeRuns(ids: number[]): string {
  const runs: string[] = [];
  for (let i = 0; i < ids.length;) {
    let j = i;
    while (j + 1 < ids.length && ids[j + 1] === ids[j] + 1) j++;
    runs.push(
      j === i ? `model.layers.${ids[i]}` : `model.layers.${ids[i]} … model.layers.${ids[j]}`,
    );
    i = j + 1;
  }
  return runs.length > 6 ? `${runs.slice(0, 6).join(", ")}, …` : runs.join(", ");
}

/**
 * Loads a Llama-family model (config.json + safetensors) onto the GPU.
 * Tensors are read in slices of `sliceBytes` (memory use stays bounded by two
 * slices) and converted to `dtype` on the GPU.
 * `initGPU()` must have completed.
 *
 * @param dir checkpoint directory (default: the embedded `data/tiny`)
 * @throws {ModelLoadError} when a tensor is missing, has the wrong shape or dtype, or holds
 *   NaN or ±Inf (named with the element)
 * @throws {ConfigError} when config.json is malformed
 *
 * @example
 * ```ts
 * import { initGPU } from "../mod.ts";
 * import { loadModel } from "./load.ts";
 * await initGPU();
 * using model = await loadModel("data/tiny", { dtype: "f32" });
 * console.log(model.config.numHiddenLayers, model.dtype); // 4 f32
 * ```
 */
export async function loadModel(
  dir: string | URL = TINY_MODEL_DIR,
  options: LoadModelOptions = {},
): Promise<LlamaModel> {
  const dtype = options.dtype ?? "f32";
  if (dtype !== "f32" && dtype !== "f16") {
    throw new ModelLoadError(`loadModel: dtype "${dtype}" is not supported; use "f32" or "f16"`);
  }
  if (dtype === "f16" && !gpu().hasF16) {
    throw new ModelLoadError(
      `loadModel: dtype "f16" needs the shader-f16 feature, which this GPU (${gpu().adapterName}) ` +
        `lacks; load with { dtype: "f32" }`,
    );
  }
  checkSliceBytes(options.sliceBytes, "loadModel");
  const path = toPath(dir);
  const config = await loadLlamaConfig(path);
  await refuseQuantized(path);
  const ckpt = await openCheckpoint(path);
  try {
    validateCheckpoint(config, ckpt);
    const weights = await loadWeights(ckpt, expectedTensorNames(config), {
      dtype,
      sliceBytes: options.sliceBytes,
    });
    try {
      const model = new LlamaModel(config, weights, dtype);
      model.source = path;
      return model;
    } catch (e) {
      for (const t of weights.values()) t.dispose();
      throw e;
    }
  } finally {
    ckpt.close();
  }
}
