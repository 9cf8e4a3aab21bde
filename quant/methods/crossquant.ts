/**
 * CrossQuant — activation quantization with a per-element scale built from
 * both the row (token) and the column (channel) absolute maxima.
 *
 * "CrossQuant: A Post-Training Quantization Method with Smaller Quantization
 * Kernel for Precise Large Language Model Compression", 2024 (arXiv preprint;
 * the definition below is ours from the paper's description: check α there).
 *
 * The paper's *quantization kernel* is the set of activations that quantize
 * to zero; the fraction of nonzero activations in it (`kernelFraction` in
 * `quant/metrics.ts`) tracks the accuracy loss of activation quantization.
 * Per-token quantization uses one scale per row, set by the row's largest
 * element — in LLMs often an outlier channel — so the row's small elements
 * fall into the kernel. CrossQuant shrinks the step of those elements:
 *
 *   X ∈ ℝ^{T×C};  t_i = max_j |X_ij| (rows),  c_j = max_i |X_ij| (columns)
 *   Δ_ij = t_i^α · c_j^(1−α) / q_max                (α ∈ [0, 1]; α = 1 is per-token)
 *   X̂_ij = Δ_ij · clamp(round(X_ij / Δ_ij), −q_max, q_max)
 *
 * Since |X_ij| ≤ min(t_i, c_j) ≤ t_i^α c_j^(1−α), nothing is clipped. The
 * column factor c^(1−α) can be folded into the weight's input columns, so a
 * deployment keeps one scale per token; here (fake quantization) the kernel
 * composes ops: absmax per row and column, pow, a broadcast product, and the
 * table quantizer with one group per element. Default α = 0.15 (the
 * paper's setting as we read it; {@link crossQuantize} takes any α).
 *
 * @example
 * ```ts
 * import { initGPU, int, kernelFraction, Tensor } from "../../mod.ts";
 * import { crossQuantize, perTokenQuantize } from "./crossquant.ts";
 * await initGPU();
 * using x = Tensor.fromArray([[100, 0.5, -0.3, 0.2], [80, 0.1, 0.4, -0.6]]); // channel 0 is an outlier
 * using a = perTokenQuantize(x, int(4, { per: "token" }));
 * using b = crossQuantize(x, { act: int(4, { per: "token" }) });
 * console.log(await kernelFraction(x, a), await kernelFraction(x, b)); // 0.75 0
 * ```
 * @module
 */
import { Tensor } from "../../kernels/tensor.ts";
import { binary, cast, mul, unary, where } from "../../kernels/ops/elementwise.ts";
import { absmax } from "../../kernels/ops/reduce.ts";
import { linear } from "../../kernels/ops/matmul.ts";
import { fakeQuantRows, tableQuantize } from "../../kernels/ops/quantize.ts";
import type { Linear } from "../../model/linear.ts";
import type { LlamaModel } from "../../model/llama.ts";
import { bitsPerWeight, describe, elementFormat, isInt, type Quantizer } from "../quantizer.ts";
import { fakeQuant } from "../quantize.ts";
import { decisionTable } from "../table.ts";
import { quantError } from "../metrics.ts";
import type { WeightedLinear } from "../linear.ts";
import { meanBitsPerWeight, type QuantReport } from "./rtn.ts";

/** Options of {@link crossQuantize}. */
export interface CrossQuantOptions {
  /** The activation format, as a per-token symmetric quantizer (e.g. `int(8, { per: "token" })`). */
  act: Quantizer;
  /** Exponent of the row maxima (1 − α goes to the columns). Default 0.15. */
  alpha?: number;
}

function formatOf(q: Quantizer) {
  const fmt = elementFormat(q.format);
  if (!q.symmetric) throw new RangeError(`CrossQuant: ${describe(q)} must be symmetric`);
  if (q.rounding.kind !== "nearest") {
    throw new RangeError(
      `CrossQuant: activations are rounded to nearest on the fly; got ${describe(q)}. ` +
        `Use rounding { kind: "nearest" } for the activation quantizer`,
    );
  }
  return { table: decisionTable(fmt), maxValue: isInt(fmt) ? fmt.qmax : fmt.maxValue };
}

/**
 * Per-token dynamic fake quantization (one scale per row, the baseline
 * CrossQuant is compared with): what `QuantLinear` does to its inputs.
 *
 * @example
 * ```ts
 * import { initGPU, int, Tensor } from "../../mod.ts";
 * import { perTokenQuantize } from "./crossquant.ts";
 * await initGPU();
 * using y = perTokenQuantize(Tensor.fromArray([[7, 1]]), int(4, { per: "token" }));
 * console.log(await y.data()); // Float32Array [7, 1]
 * ```
 */
export function perTokenQuantize(x: Tensor, act: Quantizer): Tensor {
  return fakeQuantRows(x, formatOf(act));
}

/**
 * CrossQuant fake quantization of activations `x` `[tokens, channels]`
 * (f32 or f16; the result has x's dtype). All-zero rows and columns stay
 * zero; a NaN stays NaN in its own place and does not spoil the scales of
 * its row and column.
 *
 * @example
 * ```ts
 * import { initGPU, int, Tensor } from "../../mod.ts";
 * import { crossQuantize } from "./crossquant.ts";
 * await initGPU();
 * using x = Tensor.fromArray([[4, 0.1], [2, NaN]]);
 * using y = crossQuantize(x, { act: int(8, { per: "token" }), alpha: 0.5 });
 * console.log(await y.data()); // ≈ [4, 0.1, 2, NaN]
 * ```
 */
