/**
 * A linear layer for quantization-aware training: an f32 master weight seen
 * through a weight quantizer (the straight-through estimator over any
 * `Quantizer`, or LSQ's learned step), and optionally an activation quantizer
 * on its input (PACT or LSQ/LSQ+), behind the model's `Linear` interface.
 * `parameters()` names what trains: the weight, the bias, the steps and
 * offsets, α.
 *
 * A training step: `valueAndGrad(loss, layer.parameters())`, an optimizer
 * step on the same map, then `await layer.refresh()` (needed by STE weight
 * quantizers only, which find the grid of scales from the updated weight; a
 * no-op otherwise).
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { QatLinear } from "./qat_linear.ts";
 * await initGPU();
 * using w = Tensor.fromArray([[0.5, -1], [0.25, 1]]);
 * using layer = await QatLinear.create(w, { weight: { kind: "lsq", bits: 4, per: "row" } });
 * using x = Tensor.fromArray([[1, 1]]);
 * using y = layer.forward(x);
 * console.log([...layer.parameters().keys()], y.shape); // [ "weight", "weight.step" ] [1, 2]
 * ```
 * @module
 */
import { f32Copy, ParamSet } from "./_param_set.ts";
import { Tensor } from "../../kernels/tensor.ts";
import { linear } from "../../kernels/ops/matmul.ts";
import type { Linear } from "../../model/linear.ts";
import { bitsPerWeight, type Quantizer } from "../quantizer.ts";
import { type QuantGrid, quantGrid } from "../quantize.ts";
import { fakeQuantSte, type SteKind } from "./fake_quant.ts";
import { lsqInit, lsqQuantize } from "./lsq.ts";
import { pact } from "./pact.ts";

/** How the weight is fake-quantized. */
export type WeightQat =
  /** Any quantizer, straight-through gradient (scales follow the weight via `refresh`). */
  | { kind: "ste"; quantizer: Quantizer; grad?: SteKind }
  /** LSQ: signed `bits` codes with a learned step per tensor, per row or per group of columns. */
  | { kind: "lsq"; bits: number; per?: "tensor" | "row" | number };

/** How the input activations are fake-quantized. */
export type ActivationQat =
  /** PACT: clip to [0, α] (α learned, initial value `alpha`, default 6), `bits` levels. */
  | { kind: "pact"; bits: number; alpha?: number }
  /**
   * LSQ (one learned step per tensor), signed by default; `offset` adds LSQ+'s
   * learned offset. The step (and offset) start from `sample` (a typical input
   * batch) by LSQ's (LSQ+'s min–max) rule, or at `step` (default 1) and 0.
   */
  | {
    kind: "lsq";
    bits: number;
    signed?: boolean;
    offset?: boolean;
    sample?: Tensor;
    step?: number;
  };

/** Options of {@link QatLinear.create}. */
export interface QatLinearOptions {
  /** The weight quantizer. */
  weight: WeightQat;
  /** The input quantizer (none by default). */
  activation?: ActivationQat;
  /** A bias [out] (copied; trained with the weight). */
  bias?: Tensor;
}

/** A `Linear` with fake-quantized weight (and input) and trainable quantization parameters. */
export class QatLinear implements Linear {
  readonly #params = new ParamSet("QatLinear");
  readonly #weight: WeightQat;
  readonly #activation?: ActivationQat;
  #grid?: QuantGrid;

  private constructor(weight: WeightQat, activation?: ActivationQat) {
    this.#weight = weight;
    this.#activation = activation;
  }

