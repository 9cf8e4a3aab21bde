/**
 * Fuzzing helpers shared by the file fuzz tests: a seeded generator (so a
 * failing case can be replayed from its seed and number) and byte-level
 * mutations of a file.
 * @module
 */

/** mulberry32: a small seeded generator returning numbers in [0, 1). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** An integer in [0, n). */
export function below(r: () => number, n: number): number {
  return Math.floor(r() * n);
}

/** One element of `xs`. */
export function pick<T>(r: () => number, xs: readonly T[]): T {
  return xs[below(r, xs.length)];
}

/** A named byte-level mutation: returns a new array (the input is never changed). */
export type ByteMutation = [
  string,
  (b: Uint8Array, r: () => number, other: Uint8Array) => Uint8Array,
];

/** Numbers that break length and offset fields when written over them. */
const EVIL = [0x7fffffff, 0xffffffff, 0x80000000, 0, 1, 0xffff, 2 ** 28, 2 ** 31 - 8];

/**
 * Mutations that keep a file's first and last `keep` bytes (its magic) so the
 * damage reaches the parser rather than the magic check, plus plain truncation.
 */
export function byteMutations(keep: number): ByteMutation[] {
  const inner = (b: Uint8Array, r: () => number) =>
    keep + below(r, Math.max(1, b.length - 2 * keep));
  return [
    ["bit flips", (b, r) => {
      const c = b.slice();
      for (let k = 1 + below(r, 4); k > 0; k--) c[inner(c, r)] ^= 1 << below(r, 8);
      return c;
    }],
    ["random bytes", (b, r) => {
      const c = b.slice();
      const at = inner(c, r);
      for (let i = at; i < Math.min(c.length - keep, at + 1 + below(r, 16)); i++) {
        c[i] = below(r, 256);
      }
      return c;
    }],
    ["evil int32", (b, r) => {
      const c = b.slice();
      const at = inner(c, r) & ~3;
      if (at + 4 <= c.length - keep) {
        new DataView(c.buffer).setUint32(at, pick(r, EVIL), true);
      }
      return c;
    }],
    ["evil int64", (b, r) => {
      const c = b.slice();
      const at = inner(c, r) & ~7;
      if (at + 8 <= c.length - keep) {
        new DataView(c.buffer).setBigInt64(
          at,
          BigInt(pick(r, [-1, 2 ** 53, 2 ** 40, 2 ** 31])),
          true,
        );
      }
      return c;
    }],
    ["cut out the middle", (b, r) => {
      const from = inner(b, r);
      const to = Math.min(b.length - keep, from + 1 + below(r, 64));
      const c = new Uint8Array(b.length - (to - from));
      c.set(b.subarray(0, from));
      c.set(b.subarray(to), from);
      return c;
    }],
    ["splice from another file", (b, r, other) => {
      const c = b.slice();
      const from = below(r, other.length);
      const chunk = other.subarray(from, from + 1 + below(r, 48));
      const at = inner(c, r);
      c.set(chunk.subarray(0, Math.max(0, c.length - keep - at)), at);
      return c;
    }],
    ["zeros", (b, r) => {
      const c = b.slice();
      const at = inner(c, r);
      c.fill(0, at, Math.min(c.length - keep, at + 1 + below(r, 32)));
      return c;
    }],
    ["truncate", (b, r) => b.slice(0, below(r, b.length))],
  ];
}
