/**
 * Per-layer quantization sensitivity: the degradation of the model's output
 * when only one linear layer is quantized (round to nearest) at b bits and
 * everything else stays in full precision — the ΔL_{l,b} of Hubara et al.,
 * "Improving Post Training Neural Quantization: Layer-wise Calibration and
 * Integer Programming", 2020 (arXiv:2006.10518), §4, which the integer
 * program of `./ip.ts` adds up over layers.
 *
 * The degradation is measured as the mean KL(P_fp ‖ P_quant) of the
 * next-token distributions and as the increase of the mean negative
 * log-likelihood, over the given evaluation windows. To save work, the
 * residual stream entering decoder layer i is computed once and every
 * linear of layer i is evaluated from there (layers i..L−1 and the head).
 *
 * @example
 * ```ts
 * import { initGPU, int, loadModel } from "../../mod.ts";
 * import { layerSensitivity } from "./sensitivity.ts";
 * await initGPU();
 * using model = await loadModel();
 * const rows = [Int32Array.from(new TextEncoder().encode("In the beginning God created the heaven"))];
 * const s = await layerSensitivity(model, rows, { bits: [2], layers: ["layers.3.mlp.down_proj"] });
 * console.log(s.length, s[0].bits, s[0].kl > 0); // 1 2 true
 * ```
 * @module
 */
import type { Tensor } from "../../kernels/tensor.ts";
import { logSoftmax } from "../../kernels/ops/softmax.ts";
import { klPerPosition } from "../../model/eval.ts";
import type { LlamaModel } from "../../model/llama.ts";
import { progress as progressBar } from "../../viz/progress.ts";
import { quantizeLinear, type WeightedLinear } from "../linear.ts";
import { int, type Quantizer } from "../quantizer.ts";
import type { AllocItem } from "./ip.ts";

/** One (layer, bits) measurement. */
export interface SensitivityRow {
  /** Linear layer name. */
  layer: string;
  /** Number of weights of the layer. */
  params: number;
  /** Element bits. */
  bits: number;
  /** Stored bits per weight, scales included. */
  bitsPerWeight: number;
  /** Mean KL(P_fp ‖ P_quant) per predicted token, nats. */
  kl: number;
  /** Mean NLL increase per predicted token, nats (may be negative). */
  dNll: number;
}

/** Options of {@link layerSensitivity}. */
export interface SensitivityOptions {
  /** Bit widths to try (default [2, 3, 4, 8]). */
  bits?: number[];
  /** The quantizer of b bits (default `int(b, { group: 32 })`). */
  quantizer?: (bits: number) => Quantizer;
  /** Linear layers to measure (default every decoder linear). */
  layers?: string[];
  /** Show a progress bar (default false). */
  progress?: boolean | string;
}

/**
 * Measures every (layer, bits) pair on `rows` (equal-length token windows);
 * the model is restored after each measurement.
 */
export async function layerSensitivity(
  model: LlamaModel,
  rows: readonly ArrayLike<number>[],
  options: SensitivityOptions = {},
): Promise<SensitivityRow[]> {
  const bitsList = options.bits ?? [2, 3, 4, 8];
  const makeQ = options.quantizer ?? ((b: number) => int(b, { group: 32 }));
  const wanted = new Set(options.layers ?? [...model.linears().keys()]);
  const batch = model.tokenBatch(rows as ArrayLike<number>[]);
  const { batch: B, seq: T } = batch;
  const scored = B * (T - 1);
  const V = model.config.vocabSize;
  // mean −log p(next token) over positions 0..T−2 of every row
  const nllOf = async (logits: Tensor): Promise<number> => {
    using lp = logSoftmax(logits);
    const v = await lp.data();
    let s = 0;
    for (let b = 0; b < B; b++) {
      for (let t = 0; t < T - 1; t++) s -= v[(b * T + t) * V + rows[b][t + 1]];
    }
    return s / scored;
  };
  const fromLayer = (i: number, h: Tensor): Tensor => {
    let x = h;
    for (let l = i; l < model.numLayers; l++) {
      const y = model.layerForward(l, x, B, T);
      if (x !== h) x.dispose();
      x = y;
    }
    try {
      return model.head(x, B, T);
    } finally {
      if (x !== h) x.dispose();
    }
  };
  let h = model.embed(batch.ids);
  using refLogits = fromLayer(0, h);
  const refNll = await nllOf(refLogits);
  const out: SensitivityRow[] = [];
  const layerIds = Array.from({ length: model.numLayers }, (_, i) => i);
  const iter = options.progress
    ? progressBar(layerIds, {
      label: typeof options.progress === "string" ? options.progress : "sensitivity",
    })
    : layerIds;
  try {
    for (const i of iter) {
      for (const [name, lin] of model.linears({ layer: i })) {
        if (!wanted.has(name)) continue;
        const dense = lin as WeightedLinear;
        for (const b of bitsList) {
          const ql = await quantizeLinear(dense, makeQ(b), { name: `${name}.weight` });
          model.setLinear(name, ql, { dispose: false });
          try {
            using logits = fromLayer(i, h);
            using klp = klPerPosition(refLogits, logits);
            const kv = await klp.data();
            let kl = 0;
            for (let bb = 0; bb < B; bb++) for (let t = 0; t < T - 1; t++) kl += kv[bb * T + t];
            out.push({
              layer: name,
              params: dense.inFeatures * dense.outFeatures,
              bits: b,
              bitsPerWeight: ql.bitsPerWeight,
              kl: kl / scored,
              dNll: (await nllOf(logits)) - refNll,
            });
          } finally {
            model.setLinear(name, dense, { dispose: false });
            ql.dispose();
          }
        }
      }
      const next = model.layerForward(i, h, B, T);
      h.dispose();
      h = next;
    }
  } finally {
    h.dispose();
  }
  return out;
}

/**
 * Groups sensitivity rows into the allocation problem of `./ip.ts`, with
 * `metric` ("kl" or "dNll") as each option's cost.
 *
 * @example
 * ```ts
 * import { toAllocItems } from "./sensitivity.ts";
 * const rows = [
 *   { layer: "a", params: 8, bits: 2, bitsPerWeight: 2.5, kl: 0.3, dNll: 0.2 },
 *   { layer: "a", params: 8, bits: 4, bitsPerWeight: 4.5, kl: 0.01, dNll: 0.0 },
 * ];
 * console.log(toAllocItems(rows)[0].options.map((o) => o.cost)); // [0.3, 0.01]
 * ```
 */
export function toAllocItems(
  rows: readonly SensitivityRow[],
  metric: "kl" | "dNll" = "kl",
): AllocItem[] {
  const items = new Map<string, AllocItem>();
  for (const r of rows) {
    let it = items.get(r.layer);
    if (!it) items.set(r.layer, it = { name: r.layer, params: r.params, options: [] });
    it.options.push({ bits: r.bits, bitsPerWeight: r.bitsPerWeight, cost: r[metric] });
  }
  return [...items.values()];
}
