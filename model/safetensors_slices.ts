/**
 * Reading many tensors in large slices: the tensors' bytes are read in file
 * order, neighbours merged into one read of up to `sliceBytes`, a tensor
 * larger than that split into `sliceBytes` parts; the next slice is read
 * while the caller uses the current one (two buffers, reused), across the
 * files of a sharded checkpoint too. This is how `loadModel` streams a
 * checkpoint to the GPU without holding it in memory.
 *
 * @example
 * ```ts
 * import { planSlices } from "./safetensors_slices.ts";
 * const plan = planSlices([
 *   { name: "a", begin: 0, end: 8 },
 *   { name: "b", begin: 8, end: 12 },
 *   { name: "c", begin: 12, end: 32 },
 * ], 16);
 * console.log(plan.map((s) => [s.offset, s.length, s.parts.map((p) => p.name).join("+")]));
 * // [[0, 12, "a+b"], [12, 16, "c"], [28, 4, "c"]]
 * ```
 * @module
 */

/** A piece of one tensor inside a slice. */
export interface SlicePart {
  /** The tensor's name. */
  name: string;
  /** Where the piece starts in the slice's bytes. */
  start: number;
  /** Where the piece starts in the tensor's bytes (a multiple of 4 when a tensor is split). */
  offset: number;
  /** The piece's length in bytes. */
  length: number;
  /** The tensor's whole length in bytes: the piece is its last when `offset + length === total`. */
  total: number;
}

/** One contiguous read of a file: its bytes, and the tensor pieces they hold. */
export interface ByteSlice {
  /** The bytes; valid until the next slice is asked for (the buffer is reused). */
  bytes: Uint8Array;
  /** The pieces, in file order. */
  parts: readonly SlicePart[];
}

/** Options of `slices`. */
export interface SliceOptions {
  /** Largest read in bytes, a positive multiple of 4. Default 64 MiB ({@link DEFAULT_SLICE_BYTES}). */
  sliceBytes?: number;
}

/** One planned read: `length` bytes at `offset` of a file's data section. */
export interface SlicePlan {
  /** First byte, relative to the data section. */
  offset: number;
  /** Bytes to read. */
  length: number;
  /** The tensor pieces those bytes hold. */
  parts: SlicePart[];
}

/** A planned read bound to its file: `read(into)` fills `into` (or returns a fresh array). */
export interface SliceJob {
  /** Bytes the read gives. */
  length: number;
  /** The tensor pieces those bytes hold. */
  parts: SlicePart[];
  /** Reads the bytes into `into` (exactly `length` long) and returns the array holding them. */
  read(into: Uint8Array): Promise<Uint8Array>;
}

/** The default largest read of `slices`: 64 MiB. */
export const DEFAULT_SLICE_BYTES: number = 64 * 2 ** 20;

/**
 * Checks a `sliceBytes` option (default {@link DEFAULT_SLICE_BYTES}).
 *
 * @throws {RangeError} naming the value when it is not a positive multiple of 4
 *
 * @example
 * ```ts
 * import { checkSliceBytes } from "./safetensors_slices.ts";
 * console.log(checkSliceBytes(undefined, "x"), checkSliceBytes(1024, "x")); // 67108864 1024
 * ```
 */
export function checkSliceBytes(value: unknown, what: string): number {
  if (value === undefined) return DEFAULT_SLICE_BYTES;
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 4 || value % 4 !== 0) {
    throw new RangeError(
      `${what}: sliceBytes ${JSON.stringify(value)} is not a positive multiple of 4; ` +
        `leave it out for ${DEFAULT_SLICE_BYTES} (64 MiB)`,
    );
  }
  return value;
}

/**
 * Plans the reads of `entries` (byte ranges of one file's data section):
 * sorted by position, neighbours that touch merged while the read stays
 * within `sliceBytes`, a tensor larger than `sliceBytes` read alone in parts
 * of `sliceBytes` (so every part but the last is a multiple of 4 long and
 * starts at a multiple of 4 within the tensor).
 *
 * @param entries the tensors' names and `[begin, end)` byte ranges
 * @param sliceBytes the largest read (a positive multiple of 4)
 *
 * @example
 * ```ts
 * import { planSlices } from "./safetensors_slices.ts";
 * const [s] = planSlices([{ name: "w", begin: 4, end: 10 }], 64);
 * console.log(s.offset, s.length, s.parts[0]); // 4 6 { name: "w", start: 0, offset: 0, length: 6, total: 6 }
 * ```
 */
export function planSlices(
  entries: readonly { name: string; begin: number; end: number }[],
  sliceBytes: number,
): SlicePlan[] {
  const sorted = [...entries].sort((a, b) => a.begin - b.begin);
  const plan: SlicePlan[] = [];
  let open: SlicePlan | undefined; // the slice small neighbours may still join
  for (const { name, begin, end } of sorted) {
    const total = end - begin;
    if (total > sliceBytes) {
      for (let offset = 0; offset < total; offset += sliceBytes) {
        const length = Math.min(sliceBytes, total - offset);
        plan.push({
          offset: begin + offset,
          length,
          parts: [{ name, start: 0, offset, length, total }],
        });
      }
      open = undefined;
    } else if (open && open.offset + open.length === begin && open.length + total <= sliceBytes) {
      open.parts.push({ name, start: open.length, offset: 0, length: total, total });
      open.length += total;
    } else {
      open = {
        offset: begin,
        length: total,
        parts: [{ name, start: 0, offset: 0, length: total, total }],
      };
      plan.push(open);
    }
  }
  return plan;
}

/**
 * Runs `jobs` in order, one read ahead: while the caller handles slice k,
 * slice k + 1 is being read. Two buffers of the largest job are reused, so a
 * slice's bytes are valid only until the next one is asked for.
 *
 * @example
 * ```ts
 * import { readSlices } from "./safetensors_slices.ts";
 * const job = (v: number) => ({
 *   length: 2,
 *   parts: [{ name: `t${v}`, start: 0, offset: 0, length: 2, total: 2 }],
 *   read: (into: Uint8Array) => Promise.resolve(into.fill(v)),
 * });
 * for await (const s of readSlices([job(1), job(2)])) console.log(s.parts[0].name, s.bytes);
 * // t1 Uint8Array [1, 1]
 * // t2 Uint8Array [2, 2]
 * ```
 */
export async function* readSlices(jobs: readonly SliceJob[]): AsyncGenerator<ByteSlice> {
  let largest = 0;
  for (const j of jobs) largest = Math.max(largest, j.length);
  const buffers = [new Uint8Array(largest), new Uint8Array(jobs.length > 1 ? largest : 0)];
  const start = (i: number) => jobs[i].read(buffers[i % 2].subarray(0, jobs[i].length));
  let next: Promise<Uint8Array> | undefined = jobs.length ? start(0) : undefined;
  try {
    for (let i = 0; i < jobs.length; i++) {
      const bytes = await next!;
      next = i + 1 < jobs.length ? start(i + 1) : undefined;
      yield { bytes, parts: jobs[i].parts };
    }
  } finally {
    next?.catch(() => {}); // the caller stopped early: a read in flight must not reject unhandled
  }
}
