/**
 * 8-bit AdamW: AdamW whose moments are stored as 8-bit codes with a
 * block-wise absmax scale. T. Dettmers, M. Lewis, S. Shleifer, L. Zettlemoyer,
 * "8-bit Optimizers via Block-wise Quantization", ICLR 2022, arXiv:2110.02861
 * (§2). For each parameter with gradient g, in one kernel per tensor, per
 * block of B = 2048 elements:
 *
 *   1. m = map₊₋[m codes]·sₘ,  v = map₊[v codes]·sᵥ      (dequantize)
 *   2. the AdamW update of `adamw.ts` in f32 (decay, moments, bias correction, p)
 *   3. sₘ = max |m|,  sᵥ = max v  over the block            (new absmax, f32)
 *   4. codes = nearest entry of the map to m / sₘ and v / sᵥ (requantize)
 *
 * The maps are the dynamic tree maps of `dynamic_map.ts` (signed for m,
 * unsigned for v). State per parameter of n elements: 2·n bytes of codes
 * (rounded up to 4) plus two f32 scales per block, ≈ 2.004 bytes per
 * parameter, against AdamW's 8.
 *
 * As in bitsandbytes, tensors with fewer than `minSize8bit` elements (default
 * 4096: norms, biases) keep f32 moments (slots `exp_avg`, `exp_avg_sq`,
 * updated exactly as {@link AdamW}). Not implemented here: the paper's stable
 * embedding layer and percentile clipping. NaN: see `adamw8bit_update.ts`
 * (a NaN gradient turns its whole block NaN from the next step).
 *
 * Reference: `tests/reference/optim.ts`.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { AdamW8bit } from "./adamw8bit.ts";
 * await initGPU();
 * using w = Tensor.randn([64, 128], { seed: 1 });
 * using g = Tensor.randn([64, 128], { seed: 2 });
 * using opt = new AdamW8bit();
 * opt.step(new Map([["w", w]]), new Map([["w", g]]), 1e-3);
 * // codes 2 × 8192 B, scales 2 × 4 × 4 B, the two maps 2048 B; AdamW would hold 8 B per weight
 * console.log(opt.memoryBytes(), 8 * w.size); // 18464 65536
 * ```
 * @module
 */
import { Tensor } from "../../kernels/tensor.ts";
import { adamwUpdate } from "../../kernels/optim/adamw_update.ts";
import { adamw8bitUpdate, BLOCK } from "../../kernels/optim/adamw8bit_update.ts";
import { type AdamWOptions, adamwOptions, adamwStepScalars } from "./_adamw_options.ts";
import { dynamicMap, dynamicMaps } from "./dynamic_map.ts";
import { checkRange, type SlotLayout, SlotOptimizer, SlotState } from "./_slots.ts";

/** 8-bit AdamW hyperparameters: AdamW's, plus the size below which moments stay f32. */
export interface AdamW8bitOptions extends AdamWOptions {
  /** Tensors with fewer elements keep f32 moments. Default 4096 (bitsandbytes' default). */
  minSize8bit?: number;
}

/** AdamW with block-wise 8-bit moments over named f32 parameters. */
export class AdamW8bit extends SlotOptimizer {
  /** (β₁, β₂). */
  readonly betas: readonly [number, number];
  /** ε. */
  readonly eps: number;
  /** Decoupled weight decay λ. */
  readonly weightDecay: number;
  /** Tensors with fewer elements keep f32 moments. */
  readonly minSize8bit: number;
  #maps: Tensor | undefined;

  /** An 8-bit AdamW optimizer; options default to torch's AdamW and bitsandbytes. */
  constructor({ minSize8bit = 4096, ...options }: AdamW8bitOptions = {}) {
    super();
    const o = adamwOptions("AdamW8bit", options);
    checkRange("AdamW8bit", "minSize8bit", minSize8bit, 0, Number.MAX_SAFE_INTEGER);
    this.betas = o.betas;
    this.eps = o.eps;
    this.weightDecay = o.weightDecay;
    this.minSize8bit = minSize8bit;
    const zero = dynamicMap(true).indexOf(0); // the signed code of 0, four to a word
    const zeroWord = (zero * 0x01010101) >>> 0;
    const is8bit = (p: Tensor) => p.size >= minSize8bit && p.size > 0;
    this.slots = new SlotState("AdamW8bit", o.weightDecayMask, {
      slotNames: [
        "exp_avg",
        "exp_avg_sq",
        "exp_avg_codes",
        "exp_avg_sq_codes",
        "exp_avg_absmax",
        "exp_avg_sq_absmax",
      ],
      layout: (p): Record<string, SlotLayout> => {
        if (!is8bit(p)) {
          const l = { shape: p.shape, dtype: "f32" } as const;
          return { exp_avg: l, exp_avg_sq: l };
        }
        const codes = { shape: [Math.ceil(p.size / 4)], dtype: "u32" } as const;
        const scales = { shape: [Math.ceil(p.size / BLOCK)], dtype: "f32" } as const;
        return {
          exp_avg_codes: codes,
          exp_avg_sq_codes: codes,
          exp_avg_absmax: scales,
          exp_avg_sq_absmax: scales,
        };
      },
      create: (p): Record<string, Tensor> => {
        if (!is8bit(p)) {
          return { exp_avg: Tensor.zeros(p.shape), exp_avg_sq: Tensor.zeros(p.shape) };
        }
        const words = Math.ceil(p.size / 4), blocks = Math.ceil(p.size / BLOCK);
        // the empty state: every moment 0 (scales 0; m codes those of 0, v code 0 is 0)
        return {
          exp_avg_codes: Tensor.full([words], zeroWord, "u32"),
          exp_avg_sq_codes: Tensor.zeros([words], "u32"),
          exp_avg_absmax: Tensor.zeros([blocks]),
          exp_avg_sq_absmax: Tensor.zeros([blocks]),
        };
      },
      update: (p, g, slots, step, lr, decay) => {
        const s = adamwStepScalars(o, step, lr, decay);
        if (slots.exp_avg) return adamwUpdate(p, g, slots.exp_avg, slots.exp_avg_sq, s);
        this.#maps ??= Tensor.fromArray(dynamicMaps());
        const state = {
          mCodes: slots.exp_avg_codes,
          vCodes: slots.exp_avg_sq_codes,
          mAbsmax: slots.exp_avg_absmax,
          vAbsmax: slots.exp_avg_sq_absmax,
        };
        adamw8bitUpdate(p, g, state, this.#maps, s);
      },
    });
  }

  /** Bytes of GPU memory the state holds now, the two 256-entry maps included once they exist. */
  override memoryBytes(): number {
    return super.memoryBytes() + (this.#maps?.byteLength ?? 0);
  }

  /** Frees the state (safe to call twice). */
  override dispose(): void {
    super.dispose();
    this.#maps?.dispose();
    this.#maps = undefined;
  }
}
