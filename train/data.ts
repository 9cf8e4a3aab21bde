/**
 * Token batches over a byte corpus for language-model training: each batch
 * is `batch` windows of `seqLen + 1` consecutive bytes (inputs are the first
 * `seqLen`, targets the last `seqLen`, as `tools/train_tiny.py` cuts them).
 *
 * - {@link randomWindows}: window starts drawn uniformly from
 *   [0, length − seqLen − 1) by a seeded generator (`kernels/random.ts`), so
 *   the same seed gives the same batches on every machine.
 * - {@link replayWindows}: window starts given in advance (for example the
 *   starts PyTorch drew, saved by `tools/train_parity.py`), replayed in order.
 *
 * A source's {@link DataPosition} is plain JSON; `restore` puts a fresh source
 * back where another one was, so a resumed run sees the same batches.
 *
 * @example
 * ```ts
 * import { randomWindows } from "./data.ts";
 * const corpus = new TextEncoder().encode("abcdefghijklmnopqrstuvwxyz");
 * const src = randomWindows(corpus, { batch: 2, seqLen: 4, seed: 1 });
 * const b = src.next();
 * console.log(b.starts.length, b.inputs.length, b.targets[0] === b.inputs[1]); // 2 8 true
 * ```
 * @module
 */
import { Rng } from "../kernels/random.ts";

/** One batch: `inputs` and `targets` are `[batch, seqLen]` row-major byte ids. */
export interface TrainBatch {
  /** Rows in the batch. */
  readonly batch: number;
  /** Tokens per row. */
  readonly seqLen: number;
  /** The window starts in the corpus. */
  readonly starts: readonly number[];
  /** Input ids `[batch, seqLen]`: the window's bytes `start … start + seqLen - 1`. */
  readonly inputs: Int32Array;
  /** Target ids `[batch, seqLen]`: the inputs shifted left by one byte. */
  readonly targets: Int32Array;
}

/** Where a source stands: batches drawn so far (plus what identifies the source). */
export interface DataPosition {
  /** Which kind of source wrote it (`randomWindows` or `replayStarts`). */
  readonly kind: "random" | "replay";
  /** Batches drawn so far. */
  readonly batches: number;
  /** The seed of a `random` source. */
  readonly seed?: number;
}

/** A deterministic stream of token batches. */
export interface BatchSource {
  /** Rows per batch. */
  readonly batch: number;
  /** Tokens per row. */
  readonly seqLen: number;
  /** The next batch. */
  next(): TrainBatch;
  /** Where the stream stands now (JSON). */
  position(): DataPosition;
  /** Moves the stream to `pos` (from `position()` of a source built the same way). */
  restore(pos: DataPosition): void;
}

/** Options of {@link randomWindows}. */
export interface RandomWindowsOptions {
  /** Windows per batch. */
  batch: number;
  /** Tokens per window (each window reads seqLen + 1 bytes). */
  seqLen: number;
  /** Seed of the start generator. Default 0. */
  seed?: number;
}

function checkShape(op: string, corpus: Uint8Array, batch: number, seqLen: number): void {
  if (!(corpus instanceof Uint8Array)) {
    throw new TypeError(
      `${op}: the corpus must be a Uint8Array of bytes (Deno.readFile gives one)`,
    );
  }
  for (const [k, v] of [["batch", batch], ["seqLen", seqLen]] as const) {
    if (!Number.isInteger(v) || v < 1) {
      throw new RangeError(`${op}: ${k} is ${v}; it must be an integer ≥ 1`);
    }
  }
  if (corpus.length < seqLen + 2) {
    throw new RangeError(
      `${op}: the corpus has ${corpus.length} bytes; windows of seqLen + 1 = ${seqLen + 1} ` +
        `need at least ${seqLen + 2}; use a shorter seqLen or a longer corpus`,
    );
  }
}