export function crossQuantize(x: Tensor, options: CrossQuantOptions): Tensor {
  const alpha = options.alpha ?? 0.15;
  if (!(alpha >= 0 && alpha <= 1)) throw new RangeError(`crossQuantize: alpha ${alpha} ∉ [0, 1]`);
  if (x.rank !== 2) throw new RangeError(`crossQuantize: ${x} must be 2-D [tokens, channels]`);
  const { table, maxValue } = formatOf(options.act);
  const [rows, cols] = x.shape;
  if (x.size === 0) return Tensor.empty(x.shape, x.dtype);
  using x32 = x.dtype === "f32" ? x.reshape(x.shape) : cast(x, "f32");
  // NaN-free copy for the scales
  using nan = unary("isnan", x32);
  using zero = Tensor.zeros([1]);
  using clean = where(nan, zero, x32);
  // Δ_ij = t_i^α · c_j^(1−α) / q_max, floored so zero rows and columns give 0/Δ = 0
  using t = absmax(clean, 1);
  using c = absmax(clean, 0);
  using t1 = binary("max", t, 1e-30);
  using c1 = binary("max", c, 1e-30);
  using ta = binary("pow", t1, alpha);
  using cb = binary("pow", c1, 1 - alpha);
  using ta2 = mul(ta, 1 / maxValue);
  using taCol = ta2.reshape([rows, 1]);
  using cbRow = cb.reshape([1, cols]);
  using delta = mul(taCol, cbRow);
  using flat = delta.reshape([rows * cols]);
  const q = tableQuantize(clean, { groupSize: 1, table, encode: flat, mode: "div", decode: flat });
  q.codes.dispose();
  using deq = q.dequantized;
  using y = where(nan, x32, deq);
  return x.dtype === "f32" ? y.reshape(y.shape) : cast(y, x.dtype);
}

/** A linear layer with a (fake-)quantized weight whose inputs are CrossQuant-quantized. */
export class CrossQuantLinear implements Linear {
  readonly inFeatures: number;
  readonly outFeatures: number;
  readonly bitsPerWeight: number;
  /** The dequantized weight `[out, in]` (owned). */
  readonly weight: Tensor;
  /** Bias `[out]` (owned). */
  readonly bias?: Tensor;
  /** Activation quantizer settings. */
  readonly options: CrossQuantOptions;

  /**
   * A CrossQuant layer from an already-quantized weight.
   * @param weight dequantized weight `[out, in]` (owned from now on)
   * @param options activation format and α, bits per weight, bias (owned)
   */
  constructor(
    weight: Tensor,
    options: CrossQuantOptions & { bitsPerWeight: number; bias?: Tensor },
  ) {
    this.weight = weight;
    this.outFeatures = weight.shape[0];
    this.inFeatures = weight.shape[1];
    this.bitsPerWeight = options.bitsPerWeight;
    this.bias = options.bias;
    this.options = { act: options.act, alpha: options.alpha };
    formatOf(options.act);
  }

  /** `[tokens, in]` → `[tokens, out]` with CrossQuant-quantized inputs. */
  forward(x: Tensor): Tensor {
    const x2 = x.rank === 2
      ? x.reshape(x.shape)
      : x.reshape([x.size / this.inFeatures, this.inFeatures]);
    using _x2 = x2;
    using xq = crossQuantize(x2, this.options);
    using y = linear(xq, this.weight, this.bias);
    return y.reshape([...x.shape.slice(0, -1), this.outFeatures]);
  }

  /** Frees the weight and bias. */
  dispose(): void {
    this.weight.dispose();
    this.bias?.dispose();
  }

  /** Disposes at the end of a `using` scope. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  /** `CrossQuantLinear(out×in, act int8 · α 0.15)`. */
  toString(): string {
    return `CrossQuantLinear(${this.outFeatures}×${this.inFeatures}, act ${this.options.act.format}` +
      ` · α ${this.options.alpha ?? 0.15})`;
  }
}

/**
 * Quantizes every decoder linear of `model` in place: weights by
 * round-to-nearest with `weight`, inputs by CrossQuant (`options.act`, α).
 *
 * @example
 * ```ts
 * import { initGPU, int, loadModel } from "../../mod.ts";
 * import { crossquant } from "./crossquant.ts";
 * await initGPU();
 * using model = await loadModel();
 * const r = await crossquant(model, int(8), { act: int(8, { per: "token" }) });
 * console.log(r.layers.length, String(model.getLinear("layers.0.mlp.up_proj")));
 * ```
 */
export async function crossquant(
  model: LlamaModel,
  weight: Quantizer,
  options: CrossQuantOptions,
): Promise<QuantReport> {
  const layers: QuantReport["layers"] = [];
  for (const [name, lin] of model.linears()) {
    const layer = lin as WeightedLinear;
    if (!layer.weight) throw new TypeError(`crossquant: ${name} has no float weight`);
    const w = await fakeQuant(weight, layer.weight, { name: `${name}.weight` });
    const err = await quantError(layer.weight, w);
    const bits = bitsPerWeight(weight, layer.weight.shape);
    const bias = layer.bias?.reshape(layer.bias.shape);
    layers.push({
      name,
      out: lin.outFeatures,
      in: lin.inFeatures,
      bitsPerWeight: bits,
      sqnrDb: err.sqnr,
    });
    model.setLinear(name, new CrossQuantLinear(w, { ...options, bitsPerWeight: bits, bias }));
  }
  return { layers, bitsPerWeight: meanBitsPerWeight(layers) };
}
