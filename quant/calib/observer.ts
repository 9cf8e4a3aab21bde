/**
 * The observer protocol shared by every calibration observer: `observe(x)`
 * encodes GPU work for one batch of activations `[tokens, channels]` (leading
 * dimensions are flattened into tokens) and returns at once; `await finish()`
 * reads the small accumulated tensors back once and gives the statistics.
 *
 * Also here: {@link NonFiniteError}, thrown by `finish()` when a batch held
 * NaN or ±Inf, naming the layer, the channels and the batch; and the GPU
 * tracker that finds them from a per-channel probe without reading back per
 * batch.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { MinMaxObserver } from "./observers.ts";
 * await initGPU();
 * const obs = new MinMaxObserver("layers.0.q_proj");
 * using x = Tensor.fromArray([[1, -2], [NaN, 4]]);
 * obs.observe(x);
 * try {
 *   await obs.finish();
 * } catch (e) {
 *   console.log((e as Error).name); // "NonFiniteError"
 * }
 * ```
 * @module
 */
import type { Tensor } from "../../kernels/tensor.ts";
import { add, binary, cast, mul, unary } from "../../kernels/ops/elementwise.ts";

/** A streaming statistic over batches of activations of one layer. */
export interface Observer<R> {
  /** The layer's name, used in tables and error messages. */
  readonly layer: string;
  /** Tokens observed so far. */
  readonly tokens: number;
  /** Batches observed so far. */
  readonly batches: number;
  /** Queues the statistics of one batch `[tokens, channels]`; returns without waiting. */
  observe(x: Tensor): void;
  /** Reads the accumulated statistics back (once; the observer is spent afterwards). */
  finish(): Promise<R>;
}

/** Where non-finite values were first seen. */
export interface NonFiniteSite {
  /** The observer's layer. */
  layer: string;
  /** "NaN" or "Inf" (±Inf, or an f32 overflow of a per-channel sum). */
  kind: "NaN" | "Inf";
  /** Every channel that held the value in its first bad batch (ascending). */
  channels: number[];
  /** Index of the first batch that held it (0-based). */
  batch: number;
  /** Token range `[start, end)` of that batch in the observed stream. */
  tokens: [number, number];
  /** The token (stream index) of the first bad value, when known exactly. */
  token?: number;
}

/**
 * Thrown by an observer's `finish()` when the activations held NaN or ±Inf:
 * statistics with those in them would silently poison every scale derived
 * from them. The message names the layer, channel(s) and batch.
 *
 * @example
 * ```ts
 * import { NonFiniteError } from "./observer.ts";
 * const e = new NonFiniteError({
 *   layer: "mlp.down_proj", kind: "NaN", channels: [5], batch: 2, tokens: [22, 23],
 * });
 * console.log(e.message.includes("channel 5")); // true
 * ```
 */
export class NonFiniteError extends Error {
  /** Where it was seen. */
  readonly site: NonFiniteSite;
  /**
   * An error for a site.
   * @param site where the values were first seen
   */
  constructor(site: NonFiniteSite) {
    const { layer, kind, channels, batch, tokens, token } = site;
    const list = channels.length <= 8
      ? channels.join(", ")
      : `${channels.slice(0, 8).join(", ")} and ${channels.length - 8} more`;
    super(
      `layer "${layer}": ${kind === "NaN" ? "NaN" : "±Inf (or an f32 overflow)"} in ` +
        `channel${channels.length > 1 ? "s" : ""} ${list}, first in batch ${batch} ` +
        `(tokens ${tokens[0]}–${tokens[1] - 1} of the stream${
          token === undefined ? "" : `; first at token ${token}`
        }). No statistics were produced: find where the activations go non-finite ` +
        `(check the model's inputs, dtype overflow in f16, or a bad weight).`,
    );
    this.name = "NonFiniteError";
    this.site = site;
  }
}

/** Largest finite f32. */
export const F32_MAX = 3.4028234663852886e38;
const NEVER = 2 ** 24; // "no bad batch yet"; batch indices stay exact in f32 below it

/**
 * Tracks, per channel and on the GPU, the first batch whose per-channel
 * probe (a sum or an absmax, NaN or ±Inf exactly when the channel held a
 * non-finite value) was NaN, and the first where it was infinite. A handful
 * of elementwise ops on `[channels]` tensors per batch; read back at {@link check}.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { NonFiniteTracker } from "./observer.ts";
 * await initGPU();
 * const t = new NonFiniteTracker();
 * using ok = Tensor.fromArray([1, 2]);
 * using bad = Tensor.fromArray([1, Infinity]);
 * t.track(ok, 0);
 * t.track(bad, 1);
 * console.log(await t.firstBad()); // { kind: "Inf", batch: 1, channels: [1] }
 * t.dispose();
 * ```
 */
export class NonFiniteTracker {
  #firstNan?: Tensor;
  #firstInf?: Tensor;

  /** Records batch `batch`'s probe `[channels]` (f32). */
  track(probe: Tensor, batch: number): void {
    using nan = unary("isnan", probe);
    using mag = unary("abs", probe);
    using infMask = binary("gt", mag, F32_MAX);
    using inf = cast(infMask, "f32");
    this.#firstNan = this.#update(this.#firstNan, nan, batch);
    this.#firstInf = this.#update(this.#firstInf, inf, batch);
  }

