/**
 * Calibration capture: run calibration sequences through the model one
 * decoder layer at a time and hand every linear layer's input to a hook or
 * to observers, holding only the current layer's hidden states of all
 * sequences (as GPTQ does). Layer i+1's inputs are computed from layer i's
 * outputs; with `afterLayer` the caller can replace layer i's linears (e.g.
 * quantize them from the statistics just collected) and layer i's outputs are
 * then recomputed with the new linears, so later layers calibrate on the
 * activations the quantized model will actually produce.
 *
 * {@link calibrationSequences} draws the seeded windows.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../mod.ts";
 * import { loadModel } from "./load.ts";
 * import { calibrationSequences, captureLayerInputs } from "./capture.ts";
 * await initGPU();
 * using model = await loadModel("data/tiny");
 * const text = await Deno.readTextFile("data/corpus/train.txt");
 * const seqs = calibrationSequences(text, { n: 4, seqLen: 64, seed: 0 });
 * const tokens = new Map<string, number>();
 * await captureLayerInputs(model, seqs, {
 *   onLinearInput: (name, x: Tensor) => void tokens.set(name, (tokens.get(name) ?? 0) + x.shape[0]),
 *   progress: false,
 * });
 * console.log(tokens.size, tokens.get("layers.3.mlp.down_proj")); // 28 256
 * ```
 * @module
 */
import { Rng } from "../kernels/random.ts";
import type { Tensor } from "../kernels/tensor.ts";
import { progress as progressBar } from "../viz/progress.ts";
import type { LlamaModel } from "./llama.ts";
import { ByteTokenizer, type Tokenizer } from "./tokenizer.ts";

/** Options of {@link calibrationSequences}. */
export interface CalibrationOptions {
  /** Number of sequences. */
  n: number;
  /** Tokens per sequence. */
  seqLen: number;
  /** Seed: the same seed gives the same windows. Default 0. */
  seed?: number;
  /** Tokenizer for text; default the byte tokenizer. */
  tokenizer?: Tokenizer;
}

/**
 * `n` windows of `seqLen` tokens drawn uniformly at random (seeded, with
 * replacement) from text, bytes or a token stream — the usual calibration set
 * (e.g. GPTQ: 128 × 2048 tokens of C4).
 *
 * @example
 * ```ts
 * import { calibrationSequences } from "./capture.ts";
 * const a = calibrationSequences("abcdefghijklmnopqrstuvwxyz", { n: 3, seqLen: 4, seed: 7 });
 * const b = calibrationSequences("abcdefghijklmnopqrstuvwxyz", { n: 3, seqLen: 4, seed: 7 });
 * console.log(a.length, a[0].length, String(a) === String(b)); // 3 4 true
 * ```
 */
export function calibrationSequences(
  source: string | ArrayLike<number>,
  options: CalibrationOptions,
): Int32Array[] {
  const { n, seqLen, seed = 0 } = options;
  if (!Number.isInteger(n) || n < 1) {
    throw new RangeError(`calibrationSequences: n ${n} must be ≥ 1`);
  }
  if (!Number.isInteger(seqLen) || seqLen < 1) {
    throw new RangeError(`calibrationSequences: seqLen ${seqLen} must be ≥ 1`);
  }
  const ids: ArrayLike<number> = typeof source === "string"
    ? (options.tokenizer ?? new ByteTokenizer()).encode(source)
    : source;
  if (ids.length < seqLen) {
    throw new RangeError(
      `calibrationSequences: the source has ${ids.length} tokens, fewer than seqLen ${seqLen}`,
    );
  }
  const rng = new Rng(seed);
  const starts = ids.length - seqLen + 1;
  return Array.from({ length: n }, () => {
    const s = Math.floor(rng.next() * starts);
    return Int32Array.from(Array.prototype.slice.call(ids, s, s + seqLen) as number[]);
  });
}

/** Anything with `observe(x)`: the observers of `quant/calib` fit. */
export interface ObserverLike {
  /** Queues statistics of one batch `[tokens, channels]`. */
  observe(x: Tensor): void;
}

/**
 * Where observers come from: a map by linear name, or a factory called once
 * per linear name the first time its input is seen (return undefined to skip it).
 */
export type ObserverSource =
  | Map<string, ObserverLike>
  | ((name: string, layer: number) => ObserverLike | undefined);

