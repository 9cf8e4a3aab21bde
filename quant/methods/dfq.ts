/**
 * DFQ — cross-layer equalization and bias correction.
 *
 * M. Nagel, M. van Baalen, T. Blankevoort, M. Welling, "Data-Free
 * Quantization Through Weight Equalization and Bias Correction", ICCV 2019
 * (arXiv:1906.04721), §4.1 (equalization) and §4.2 (bias correction).
 *
 * Equalization (§4.1). For two layers y = W₂·f(W₁x) with f positively
 * homogeneous per channel, f(S⁻¹z) = S⁻¹f(z), so W₁ ← S⁻¹W₁, W₂ ← W₂S
 * preserves the function. In Llama's MLP, down(silu(gate·x) ⊙ (up·x)) is
 * linear in each row of up, so the pair up_proj → down_proj qualifies
 * exactly. With per-channel ranges r₁_i = max_j |W₁[i, j]| (row i of up) and
 * r₂_i = max_k |W₂[k, i]| (column i of down), the paper's optimum
 *   s_i = √(r₁_i / r₂_i)
 * leaves both ranges at √(r₁_i·r₂_i), which is what per-tensor weight
 * quantization (the data-free setting's weak spot) needs.
 *
 * Bias correction (§4.2). Quantization shifts each output's mean:
 * E[ŷ − y] = (Ŵ − W)·E[x] = ε. Subtracting ε from the bias removes it.
 * The paper estimates E[x] from batch-norm statistics (data-free); Llama
 * has no batch norm before its linears, so E[x] here is the calibration
 * mean of each layer's input (the paper's "empirical" variant), taken layer
 * by layer from the already-quantized model (`captureLayerInputs`). The
 * Llama linears have no bias: the corrected layer gets one.
 *
 * Algorithm: 1. equalize every up → down pair; 2. for each layer in order:
 * E[x] of every linear input, Ŵ = Q(W), b ← b − (Ŵ − W)·E[x].
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { equalizationScales } from "./dfq.ts";
 * await initGPU();
 * using up = Tensor.fromArray([[4, 1], [1, 1]]);   // rows: ranges 4, 1
 * using down = Tensor.fromArray([[1, 4]]);          // columns: ranges 1, 4
 * using s = equalizationScales(up, down);
 * console.log(await s.data()); // Float32Array [2, 0.5]
 * ```
 * @module
 */
import { Tensor } from "../../kernels/tensor.ts";
import { binary, div, sub, unary, where } from "../../kernels/ops/elementwise.ts";
import { absmax, sum } from "../../kernels/ops/reduce.ts";
import { linear } from "../../kernels/ops/matmul.ts";
import { captureLayerInputs } from "../../model/capture.ts";
import { LAYER_LINEARS, type LlamaModel } from "../../model/llama.ts";
import { type ModelMethod, quantizeModel, taskQuantizer } from "../model.ts";
import type { Quantizer } from "../quantizer.ts";
import { quantError } from "../metrics.ts";
import { quantizeParts, QuantLinear, withParts } from "../linear.ts";
import { denseWeight, foldScales } from "./_sites.ts";
import { meanBitsPerWeight, type QuantReport } from "./rtn.ts";

/**
 * DFQ's equalizing scales s_i = √(r₁_i / r₂_i) for a pair W₁ `[m, n]` →
 * W₂ `[k, m]` (r₁: row ranges of W₁, r₂: column ranges of W₂). Channels with
 * a zero range on either side get s = 1.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { equalizationScales } from "./dfq.ts";
 * await initGPU();
 * using s = equalizationScales(Tensor.fromArray([[9], [0]]), Tensor.fromArray([[1, 5]]));
 * console.log(await s.data()); // Float32Array [3, 1]
 * ```
 */
export function equalizationScales(w1: Tensor, w2: Tensor): Tensor {
  if (w1.rank !== 2 || w2.rank !== 2 || w1.shape[0] !== w2.shape[1]) {
    throw new RangeError(`equalizationScales: ${w1} → ${w2} is not a pair W₁ [m, n] → W₂ [k, m]`);
  }
  using r1 = absmax(w1, 1);
  using r2 = absmax(w2, 0);
  using ratio = div(r1, r2);
  using s = unary("sqrt", ratio);
  // 0/0, x/0 and 0/x give NaN, Inf or 0: use 1 there
  using ok1 = binary("gt", r1, 0);
  using ok2 = binary("gt", r2, 0);
  using ok = binary("mul", ok1, ok2);
  using one = Tensor.full([1], 1);
  return where(ok, s, one);
}

/** Ranges of one equalized pair, before and after (for plots). */
export interface EqualizationRecord {
  /** The decoder layer. */
  layer: number;
  /** Row ranges r₁ of up_proj before equalization. */
  upRange: Float32Array;
  /** Column ranges r₂ of down_proj before equalization. */
  downRange: Float32Array;
}

/**
 * Cross-layer equalization of every up_proj → down_proj pair of `model`, in
 * place (the float function is unchanged). Returns the per-channel ranges
 * before equalization.
 *
 * @example
 * ```ts
 * import { initGPU, loadModel } from "../../mod.ts";
 * import { crossLayerEqualize } from "./dfq.ts";
 * await initGPU();
 * using model = await loadModel();
 * const rec = await crossLayerEqualize(model);
 * console.log(rec.length, rec[0].upRange.length); // 4 384
 * ```
 */
export async function crossLayerEqualize(model: LlamaModel): Promise<EqualizationRecord[]> {
  const out: EqualizationRecord[] = [];
  for (let i = 0; i < model.numLayers; i++) {
    const up = denseWeight(model, `layers.${i}.mlp.up_proj`).weight;
    const down = denseWeight(model, `layers.${i}.mlp.down_proj`).weight;
    using r1 = absmax(up, 1);
    using r2 = absmax(down, 0);
    out.push({
      layer: i,
      upRange: await r1.data() as Float32Array,
      downRange: await r2.data() as Float32Array,
    });
    using s = equalizationScales(up, down);
    foldScales(model, i, "down", s);
  }
  return out;
}

