/**
 * The quantizer and the two trainable layers of EfficientQAT. M. Chen,
 * W. Shao, P. Xu, J. Wang, P. Gao, K. Zhang, P. Luo, "EfficientQAT:
 * Efficient Quantization-Aware Training for Large Language Models",
 * arXiv:2407.11670 (ACL 2025).
 *
 * Uniform asymmetric quantization per group of `g` input columns, with a
 * step s and a zero point z per group (b-bit codes 0 … 2^b − 1):
 *
 *   q = clamp(⌊W/s⌉ + ⌊z⌉, 0, 2^b − 1),   Ŵ = (q − ⌊z⌉) · s
 *
 * - {@link BlockApLinear} (stage 1, Block-AP) trains W, s and z; ⌊·⌉ passes
 *   the gradient straight through (STE), so ∂Ŵ/∂s = ⌊W/s⌉ − W/s inside the
 *   range and the clamped bounds outside, ∂Ŵ/∂W = 1 inside and 0 outside,
 *   ∂Ŵ/∂z = 0 inside and −s outside. `freeze()` rounds once and hands the
 *   integer codes and zero points to stage 2.
 * - {@link E2eQpLinear} (stage 2, E2E-QP) keeps the codes q and zero points
 *   fixed and trains only the steps: Ŵ = (q − z) · s. `toQuantLinear()` packs
 *   the codes with the learned steps into a `QuantizedWeight` that saves,
 *   loads and runs on the low-bit kernels like any other method's.
 *
 * Departure: the zero point is clamped to the code range 0 … 2^b − 1 before
 * it is rounded (so it is stored in b bits, as this library's asymmetric
 * integer format stores it; the paper leaves it unclamped).
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { efficientQuant } from "./efficientqat_linear.ts";
 * await initGPU();
 * using w = Tensor.fromArray([[0.1, 0.4, -0.3, 0.9]]);
 * using s = Tensor.fromArray([[0.25, 0.5]]); // groups of 2 columns
 * using z = Tensor.fromArray([[2, 1.2]]);
 * using wq = efficientQuant(w, s, z, { bits: 2 });
 * console.log(await wq.data()); // Float32Array [0, 0.25, -0.5, 1]
 * ```
 * @module
 */
import { Tensor } from "../../kernels/tensor.ts";
import { customGrad, noGrad } from "../../kernels/autograd.ts";
import { add, binary, cast, clamp, mul, sub, unary } from "../../kernels/ops/elementwise.ts";
import { linear } from "../../kernels/ops/matmul.ts";
import { contiguous } from "../../kernels/ops/layout.ts";
import type { Linear } from "../../model/linear.ts";
import { bitsPerWeight, int, type Quantizer } from "../quantizer.ts";
import { QuantizedWeight } from "../weight.ts";
import { QuantLinear } from "../linear.ts";

/** Options of {@link efficientQuant}. */
export interface EfficientQuantOptions {
  /** Bits of the unsigned codes (1–8). */
  bits: number;
}

/** ⌊x⌉ (half to even) forward, the identity backward (straight-through). */
function roundSte(x: Tensor): Tensor {
  return customGrad(
    "round_ste",
    (x: Tensor) => unary("round", x),
    (g) => [g.share()],
  )(x);
}

function checkBits(op: string, bits: number): number {
  if (!Number.isInteger(bits) || bits < 1 || bits > 8) {
    throw new RangeError(`${op}: bits must be an integer from 1 to 8, got ${bits}`);
  }
  return 2 ** bits - 1;
}

/** The [rows, G, g] view of w and the [rows, G, 1] view of a per-group tensor. */
function groupViews(op: string, w: Tensor, perGroup: Tensor, what: string): [number[], number[]] {
  const [rows, cols] = w.shape;
  const [r, groups] = perGroup.shape;
  if (w.rank !== 2 || perGroup.rank !== 2 || r !== rows || !(groups >= 1) || cols % groups) {
    throw new RangeError(
      `${op}: ${what} ${perGroup} must be [${rows}, G] with G dividing the ${cols} columns of ` +
        `the weight ${w} (one value per group of columns)`,
    );
  }
  return [[rows, groups, cols / groups], [rows, groups, 1]];
}