function cut(corpus: Uint8Array, starts: readonly number[], seqLen: number): TrainBatch {
  const batch = starts.length;
  const inputs = new Int32Array(batch * seqLen);
  const targets = new Int32Array(batch * seqLen);
  starts.forEach((s, b) => {
    for (let t = 0; t < seqLen; t++) {
      inputs[b * seqLen + t] = corpus[s + t];
      targets[b * seqLen + t] = corpus[s + t + 1];
    }
  });
  return { batch, seqLen, starts, inputs, targets };
}

/**
 * Random windows: starts uniform in [0, corpus.length − seqLen − 1), drawn
 * from `Rng(seed)`, `batch` per call.
 *
 * @example
 * ```ts
 * import { randomWindows } from "./data.ts";
 * const corpus = new Uint8Array(1000).map((_, i) => i % 251);
 * const a = randomWindows(corpus, { batch: 3, seqLen: 8, seed: 5 });
 * a.next();
 * const b = randomWindows(corpus, { batch: 3, seqLen: 8, seed: 5 });
 * b.restore(a.position());
 * console.log(a.next().starts.join() === b.next().starts.join()); // true
 * ```
 */
export function randomWindows(corpus: Uint8Array, options: RandomWindowsOptions): BatchSource {
  const { batch, seqLen } = options;
  const seed = options.seed ?? 0;
  checkShape("randomWindows", corpus, batch, seqLen);
  const range = corpus.length - seqLen - 1;
  let rng = new Rng(seed);
  let drawn = 0;
  const draw = () => Array.from({ length: batch }, () => Math.floor(rng.next() * range));
  return {
    batch,
    seqLen,
    next() {
      drawn++;
      return cut(corpus, draw(), seqLen);
    },
    position: () => ({ kind: "random", batches: drawn, seed }),
    restore(pos) {
      if (pos.kind !== "random" || pos.seed !== seed) {
        throw new RangeError(
          `randomWindows.restore: position ${JSON.stringify(pos)} is not from a random-window ` +
            `source with seed ${seed}; build the source with the seed the checkpoint was made with`,
        );
      }
      rng = new Rng(seed);
      for (let k = 0; k < pos.batches; k++) draw();
      drawn = pos.batches;
    },
  };
}

/**
 * Replays given window starts, `batch` per call, in order (`starts.length`
 * must be a multiple of `batch`); throws when they run out.
 *
 * @example
 * ```ts
 * import { replayWindows } from "./data.ts";
 * const corpus = new TextEncoder().encode("hello world");
 * const src = replayWindows(corpus, [0, 6], { batch: 1, seqLen: 4 });
 * src.next();
 * console.log(String.fromCharCode(...src.next().inputs)); // worl
 * ```
 */
export function replayWindows(
  corpus: Uint8Array,
  starts: ArrayLike<number>,
  options: { batch: number; seqLen: number },
): BatchSource {
  const { batch, seqLen } = options;
  const op = "replayWindows";
  checkShape(op, corpus, batch, seqLen);
  if (starts.length % batch !== 0) {
    throw new RangeError(
      `${op}: ${starts.length} starts are not a whole number of batches of ${batch}`,
    );
  }
  for (let k = 0; k < starts.length; k++) {
    const s = starts[k];
    if (!Number.isInteger(s) || s < 0 || s + seqLen + 1 > corpus.length) {
      throw new RangeError(
        `${op}: start ${s} (index ${k}) is not a window of ${seqLen + 1} bytes inside the ` +
          `${corpus.length}-byte corpus`,
      );
    }
  }
  const total = starts.length / batch;
  let at = 0;
  return {
    batch,
    seqLen,
    next() {
      if (at >= total) {
        throw new RangeError(`${op}: all ${total} batches have been replayed; pass more starts`);
      }
      const s = Array.from({ length: batch }, (_, b) => starts[at * batch + b]);
      at++;
      return cut(corpus, s, seqLen);
    },
    position: () => ({ kind: "replay", batches: at }),
    restore(pos) {
      if (pos.kind !== "replay" || !(pos.batches >= 0 && pos.batches <= total)) {
        throw new RangeError(
          `${op}.restore: position ${JSON.stringify(pos)} is not a replay position within ` +
            `${total} batches`,
        );
      }
      at = pos.batches;
    },
  };
}