/** Options of {@link captureLayerInputs}. */
export interface CaptureOptions {
  /**
   * Called with each linear's input `[tokens, in]` (tokens = the chunk's
   * sequences × seqLen), for every chunk of sequences. The tensor is valid
   * until the hook (or its promise) returns; don't dispose it. q/k/v (and
   * gate/up) share one tensor object.
   */
  onLinearInput?: (
    name: string,
    x: Tensor,
    info: { layer: number; chunk: number },
  ) => void | Promise<void>;
  /** Observers fed with each linear's input (see {@link ObserverSource}). */
  observers?: ObserverSource;
  /**
   * Called after layer `i`'s inputs were all captured, before the next layer
   * runs: the place to finish observers and replace the layer's linears
   * (`model.setLinear`). Layer i's outputs are then recomputed with the
   * current linears (see `recompute`).
   */
  afterLayer?: (layer: number, model: LlamaModel) => void | Promise<void>;
  /**
   * Recompute layer i's outputs after `afterLayer` (default true when
   * `afterLayer` is given). With false, the next layer sees the outputs of
   * the layer as it was during capture.
   */
  recompute?: boolean;
  /** Sequences per forward chunk. Default: as many as fit in 4096 tokens (at least 1). */
  batchSize?: number;
  /** Capture only the first `layers` layers. Default all. */
  layers?: number;
  /** Return the final hidden states (after the last captured layer). Default false. */
  keepHidden?: boolean;
  /** Show a progress bar over layers (true, or a label). Default true. */
  progress?: boolean | string;
}

/**
 * Checks calibration sequences: at least one, each of `minLength` tokens or
 * more (default 1), all of one length, every id an integer in
 * [0, vocabSize). Returns the length. Errors name `op`, the sequence and the
 * token, and say how to fix it.
 *
 * @example
 * ```ts
 * import { checkSequences } from "./capture.ts";
 * console.log(checkSequences([[1, 2], [3, 4]], 256)); // 2
 * try {
 *   checkSequences([[]], 256, { op: "gptqModel", minLength: 2 });
 * } catch (e) {
 *   console.log((e as Error).message.split(";")[0]); // gptqModel: sequence 0 has 0 tokens
 * }
 * ```
 */
export function checkSequences(
  sequences: readonly ArrayLike<number>[],
  vocabSize: number,
  options: { op?: string; minLength?: number } = {},
): number {
  const op = options.op ?? "checkSequences";
  const min = options.minLength ?? 1;
  if (!Array.isArray(sequences) || sequences.length === 0) {
    throw new RangeError(
      `${op}: no calibration sequences given; pass token windows, e.g. ` +
        `calibrationSequences(text, { n: 8, seqLen: 128 })`,
    );
  }
  const seqLen = sequences[0]?.length;
  for (let i = 0; i < sequences.length; i++) {
    const s = sequences[i];
    if (s === null || typeof s !== "object" || typeof s.length !== "number") {
      throw new TypeError(`${op}: sequence ${i} is ${String(s)}, not an array of token ids`);
    }
    if (s.length < min) {
      throw new RangeError(
        `${op}: sequence ${i} has ${s.length} tokens; calibration needs at least ${min} per ` +
          `sequence (choose a larger seqLen)`,
      );
    }
    if (s.length !== seqLen) {
      throw new RangeError(
        `${op}: sequence ${i} has ${s.length} tokens but sequence 0 has ${seqLen}; calibration ` +
          `sequences must have equal lengths`,
      );
    }
    for (let t = 0; t < s.length; t++) {
      const v = s[t];
      if (!Number.isInteger(v) || v < 0 || v >= vocabSize) {
        throw new RangeError(
          `${op}: token ${v} at sequence ${i}, position ${t} is outside the vocabulary ` +
            `[0, ${vocabSize}); tokenize with the model's tokenizer`,
        );
      }
    }
  }
  return seqLen;
}

/** The result of {@link captureLayerInputs}. */
export interface CaptureResult {
  /** The observers that were fed, by linear name. */
  observers: Map<string, ObserverLike>;
  /** Layers run. */
  layers: number;
  /** Sequences and tokens per sequence. */
  sequences: number;
  /** Tokens per sequence. */
  seqLen: number;
  /**
   * With `keepHidden`: the residual stream after the last captured layer,
   * one `[chunkSequences·seqLen, hidden]` tensor per chunk in sequence order
   * (the caller owns and disposes them).
   */
  hidden?: Tensor[];
}

