/**
 * BitLinear: the linear layer of BitNet b1.58, ternary weights and 8-bit
 * activations trained with the straight-through estimator, behind the model's
 * `Linear` interface; and {@link PackedBitLinear}, the same layer after
 * training, its ternary codes packed 2 bits per weight and run by the
 * multiplication-free ternary kernel (`kernels/lowbit/ternary.ts`).
 *
 * S. Ma, H. Wang, L. Ma, L. Wang, W. Wang, S. Huang, L. Dong, R. Wang, J. Xue,
 * F. Wei, "The Era of 1-bit LLMs: All Large Language Models are in 1.58 Bits",
 * arXiv:2402.17764, 2024 (eq. 1–3; the training recipe of "The Era of 1-bit
 * LLMs: Training Tips, Code and FAQ", 2024). J. Nielsen, P. Schneider-Kamp,
 * "BitNet b1.58 Reloaded: State-of-the-art Performance Also on Smaller
 * Networks", arXiv:2407.09527, 2024 (the absmedian scale).
 *
 * Forward of one BitLinear, x `[tokens, in]`, master weight W `[out, in]` (f32):
 *   1. γ = mean |W|  (Reloaded: median |W|),  s = max(γ, ε)
 *   2. W̃ = RoundClip(W / s, −1, 1) · s       RoundClip(v) = max(−1, min(1, round(v)))
 *   3. x̃ = round(x · 127 / max|x_t|) · max|x_t| / 127   (per token t, absmax, 8 bits)
 *   4. y = x̃ · W̃ᵀ
 * Backward: the straight-through estimator on steps 2 and 3, ∂W̃/∂W := I and
 * ∂x̃/∂x := I (the reference code's `x + (q(x) − x).detach()`); γ gets no gradient.
 *
 * Departures, declared:
 * - The paper's BitLinear normalizes its input (a LayerNorm/RMSNorm inside
 *   the layer, "SubLN"). Here the Llama's own RMSNorms are kept as they are:
 *   q/k/v and gate/up read the pre-attention / pre-MLP RMSNorm's output,
 *   o_proj and down_proj read un-normalized inputs; no norm is added. Per-token
 *   absmax quantization is invariant to the scale of each token, so a norm
 *   without a learned gain would not change what is quantized.
 * - γ is computed on the GPU in f32 (the packed weight recomputes it in f64,
 *   `quant/formats/ternary.ts`; the two may differ in the last bit). The
 *   absmedian γ is the k-th smallest |W| with k = ⌈n/2⌉ (the lower middle for
 *   even n, where `ternaryGamma` averages the two middle values), found by
 *   a bracket search on the GPU so that a training step needs no read-back:
 *   5 rounds that split [0, max|W|] 16 ways (width max|W| · 2⁻²⁰), then the
 *   largest |w| at most the bracket's top (the k-th value itself unless
 *   another |w| lies within max|W| · 2⁻²⁰ above it).
 * - Activations are rounded to {−127, …, 127} (symmetric int8); the paper's
 *   clamp to [−128, 127] never reaches −128 with the absmax scale either.
 *
 * Reference: `tests/reference/bitnet.ts`.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { BitLinear } from "./bitlinear.ts";
 * await initGPU();
 * using w = Tensor.fromArray([[0.5, -1, 0.1], [1.5, 0, -0.2]]); // γ = 0.55
 * using layer = BitLinear.create(w);
 * using x = Tensor.fromArray([[1, -1, 1]]); // exact in 8 bits (absmax 1 → ±127)
 * using y = layer.forward(x); // W̃ = [[0.55, −0.55, 0], [0.55, 0, 0]]
 * console.log(await y.data()); // Float32Array [1.1000001, 0.5500001]
 * ```
 * @module
 */
