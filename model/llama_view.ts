/**
 * The notebook display of a {@link LlamaModel}: its configuration, then one
 * row per kind of projection (`self_attn.q_proj`, …, `lm_head`) with how many
 * there are, their shape, and the storage bits per weight they have now, so a
 * partly or mixed-precision quantized model shows which layers are low-bit.
 * Reads nothing back from the GPU.
 *
 * @example
 * ```ts
 * import { initGPU } from "../mod.ts";
 * import { loadModel } from "./load.ts";
 * import { llamaBundle } from "./llama_view.ts";
 * await initGPU();
 * using model = await loadModel("data/tiny");
 * const html = llamaBundle(model)["text/html"];
 * console.log(html.includes(">self_attn.q_proj</td>"), html.includes(">32</td>")); // true true
 * ```
 * @module
 */

import type { LlamaModel } from "./llama.ts";
import type { Linear } from "./linear.ts";
import { propertiesBundle } from "../viz/properties.ts";
import { recordsTable } from "../viz/table.ts";

/** One row per projection kind: its count, shape and bits per weight (range when mixed). */
export function projectionRows(linears: Map<string, Linear>): Record<string, unknown>[] {
  const kinds = new Map<string, Linear[]>();
  for (const [name, lin] of linears) {
    const kind = name.replace(/^layers\.\d+\./, "");
    kinds.set(kind, [...(kinds.get(kind) ?? []), lin]);
  }
  return [...kinds].map(([kind, lins]) => {
    const bits = lins.map((l) => l.bitsPerWeight ?? NaN);
    const lo = Math.min(...bits), hi = Math.max(...bits);
    const shapes = [...new Set(lins.map((l) => `[${l.outFeatures}, ${l.inFeatures}]`))];
    return {
      projection: kind,
      count: lins.length,
      "shape [out, in]": shapes.join(" "),
      "bits per weight": lo === hi || Number.isNaN(lo) ? lo : `${lo} … ${hi}`,
      params: lins.reduce((n, l) => n + l.outFeatures * l.inFeatures, 0),
    };
  });
}

/**
 * The Jupyter bundle of a model: configuration properties and the table of
 * its projections (`text/plain` and `text/html`).
 */
export function llamaBundle(model: LlamaModel): { "text/plain": string; "text/html": string } {
  let linears: Map<string, Linear>;
  try {
    linears = model.linears({ includeHead: true });
  } catch {
    return propertiesBundle(`${model} (disposed)`, []);
  }
  const c = model.config;
  let params = 0, bits = 0;
  for (const l of linears.values()) {
    params += l.outFeatures * l.inFeatures;
    bits += (l.bitsPerWeight ?? NaN) * l.outFeatures * l.inFeatures;
  }
  return propertiesBundle(model.toString(), [
    ["model type", c.modelType],
    ["layers", c.numHiddenLayers],
    ["hidden size", c.hiddenSize],
    ["intermediate size", c.intermediateSize],
    ["attention heads (query/kv)", `${c.numAttentionHeads}/${c.numKeyValueHeads}`],
    ["head dim", c.headDim],
    ["vocabulary", c.vocabSize],
    ["rope theta", c.ropeTheta],
    ["tied embeddings", c.tieWordEmbeddings],
    ["activations", model.dtype],
    ["projection parameters", params],
    ["projection bits per weight (mean)", params ? bits / params : 0],
  ], { table: recordsTable(projectionRows(linears)), tableTitle: "projections" });
}
