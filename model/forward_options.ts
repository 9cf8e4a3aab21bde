/**
 * The options of `LlamaModel.forward` and the hook its layer runners call
 * with each linear's input.
 *
 * @example
 * ```ts
 * import type { ForwardOptions } from "./forward_options.ts";
 * const o: ForwardOptions = { batch: 2, checkpointLayers: true };
 * console.log(o.batch); // 2
 * ```
 * @module
 */
import type { Tensor } from "../kernels/tensor.ts";
import type { KVCache } from "./kv_cache.ts";

/** Options of `LlamaModel.forward`. */
export interface ForwardOptions {
  /** Split a flat `ids` array into this many equal rows. Default 1. */
  batch?: number;
  /**
   * Under a tape, run each decoder layer through `checkpoint` (activation
   * checkpointing): only the layer inputs are kept and each layer is
   * recomputed in the backward pass. Same values and gradients, less memory.
   * Default false. Not with a `cache`.
   */
  checkpointLayers?: boolean;
  /**
   * Decode with this key/value cache (`model/kv_cache.ts`): the ids are at
   * positions `cache.length … cache.length+seq−1`, attend to every cached
   * position, and are appended to the cache, whose length grows by `seq`.
   * Needs every layer. Default: none (positions 0 … seq−1, nothing kept).
   */
  cache?: KVCache;
}

/**
 * Called with the input of each linear layer before it runs: `x` is
 * `[tokens, inFeatures]`, valid only until the callback returns (or, for the
 * async layer runner, until its promise settles); it must not be disposed.
 * Projections that share an input (q/k/v, gate/up) receive the same tensor
 * object, so an observer can compute a shared statistic once by identity.
 */
export type LinearInputHook = (name: string, x: Tensor) => void | Promise<void>;