import { Tensor } from "../../kernels/tensor.ts";
import { customGrad, noGrad } from "../../kernels/autograd.ts";
import { linear } from "../../kernels/ops/matmul.ts";
import { binary, cast, clamp, mul, unary, where } from "../../kernels/ops/elementwise.ts";
import { contiguous } from "../../kernels/ops/layout.ts";
import { maxAll, meanAll, minAll } from "../../kernels/ops/reduce_all.ts";
import { sum } from "../../kernels/ops/reduce.ts";
import { createPackedWeight, type PackedWeight, packWeights } from "../../kernels/lowbit/layout.ts";
import { lowbitMatmul } from "../../kernels/lowbit/kernel.ts";
import { TERNARY } from "../../kernels/lowbit/ternary.ts";
import type { Linear } from "../../model/linear.ts";
import type { TernaryScale } from "../formats/ternary.ts";
import { int, ternary } from "../quantizer.ts";
import { perTokenQuantize } from "../activation.ts";
import { QuantizedWeight } from "../weight.ts";

/** Options of {@link ternaryWeightSte} and {@link BitLinear.create}. */
export interface BitLinearOptions {
  /** γ: "absmean" (BitNet b1.58, default) or "absmedian" (b1.58 Reloaded). */
  scale?: TernaryScale;
  /** Floor ε of the scale. Default 1e−5 (as `quant/formats/ternary.ts`). */
  eps?: number;
  /** Activation bits (per-token absmax). Default 8; 0 keeps activations in float. */
  activationBits?: number;
}

/** The absmedian search: `SEARCH_ROUNDS` rounds, each splitting the bracket into `SEARCH_WAYS`. */
const SEARCH_WAYS = 16, SEARCH_ROUNDS = 5;

/** γ of |W| on the GPU, `[1]` f32 (see the module doc for the absmedian rule). */
function gammaOf(w: Tensor, scale: TernaryScale, eps: number): Tensor {
  using a = unary("abs", w);
  if (scale === "absmean") {
    using m = meanAll(a);
    return binary("max", m, eps);
  }
  // the k-th smallest |w|: the least t with #{|w| ≤ t} ≥ k. Invariant: #{|w| ≤ hi} ≥ k and
  // (when lo > 0) #{|w| ≤ lo} < k; each round counts below SEARCH_WAYS thresholds at once
  const k = Math.ceil(a.size / 2);
  using col = a.reshape([a.size, 1]);
  const fr = Float32Array.from({ length: SEARCH_WAYS }, (_, j) => (j + 1) / SEARCH_WAYS);
  using fractions = Tensor.fromArray(fr, [1, SEARCH_WAYS]);
  using inf = Tensor.fromArray([Infinity]);
  let lo = Tensor.zeros([1]);
  let hi = maxAll(a);
  try {
    for (let i = 0; i < SEARCH_ROUNDS; i++) {
      using width = binary("sub", hi, lo);
      using step = mul(width, fractions);
      using t = binary("add", lo, step); // [1, ways], its last entry is hi
      using le = binary("le", col, t);
      using lef = cast(le, "f32");
      using count = sum(lef, 0);
      using enough = binary("ge", count, k);
      using above = where(enough, t, inf);
      using below = where(enough, lo, t);
      const nextHi = minAll(above);
      const nextLo = maxAll(below);
      lo.dispose();
      hi.dispose();
      lo = nextLo;
      hi = nextHi;
    }
    // snap to the largest |w| ≤ hi: an element of W
    using le = binary("le", a, hi);
    using zero = Tensor.zeros([1]);
    using kept = where(le, a, zero);
    using m = maxAll(kept);
    return binary("max", m, eps);
  } finally {
    lo.dispose();
    hi.dispose();
  }
}

/** RoundClip(W / s, −1, 1) · s without a gradient record. */
function ternaryFakeQuant(w: Tensor, scale: TernaryScale, eps: number): Tensor {
  using s = gammaOf(w, scale, eps);
  using v = binary("div", w, s);
  using r = unary("round", v);
  using c = clamp(r, -1, 1);
  return mul(c, s);
}