/**
 * EfficientQAT's fake quantization Ŵ = (clamp(⌊W/s⌉ + ⌊z⌉, 0, 2^b − 1) − ⌊z⌉)·s,
 * with a step `scale` and zero point `zero` per group (`[rows, G]`, groups of
 * cols/G columns; z is clamped to 0 … 2^b − 1 before rounding). Differentiable
 * in W, s and z with the straight-through estimator for ⌊·⌉ (module doc).
 * Returns a new tensor the caller owns.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { efficientQuant } from "./efficientqat_linear.ts";
 * await initGPU();
 * using w = Tensor.fromArray([[3, -7]]);
 * using s = Tensor.fromArray([[2]]);
 * using z = Tensor.fromArray([[1]]);
 * using wq = efficientQuant(w, s, z, { bits: 2 }); // codes 0 … 3, values −2 … 4
 * console.log(await wq.data()); // Float32Array [4, -2]
 * ```
 */
export function efficientQuant(
  w: Tensor,
  scale: Tensor,
  zero: Tensor,
  options: EfficientQuantOptions,
): Tensor {
  const qmax = checkBits("efficientQuant", options.bits);
  const [view, groupView] = groupViews("efficientQuant", w, scale, "scale");
  groupViews("efficientQuant", w, zero, "zero");
  if (zero.shape[1] !== scale.shape[1]) {
    throw new RangeError(`efficientQuant: zero ${zero} must have the scale's shape ${scale}`);
  }
  using wv = w.reshape(view);
  using sv = scale.reshape(groupView);
  using zc = clamp(zero, 0, qmax);
  using zr = roundSte(zc);
  using zv = zr.reshape(groupView);
  using v = binary("div", wv, sv);
  using r = roundSte(v);
  using shifted = add(r, zv);
  using q = clamp(shifted, 0, qmax);
  using centred = sub(q, zv);
  using y = mul(centred, sv);
  return y.reshape(w.shape);
}

/** The integer codes `[rows, cols]` (u32) and zero points of a frozen Block-AP layer. */
export interface FrozenCodes {
  /** Codes 0 … 2^b − 1, one u32 per weight (owned by the caller). */
  codes: Tensor;
  /** Integer zero points `[rows, G]` (row-major). */
  zeros: Float32Array;
  /** Steps `[rows, G]` (row-major). */
  scales: Float32Array;
}

/**
 * Stage 1 (Block-AP): a `Linear` whose f32 master weight, per-group step and
 * zero point all train (`parameters()`: "weight", "scale", "zero"), computing
 * with {@link efficientQuant}'s Ŵ. Built from a weight and initial steps and
 * zero points (e.g. a min-max asymmetric quantizer's); copies them.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { BlockApLinear } from "./efficientqat_linear.ts";
 * await initGPU();
 * using w = Tensor.fromArray([[0.5, -1, 0.25, 1]]);
 * using layer = new BlockApLinear(w, Float32Array.of(0.5, 0.5), Float32Array.of(2, 2), { bits: 2 });
 * console.log([...layer.parameters().keys()], layer.inFeatures, layer.outFeatures); // [ "weight", "scale", "zero" ] 4 1
 * ```
 */
export class BlockApLinear implements Linear {
  readonly #params = new Map<string, Tensor>();
  /** Bits per code. */
  readonly bits: number;

