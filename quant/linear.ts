/**
 * Quantized linear layers for the model's `Linear` interface: the weight is
 * replaced by its quantized values (fake quantization: the model computes
 * with exactly the numbers the low-bit format stores), and optionally the
 * input activations are quantized per token on the fly (W8A8, W4A8, …).
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../mod.ts";
 * import { DenseLinear } from "../model/linear.ts";
 * import { int } from "./quantizer.ts";
 * import { quantizeLinear } from "./linear.ts";
 * await initGPU();
 * using dense = new DenseLinear(Tensor.randn([16, 32], { seed: 0 }));
 * using q = await quantizeLinear(dense, int(4, { group: 16 }), { act: int(8, { per: "token" }) });
 * using y = q.forward(Tensor.randn([2, 32], { seed: 1 }));
 * console.log(y.shape, q.bitsPerWeight); // [2, 16] 5
 * ```
 * @module
 */
import type { Tensor } from "../kernels/tensor.ts";
import { linear } from "../kernels/ops/matmul.ts";
import { fakeQuantRows } from "../kernels/ops/quantize.ts";
import type { Linear } from "../model/linear.ts";
import { bitsPerWeight, describe, elementFormat, isInt, type Quantizer } from "./quantizer.ts";
import { cast } from "../kernels/ops/elementwise.ts";
import { packWeights } from "../kernels/lowbit/layout.ts";
import { quantize, type QuantizeOptions } from "./quantize.ts";
import { decisionTable } from "./table.ts";

/**
 * The codes and scales behind a quantized weight, kept on the CPU so the layer
 * can be saved (`quant/checkpoint.ts`) or packed for the low-bit kernels.
 * `words` is the codes' bit stream in the `kernels/lowbit/layout.ts` row layout
 * (`int<bits>` stream; `binary` for 1 bit).
 */
export interface StoredCodes {
  /** The quantizer that produced the codes. */
  quantizer: Quantizer;
  /** `[out, in]`. */
  shape: [number, number];
  /** Codes per scale group along the input axis (the input size for per-channel). */
  groupSize: number;
  /** Bits per code. */
  bits: number;
  /** Packed codes, `[out, rowWords]` row-major. */
  words: Uint32Array;
  /** Per-group decode multipliers (scales along rows; along columns for per-input-channel). */
  scales: Float32Array;
  /** Per-group zero points (asymmetric integers). */
  zeros?: Float32Array;
  /** NVFP4's per-tensor decode scale (1 otherwise). */
  tensorScale: number;
}

/** The bit-stream format of `bits`-bit codes in the packed layout. */
export function streamFormat(bits: number): "binary" | `int${2 | 3 | 4 | 5 | 6 | 7 | 8}` {
  if (bits === 1) return "binary";
  if (!Number.isInteger(bits) || bits < 2 || bits > 8) {
    throw new RangeError(`no packed bit stream for ${bits}-bit codes`);
  }
  return `int${bits}` as `int${2 | 3 | 4 | 5 | 6 | 7 | 8}`;
}

/** Options of a {@link QuantLinear}. */
export interface QuantLinearOptions {
  /** Bias `[out]` (owned). */
  bias?: Tensor;
  /** Bits per weight of the stored format (for size reports). */
  bitsPerWeight: number;
  /** The weight quantizer, for display. */
  weightQuantizer?: Quantizer;
  /** Per-token dynamic activation quantizer (symmetric; `per: "token"`). */
  act?: Quantizer;
  /** Clip ratio applied to each token's absmax before activation quantization (default 1). */
  actClip?: number;
  /** The codes and scales (to save or pack the layer). */
  stored?: StoredCodes;
}

/** A linear layer computing with quantized weights (and optionally quantized inputs). */
export class QuantLinear implements Linear {
  /** Input features. */
  readonly inFeatures: number;
  /** Output features. */
  readonly outFeatures: number;
  /** Storage bits per weight of the quantized format. */
  readonly bitsPerWeight: number;
  /** The dequantized weight `[out, in]` (owned). */
  readonly weight: Tensor;
  /** The bias `[out]`, if any. */
  readonly bias?: Tensor;
  /** The weight quantizer, for display. */
  readonly weightQuantizer?: Quantizer;
  /** The per-token activation quantizer, if inputs are quantized. */
  readonly act?: Quantizer;
  /** Clip ratio on each token's absmax before activation quantization. */
  readonly actClip: number;
  /** The codes and scales, when the quantizer produced them (RTN, GPTQ, …). */
  readonly stored?: StoredCodes;

