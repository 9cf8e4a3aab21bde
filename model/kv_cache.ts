/**
 * A key/value cache for autoregressive decoding: each decoder layer's keys
 * (RoPE applied) and values for every position seen so far, so that a new
 * token attends to them without recomputing the prefix.
 *
 * Layout: per layer, K and V are `[batch, maxLength, kvHeads·headDim]`,
 * preallocated. A row is exactly a row of `k_proj`/`v_proj`'s output
 * (`[tokens, kvHeads·headDim]`), so appending `n` tokens of a sequence is one
 * contiguous buffer copy, and one kv head of one sequence is a strided
 * `[length, headDim]` matrix (leading dimension kvHeads·headDim, sequences
 * maxLength·kvHeads·headDim apart) that the attention GEMM reads in place
 * (`cachedAttention` in `model/attention.ts`). Grouped heads are never
 * repeated: the cache holds `kvHeads`, not `heads`.
 *
 * Use: pass it to `model.forward(ids, { cache })`; the ids are placed at
 * positions `cache.length …`, every layer appends its keys and values, and
 * the cache's length grows by the number of ids per sequence.
 *
 * @example
 * ```ts
 * import { initGPU } from "../mod.ts";
 * import { loadModel } from "./load.ts";
 * import { KVCache } from "./kv_cache.ts";
 * await initGPU();
 * using model = await loadModel("data/tiny");
 * using cache = new KVCache(model.config, { batch: 1, maxLength: 8 });
 * using prefill = model.forward([[72, 101]], { cache }); // "He" at positions 0, 1
 * using next = model.forward([[108]], { cache }); // "l" at position 2
 * console.log(cache.length, next.shape); // 3 [1, 1, 256]
 * ```
 * @module
 */
import { copy } from "../kernels/runtime.ts";
import { Tensor } from "../kernels/tensor.ts";
import type { LlamaConfig } from "./config.ts";

/** The dimensions a cache needs from a model's config. */
export type KVCacheConfig = Pick<
  LlamaConfig,
  "numHiddenLayers" | "numKeyValueHeads" | "headDim"
>;

/** Options of the {@link KVCache} constructor. */
export interface KVCacheOptions {
  /** Sequences decoded together. */
  batch: number;
  /** Positions the cache holds per sequence (prompt and generated tokens). */
  maxLength: number;
  /** The model's activation dtype. Default `"f32"`. */
  dtype?: "f32" | "f16";
}

/** Per-layer keys and values of a batch of sequences (see the module doc). */
export class KVCache {
  /** Decoder layers. */
  readonly layers: number;
  /** Sequences. */
  readonly batch: number;
  /** Positions per sequence. */
  readonly maxLength: number;
  /** Key/value heads. */
  readonly kvHeads: number;
  /** Dimension of each head. */
  readonly headDim: number;
  /** Element type of the keys and values. */
  readonly dtype: "f32" | "f16";
  readonly #keys: Tensor[] = [];
  readonly #values: Tensor[] = [];
  #length = 0;
  #disposed = false;

  /**
   * Allocates (zeroed) keys and values for every layer of `config`:
   * `2 · layers · batch · maxLength · kvHeads · headDim` elements.
   *
   * @example
   * ```ts
   * import { initGPU } from "../mod.ts";
   * import { KVCache } from "./kv_cache.ts";
   * await initGPU();
   * using cache = new KVCache(
   *   { numHiddenLayers: 2, numKeyValueHeads: 1, headDim: 4 },
   *   { batch: 3, maxLength: 10 },
   * );
   * console.log(cache.keys(1).shape, cache.length); // [3, 10, 4] 0
   * ```
   */
  constructor(config: KVCacheConfig, options: KVCacheOptions) {
    const { batch, maxLength, dtype = "f32" } = options;
    const positive = (name: string, n: number) => {
      if (!Number.isInteger(n) || n < 1) {
        throw new RangeError(`KVCache: ${name} ${n} must be an integer ≥ 1`);
      }
    };
    positive("batch", batch);
    positive("maxLength", maxLength);
    positive("numHiddenLayers", config.numHiddenLayers);
    positive("numKeyValueHeads", config.numKeyValueHeads);
    positive("headDim", config.headDim);
    if (dtype !== "f32" && dtype !== "f16") {
      throw new TypeError(`KVCache: dtype "${dtype}" must be "f32" or "f16" (the model's dtype)`);
    }
    if (dtype === "f16" && (config.numKeyValueHeads * config.headDim) % 2) {
      throw new RangeError(
        `KVCache: f16 rows of kvHeads·headDim = ${
          config.numKeyValueHeads * config.headDim
        } elements are not a whole number of 4-byte words; RoPE models have an even headDim`,
      );
    }
    this.layers = config.numHiddenLayers;
    this.batch = batch;
    this.maxLength = maxLength;
    this.kvHeads = config.numKeyValueHeads;
    this.headDim = config.headDim;
    this.dtype = dtype;
    const shape = [batch, maxLength, this.kvHeads * this.headDim];
    try {
      for (let i = 0; i < this.layers; i++) {
        this.#keys.push(Tensor.zeros(shape, dtype));
        this.#values.push(Tensor.zeros(shape, dtype));
      }
    } catch (e) {
      this.dispose();
      throw e;
    }
  }