/**
 * Bias-corrected quantized layer: Ŵ = Q(W), b̂ = b − (Ŵ − W)·μ with μ = E[x]
 * `[in]`.
 *
 * @example
 * ```ts
 * import { initGPU, int, Tensor } from "../../mod.ts";
 * import { correctedLinear } from "./dfq.ts";
 * await initGPU();
 * using w = Tensor.fromArray([[0.3, 1]]);
 * using mu = Tensor.fromArray([1, 0]);
 * using q = await correctedLinear(w, undefined, mu, int(2, { per: "tensor" }));
 * using y = q.forward(Tensor.fromArray([[1, 0]])); // E[ŷ] = E[y] at x = μ
 * console.log((await y.data())[0].toFixed(4)); // 0.3000
 * ```
 */
export async function correctedLinear(
  w: Tensor,
  bias: Tensor | undefined,
  mu: Tensor,
  q: Quantizer,
): Promise<QuantLinear> {
  const { codes, values: wq } = await quantizeParts(w, q);
  using d = sub(wq, w);
  using mu2 = mu.reshape([1, mu.size]);
  using eps2 = linear(mu2, d); // [1, out] = ((Ŵ − W)·μ)ᵀ
  using eps = eps2.reshape([w.shape[0]]);
  const b = bias ? sub(bias, eps) : binary("mul", eps, -1);
  return new QuantLinear({ codes, values: wq, bias: b, quantizer: q });
}

/** Options of {@link dfq}. */
export interface DfqOptions {
  /** Cross-layer equalization of up → down first. Default true. */
  equalize?: boolean;
  /** Calibration sequences for bias correction; without them no bias correction. */
  sequences?: readonly ArrayLike<number>[];
  /** Show a progress bar. Default false. */
  progress?: boolean;
}

/** DFQ's own facts, in its report's `details`. */
export interface DfqDetails {
  /** Ranges before equalization (empty without it). */
  equalization: EqualizationRecord[];
}

/**
 * DFQ on `model` in place: cross-layer equalization, then every decoder
 * linear quantized with `q` and, given calibration `sequences`, bias-corrected.
 *
 * @example
 * ```ts
 * import { initGPU, int, loadModel } from "../../mod.ts";
 * import { dfq } from "./dfq.ts";
 * await initGPU();
 * using model = await loadModel();
 * const r = await dfq(model, int(8, { per: "tensor" }));
 * console.log(r.layers.length, r.details.equalization.length); // 28 4
 * ```
 */
export async function dfq(
  model: LlamaModel,
  q: Quantizer,
  options: DfqOptions = {},
): Promise<QuantReport<DfqDetails>> {
  const { sequences, progress, ...rest } = options;
  return await quantizeModel(model, {
    method: "dfq",
    quantizer: q,
    calibration: sequences ? { sequences } : undefined,
    options: rest,
    progress: progress ?? false,
  }) as QuantReport<DfqDetails>;
}

/** DFQ's record in the method registry (options: {@link DfqOptions}; calibration optional). */
export const DFQ: ModelMethod = {
  name: "dfq",
  needs: ["model"],
  solve: (t) =>
    runDfq(t.model, taskQuantizer(t, "dfq"), {
      ...t.options,
      sequences: t.sequences,
      progress: !!t.progress,
    }),
};

async function runDfq(
  model: LlamaModel,
  q: Quantizer,
  options: DfqOptions = {},
): Promise<QuantReport<DfqDetails>> {
  const equalization = options.equalize === false ? [] : await crossLayerEqualize(model);
  const layers: QuantReport["layers"] = [];
  const record = async (name: string, w: Tensor, ql: QuantLinear) => {
    const err = await quantError(w, ql.weight!);
    layers.push({
      name,
      out: ql.outFeatures,
      in: ql.inFeatures,
      bitsPerWeight: ql.bitsPerWeight,
      sqnrDb: err.sqnr,
    });
    model.setLinear(name, ql);
  };
  if (!options.sequences) {
    for (const [name] of model.linears()) {
      const lin = denseWeight(model, name);
      const { codes, values } = await quantizeParts(lin.weight, q);
      await record(name, lin.weight, withParts(lin, { codes, values, quantizer: q }));
    }
  } else {
    // Σx and token count of every linear's input, layer by layer
    const sums = new Map<string, { s: Tensor; n: number }>();
    try {
      await captureLayerInputs(model, options.sequences, {
        progress: options.progress ? "DFQ bias correction" : false,
        onLinearInput: (name, x) => {
          using part = sum(x, 0);
          const acc = sums.get(name);
          if (acc) {
            const next = binary("add", acc.s, part);
            acc.s.dispose();
            sums.set(name, { s: next, n: acc.n + x.shape[0] });
          } else sums.set(name, { s: binary("add", part, 0), n: x.shape[0] });
        },
        afterLayer: async (i) => {
          for (const l of LAYER_LINEARS) {
            const name = `layers.${i}.${l}`;
            const acc = sums.get(name)!;
            sums.delete(name);
            using s = acc.s;
            using mu = binary("mul", s, 1 / acc.n);
            const lin = denseWeight(model, name);
            await record(name, lin.weight, await correctedLinear(lin.weight, lin.bias, mu, q));
          }
        },
      });
    } finally {
      for (const { s } of sums.values()) s.dispose();
    }
  }
  return { layers, bitsPerWeight: meanBitsPerWeight(layers), details: { equalization } };
}