/**
 * BitNet b1.58's weight quantizer with the straight-through gradient: W̃ =
 * RoundClip(W/γ, −1, 1)·γ forward, ∂W̃/∂W := I backward. Returns a new f32
 * tensor. NaN in W gives NaN everywhere (γ is NaN); NaN gradients pass through.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { ternaryWeightSte } from "./bitlinear.ts";
 * await initGPU();
 * using w = Tensor.fromArray([0.2, -3, 1, 0]); // γ = 1.05
 * using q = ternaryWeightSte(w);
 * console.log(await q.data()); // Float32Array [0, -1.05, 1.05, 0]
 * ```
 */
export function ternaryWeightSte(w: Tensor, options: BitLinearOptions = {}): Tensor {
  const scale = options.scale ?? "absmean";
  const eps = options.eps ?? 1e-5;
  if (scale !== "absmean" && scale !== "absmedian") {
    throw new RangeError(
      `ternaryWeightSte: scale must be "absmean" or "absmedian", got "${scale}"`,
    );
  }
  if (!(eps > 0)) throw new RangeError(`ternaryWeightSte: eps must be > 0, got ${eps}`);
  if (w.dtype !== "f32") throw new TypeError(`ternaryWeightSte: ${w} must be f32`);
  return customGrad(
    `ternary ${scale} ste`,
    (w: Tensor) => ternaryFakeQuant(w, scale, eps),
    (gy) => [gy.share()],
  )(w);
}

/**
 * Per-token absmax fake quantization of activations `[tokens, in]` to `bits`
 * signed bits with the straight-through gradient (∂x̃/∂x := I). All-zero
 * tokens stay zero; NaN propagates.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { absmaxActivationSte } from "./bitlinear.ts";
 * await initGPU();
 * using x = Tensor.fromArray([[127, 0.4, 0.6], [0, 0, 0]]);
 * using y = absmaxActivationSte(x, 8);
 * console.log(await y.data()); // Float32Array [127, 0, 1, 0, 0, 0]
 * ```
 */
export function absmaxActivationSte(x: Tensor, bits = 8): Tensor {
  if (!Number.isInteger(bits) || bits < 2 || bits > 8) {
    throw new RangeError(`absmaxActivationSte: bits must be an integer in 2..8, got ${bits}`);
  }
  const act = int(bits, { per: "token" });
  return customGrad(
    `absmax int${bits} ste`,
    (x: Tensor) => {
      const cols = x.shape[x.rank - 1];
      using x2 = x.reshape([x.size / cols, cols]);
      using y = perTokenQuantize(x2, act);
      return y.reshape(x.shape);
    },
    (gy) => [gy.share()],
  )(x);
}

/** A `Linear` with BitNet b1.58 fake quantization and an f32 master weight (see the module doc). */
export class BitLinear implements Linear {
  readonly #weight: Tensor;
  readonly #scale: TernaryScale;
  readonly #eps: number;
  readonly #bits: number;
  #disposed = false;

  private constructor(weight: Tensor, options: Required<BitLinearOptions>) {
    this.#weight = weight;
    this.#scale = options.scale;
    this.#eps = options.eps;
    this.#bits = options.activationBits;
  }

