/**
 * Token ids of a batch of equal-length sequences, checked and flattened for
 * the model's forward pass.
 *
 * @example
 * ```ts
 * import { toTokenBatch } from "./tokens.ts";
 * console.log(toTokenBatch([[1, 2], [3, 4]], 256)); // { ids: Int32Array [1, 2, 3, 4], batch: 2, seq: 2 }
 * ```
 * @module
 */

/**
 * Token ids for a batch of equal-length sequences: rows of ids (`number[][]`
 * or an array of `Int32Array`s), or one flat array (one sequence, or
 * `batch` rows of equal length when {@link ForwardOptions.batch} is given).
 */
export type TokenIds = ArrayLike<number> | readonly ArrayLike<number>[];

/** A batch of ids checked and flattened: `batch` rows of `seq` tokens. */
export interface TokenBatch {
  /** Row-major ids, `batch · seq` of them. */
  ids: Int32Array;
  /** Number of sequences. */
  batch: number;
  /** Tokens per sequence. */
  seq: number;
}

/**
 * Checks and flattens ids into a {@link TokenBatch}.
 *
 * @example
 * ```ts
 * import { toTokenBatch } from "./llama.ts";
 * const b = toTokenBatch([[1, 2, 3], [4, 5, 6]], 256);
 * console.log(b.batch, b.seq, b.ids); // 2 3 Int32Array [1, 2, 3, 4, 5, 6]
 * ```
 */
export function toTokenBatch(ids: TokenIds, vocabSize: number, batch?: number): TokenBatch {
  let rows: ArrayLike<number>[];
  const first = (ids as ArrayLike<unknown>)[0];
  if (ids.length > 0 && typeof first === "object" && first !== null) {
    rows = Array.from(ids as readonly ArrayLike<number>[]);
    if (batch !== undefined && batch !== rows.length) {
      throw new RangeError(`ids: ${rows.length} rows given but batch is ${batch}`);
    }
  } else {
    const flat = ids as ArrayLike<number>;
    const b = batch ?? 1;
    if (!Number.isInteger(b) || b < 1 || flat.length % b !== 0) {
      throw new RangeError(`ids: ${flat.length} ids cannot be split into ${b} equal rows`);
    }
    const seq = flat.length / b;
    rows = Array.from(
      { length: b },
      (_, r) => Array.prototype.slice.call(flat, r * seq, r * seq + seq),
    );
  }
  const seq = rows[0]?.length ?? 0;
  if (rows.length === 0 || seq === 0) throw new RangeError("ids: the batch is empty");
  const out = new Int32Array(rows.length * seq);
  rows.forEach((row, r) => {
    if (row.length !== seq) {
      throw new RangeError(
        `ids: row ${r} has ${row.length} tokens but row 0 has ${seq}; sequences in a batch ` +
          `must have equal lengths`,
      );
    }
    for (let t = 0; t < seq; t++) {
      const v = row[t];
      if (!Number.isInteger(v) || v < 0 || v >= vocabSize) {
        throw new RangeError(
          `ids: token ${v} at row ${r}, position ${t} is outside the vocabulary [0, ${vocabSize})`,
        );
      }
      out[r * seq + t] = v;
    }
  });
  return { ids: out, batch: rows.length, seq };
}

/** True when `x` is an already checked {@link TokenBatch}. */
export function isTokenBatch(x: unknown): x is TokenBatch {
  return typeof x === "object" && x !== null && (x as TokenBatch).ids instanceof Int32Array &&
    typeof (x as TokenBatch).batch === "number" && typeof (x as TokenBatch).seq === "number";
}
