/**
 * `QuantLinear`: the one quantized linear layer, assembled from parts.
 *
 *   y = Q_in(T(x)) · Ŵᵀ + b  (+ (T(x) · Bᵀ) · Aᵀ)
 *
 * - the weight Ŵ: a {@link QuantizedWeight} (packed codes; the layer runs the
 *   low-bit kernels), and/or the effective dequantized f32 values in the
 *   layer's own basis (fake quantization: the model computes with exactly the
 *   numbers the format stores, on the dense matmul; the codes are still kept,
 *   to save or pack). With values, the forward pass uses them and skips T;
 * - an optional input quantizer Q_in (`quant/activation.ts`: per token,
 *   CrossQuant, static FP);
 * - an optional low-rank correction A `[out, k]` · B `[k, in]` in f32 (LQER,
 *   LQ-LoRA), fed the unquantized input;
 * - an optional transform T relating the codes' basis to the layer's, used
 *   on the packed path: per-channel scales (x ← Q_in(x)·diag(s), so
 *   Ŵ = Q·diag(s); the input is quantized in the layer's basis, as on the
 *   dense path: CrossQuant with static columns), or seeded random rotations (QuIP: x ← x·Vᵀ before the codes, y ← y·U
 *   after, so Ŵ = Uᵀ·Q·V; V = randomRotation(in, inputSeed), U =
 *   randomRotation(out, outputSeed) from `quant/transforms/rotation.ts`).
 *
 * RTN, GPTQ, AWQ, W·A8, CrossQuant, LLM-FP4, LQER and LQ-LoRA layers are all
 * compositions of these parts.
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
import { linear, matmul } from "../kernels/ops/matmul.ts";
import { add, cast, mul } from "../kernels/ops/elementwise.ts";
import { transpose } from "../kernels/ops/layout.ts";
import { randomRotation, type Rotation } from "./transforms/rotation.ts";
import type { Linear } from "../model/linear.ts";
import { bitsPerWeight, describe, type Quantizer } from "./quantizer.ts";
import { type QuantizeOptions, quantizePass } from "./quantize.ts";
import { QuantizedWeight } from "./weight.ts";
import {
  checkInputQuantizer,
  describeInput,
  type InputQuantizer,
  quantizeInput,
} from "./activation.ts";

/** A low-rank correction `A·B` added to the weight: A `[out, k]`, B `[k, in]`, f32. */
export interface LowRank {
  /** `[out, k]`. */
  readonly a: Tensor;
  /** `[k, in]`. */
  readonly b: Tensor;
}

/** The transform between the codes' basis and the layer's (see the module doc). */
export type InputTransform =
  | { readonly kind: "scales"; readonly scales: Tensor }
  | { readonly kind: "rotation"; readonly inputSeed: number; readonly outputSeed?: number };

/** The parts of a {@link QuantLinear}; every tensor is owned by the layer from now on. */
export interface QuantLinearParts {
  /** The quantized weight (codes). Without `values`, the layer runs the low-bit kernels. */
  codes?: QuantizedWeight;
  /** Fake quantization: the f32/f16 values `[out, in]` to compute with on the dense matmul. */
  values?: Tensor;
  /** Bias `[out]`. */
  bias?: Tensor;
  /** Input quantizer (plain data), or a per-token {@link Quantizer} as shorthand. */
  act?: InputQuantizer | Quantizer;
  /** Low-rank correction. */
  lowRank?: LowRank;
  /** Input transform. */
  transform?: InputTransform;
  /** The weight quantizer (default: the codes'), for display and bits. */
  quantizer?: Quantizer;
  /** Storage bits per weight of Ŵ (default: from the codes or the quantizer). */
  bitsPerWeight?: number;
}

function isQuantizer(a: InputQuantizer | Quantizer): a is Quantizer {
  return (a as Quantizer).granularity !== undefined;
}

/** A linear layer computing with a quantized weight and optional parts (see the module doc). */
export class QuantLinear implements Linear {
  /** Input features. */
  readonly inFeatures: number;
  /** Output features. */
  readonly outFeatures: number;
  /** The quantized weight's codes, when kept. */
  readonly codes?: QuantizedWeight;
  /** The fake-quantized values `[out, in]` the layer computes with; absent when packed. */
  readonly weight?: Tensor;
  /** The bias `[out]`, if any. */
  readonly bias?: Tensor;
  /** The input quantizer, if inputs are quantized. */
  readonly input?: InputQuantizer;
  /** The low-rank correction, if any. */
  readonly lowRank?: LowRank;
  /** The input transform, if any. */
  readonly transform?: InputTransform;
  /** The weight quantizer. */
  readonly weightQuantizer?: Quantizer;
  readonly #bits: number;
  #rotations?: { input: Rotation; output?: Rotation };