  /**
   * A stage-1 layer over a copy of `weight` with trainable steps and zero points.
   *
   * @param weight `[out, in]`, f32 or f16 (copied)
   * @param scales initial steps, `[out, G]` row-major
   * @param zeros initial zero points, laid out like `scales`
   */
  constructor(
    weight: Tensor,
    scales: Float32Array,
    zeros: Float32Array,
    options: { bits: number },
  ) {
    checkBits("BlockApLinear", options.bits);
    if (weight.rank !== 2) {
      throw new RangeError(`BlockApLinear: weight ${weight} must be [out, in]`);
    }
    const [rows, cols] = weight.shape;
    const groups = scales.length / rows;
    if (!Number.isInteger(groups) || cols % groups || zeros.length !== scales.length) {
      throw new RangeError(
        `BlockApLinear: ${scales.length} scales and ${zeros.length} zeros do not give one per ` +
          `group of the ${rows} rows of ${weight}`,
      );
    }
    this.bits = options.bits;
    noGrad(() => {
      this.#params.set("weight", weight.dtype === "f32" ? contiguous(weight) : cast(weight, "f32"));
      this.#params.set("scale", Tensor.fromArray(scales, [rows, groups]));
      this.#params.set("zero", Tensor.fromArray(zeros, [rows, groups]));
    });
  }

  /** Input features. */
  get inFeatures(): number {
    return this.#param("weight").shape[1];
  }

  /** Output features. */
  get outFeatures(): number {
    return this.#param("weight").shape[0];
  }

  /** The trainable tensors ("weight", "scale", "zero"); an optimizer updates them in place. */
  parameters(): Map<string, Tensor> {
    return new Map(this.#params);
  }

  /** `[tokens, in]` → `[tokens, out]` with the fake-quantized weight (recorded for gradients). */
  forward(x: Tensor): Tensor {
    using wq = efficientQuant(this.#param("weight"), this.#param("scale"), this.#param("zero"), {
      bits: this.bits,
    });
    return linear(x, wq);
  }

  /** Rounds once: the codes, the integer zero points and the steps for stage 2. */
  async freeze(): Promise<FrozenCodes> {
    const qmax = 2 ** this.bits - 1;
    const w = this.#param("weight"), s = this.#param("scale"), z = this.#param("zero");
    const [view, groupView] = groupViews("freeze", w, s, "scale");
    const { codes, zr } = noGrad(() => {
      using zc = clamp(z, 0, qmax);
      const zr = unary("round", zc);
      using wv = w.reshape(view);
      using sv = s.reshape(groupView);
      using zv = zr.reshape(groupView);
      using v = binary("div", wv, sv);
      using r = unary("round", v);
      using shifted = add(r, zv);
      using q = clamp(shifted, 0, qmax);
      using q2 = q.reshape(w.shape);
      return { codes: cast(q2, "u32"), zr };
    });
    using _zr = zr;
    return {
      codes,
      zeros: await zr.data() as Float32Array,
      scales: Float32Array.from(await s.data()),
    };
  }

  #param(name: string): Tensor {
    const t = this.#params.get(name);
    if (!t) throw new Error("BlockApLinear: this layer was disposed");
    return t;
  }

  /** Frees the weight, steps and zero points (safe to call twice). */
  dispose(): void {
    for (const t of this.#params.values()) t.dispose();
    this.#params.clear();
  }

  /** Same as `dispose()`, for `using`. */
  [Symbol.dispose](): void {
    this.dispose();
  }
}

/**
 * Stage 2 (E2E-QP): a `Linear` with fixed integer codes and zero points and
 * trainable per-group steps (`parameters()`: "scale"): Ŵ = (q − z)·s.
 * `toQuantLinear(quantizer)` returns the packed result.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { E2eQpLinear } from "./efficientqat_linear.ts";
 * await initGPU();
 * const codes = Tensor.fromArray([[0, 1, 2, 3]], undefined, "u32");
 * using layer = new E2eQpLinear(
 *   { codes, zeros: Float32Array.of(1), scales: Float32Array.of(0.5) },
 *   { bits: 2 },
 * );
 * using x = Tensor.fromArray([[1, 1, 1, 1]]);
 * using y = layer.forward(x); // (−1 + 0 + 1 + 2) · 0.5
 * console.log(await y.data()); // Float32Array [1]
 * ```
 */
export class E2eQpLinear implements Linear {
  /** Bits per code. */
  readonly bits: number;
  #codes?: Tensor;
  #centred?: Tensor;
  #scale?: Tensor;
  readonly #zeros: Float32Array;

