/**
 * Quantized checkpoints: a model whose linear layers were quantized is saved
 * as safetensors with packed codes, scales and zero points, and a JSON
 * `quantization_config` in the header metadata that documents the layout;
 * loading it back gives a model computing with exactly the same weights.
 *
 * Per quantized linear `model.layers.i.<proj>`:
 * - `….qweight` U32 `[out, rowWords]`: the codes as a little-endian bit stream
 *   per row, the row stride rounded up to 16 bytes (kernels/lowbit/layout.ts);
 * - `….scales` F32: one decode multiplier per group, row-major
 *   (`[out, in/groupSize]`; `[in]` for per-input-channel scales);
 * - `….zeros` F32 (asymmetric integers): `value = (code − zero) · scale`;
 * - `….bias` when the layer has one.
 *
 * Otherwise: `value = table[code] · scale · tensor_scale`, with `table` the
 * element format's value table (`quant/formats`). Layers without codes
 * (dense, or quantized by a method that returns only values) are stored as
 * F32 `….weight`. Embeddings and norms are stored as F32. The source
 * checkpoint is only read; the output is written through a temporary file.
 *
 * @example
 * ```ts
 * import { initGPU, int, loadModel, rtn } from "../mod.ts";
 * import { loadQuantized, saveQuantized } from "./checkpoint.ts";
 * await initGPU();
 * using model = await loadModel();
 * await rtn(model, int(4, { group: 32 }));
 * const dir = await Deno.makeTempDir();
 * await saveQuantized(model, dir);
 * using again = await loadQuantized(dir);
 * console.log(again.linears().size); // 28
 * await Deno.remove(dir, { recursive: true });
 * ```
 * @module
 */
import { Tensor } from "../kernels/tensor.ts";
import { unpackWeights } from "../kernels/lowbit/layout.ts";
import type { LlamaModel } from "../model/llama.ts";
import { DenseLinear } from "../model/linear.ts";
import { expectedTensorNames, loadLlamaConfig } from "../model/config.ts";
import { openCheckpoint, type TensorInput, writeSafetensors } from "../model/safetensors.ts";
import { LlamaModel as Llama } from "../model/llama.ts";
import { fromJSON, type Quantizer } from "./quantizer.ts";
import { QuantLinear, type StoredCodes, streamFormat } from "./linear.ts";
import { dequantize, type QuantizedTensor } from "./quantize.ts";

/** The `quantization_config` stored in the safetensors metadata. */
export interface QuantizationConfig {
  /** Always "lowbit". */
  quant_method: "lowbit";
  /** Layout version. */
  version: 1;
  /** How codes are packed (see the module doc). */
  layout: string;
  /** One entry per quantized linear, by HF module name (`model.layers.0.self_attn.q_proj`). */
  layers: Record<
    string,
    {
      quantizer: Quantizer;
      shape: [number, number];
      group_size: number;
      bits: number;
      tensor_scale: number;
      bits_per_weight: number;
    }
  >;
  /** Linears stored as dequantized F32 weights because their codes were not kept. */
  dequantized: string[];
}

const LAYOUT = "lowbit bit stream v1: per row, K codes of `bits` bits little-endian " +
  "(code k at bits k·bits…), row stride rounded up to 16 bytes; scales F32 per group";

function hfName(name: string): string {
  return name === "lm_head" ? "lm_head" : `model.${name}`;
}

async function f32(t: Tensor): Promise<Float32Array> {
  const d = await t.data();
  return d instanceof Float32Array ? d : Float32Array.from(d);
}

/**
 * Writes `model` (with any mix of dense and quantized linears) to
 * `dir/model.safetensors` plus `dir/config.json` copied from the folder the
 * model was loaded from. `dir` is created if needed; it must not be the
 * source folder.
 */
export async function saveQuantized(model: LlamaModel, dir: string): Promise<QuantizationConfig> {
  if (!model.source) {
    throw new TypeError("saveQuantized: the model has no source folder (load it with loadModel)");
  }
  const [src, out] = await Promise.all([Deno.realPath(model.source), realPathOrSelf(dir)]);
  if (src === out) {
    throw new RangeError(
      `saveQuantized: ${dir} is the source checkpoint's folder; write to a new folder (sources are never modified)`,
    );
  }
  const tensors: Record<string, TensorInput> = {};
  const put = async (name: string, t: Tensor) => {
    tensors[name] = { dtype: "F32", shape: [...t.shape], data: await f32(t) };
  };
  await put("model.embed_tokens.weight", model.embedTokens);
  await put("model.norm.weight", model.norm);
  for (let i = 0; i < model.numLayers; i++) {
    await put(`model.layers.${i}.input_layernorm.weight`, model.layerNorm(i, "input"));
    await put(`model.layers.${i}.post_attention_layernorm.weight`, model.layerNorm(i, "post"));
  }
  const config: QuantizationConfig = {
    quant_method: "lowbit",
    version: 1,
    layout: LAYOUT,
    layers: {},
    dequantized: [],
  };
  const linears = model.linears({ includeHead: true });
  for (const [name, lin] of linears) {
    const base = hfName(name);
    const bias = (lin as { bias?: Tensor }).bias;
    if (bias) await put(`${base}.bias`, bias);
    if (lin instanceof QuantLinear && lin.stored) {
      const s = lin.stored;
      tensors[`${base}.qweight`] = {
        dtype: "U32",
        shape: [s.shape[0], s.words.length / s.shape[0]],
        data: s.words,
      };
      tensors[`${base}.scales`] = { dtype: "F32", shape: [s.scales.length], data: s.scales };
      if (s.zeros) {
        tensors[`${base}.zeros`] = { dtype: "F32", shape: [s.zeros.length], data: s.zeros };
      }
      config.layers[base] = {
        quantizer: s.quantizer,
        shape: s.shape,
        group_size: s.groupSize,
        bits: s.bits,
        tensor_scale: s.tensorScale,
        bits_per_weight: lin.bitsPerWeight,
      };
      continue;
    }
    if (name === "lm_head" && model.config.tieWordEmbeddings && lin instanceof DenseLinear) {
      continue;
    }
    const weight = (lin as { weight?: Tensor }).weight;
    if (!(weight instanceof Tensor)) {
      throw new TypeError(
        `saveQuantized: layer ${name} (${lin}) has neither codes nor a float weight`,
      );
    }
    await put(`${base}.weight`, weight);
    if (lin instanceof QuantLinear) config.dequantized.push(base);
  }
  await Deno.mkdir(dir, { recursive: true });
  await writeSafetensors(`${dir}/model.safetensors`, tensors, {
    format: "pt",
    quantization_config: JSON.stringify(config),
  });
  const cfgTmp = `${dir}/config.json.tmp`;
  await Deno.copyFile(`${model.source}/config.json`, cfgTmp);
  await Deno.rename(cfgTmp, `${dir}/config.json`);
  return config;
}

