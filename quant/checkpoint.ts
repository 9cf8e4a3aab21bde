/**
 * Quantized checkpoints: a model whose linear layers were quantized (by any
 * method) is saved as a folder that loads back into the same model, with
 * its quantized linears running on the packed low-bit kernels.
 *
 * Layout (the Hugging Face convention: the quantization settings live in
 * `config.json` under `quantization_config`):
 * - `config.json`: the source model's config plus `quantization_config`
 *   ({@link QuantizationConfig}): `quant_method: "lowbit"`, `version: 2`, and
 *   one entry per quantized linear, by HF module name;
 * - `model.safetensors`, per quantized linear `model.layers.i.<proj>`:
 *   - `….qweight` U32 `[out, rowWords]`: codes, per row one little-endian bit
 *     stream of `bits`-bit codes, rows padded to 16 bytes
 *     (`kernels/lowbit/layout.ts`);
 *   - `….scales` F32 decode multipliers, row-major `[out, in/group_size]`
 *     (`[in]` per input channel): `value = table[code] · scale · tensor_scale`;
 *   - `….zeros` F32 (asymmetric integers): `value = (code − zero) · scale`;
 *   - `….scale_codes` U8: the E8M0 / E4M3 bytes behind MX / NVFP4 scales;
 *   - `….g_idx` I32 `[in]`: each column's scale group, when not ⌊c / g⌋;
 *   - `….lora_a` F32 `[out, k]`, `….lora_b` F32 `[k, in]`: a low-rank
 *     correction; `….smooth` F32 `[in]`: per-channel input scales;
 *     `….input_columns` F32 `[in]`: CrossQuant's static column maxima;
 *   - `….bias`; and `….weight` F32 for layers stored as values (no codes);
 * - embeddings and norms as F32.
 * The entry names the quantizer (plain data), the input quantizer (plain
 * data: per token, CrossQuant, static FP), the rotation seeds, and the bits.
 *
 * Saving is atomic: everything is written into a fresh temporary folder next
 * to the target, which is then renamed into place in one step. A non-empty
 * target is refused unless `{ overwrite: true }` (then the old folder is moved
 * aside first and removed after). A lock file next to the target makes a
 * second concurrent save fail at once, naming the lock.
 *
 * @example
 * ```ts
 * import { initGPU, int, loadModel, quantizeModel } from "../mod.ts";
 * import { loadQuantized, saveQuantized } from "./checkpoint.ts";
 * await initGPU();
 * using model = await loadModel();
 * await quantizeModel(model, { method: "rtn", quantizer: int(4, { group: 32 }) });
 * const dir = `${await Deno.makeTempDir()}/w4`;
 * await saveQuantized(model, dir);
 * using again = await loadQuantized(dir);
 * console.log(again.linears().size, String(again.getLinear("layers.0.mlp.up_proj")).includes("packed")); // 28 true
 * await Deno.remove(dir, { recursive: true });
 * ```
 * @module
 */
import { Tensor } from "../kernels/tensor.ts";
import type { LlamaModel } from "../model/llama.ts";
import { LlamaModel as Llama } from "../model/llama.ts";
import { DenseLinear } from "../model/linear.ts";
import { expectedTensorNames, loadLlamaConfig } from "../model/config.ts";
import { openCheckpoint, type TensorInput, writeSafetensors } from "../model/safetensors.ts";
import { elementFormat, fromJSON, type Quantizer } from "./quantizer.ts";
import { type InputTransform, QuantLinear } from "./linear.ts";
import { checkInputQuantizer, type InputQuantizer } from "./activation.ts";
import { QuantizedWeight } from "./weight.ts";
import { commitFolder } from "../model/atomic_folder.ts";