  /**
   * A layer computing with `weight`.
   * @param weight the dequantized weight `[out, in]` (owned from now on)
   * @param options bias, bits per weight, activation quantizer
   */
  constructor(weight: Tensor, options: QuantLinearOptions) {
    if (weight.rank !== 2) throw new RangeError(`QuantLinear: weight ${weight} must be 2-D`);
    this.weight = weight;
    this.outFeatures = weight.shape[0];
    this.inFeatures = weight.shape[1];
    this.bias = options.bias;
    this.bitsPerWeight = options.bitsPerWeight;
    this.weightQuantizer = options.weightQuantizer;
    if (options.act) {
      const g = options.act.granularity.kind;
      if (
        (g !== "token" && !(g === "channel" && options.act.granularity.axis === 0)) ||
        !options.act.symmetric
      ) {
        throw new RangeError(
          `QuantLinear: activations are quantized per token and symmetric; got ${
            describe(options.act)
          }`,
        );
      }
      if (options.act.rounding.kind !== "nearest" || options.act.range.kind !== "minmax") {
        throw new RangeError(
          `QuantLinear: activations are rounded to nearest with each token's min-max range, ` +
            `on the fly; got ${describe(options.act)}. Use rounding { kind: "nearest" } and ` +
            `range { kind: "minmax" } for the activation quantizer (stochastic rounding and ` +
            `other ranges apply to weights only)`,
        );
      }
    }
    this.act = options.act;
    this.actClip = options.actClip ?? 1;
    this.stored = options.stored;
  }

  /** `[tokens, in]` → `[tokens, out]` with quantized inputs when an activation quantizer is set. */
  forward(x: Tensor): Tensor {
    if (!this.act) return linear(x, this.weight, this.bias);
    const fmt = elementFormat(this.act.format);
    using xq = fakeQuantRows(x, {
      table: decisionTable(fmt),
      maxValue: isInt(fmt) ? fmt.qmax : fmt.maxValue,
      clipRatio: this.actClip,
    });
    return linear(xq, this.weight, this.bias);
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

  /** `QuantLinear(out×in, int4 · group 128 · …)`. */
  toString(): string {
    return `QuantLinear(${this.outFeatures}×${this.inFeatures}, ${
      this.weightQuantizer ? describe(this.weightQuantizer) : `${this.bitsPerWeight} bits`
    }${this.act ? `; activations ${describe(this.act)}` : ""})`;
  }
}

/** A layer with a float weight `[out, in]` and an optional bias, as `DenseLinear` is. */
export interface WeightedLinear extends Linear {
  /** The float weight `[out, in]`. */
  readonly weight: Tensor;
  /** The bias `[out]`, if any. */
  readonly bias?: Tensor;
}

/**
 * Round-to-nearest quantization of one linear layer's weight with `q`,
 * returning a new {@link QuantLinear} (the input layer is left untouched; the
 * bias is copied).
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../mod.ts";
 * import { DenseLinear } from "../model/linear.ts";
 * import { nvfp4 } from "./quantizer.ts";
 * import { quantizeLinear } from "./linear.ts";
 * await initGPU();
 * using dense = new DenseLinear(Tensor.randn([4, 32], { seed: 2 }));
 * using q = await quantizeLinear(dense, nvfp4());
 * console.log(q.toString());
 * ```
 */
export async function quantizeLinear(
  layer: WeightedLinear,
  q: Quantizer,
  options: QuantizeOptions & { act?: Quantizer; actClip?: number } = {},
): Promise<QuantLinear> {
  using qt = await quantize(q, layer.weight, options);
  const codes = await qt.codes.data();
  const shape = qt.shape as [number, number];
  const bits = elementFormat(q.format).bits;
  const stored: StoredCodes = {
    quantizer: q,
    shape,
    groupSize: qt.groupSize,
    bits,
    words: packWeights(codes, shape, streamFormat(bits)),
    scales: qt.scales,
    zeros: qt.zeros,
    tensorScale: qt.tensorScale,
  };
  const w = layer.weight.dtype === "f16"
    ? cast(qt.dequantized, "f16")
    : qt.dequantized.reshape(qt.dequantized.shape);
  return fromDequantized(layer, w, q, { ...options, stored });
}

/**
 * Wraps an already-quantized weight (e.g. GPTQ's output) as a {@link QuantLinear}
 * with `layer`'s bias copied.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../mod.ts";
 * import { DenseLinear } from "../model/linear.ts";
 * import { int } from "./quantizer.ts";
 * import { fromDequantized } from "./linear.ts";
 * await initGPU();
 * using dense = new DenseLinear(Tensor.randn([4, 8], { seed: 2 }));
 * using q = fromDequantized(dense, Tensor.zeros([4, 8]), int(4));
 * console.log(q.bitsPerWeight); // 6 (int4 + an f16 scale per 8-wide row)
 * ```
 */
export function fromDequantized(
  layer: Linear & { bias?: Tensor },
  weight: Tensor,
  q: Quantizer,
  options: { act?: Quantizer; actClip?: number; stored?: StoredCodes } = {},
): QuantLinear {
  return new QuantLinear(weight, {
    // a view of the bias: shares (and keeps alive) the original buffer
    bias: layer.bias?.reshape(layer.bias.shape),
    bitsPerWeight: bitsPerWeight(q, [layer.outFeatures, layer.inFeatures]),
    weightQuantizer: q,
    act: options.act,
    actClip: options.actClip,
    stored: options.stored,
  });
}
