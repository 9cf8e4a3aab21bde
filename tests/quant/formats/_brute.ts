/**
 * Brute-force nearest-code searches over a format's value table, written independently of
 * the encoders under test: scan every allowed code and keep the nearest, breaking ties by an
 * explicit rule.
 * @module
 */

/** Parameters of one brute-force search. */
export interface BruteOptions {
  /** Codes the search may return. */
  codes: number[];
  /** Value of a code. */
  value: (code: number) => number;
  /** Distance between input and value (default |x − v|). */
  dist?: (x: number, v: number) => number;
  /** Given two equally near codes, the preferred one. */
  tie: (a: number, b: number) => number;
}

/** The allowed code nearest to `x`. */
export function nearestCode(x: number, o: BruteOptions): number {
  const dist = o.dist ?? ((a: number, v: number) => Math.abs(a - v));
  let best = -1;
  let bestD = Infinity;
  for (const c of o.codes) {
    const d = dist(x, o.value(c));
    if (d < bestD) [best, bestD] = [c, d];
    else if (d === bestD) best = o.tie(best, c);
  }
  return best;
}

/** Prefer the even code. */
export const evenCode = (a: number, b: number): number => (a % 2 === 0 ? a : b);