/** One quantized linear in {@link QuantizationConfig}. */
export interface QuantizedLayerEntry {
  /** "codes": `qweight` + `scales` (…); "values": an F32 `weight` (the method kept no codes). */
  storage: "codes" | "values";
  /** The weight quantizer. */
  quantizer: Quantizer;
  /** `[out, in]`. */
  shape: [number, number];
  /** Codes per scale group. */
  group_size: number;
  /** Bits per stored code (checked against the quantizer's format on load). */
  bits: number;
  /** NVFP4's tensor scale (1 otherwise). */
  tensor_scale: number;
  /** Storage bits per weight, as the layer reported it. */
  bits_per_weight: number;
  /** Input quantizer, if the layer quantizes its inputs. */
  input?: InputQuantizer;
  /** Rank of the low-rank correction (`lora_a`, `lora_b`), if any. */
  rank?: number;
  /** Rotation seeds (QuIP), or "scales" for a stored `smooth` tensor. */
  transform?: { kind: "rotation"; input_seed: number; output_seed?: number } | { kind: "scales" };
}

/** The `quantization_config` written into `config.json`. */
export interface QuantizationConfig {
  /** Always "lowbit". */
  quant_method: "lowbit";
  /** Layout version (2). */
  version: 2;
  /** How codes are packed (see the module doc). */
  layout: string;
  /** One entry per quantized linear, by HF module name (`model.layers.0.self_attn.q_proj`). */
  layers: Record<string, QuantizedLayerEntry>;
}

const LAYOUT = "lowbit bit stream: per row, K codes of `bits` bits little-endian " +
  "(code k at bits k·bits…), row stride rounded up to 16 bytes; scales F32 per group";

/** Options of {@link saveQuantized}. */
export interface SaveOptions {
  /** Replace a non-empty target folder. Default false: refuse it. */
  overwrite?: boolean;
}

function hfName(name: string): string {
  return name === "lm_head" ? "lm_head" : `model.${name}`;
}

async function f32(t: Tensor): Promise<Float32Array> {
  const d = await t.data();
  return d instanceof Float32Array ? d : Float32Array.from(d);
}

/**
 * Writes `model` (with any mix of dense and quantized linears) to the folder
 * `dir`: `model.safetensors` and `config.json` (the source config plus
 * `quantization_config`). `dir` must not exist or be empty (or pass
 * `{ overwrite: true }`), and must not be the source folder.
 */
export async function saveQuantized(
  model: LlamaModel,
  dir: string,
  options: SaveOptions = {},
): Promise<QuantizationConfig> {
  if (!model.source) {
    throw new TypeError("saveQuantized: the model has no source folder (load it with loadModel)");
  }
  const target = dir.replace(/\/+$/, "");
  const [src, out] = await Promise.all([Deno.realPath(model.source), realPathOrSelf(target)]);
  if (src === out) {
    throw new RangeError(
      `saveQuantized: ${dir} is the source checkpoint's folder; write to a new folder ` +
        `(sources are never modified)`,
    );
  }
  const sourceConfig = JSON.parse(await Deno.readTextFile(`${model.source}/config.json`));
  let config: QuantizationConfig | undefined;
  await commitFolder(target, { overwrite: options.overwrite ?? false }, async (tmp) => {
    const c = await collect(model);
    config = c.config;
    await writeSafetensors(`${tmp}/model.safetensors`, c.tensors, { format: "pt" });
    const cfg = { ...sourceConfig, quantization_config: c.config };
    await Deno.writeTextFile(`${tmp}/config.json`, JSON.stringify(cfg, null, 2) + "\n");
  });
  return config!;
}