  /**
   * A layer from parts; checks their shapes.
   *
   * @param parts codes and/or values, and the optional parts (all owned from now on)
   */
  constructor(parts: QuantLinearParts) {
    const { codes, values } = parts;
    if (!codes && !values) {
      throw new TypeError(
        "QuantLinear: give the codes (a QuantizedWeight) or the values (a Tensor)",
      );
    }
    const shape = codes ? codes.shape : values!.shape;
    if (values && (values.rank !== 2 || (codes && String(values.shape) !== String(codes.shape)))) {
      throw new RangeError(`QuantLinear: values ${values} must be 2-D [${shape}]`);
    }
    this.outFeatures = shape[0];
    this.inFeatures = shape[1];
    const { lowRank: lr, transform: t } = parts;
    if (
      lr && (lr.a.rank !== 2 || lr.b.rank !== 2 || lr.a.shape[0] !== this.outFeatures ||
        lr.b.shape[1] !== this.inFeatures || lr.a.shape[1] !== lr.b.shape[0])
    ) {
      throw new RangeError(
        `QuantLinear: low-rank factors ${lr.a} · ${lr.b} do not make a ` +
          `[${this.outFeatures}, ${this.inFeatures}] correction`,
      );
    }
    if (t?.kind === "scales" && String(t.scales.shape) !== String([this.inFeatures])) {
      throw new RangeError(`QuantLinear: scales ${t.scales} must have shape [${this.inFeatures}]`);
    }
    if (t?.kind === "rotation" && !Number.isInteger(t.inputSeed)) {
      throw new RangeError(`QuantLinear: rotation seed ${t.inputSeed} must be an integer`);
    }
    if (parts.bias && (parts.bias.rank !== 1 || parts.bias.shape[0] !== this.outFeatures)) {
      throw new RangeError(`QuantLinear: bias ${parts.bias} must have shape [${this.outFeatures}]`);
    }
    if (parts.act) {
      this.input = checkInputQuantizer(
        isQuantizer(parts.act) ? { kind: "token", quantizer: parts.act } : parts.act,
        "QuantLinear",
      );
    }
    this.codes = codes;
    this.weight = values;
    this.bias = parts.bias;
    this.lowRank = lr;
    this.transform = t;
    this.weightQuantizer = parts.quantizer ?? codes?.quantizer;
    this.#bits = parts.bitsPerWeight ?? codes?.bitsPerWeight ??
      (this.weightQuantizer ? bitsPerWeight(this.weightQuantizer, shape) : NaN);
    if (!Number.isFinite(this.#bits)) {
      throw new TypeError("QuantLinear: values without codes need a quantizer or bitsPerWeight");
    }
  }

  /** True when the layer runs the low-bit kernels on packed codes (no f32 values). */
  get packed(): boolean {
    return this.weight === undefined;
  }

  /** The per-token activation quantizer (`undefined` for other input quantizers). */
  get act(): Quantizer | undefined {
    return this.input?.kind === "token" ? this.input.quantizer : undefined;
  }

  /** Storage bits per weight: Ŵ's, plus 16·k·(in + out)/(in·out) for f16 low-rank factors. */
  get bitsPerWeight(): number {
    const k = this.lowRank?.a.shape[1] ?? 0;
    return this.#bits +
      (16 * k * (this.inFeatures + this.outFeatures)) / (this.inFeatures * this.outFeatures);
  }

  /** The low-rank rank k (0 without a correction). */
  get rank(): number {
    return this.lowRank?.a.shape[1] ?? 0;
  }

  /** `[tokens, in]` → `[tokens, out]` (see the module doc for the order of the parts). */
  forward(x: Tensor): Tensor {
    const y = this.weight ? this.#dense(x) : this.#packed(x);
    if (!this.lowRank) return y;
    using _y = y;
    using xb = linear(x, this.lowRank.b); // x·Bᵀ  [tokens, k]
    using c = linear(xb, this.lowRank.a); // (x·Bᵀ)·Aᵀ
    return add(y, c);
  }

  #dense(x: Tensor): Tensor {
    if (!this.input) return linear(x, this.weight!, this.bias);
    using xq = quantizeInput(x, this.input);
    return linear(xq, this.weight!, this.bias);
  }