  /** Positions cached so far per sequence (the position of the next token). */
  get length(): number {
    return this.#length;
  }

  /** Layer `i`'s keys `[batch, maxLength, kvHeads·headDim]`, valid up to {@link length}. */
  keys(i: number): Tensor {
    this.#layer(i);
    return this.#keys[i];
  }

  /** Layer `i`'s values `[batch, maxLength, kvHeads·headDim]`, valid up to {@link length}. */
  values(i: number): Tensor {
    this.#layer(i);
    return this.#values[i];
  }

  /**
   * Throws unless this cache fits a model of `config` run over `layers` of
   * its `numLayers` layers (a cache needs every layer's keys and values).
   *
   * @example
   * ```ts
   * import { initGPU } from "../mod.ts";
   * import { KVCache } from "./kv_cache.ts";
   * import { parseLlamaConfig } from "./config.ts";
   * await initGPU();
   * const config = parseLlamaConfig({
   *   model_type: "llama", hidden_size: 16, intermediate_size: 32, num_hidden_layers: 2,
   *   num_attention_heads: 2, vocab_size: 10,
   * });
   * using cache = new KVCache(config, { batch: 1, maxLength: 8 });
   * try { cache.checkModel(config, 1, 2, "model"); } catch (e) { console.log((e as Error).name); } // RangeError
   * ```
   */
  checkModel(config: LlamaConfig, layers: number, numLayers: number, model: string): void {
    if (layers !== numLayers) {
      throw new RangeError(
        `forwardHidden: a cache needs every layer's keys and values; drop { layers: ${layers} } ` +
          `or the cache`,
      );
    }
    if (this.layers !== layers || this.kvHeads !== config.numKeyValueHeads) {
      throw new RangeError(
        `forwardHidden: ${this} does not fit ${model}; make it with new KVCache(model.config, …)`,
      );
    }
    if (this.headDim !== config.headDim) {
      throw new RangeError(
        `forwardHidden: ${this} has headDim ${this.headDim}, not ${config.headDim}`,
      );
    }
  }

  /**
   * Throws unless `seq` more tokens of `batch` sequences in `dtype` fit:
   * what `model.forward(ids, { cache })` checks before it runs.
   *
   * @example
   * ```ts
   * import { initGPU } from "../mod.ts";
   * import { KVCache } from "./kv_cache.ts";
   * await initGPU();
   * using cache = new KVCache({ numHiddenLayers: 1, numKeyValueHeads: 1, headDim: 2 }, {
   *   batch: 1, maxLength: 4,
   * });
   * try { cache.checkFits(1, 5, "f32"); } catch (e) { console.log((e as Error).name); } // RangeError
   * ```
   */
  checkFits(batch: number, seq: number, dtype: string): void {
    this.#alive();
    if (batch !== this.batch) {
      throw new RangeError(
        `KVCache: ${batch} sequences given but the cache holds ${this.batch}; ` +
          `make a cache with { batch: ${batch} }`,
      );
    }
    if (dtype !== this.dtype) {
      throw new TypeError(`KVCache: activations are ${dtype} but the cache is ${this.dtype}`);
    }
    if (this.#length + seq > this.maxLength) {
      throw new RangeError(
        `KVCache: ${seq} more tokens after ${this.#length} cached exceed maxLength ` +
          `${this.maxLength}; make a cache with maxLength ≥ ${this.#length + seq}`,
      );
    }
  }