  /** Takes ownership of `frozen.codes` (u32 `[out, in]`). */
  constructor(frozen: FrozenCodes, options: { bits: number }) {
    checkBits("E2eQpLinear", options.bits);
    const { codes, zeros, scales } = frozen;
    if (codes.rank !== 2 || codes.dtype !== "u32") {
      codes.dispose();
      throw new RangeError(`E2eQpLinear: codes ${codes} must be u32 [out, in]`);
    }
    const [rows, cols] = codes.shape;
    const groups = scales.length / rows;
    if (!Number.isInteger(groups) || cols % groups || zeros.length !== scales.length) {
      codes.dispose();
      throw new RangeError(
        `E2eQpLinear: ${scales.length} scales and ${zeros.length} zeros do not give one per ` +
          `group of the ${rows} rows of the codes ${codes}`,
      );
    }
    this.bits = options.bits;
    this.#codes = codes;
    this.#zeros = Float32Array.from(zeros);
    this.#scale = Tensor.fromArray(scales, [rows, groups]);
    this.#centred = noGrad(() => {
      using c = cast(codes, "f32");
      using cv = c.reshape([rows, groups, cols / groups]);
      using z = Tensor.fromArray(zeros, [rows, groups, 1]);
      return sub(cv, z);
    });
  }

  /** Input features. */
  get inFeatures(): number {
    return this.#live().codes.shape[1];
  }

  /** Output features. */
  get outFeatures(): number {
    return this.#live().codes.shape[0];
  }

  /** The trainable steps ("scale", `[out, G]`); an optimizer updates them in place. */
  parameters(): Map<string, Tensor> {
    return new Map([["scale", this.#live().scale]]);
  }

  /** `[tokens, in]` → `[tokens, out]` with Ŵ = (q − z)·s (recorded for the steps' gradient). */
  forward(x: Tensor): Tensor {
    const { codes, centred, scale } = this.#live();
    using sv = scale.reshape([scale.shape[0], scale.shape[1], 1]);
    using w = mul(centred, sv);
    using w2 = w.reshape(codes.shape);
    return linear(x, w2);
  }

  /**
   * The packed result: a `QuantLinear` whose `QuantizedWeight` holds the
   * codes, the learned steps (rounded to f16 when the quantizer stores f16
   * scales) and the zero points, under the asymmetric `uint<b>` quantizer
   * with groups of cols/G (`quantizer` overrides it; its format must be
   * `uint<b>`). The layer keeps its own tensors.
   */
  async toQuantLinear(quantizer?: Quantizer): Promise<QuantLinear> {
    const { codes, scale } = this.#live();
    const [rows, cols] = codes.shape;
    const groupSize = cols / scale.shape[1];
    const q = quantizer ??
      int(this.bits, { symmetric: false, ...(groupSize === cols ? {} : { group: groupSize }) });
    if (q.format !== `uint${this.bits}`) {
      throw new RangeError(
        `toQuantLinear: quantizer format ${q.format} must be uint${this.bits} (asymmetric codes)`,
      );
    }
    let scales = Float32Array.from(await scale.data());
    if (q.scale === "f16") scales = Float32Array.from(Float16Array.from(scales));
    const qw = await QuantizedWeight.fromPass({
      quantizer: q,
      shape: [rows, cols],
      groupSize,
      codes,
      scales,
      zeros: this.#zeros,
      tensorScale: 1,
    });
    return new QuantLinear({
      codes: qw,
      quantizer: q,
      bitsPerWeight: bitsPerWeight(q, [rows, cols]),
    });
  }

  #live(): { codes: Tensor; centred: Tensor; scale: Tensor } {
    if (!this.#codes) throw new Error("E2eQpLinear: this layer was disposed");
    return { codes: this.#codes, centred: this.#centred!, scale: this.#scale! };
  }

  /** Frees the codes and steps (safe to call twice). */
  dispose(): void {
    this.#codes?.dispose();
    this.#centred?.dispose();
    this.#scale?.dispose();
    this.#codes = this.#centred = this.#scale = undefined;
  }

  /** Same as `dispose()`, for `using`. */
  [Symbol.dispose](): void {
    this.dispose();
  }
}