/** The tensors and config entries of every part of the model. */
async function collect(
  model: LlamaModel,
): Promise<{ tensors: Record<string, TensorInput>; config: QuantizationConfig }> {
  const tensors: Record<string, TensorInput> = {};
  const put = async (name: string, t: Tensor) => {
    tensors[name] = { dtype: "F32", shape: [...t.shape], data: await f32(t) };
  };
  const arr = (
    name: string,
    dtype: "F32" | "U8" | "I32",
    data: Float32Array | Uint8Array | Int32Array,
  ) => (tensors[name] = { dtype, shape: [data.length], data });
  await put("model.embed_tokens.weight", model.embedTokens);
  await put("model.norm.weight", model.norm);
  for (let i = 0; i < model.numLayers; i++) {
    await put(`model.layers.${i}.input_layernorm.weight`, model.layerNorm(i, "input"));
    await put(`model.layers.${i}.post_attention_layernorm.weight`, model.layerNorm(i, "post"));
  }
  const config: QuantizationConfig = {
    quant_method: "lowbit",
    version: 2,
    layout: LAYOUT,
    layers: {},
  };
  for (const [name, lin] of model.linears({ includeHead: true })) {
    const base = hfName(name);
    const bias = (lin as { bias?: Tensor }).bias;
    if (lin instanceof QuantLinear) {
      if (bias) await put(`${base}.bias`, bias);
      const c = lin.codes;
      const entry: QuantizedLayerEntry = {
        storage: c ? "codes" : "values",
        quantizer: lin.weightQuantizer ?? c!.quantizer,
        shape: [lin.outFeatures, lin.inFeatures],
        group_size: c?.groupSize ?? lin.inFeatures,
        bits: c?.bits ?? elementFormat((lin.weightQuantizer ?? c!.quantizer).format).bits,
        tensor_scale: c?.tensorScale ?? 1,
        bits_per_weight: lowRankFree(lin),
      };
      if (c) {
        tensors[`${base}.qweight`] = {
          dtype: "U32",
          shape: [...c.codes.shape],
          data: await c.codes.data() as Uint32Array,
        };
        arr(`${base}.scales`, "F32", c.scales);
        if (c.zeros) arr(`${base}.zeros`, "F32", c.zeros);
        if (c.scaleCodes) arr(`${base}.scale_codes`, "U8", c.scaleCodes);
        if (c.groupIndex) arr(`${base}.g_idx`, "I32", c.groupIndex);
      } else {
        await put(`${base}.weight`, lin.weight!);
      }
      if (lin.input?.kind === "crossquant" && lin.input.columns) {
        // CrossQuant's static column maxima go to a tensor, the rest stays plain data
        arr(`${base}.input_columns`, "F32", lin.input.columns);
        entry.input = { ...lin.input, columns: undefined };
      } else if (lin.input) entry.input = lin.input;
      if (lin.lowRank) {
        entry.rank = lin.rank;
        await put(`${base}.lora_a`, lin.lowRank.a);
        await put(`${base}.lora_b`, lin.lowRank.b);
      }
      const t = lin.transform;
      if (t?.kind === "scales") {
        entry.transform = { kind: "scales" };
        await put(`${base}.smooth`, t.scales);
      } else if (t) {
        entry.transform = { kind: "rotation", input_seed: t.inputSeed, output_seed: t.outputSeed };
      }
      config.layers[base] = entry;
      continue;
    }
    if (name === "lm_head" && model.config.tieWordEmbeddings && lin instanceof DenseLinear) {
      continue;
    }
    const weight = (lin as { weight?: Tensor }).weight;
    if (!(weight instanceof Tensor)) {
      throw new TypeError(
        `saveQuantized: layer ${name} (${lin}) is neither a QuantLinear nor has a float weight`,
      );
    }
    if (bias) await put(`${base}.bias`, bias);
    await put(`${base}.weight`, weight);
  }
  return { tensors, config };
}

/** A layer's bits per weight without the low-rank factors' share. */
function lowRankFree(lin: QuantLinear): number {
  const k = lin.rank;
  return lin.bitsPerWeight -
    (16 * k * (lin.inFeatures + lin.outFeatures)) / (lin.inFeatures * lin.outFeatures);
}

async function realPathOrSelf(p: string): Promise<string> {
  try {
    return await Deno.realPath(p);
  } catch {
    return p;
  }
}