/**
 * Runs `sequences` (equal-length token windows) through `model` one decoder
 * layer at a time, feeding each linear layer's inputs to `onLinearInput`
 * and/or observers. Memory: the hidden states of all sequences for the
 * current layer, plus one chunk's activations.
 *
 * @example
 * ```ts
 * import { initGPU } from "../mod.ts";
 * import { loadModel } from "./load.ts";
 * import { calibrationSequences, captureLayerInputs } from "./capture.ts";
 * await initGPU();
 * using model = await loadModel("data/tiny");
 * const seqs = calibrationSequences(await Deno.readFile("data/corpus/train.txt"), { n: 2, seqLen: 32 });
 * const done: number[] = [];
 * // afterLayer: where a quantizer would replace layer i's linears (model.setLinear)
 * await captureLayerInputs(model, seqs, { afterLayer: (i) => void done.push(i), progress: false });
 * console.log(done); // [0, 1, 2, 3]
 * ```
 */
export async function captureLayerInputs(
  model: LlamaModel,
  sequences: readonly ArrayLike<number>[],
  options: CaptureOptions = {},
): Promise<CaptureResult> {
  const seqLen = checkSequences(sequences, model.config.vocabSize, { op: "captureLayerInputs" });
  const batchSize = options.batchSize ?? Math.max(1, Math.floor(4096 / seqLen));
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new RangeError(`captureLayerInputs: batchSize ${batchSize} must be a positive integer`);
  }
  const nLayers = options.layers ?? model.numLayers;
  if (!Number.isInteger(nLayers) || nLayers < 0 || nLayers > model.numLayers) {
    throw new RangeError(
      `captureLayerInputs: layers ${nLayers} must be in [0, ${model.numLayers}]`,
    );
  }
  const chunks = [];
  for (let s = 0; s < sequences.length; s += batchSize) {
    chunks.push(model.tokenBatch(sequences.slice(s, s + batchSize)));
  }
  const observers = new Map<string, ObserverLike>();
  const source = options.observers;
  const observerFor = (name: string, layer: number): ObserverLike | undefined => {
    if (!source) return undefined;
    if (source instanceof Map) {
      const o = source.get(name);
      if (o) observers.set(name, o);
      return o;
    }
    if (!observers.has(name)) {
      const o = source(name, layer);
      if (o) observers.set(name, o);
    }
    return observers.get(name);
  };

  let hidden: Tensor[] = chunks.map((c) => model.embed(c.ids));
  const recompute = options.recompute ?? options.afterLayer !== undefined;
  const layerIds = Array.from({ length: nLayers }, (_, i) => i);
  const iter = options.progress ?? true
    ? progressBar(layerIds, {
      label: typeof options.progress === "string" ? options.progress : "capture",
      total: nLayers,
    })
    : layerIds;
  try {
    for (const layer of iter) {
      const outputs: Tensor[] = [];
      try {
        for (let c = 0; c < chunks.length; c++) {
          const { batch, seq } = chunks[c];
          const out = await model.layerForwardAsync(
            layer,
            hidden[c],
            batch,
            seq,
            async (name, x) => {
              observerFor(name, layer)?.observe(x);
              if (options.onLinearInput) await options.onLinearInput(name, x, { layer, chunk: c });
            },
          );
          outputs.push(out);
        }
        if (options.afterLayer) await options.afterLayer(layer, model);
        if (recompute) {
          for (let c = 0; c < chunks.length; c++) {
            outputs[c].dispose();
            outputs[c] = model.layerForward(layer, hidden[c], chunks[c].batch, chunks[c].seq);
          }
        }
      } catch (e) {
        for (const t of outputs) t.dispose();
        throw e;
      }
      for (const t of hidden) t.dispose();
      hidden = outputs;
    }
  } catch (e) {
    for (const t of hidden) t.dispose();
    throw e;
  }
  if (!options.keepHidden) {
    for (const t of hidden) t.dispose();
  }
  return {
    observers,
    layers: nLayers,
    sequences: sequences.length,
    seqLen,
    hidden: options.keepHidden ? hidden : undefined,
  };
}