async function realPathOrSelf(p: string): Promise<string> {
  try {
    return await Deno.realPath(p);
  } catch {
    return p;
  }
}

/**
 * Loads a checkpoint written by {@link saveQuantized}: quantized layers come
 * back as {@link QuantLinear}s computing with the dequantized codes (equal
 * bit for bit to the saved model's weights), everything else as dense f32.
 */
export async function loadQuantized(dir: string): Promise<LlamaModel> {
  const config = await loadLlamaConfig(dir);
  const ckpt = await openCheckpoint(dir);
  const weights = new Map<string, Tensor>();
  const quantized = new Map<string, QuantLinear>();
  try {
    const meta = ckpt.metadata["quantization_config"];
    if (!meta) {
      throw new TypeError(
        `${dir}: no quantization_config in the safetensors metadata; use loadModel`,
      );
    }
    const qc = JSON.parse(meta) as QuantizationConfig;
    if (qc.quant_method !== "lowbit" || qc.version !== 1) {
      throw new TypeError(
        `${dir}: quantization_config is ${qc.quant_method} v${qc.version}, not lowbit v1`,
      );
    }
    for (const { name, shape } of expectedTensorNames(config)) {
      const module = name.replace(/\.(weight|bias)$/, "");
      const layer = qc.layers[module];
      if (layer && name.endsWith(".weight")) {
        const q = await readQuantized(
          ckpt,
          module,
          layer,
          fromJSON(JSON.stringify(layer.quantizer)),
        );
        weights.set(name, q.weight.reshape(q.weight.shape));
        quantized.set(module, q);
        continue;
      }
      const { data } = await ckpt.read(name, { as: "f32" });
      weights.set(name, Tensor.fromArray(data as Float32Array, shape, "f32"));
    }
    const model = new Llama(config, weights, "f32");
    model.source = dir;
    for (const [module, layer] of Object.entries(qc.layers)) {
      // modules outside the checkpoint's dense names (a quantized tied lm_head)
      if (quantized.has(module)) continue;
      quantized.set(
        module,
        await readQuantized(ckpt, module, layer, fromJSON(JSON.stringify(layer.quantizer))),
      );
    }
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

async function readQuantized(
  ckpt: Awaited<ReturnType<typeof openCheckpoint>>,
  module: string,
  layer: QuantizationConfig["layers"][string],
  quantizer: Quantizer,
): Promise<QuantLinear> {
  const [out, inF] = layer.shape;
  const words = (await ckpt.read(`${module}.qweight`)).data as Uint32Array;
  const scales = (await ckpt.read(`${module}.scales`, { as: "f32" })).data as Float32Array;
  const zeros = ckpt.has(`${module}.zeros`)
    ? (await ckpt.read(`${module}.zeros`, { as: "f32" })).data as Float32Array
    : undefined;
  const codes = unpackWeights(words, [out, inF], streamFormat(layer.bits));
  using codeT = Tensor.fromArray(Uint32Array.from(codes), [out, inF], "u32");
  const qt: QuantizedTensor = {
    quantizer,
    shape: [out, inF],
    groupSize: layer.group_size,
    codes: codeT,
    dequantized: codeT,
    scales,
    zeros,
    tensorScale: layer.tensor_scale,
    dispose() {},
    [Symbol.dispose]() {},
  };
  const weight = dequantize(qt);
  const stored: StoredCodes = {
    quantizer,
    shape: [out, inF],
    groupSize: layer.group_size,
    bits: layer.bits,
    words,
    scales,
    zeros,
    tensorScale: layer.tensor_scale,
  };
  const bias = ckpt.has(`${module}.bias`)
    ? Tensor.fromArray((await ckpt.read(`${module}.bias`, { as: "f32" })).data as Float32Array)
    : undefined;
  return new QuantLinear(weight, {
    bias,
    bitsPerWeight: layer.bits_per_weight,
    weightQuantizer: quantizer,
    stored,
  });
}