/** Reads and checks `quantization_config` from a folder's config.json. */
async function readQuantizationConfig(dir: string): Promise<QuantizationConfig> {
  const file = `${dir}/config.json`;
  const json = JSON.parse(await Deno.readTextFile(file));
  const qc = json?.quantization_config;
  if (!qc) {
    throw new TypeError(
      `${file}: no quantization_config; this is not a lowbit quantized checkpoint (use loadModel)`,
    );
  }
  if (qc.quant_method !== "lowbit" || qc.version !== 2) {
    throw new TypeError(
      `${file}: quantization_config is ${qc.quant_method} v${qc.version}, not lowbit v2`,
    );
  }
  if (typeof qc.layers !== "object" || qc.layers === null) {
    throw new TypeError(`${file}: quantization_config.layers must be an object`);
  }
  return qc as QuantizationConfig;
}

/**
 * Loads a checkpoint written by {@link saveQuantized}: quantized layers come
 * back as {@link QuantLinear}s on the packed low-bit kernels (or, when no
 * kernel fits, e.g. per-input-channel scales, computing with their
 * dequantized codes), everything else as dense f32. The codes, scales,
 * input quantizers, low-rank factors and transforms are exactly those saved.
 */
export async function loadQuantized(dir: string): Promise<LlamaModel> {
  const config = await loadLlamaConfig(dir);
  const qc = await readQuantizationConfig(dir);
  const ckpt = await openCheckpoint(dir);
  const weights = new Map<string, Tensor>();
  const quantized = new Map<string, QuantLinear>();
  try {
    for (const module of Object.keys(qc.layers)) {
      quantized.set(module, await readLayer(ckpt, dir, module, qc.layers[module]));
    }
    for (const { name, shape } of expectedTensorNames(config)) {
      const module = name.replace(/\.(weight|bias)$/, "");
      if (quantized.has(module)) {
        // the model needs a placeholder weight of the right shape until setLinear replaces it
        weights.set(name, Tensor.zeros(shape));
        continue;
      }
      if (!ckpt.has(name)) {
        throw new RangeError(`${dir}: tensor "${name}" is missing from the checkpoint`);
      }
      const { data } = await ckpt.read(name, { as: "f32" });
      weights.set(name, Tensor.fromArray(data as Float32Array, shape, "f32"));
    }
    const model = new Llama(config, weights, "f32");
    model.source = dir;
    for (const [module, q] of quantized) {
      const name = module === "lm_head" ? "lm_head" : module.replace(/^model\./, "");
      model.setLinear(name, q);
    }
    return model;
  } catch (e) {
    for (const t of weights.values()) t.dispose();
    for (const q of quantized.values()) q.dispose();
    throw e;
  } finally {
    ckpt.close();
  }
}

type Reader = Awaited<ReturnType<typeof openCheckpoint>>;

