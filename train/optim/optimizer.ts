/**
 * The `Optimizer` contract of lowbit's training engine and the weight-decay
 * mask rule shared by every optimizer.
 *
 * - Parameters are f32 master weights, keyed by name
 *   (`"layers.0.mlp.up_proj.weight"`); gradients are f32 tensors under the
 *   same names. `step(params, grads, lr)` updates every parameter that has a
 *   gradient IN PLACE (its GPU buffer); a parameter without a gradient is
 *   frozen for that step: neither it nor its state changes (as torch skips a
 *   parameter whose `.grad` is None). Gradients are never modified.
 * - State is created on a parameter's first gradient, and each parameter counts
 *   its own steps (torch's per-parameter `state["step"]`).
 * - `state()` returns copies (owned by the caller) of everything needed to
 *   resume bit-exactly; `loadState` copies them back in (the caller keeps its map).
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { AdamW } from "./adamw.ts";
 * await initGPU();
 * using w = Tensor.fromArray([[1, 2]]);
 * using g = Tensor.fromArray([[1, -1]]);
 * using opt = new AdamW({ weightDecay: 0 });
 * opt.step(new Map([["w", w]]), new Map([["w", g]]), 0.1);
 * console.log(opt.stepCount, await w.data()); // 1 Float32Array [0.8999999761581421, 2.0999999046325684]
 * ```
 * @module
 */
import type { Tensor } from "../../kernels/tensor.ts";

/** An optimizer over named f32 parameters. */
export interface Optimizer extends Disposable {
  /**
   * One step with learning rate `lr`: every parameter with a gradient is
   * updated in place; parameters without one are skipped. Throws before
   * changing anything if a gradient names no parameter or has another shape.
   */
  step(params: ReadonlyMap<string, Tensor>, grads: ReadonlyMap<string, Tensor>, lr: number): void;
  /** Number of `step` calls so far (restored by `loadState`). */
  readonly stepCount: number;
  /** Copies of the whole state, keyed `"step"` and `"<param>/<slot>"`; owned by the caller. */
  state(): Map<string, Tensor>;
  /** Replaces the state by copies of `state` (as `state()` returned it); reads back step counts. */
  loadState(state: ReadonlyMap<string, Tensor>): Promise<void>;
  /** Bytes of GPU memory the state holds now. */
  memoryBytes(): number;
}

/** Which parameters get weight decay: `true` to decay. */
export type WeightDecayMask = (name: string, tensor: Tensor) => boolean;

/**
 * The default mask: decay matrices (rank ≥ 2: linear weights, embeddings),
 * not vectors (norm weights, biases), as `tools/train_tiny.py` groups them.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { decayMatrices } from "./optimizer.ts";
 * await initGPU();
 * using w = Tensor.zeros([2, 2]);
 * using b = Tensor.zeros([2]);
 * console.log(decayMatrices("w", w), decayMatrices("norm.weight", b)); // true false
 * ```
 */
export function decayMatrices(_name: string, t: Tensor): boolean {
  return t.rank >= 2;
}