  /**
   * A BitLinear whose master weight is an f32 copy of `weight` `[out, in]`
   * (the argument is neither kept nor modified). No bias (BitNet has none).
   *
   * @example
   * ```ts
   * import { initGPU, Tensor } from "../../mod.ts";
   * import { BitLinear } from "./bitlinear.ts";
   * await initGPU();
   * using w = Tensor.randn([3, 5], { seed: 1 });
   * using layer = BitLinear.create(w, { scale: "absmedian" });
   * console.log([...layer.parameters().keys()], layer.outFeatures); // [ "weight" ] 3
   * ```
   */
  static create(weight: Tensor, options: BitLinearOptions = {}): BitLinear {
    if (weight.rank !== 2) {
      throw new RangeError(`BitLinear: weight ${weight} must be 2-D [out, in]`);
    }
    if (weight.dtype !== "f32" && weight.dtype !== "f16") {
      throw new TypeError(`BitLinear: weight ${weight} must be f32 or f16`);
    }
    const scale = options.scale ?? "absmean";
    if (scale !== "absmean" && scale !== "absmedian") {
      throw new RangeError(`BitLinear: scale must be "absmean" or "absmedian", got "${scale}"`);
    }
    const eps = options.eps ?? 1e-5;
    if (!(eps > 0)) throw new RangeError(`BitLinear: eps must be > 0, got ${eps}`);
    const bits = options.activationBits ?? 8;
    if (bits !== 0 && !(Number.isInteger(bits) && bits >= 2 && bits <= 8)) {
      throw new RangeError(
        `BitLinear: activationBits must be 0 or an integer in 2..8, got ${bits}`,
      );
    }
    const w = noGrad(() => (weight.dtype === "f32" ? contiguous(weight) : cast(weight, "f32")));
    return new BitLinear(w, { scale, eps, activationBits: bits });
  }

  /** Input features. */
  get inFeatures(): number {
    return this.#live().shape[1];
  }

  /** Output features. */
  get outFeatures(): number {
    return this.#live().shape[0];
  }

  /** 2-bit codes plus one f32 scale for the tensor (as packed by {@link pack}). */
  get bitsPerWeight(): number {
    return 2 + 32 / this.#live().size;
  }

  /** γ's rule. */
  get scale(): TernaryScale {
    return this.#scale;
  }

  /** Activation bits (0: float activations). */
  get activationBits(): number {
    return this.#bits;
  }

  /** The f32 master weight `[out, in]` (the layer's own: an optimizer updates it in place). */
  get weight(): Tensor {
    return this.#live();
  }