  #update(prev: Tensor | undefined, flag: Tensor, batch: number): Tensor {
    // flag·(b − NEVER) + NEVER is b where flagged, NEVER elsewhere (exact in f32).
    using scaled = mul(flag, batch - NEVER);
    const cand = add(scaled, NEVER);
    if (!prev) return cand;
    const next = binary("min", prev, cand);
    prev.dispose();
    cand.dispose();
    return next;
  }

  /** The earliest non-finite batch and its channels (NaN before Inf on a tie), or undefined. */
  async firstBad(): Promise<
    { kind: "NaN" | "Inf"; batch: number; channels: number[] } | undefined
  > {
    if (!this.#firstNan || !this.#firstInf) return undefined;
    const [nan, inf] = await Promise.all([this.#firstNan.data(), this.#firstInf.data()]);
    let best: { kind: "NaN" | "Inf"; batch: number; channels: number[] } | undefined;
    for (const [kind, arr] of [["NaN", nan], ["Inf", inf]] as const) {
      let b = NEVER;
      for (const v of arr) if (v < b) b = v;
      if (b < NEVER && (!best || b < best.batch)) {
        const channels: number[] = [];
        arr.forEach((v, c) => v === b && channels.push(c));
        best = { kind, batch: b, channels };
      }
    }
    return best;
  }

  /** Throws a {@link NonFiniteError} if any batch held NaN/Inf. */
  async check(layer: string, batchStarts: readonly number[], tokens: number): Promise<void> {
    const bad = await this.firstBad();
    if (!bad) return;
    const end = bad.batch + 1 < batchStarts.length ? batchStarts[bad.batch + 1] : tokens;
    throw new NonFiniteError({
      layer,
      kind: bad.kind,
      channels: bad.channels,
      batch: bad.batch,
      tokens: [batchStarts[bad.batch], end],
    });
  }

  /** Frees the tracking tensors. */
  dispose(): void {
    this.#firstNan?.dispose();
    this.#firstInf?.dispose();
    this.#firstNan = this.#firstInf = undefined;
  }
}

/**
 * Base of the observers: checks each batch (rank ≥ 2, float dtype, the same
 * channel count as the first batch), flattens it to `[tokens, channels]` f32,
 * counts tokens and batches, and refuses use after `finish()`.
 * Subclasses implement {@link BatchObserver.accumulate} and {@link BatchObserver.result}.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { BatchObserver } from "./observer.ts";
 * await initGPU();
 * class Count extends BatchObserver<number> {
 *   protected accumulate(): void {}
 *   protected result(): Promise<number> { return Promise.resolve(this.tokens); }
 * }
 * const c = new Count("demo");
 * using x = Tensor.zeros([2, 3, 4]);
 * c.observe(x);
 * console.log(await c.finish()); // 6
 * ```
 */
export abstract class BatchObserver<R> implements Observer<R> {
  /** The layer's name. */
  readonly layer: string;
  #channels: number | undefined;
  #tokens = 0;
  #finished = false;
  /** Token offset of each batch in the stream. */
  protected readonly batchStarts: number[] = [];

  /**
   * An observer with nothing observed yet.
   * @param layer the layer's name (tables, error messages)
   */
  constructor(layer: string) {
    if (typeof layer !== "string" || layer === "") {
      throw new TypeError(`${new.target.name}: a layer name is required`);
    }
    this.layer = layer;
  }

  /** Tokens observed so far. */
  get tokens(): number {
    return this.#tokens;
  }

  /** Batches observed so far. */
  get batches(): number {
    return this.batchStarts.length;
  }

  /** Channels (the last dimension of the first batch); undefined before it. */
  get channels(): number | undefined {
    return this.#channels;
  }

  /** Queues batch `x` (`[..., channels]`, f32 or f16). */
  observe(x: Tensor): void {
    const what = `${this.constructor.name} "${this.layer}"`;
    if (this.#finished) throw new Error(`${what}: observe() after finish()`);
    if (x.rank < 2) {
      throw new RangeError(
        `${what}: batch ${this.batches} is ${x.toString()}; expected [tokens, channels] ` +
          `(or [..., channels])`,
      );
    }
    if (x.dtype !== "f32" && x.dtype !== "f16") {
      throw new TypeError(`${what}: batch ${this.batches} is ${x.toString()}; expected f32 or f16`);
    }
    const c = x.shape[x.rank - 1];
    if (this.#channels === undefined) {
      if (c === 0) throw new RangeError(`${what}: batch ${this.batches} has 0 channels`);
      this.#channels = c;
    } else if (c !== this.#channels) {
      throw new RangeError(
        `${what}: batch ${this.batches} has ${c} channels (${x.toString()}); ` +
          `earlier batches had ${this.#channels}`,
      );
    }
    const t = x.size / c;
    const batch = this.batches;
    this.batchStarts.push(this.#tokens);
    this.#tokens += t;
    if (t === 0) return;
    const f32 = x.dtype === "f32" ? undefined : cast(x, "f32");
    const view = (f32 ?? x).reshape([t, c]);
    try {
      this.accumulate(view, batch);
    } finally {
      view.dispose();
      f32?.dispose();
    }
  }

  /** Reads the statistics back; throws if nothing (or a non-finite value) was observed. */
  async finish(): Promise<R> {
    const what = `${this.constructor.name} "${this.layer}"`;
    if (this.#finished) throw new Error(`${what}: finish() was already called`);
    this.#finished = true;
    try {
      if (this.#tokens === 0) {
        throw new RangeError(`${what}: no tokens were observed; call observe(x) first`);
      }
      return await this.result();
    } finally {
      this.release();
    }
  }

  /** Encodes the work for one `[tokens, channels]` f32 batch (tokens ≥ 1). */
  protected abstract accumulate(x: Tensor, batch: number): void;
  /** Reads back and builds the result. */
  protected abstract result(): Promise<R>;
  /** Frees GPU state (called after `result`, also on error). */
  protected release(): void {}
}