  /**
   * Writes layer `i`'s keys and values of `seq` new tokens per sequence
   * (`[batch·seq, kvHeads·headDim]` each, RoPE already applied to the keys)
   * at positions {@link length} … length+seq−1. The length does not change
   * until {@link advance} (every layer writes the same positions first).
   *
   * @example
   * ```ts
   * import { initGPU, Tensor } from "../mod.ts";
   * import { KVCache } from "./kv_cache.ts";
   * await initGPU();
   * using cache = new KVCache({ numHiddenLayers: 1, numKeyValueHeads: 1, headDim: 2 }, {
   *   batch: 2, maxLength: 3,
   * });
   * using k = Tensor.fromArray([[1, 2], [3, 4]]); // one token for each of 2 sequences
   * cache.write(0, k, k);
   * cache.advance(1);
   * console.log(await cache.keys(0).data()); // Float32Array [1, 2, 0, 0, 0, 0, 3, 4, 0, 0, 0, 0]
   * ```
   */
  write(i: number, k: Tensor, v: Tensor): void {
    this.#layer(i);
    const width = this.kvHeads * this.headDim;
    const seq = k.shape[0] / this.batch;
    for (const [name, t] of [["k", k], ["v", v]] as const) {
      if (t.rank !== 2 || t.shape[1] !== width || t.shape[0] !== k.shape[0]) {
        throw new RangeError(
          `KVCache.write: ${name} ${t} must be [batch·seq, ${width}] (kvHeads·headDim) like k`,
        );
      }
      if (t.dtype !== this.dtype) {
        throw new TypeError(`KVCache.write: ${name} ${t} must be ${this.dtype} like the cache`);
      }
    }
    if (!Number.isInteger(seq) || seq < 1) {
      throw new RangeError(
        `KVCache.write: ${
          k.shape[0]
        } rows are not a whole number of tokens for ${this.batch} sequences`,
      );
    }
    this.checkFits(this.batch, seq, k.dtype);
    const bytes = k.dtype === "f16" ? 2 : 4;
    const rowBytes = width * bytes; // even width (RoPE needs an even headDim) keeps 4-byte alignment
    for (const [src, dst] of [[k, this.#keys[i]], [v, this.#values[i]]]) {
      for (let b = 0; b < this.batch; b++) {
        copy(
          src.buffer,
          b * seq * rowBytes,
          dst.buffer,
          (b * this.maxLength + this.#length) * rowBytes,
          seq * rowBytes,
        );
      }
    }
  }

  /**
   * Marks `n` more positions as cached (after every layer wrote them).
   *
   * @example
   * ```ts
   * import { initGPU } from "../mod.ts";
   * import { KVCache } from "./kv_cache.ts";
   * await initGPU();
   * using cache = new KVCache({ numHiddenLayers: 1, numKeyValueHeads: 1, headDim: 2 }, {
   *   batch: 1, maxLength: 4,
   * });
   * cache.advance(3);
   * console.log(cache.length); // 3
   * ```
   */
  advance(n: number): void {
    this.#alive();
    if (!Number.isInteger(n) || n < 0 || this.#length + n > this.maxLength) {
      throw new RangeError(
        `KVCache.advance: ${n} must be an integer in [0, ${this.maxLength - this.#length}] ` +
          `(maxLength ${this.maxLength} − length ${this.#length})`,
      );
    }
    this.#length += n;
  }

  /**
   * Forgets every cached position (the buffers are kept for reuse).
   *
   * @example
   * ```ts
   * import { initGPU } from "../mod.ts";
   * import { KVCache } from "./kv_cache.ts";
   * await initGPU();
   * using cache = new KVCache({ numHiddenLayers: 1, numKeyValueHeads: 1, headDim: 2 }, {
   *   batch: 1, maxLength: 4,
   * });
   * cache.advance(2);
   * cache.reset();
   * console.log(cache.length); // 0
   * ```
   */
  reset(): void {
    this.#alive();
    this.#length = 0;
  }

  /** Frees the keys and values. Safe to call twice. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    for (const t of [...this.#keys, ...this.#values]) t.dispose();
  }

  /** Disposes at the end of a `using` scope. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  /** A one-line description. */
  toString(): string {
    return `KVCache(${this.layers} layers, batch ${this.batch}, ${this.#length}/${this.maxLength} ` +
      `positions, ${this.kvHeads} kv heads × ${this.headDim}, ${this.dtype})`;
  }

  #alive(): void {
    if (this.#disposed) throw new Error("KVCache: used after dispose()");
  }

  #layer(i: number): void {
    this.#alive();
    if (!Number.isInteger(i) || i < 0 || i >= this.layers) {
      throw new RangeError(`KVCache: layer ${i} does not exist; the cache has ${this.layers}`);
    }
  }
}