  /** The trainable tensors: `weight`. */
  parameters(): Map<string, Tensor> {
    return new Map([["weight", this.#live()]]);
  }

  /** `[tokens, in]` → `[tokens, out]` through the quantized input and weight (recorded for gradients). */
  forward(x: Tensor): Tensor {
    const w = this.#live();
    using xq = this.#bits ? absmaxActivationSte(x, this.#bits) : x.share();
    using wq = ternaryWeightSte(w, { scale: this.#scale, eps: this.#eps });
    return linear(xq, wq);
  }

  /**
   * The ternary codes of the current weight as a `QuantizedWeight`, with
   * the γ the forward uses (computed on the GPU as in training, so the packed
   * layer computes with exactly the codes and scale the network was trained
   * with; `quant/formats/ternary.ts` would recompute γ in f64, and for
   * absmedian average the two middle values of an even count).
   */
  async quantizedWeight(): Promise<QuantizedWeight> {
    const w = this.#live();
    const values = noGrad(() => {
      using g = gammaOf(w, this.#scale, this.#eps);
      using q = ternaryFakeQuant(w, this.#scale, this.#eps);
      return [g.share(), q.share()];
    });
    using g = values[0];
    using q = values[1];
    const gamma = (await g.data())[0];
    const v = await q.data();
    // code of ±γ, 0: 2-bit two's complement (1 → +1, 3 → −1)
    const codes = Uint8Array.from(v, (x) => (x > 0 ? 1 : x < 0 ? 3 : 0));
    if (!(gamma > 0) || v.some(Number.isNaN)) {
      throw new RangeError(`BitLinear: the weight ${w} holds NaN; it cannot be packed`);
    }
    const shape = [this.outFeatures, this.inFeatures] as const;
    return new QuantizedWeight({
      quantizer: ternary({ median: this.#scale === "absmedian" }),
      shape,
      groupSize: shape[1],
      codes: packWeights(codes, shape, "int2"),
      scales: new Float32Array(shape[0]).fill(gamma), // the one scale, once per row
      name: "BitLinear weight",
    });
  }

  /**
   * The deployable layer: the ternary codes packed 2 bits per weight, run by
   * the ternary kernel, with the same activation quantization.
   */
  async pack(): Promise<PackedBitLinear> {
    using q = await this.quantizedWeight();
    return PackedBitLinear.fromQuantized(q, { activationBits: this.#bits });
  }

  #live(): Tensor {
    if (this.#disposed) throw new Error("BitLinear: this layer was disposed");
    return this.#weight;
  }

  /** Frees the master weight (safe to call twice). */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#weight.dispose();
  }

  /** Same as `dispose()`, for `using`. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  /** `BitLinear(in → out, absmean, A8)`. */
  toString(): string {
    return `BitLinear(${this.inFeatures} → ${this.outFeatures}, ${this.#scale}, A${
      this.#bits || 32
    })`;
  }
}

/**
 * A trained BitLinear for inference: 2-bit ternary codes (0 → 0, 1 → +1,
 * 3 → −1) and one scale, run by the `ternary` GEMV/GEMM of
 * `kernels/lowbit/ternary.ts` after the same per-token absmax activation
 * quantization.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { BitLinear } from "./bitlinear.ts";
 * await initGPU();
 * using w = Tensor.fromArray([[0.5, -1, 0.1], [1.5, 0, -0.2]]);
 * using layer = BitLinear.create(w);
 * using packed = await layer.pack();
 * using x = Tensor.fromArray([[1, -1, 1]]);
 * using y = packed.forward(x);
 * console.log(packed.bitsPerWeight, await y.data()); // 7.333333333333333 Float32Array [1.1000001, 0.5500001]
 * ```
 */
export class PackedBitLinear implements Linear {
  readonly #packed: PackedWeight;
  readonly #bits: number;
  readonly #shape: readonly [number, number];
  #disposed = false;

  private constructor(packed: PackedWeight, shape: readonly [number, number], bits: number) {
    this.#packed = packed;
    this.#shape = shape;
    this.#bits = bits;
  }

  /**
   * Packs a ternary `QuantizedWeight` (per-tensor scale; read, not taken) for
   * the ternary kernel. `activationBits` as in {@link BitLinearOptions}.
   */
  static fromQuantized(
    q: QuantizedWeight,
    options: { activationBits?: number } = {},
  ): PackedBitLinear {
    if (q.quantizer.format !== "ternary" || q.quantizer.granularity.kind !== "tensor") {
      throw new RangeError(
        `PackedBitLinear: ${q} must be ternary with one scale per tensor (BitNet's layout)`,
      );
    }
    const [rows] = q.shape;
    const packed = createPackedWeight({
      format: TERNARY,
      shape: q.shape,
      // the 2-bit int stream of QuantizedWeight uses the ternary storage's codes
      words: q.codes.reshape(q.codes.shape),
      scales: new Float32Array(rows).fill(q.scales[0]),
      scaleDtype: "f32",
    });
    return new PackedBitLinear(packed, q.shape, options.activationBits ?? 8);
  }

  /** Input features. */
  get inFeatures(): number {
    return this.#shape[1];
  }

  /** Output features. */
  get outFeatures(): number {
    return this.#shape[0];
  }

  /** 2 bits per weight plus one f32 scale for the tensor. */
  get bitsPerWeight(): number {
    return 2 + 32 / (this.#shape[0] * this.#shape[1]);
  }

  /** `[tokens, in]` → `[tokens, out]` on the ternary kernel. */
  forward(x: Tensor): Tensor {
    if (this.#disposed) throw new Error("PackedBitLinear: this layer was disposed");
    const cols = x.shape[x.rank - 1];
    using x2 = x.reshape([x.size / cols, cols]);
    using xq = this.#bits ? perTokenQuantize(x2, int(this.#bits, { per: "token" })) : x2.share();
    using y = lowbitMatmul(xq, this.#packed, { outDtype: x.dtype === "f16" ? "f16" : "f32" });
    return y.reshape([...x.shape.slice(0, -1), this.#shape[0]]);
  }

  /** Frees the packed codes and scales (safe to call twice). */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#packed.dispose();
  }

  /** Same as `dispose()`, for `using`. */
  [Symbol.dispose](): void {
    this.dispose();
  }
}