  /**
   * A layer whose master weight is an f32 copy of `weight` [out, in] (the
   * argument is not kept or modified), with its quantization parameters
   * initialised.
   *
   * @example
   * ```ts
   * import { initGPU, Tensor } from "../../mod.ts";
   * import { int } from "../quantizer.ts";
   * import { QatLinear } from "./qat_linear.ts";
   * await initGPU();
   * using w = Tensor.fromArray([[0.7, -0.2, 0.1]]);
   * using layer = await QatLinear.create(w, {
   *   weight: { kind: "ste", quantizer: int(3) },
   *   activation: { kind: "pact", bits: 4, alpha: 2 },
   * });
   * console.log([...layer.parameters().keys()]); // [ "weight", "activation.alpha" ]
   * ```
   */
  static async create(weight: Tensor, options: QatLinearOptions): Promise<QatLinear> {
    if (weight.rank !== 2) {
      throw new RangeError(`QatLinear: weight ${weight} must be 2-D [out, in]`);
    }
    if (weight.dtype !== "f32" && weight.dtype !== "f16") {
      throw new TypeError(`QatLinear: weight ${weight} must be f32 or f16`);
    }
    const { bias, activation } = options;
    if (bias && (bias.rank !== 1 || bias.shape[0] !== weight.shape[0])) {
      throw new RangeError(`QatLinear: bias ${bias} must have shape [${weight.shape[0]}]`);
    }
    const layer = new QatLinear(options.weight, activation);
    try {
      const p = layer.#params;
      const w = f32Copy(weight);
      p.set("weight", w);
      if (bias) p.set("bias", f32Copy(bias));
      const wq = options.weight;
      if (wq.kind === "lsq") {
        p.set("weight.step", lsqInit(w, { bits: wq.bits, per: wq.per ?? "row" }).step);
      } else if (wq.kind !== "ste") {
        throw new RangeError(
          `QatLinear: weight kind must be "ste" or "lsq", got "${(wq as WeightQat).kind}"`,
        );
      }
      if (activation?.kind === "pact") {
        const alpha = activation.alpha ?? 6;
        if (!(alpha > 0)) throw new RangeError(`QatLinear: PACT alpha must be > 0, got ${alpha}`);
        p.set("activation.alpha", Tensor.fromArray([alpha]));
      } else if (activation?.kind === "lsq") {
        const signed = activation.signed ?? true;
        if (activation.sample) {
          const init = lsqInit(activation.sample, {
            bits: activation.bits,
            signed,
            offset: activation.offset,
          });
          p.set("activation.step", init.step);
          if (init.offset) p.set("activation.offset", init.offset);
        } else {
          p.set("activation.step", Tensor.fromArray([activation.step ?? 1]));
          if (activation.offset) p.set("activation.offset", Tensor.fromArray([0]));
        }
      } else if (activation) {
        throw new RangeError(
          `QatLinear: activation kind must be "pact" or "lsq", got "${
            (activation as ActivationQat).kind
          }"`,
        );
      }
      await layer.refresh();
      return layer;
    } catch (e) {
      layer.dispose();
      throw e;
    }
  }

  /** Input features. */
  get inFeatures(): number {
    return this.#param("weight").shape[1];
  }

  /** Output features. */
  get outFeatures(): number {
    return this.#param("weight").shape[0];
  }

  /** Bits per weight of the quantized weight (codes plus amortised f32 steps for LSQ). */
  get bitsPerWeight(): number {
    const w = this.#param("weight");
    if (this.#weight.kind === "ste") return bitsPerWeight(this.#weight.quantizer, w.shape);
    return this.#weight.bits + 32 * this.#param("weight.step").size / w.size;
  }

  /**
   * The trainable tensors by name: "weight", "bias", "weight.step",
   * "activation.alpha", "activation.step", "activation.offset" (those the
   * layer has). The layer owns them; an optimizer updates them in place.
   */
  parameters(): Map<string, Tensor> {
    this.#params.check();
    return this.#params.all();
  }

  /** Finds the STE weight quantizer's grid from the current weight (after an optimizer step). */
  async refresh(): Promise<void> {
    this.#params.check();
    if (this.#weight.kind === "ste") {
      this.#grid = await quantGrid(this.#weight.quantizer, this.#param("weight"), {
        name: "QatLinear weight",
      });
    }
  }

  /** `[tokens, in]` → `[tokens, out]` with the fake-quantized input and weight (recorded for gradients). */
  forward(x: Tensor): Tensor {
    this.#params.check();
    const w = this.#param("weight");
    using xq = this.#quantizeInput(x);
    using wq = this.#weight.kind === "ste"
      ? fakeQuantSte(w, this.#grid!, { grad: this.#weight.grad })
      : lsqQuantize(w, this.#param("weight.step"), { bits: this.#weight.bits });
    return linear(xq, wq, this.#params.optional("bias"));
  }

  #quantizeInput(x: Tensor): Tensor {
    const a = this.#activation;
    if (!a) return x.share();
    if (a.kind === "pact") return pact(x, this.#param("activation.alpha"), { bits: a.bits });
    return lsqQuantize(x, this.#param("activation.step"), {
      bits: a.bits,
      signed: a.signed ?? true,
      offset: this.#params.optional("activation.offset"),
    });
  }

  #param(name: string): Tensor {
    return this.#params.get(name);
  }

  /** Frees the master weight and the quantization parameters (safe to call twice). */
  dispose(): void {
    this.#params.dispose();
  }

  /** Same as `dispose()`, for `using`. */
  [Symbol.dispose](): void {
    this.dispose();
  }
}