  #packed(x: Tensor): Tensor {
    const t = this.transform;
    if (t?.kind === "scales") {
      // y = Q_in(x)·(Q·diag(s))ᵀ = (Q_in(x)·diag(s))·Qᵀ
      using xq = this.input ? quantizeInput(x, this.input) : x.reshape(x.shape);
      using xs = mul(xq, t.scales);
      return this.codes!.matmul(xs, { bias: this.bias });
    }
    const rot = t?.kind === "rotation" ? this.#rotation(t) : undefined;
    using xt = rot ? rot.input.forward(x) : x.reshape(x.shape);
    using xq = this.input ? quantizeInput(xt, this.input) : xt.reshape(xt.shape);
    if (!rot?.output) return this.codes!.matmul(xq, { bias: this.bias });
    using z = this.codes!.matmul(xq);
    const y = rot.output.inverse(z); // ·U
    if (!this.bias) return y;
    using _y = y;
    return add(y, this.bias);
  }

  #rotation(t: { inputSeed: number; outputSeed?: number }): { input: Rotation; output?: Rotation } {
    this.#rotations ??= {
      input: randomRotation(this.inFeatures, t.inputSeed),
      output: t.outputSeed === undefined
        ? undefined
        : randomRotation(this.outFeatures, t.outputSeed),
    };
    return this.#rotations;
  }

  /** The effective f32 weight Ŵ (+ A·B) `[out, in]`, ignoring the input quantizer (a new tensor). */
  async effectiveWeight(): Promise<Tensor> {
    let w = this.weight ? this.weight.reshape(this.weight.shape) : await this.codes!.dequantize();
    const t = this.transform;
    if (!this.weight && t) {
      using q = w;
      if (t.kind === "scales") {
        using s = t.scales.reshape([1, this.inFeatures]);
        w = mul(q, s);
      } else {
        // Ŵ = Uᵀ·Q·V
        const rot = this.#rotation(t);
        using qv = rot.input.inverse(q); // Q·V
        using tq = transpose(qv); // Vᵀ·Qᵀ
        using tu = rot.output ? rot.output.inverse(tq) : tq.reshape(tq.shape); // Vᵀ·Qᵀ·U
        w = transpose(tu);
      }
    }
    if (!this.lowRank) return w;
    using _w = w;
    using ab = matmul(this.lowRank.a, this.lowRank.b);
    return add(w, ab);
  }

  /**
   * The same layer on the low-bit kernels: a new QuantLinear sharing this
   * one's codes, bias and parts (views), without the f32 values.
   *
   * @example
   * ```ts
   * import { initGPU, Tensor } from "../mod.ts";
   * import { DenseLinear } from "../model/linear.ts";
   * import { int } from "./quantizer.ts";
   * import { quantizeLinear } from "./linear.ts";
   * await initGPU();
   * using dense = new DenseLinear(Tensor.randn([8, 64], { seed: 3 }));
   * using q = await quantizeLinear(dense, int(4, { group: 32 }));
   * using p = q.pack();
   * using x = Tensor.randn([2, 64], { seed: 4 });
   * using a = q.forward(x);
   * using b = p.forward(x);
   * const [da, db] = [await a.data(), await b.data()];
   * console.log(p.packed, da.every((v, i) => Math.abs(v - db[i]) < 1e-4 * (1 + Math.abs(v)))); // true true
   * ```
   */
  pack(): QuantLinear {
    if (!this.codes) {
      throw new TypeError(
        `pack: ${this} kept no codes (its method returned only values); quantize it with a ` +
          `method that returns a QuantizedWeight`,
      );
    }
    const view = (t?: Tensor) => t?.reshape(t.shape);
    const t = this.transform;
    return new QuantLinear({
      codes: this.codes.view(),
      bias: view(this.bias),
      act: this.input,
      lowRank: this.lowRank && { a: view(this.lowRank.a)!, b: view(this.lowRank.b)! },
      transform: t?.kind === "scales" ? { kind: "scales", scales: view(t.scales)! } : t,
      quantizer: this.weightQuantizer,
      bitsPerWeight: this.#bits,
    });
  }

  /** Frees everything the layer owns (safe to call twice). */
  dispose(): void {
    this.codes?.dispose();
    this.weight?.dispose();
    this.bias?.dispose();
    this.lowRank?.a.dispose();
    this.lowRank?.b.dispose();
    if (this.transform?.kind === "scales") this.transform.scales.dispose();
    this.#rotations?.input.dispose();
    this.#rotations?.output?.dispose();
    this.#rotations = undefined;
  }

  /** Disposes at the end of a `using` scope. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  /** `QuantLinear(out×in, int4 · group 128 · …; activations …; rank 8; packed)`. */
  toString(): string {
    const w = this.weightQuantizer ? describe(this.weightQuantizer) : `${this.#bits} bits`;
    const parts = [
      this.input ? `activations ${describeInput(this.input)}` : "",
      this.lowRank ? `rank ${this.rank}` : "",
      this.transform ? `${this.transform.kind} transform` : "",
      this.packed ? "packed" : "",
    ].filter(Boolean);
    return `QuantLinear(${this.outFeatures}×${this.inFeatures}, ${w}${
      parts.length ? "; " + parts.join("; ") : ""
    })`;
  }
}