async function readLayer(
  ckpt: Reader,
  dir: string,
  module: string,
  e: QuantizedLayerEntry,
): Promise<QuantLinear> {
  const where = `${dir}: ${module}`;
  const quantizer = fromJSON(JSON.stringify(e.quantizer));
  const bits = elementFormat(quantizer.format).bits;
  if (e.bits !== bits) {
    throw new RangeError(
      `${where}: stored bit width ${e.bits} does not match the quantizer's format ` +
        `${quantizer.format} (${bits} bits); the checkpoint's quantization_config is corrupt`,
    );
  }
  if (!Array.isArray(e.shape) || e.shape.length !== 2) {
    throw new RangeError(`${where}: shape ${JSON.stringify(e.shape)} must be [out, in]`);
  }
  const f32Of = async (name: string) =>
    (await ckpt.read(`${module}.${name}`, { as: "f32" })).data as Float32Array;
  const opt = async (name: string) => ckpt.has(`${module}.${name}`) ? await f32Of(name) : undefined;
  const owned: Tensor[] = [];
  const tensor = (data: Float32Array, shape?: number[]) => {
    const t = Tensor.fromArray(data, shape);
    owned.push(t);
    return t;
  };
  let codes: QuantizedWeight | undefined;
  try {
    let values: Tensor | undefined;
    if (e.storage === "codes") {
      const q = await ckpt.read(`${module}.qweight`);
      if (!(q.data instanceof Uint32Array)) {
        throw new TypeError(`${where}.qweight is ${q.dtype}; expected U32 code words`);
      }
      const u8 = ckpt.has(`${module}.scale_codes`)
        ? (await ckpt.read(`${module}.scale_codes`)).data as Uint8Array
        : undefined;
      const gi = ckpt.has(`${module}.g_idx`)
        ? (await ckpt.read(`${module}.g_idx`)).data as Int32Array
        : undefined;
      codes = new QuantizedWeight({
        quantizer,
        shape: e.shape,
        groupSize: e.group_size,
        codes: q.data,
        scales: await f32Of("scales"),
        zeros: await opt("zeros"),
        scaleCodes: u8,
        tensorScale: e.tensor_scale,
        groupIndex: gi,
        name: where,
      });
      if (!packable(codes)) values = await codes.dequantize();
    } else if (e.storage === "values") {
      values = tensor(await f32Of("weight"), e.shape);
    } else {
      throw new TypeError(
        `${where}: storage ${JSON.stringify(e.storage)} is not "codes" or "values"`,
      );
    }
    const bias = await opt("bias");
    const lowRank = e.rank
      ? {
        a: tensor(await f32Of("lora_a"), [e.shape[0], e.rank]),
        b: tensor(await f32Of("lora_b"), [e.rank, e.shape[1]]),
      }
      : undefined;
    let transform: InputTransform | undefined;
    if (e.transform?.kind === "scales") {
      transform = { kind: "scales", scales: tensor(await f32Of("smooth")) };
    } else if (e.transform?.kind === "rotation") {
      transform = {
        kind: "rotation",
        inputSeed: e.transform.input_seed,
        outputSeed: e.transform.output_seed,
      };
    }
    const layer = new QuantLinear({
      codes,
      values,
      bias: bias && tensor(bias),
      act: e.input && checkInputQuantizer(
        e.input.kind === "crossquant" && ckpt.has(`${module}.input_columns`)
          ? { ...e.input, columns: await f32Of("input_columns") }
          : e.input,
        `${where} input quantizer`,
      ),
      lowRank,
      transform,
      quantizer,
      bitsPerWeight: e.bits_per_weight,
    });
    return layer;
  } catch (err) {
    codes?.dispose();
    for (const t of owned) t.dispose();
    throw err;
  }
}

/** True when the low-bit kernels can run the weight. */
function packable(w: QuantizedWeight): boolean {
  try {
    w.kernelWeight();
    return true;
  } catch {
    return false;
  }
}

/**
 * Every quantized linear of `model` switched to the packed low-bit kernels
 * (in place; layers without codes, or whose format has no kernel, stay as
 * they are). Returns the names of the layers it packed.
 *
 * @example
 * ```ts
 * import { initGPU, int, loadModel, quantizeModel } from "../mod.ts";
 * import { packModel } from "./checkpoint.ts";
 * await initGPU();
 * using model = await loadModel();
 * await quantizeModel(model, { method: "rtn", quantizer: int(4, { group: 32 }) });
 * console.log(packModel(model).length); // 28
 * ```
 */
export function packModel(model: LlamaModel): string[] {
  const done: string[] = [];
  for (const [name, lin] of model.linears({ includeHead: true })) {
    if (!(lin instanceof QuantLinear) || lin.packed || !lin.codes || !packable(lin.codes)) continue;
    model.setLinear(name, lin.pack());
    done.push(name);
  }
  return done;
}