/** A layer with a float weight `[out, in]` and an optional bias, as `DenseLinear` is. */
export interface WeightedLinear extends Linear {
  /** The float weight `[out, in]`. */
  readonly weight: Tensor;
  /** The bias `[out]`, if any. */
  readonly bias?: Tensor;
}

/** Options of {@link quantizeLinear}. */
export interface QuantizeLinearOptions extends QuantizeOptions {
  /** Input quantizer (a per-token {@link Quantizer} as shorthand). */
  act?: InputQuantizer | Quantizer;
  /** Clip ratio on each token's absmax (per-token `act` only; default 1). */
  actClip?: number;
  /** Keep the layer on the low-bit kernels instead of fake quantization. Default false. */
  packed?: boolean;
}

/**
 * Round-to-nearest quantization of one linear layer's weight with `q`: a new
 * {@link QuantLinear} keeping the codes and, unless `packed`, computing with
 * the dequantized values (the input layer is left untouched; the bias is
 * shared as a view).
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
  options: QuantizeLinearOptions = {},
): Promise<QuantLinear> {
  const { codes, values } = await quantizeParts(layer.weight, q, options);
  if (options.packed) values.dispose();
  return withParts(
    layer,
    { codes, values: options.packed ? undefined : values, quantizer: q },
    options,
  );
}

/**
 * Round-to-nearest of a weight `w` `[out, in]` in one pass: its codes and its
 * dequantized values (in `w`'s dtype), both owned by the caller.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../mod.ts";
 * import { int } from "./quantizer.ts";
 * import { quantizeParts } from "./linear.ts";
 * await initGPU();
 * using w = Tensor.randn([4, 32], { seed: 0 });
 * const { codes, values } = await quantizeParts(w, int(4));
 * console.log(codes.shape, values.shape); // [4, 32] [4, 32]
 * codes.dispose();
 * values.dispose();
 * ```
 */
export async function quantizeParts(
  w: Tensor,
  q: Quantizer,
  options: QuantizeOptions = {},
): Promise<{ codes: QuantizedWeight; values: Tensor }> {
  using pass = await quantizePass(q, w, options);
  const codes = await QuantizedWeight.fromPass(pass);
  const values = w.dtype === "f16"
    ? cast(pass.dequantized, "f16")
    : pass.dequantized.reshape(pass.dequantized.shape);
  return { codes, values };
}

/**
 * A {@link QuantLinear} from a solver's result (codes, and/or values), with
 * `layer`'s bias shared as a view and the input quantizer from `options`.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../mod.ts";
 * import { DenseLinear } from "../model/linear.ts";
 * import { int } from "./quantizer.ts";
 * import { withParts } from "./linear.ts";
 * await initGPU();
 * using dense = new DenseLinear(Tensor.randn([4, 8], { seed: 2 }));
 * using q = withParts(dense, { values: Tensor.zeros([4, 8]), quantizer: int(4) });
 * console.log(q.bitsPerWeight); // 6 (int4 + an f16 scale per 8-wide row)
 * ```
 */
export function withParts(
  layer: Linear & { bias?: Tensor },
  parts: QuantLinearParts,
  options: { act?: InputQuantizer | Quantizer; actClip?: number } = {},
): QuantLinear {
  let act = parts.act ?? options.act;
  if (act && isQuantizer(act) && options.actClip !== undefined) {
    act = { kind: "token", quantizer: act, clip: options.actClip };
  }
  return new QuantLinear({
    bias: layer.bias?.reshape(layer.bias.shape),
    ...parts,
    act,
  });
}

/**
 * Wraps already-quantized values (e.g. a method's Ŵ) as a fake-quant
 * {@link QuantLinear} with `layer`'s bias. Prefer {@link withParts} with the
 * codes, so the layer can be packed and saved.
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
  options: { act?: InputQuantizer | Quantizer; actClip?: number; codes?: QuantizedWeight } = {},
): QuantLinear {
  return withParts(layer, { values: weight, quantizer: q, codes: options.codes }, options);
}
