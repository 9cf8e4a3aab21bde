/**
 * Seeded test data for the format tests: mulberry32 (Tommy Ettinger's 32-bit generator),
 * Box–Muller normals, and input mixes that hit ties, subnormals, overflow and −0.
 * @module
 */

/** A deterministic generator of uniforms in [0, 1). */
export type Rng = () => number;

/** mulberry32 with a 32-bit seed. */
export function rng(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal (Box–Muller). */
export function gaussian(r: Rng): number {
  const u = 1 - r();
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * r());
}

/** `n` f32 normals with standard deviation `std`. */
export function gaussianArray(r: Rng, n: number, std = 1): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = gaussian(r) * std;
  return out;
}

/**
 * Test inputs for a scalar format whose finite values are `values`: every value, every
 * midpoint of neighbours (exact ties, in binary64), points a little either side of each
 * midpoint, log-uniform f32 from far below the smallest to far above the largest magnitude,
 * uniform values, ±0 and ±Infinity. Both signs throughout.
 */
export function inputsFor(values: ArrayLike<number>, r: Rng, randomCount = 4000): number[] {
  const mags = [...new Set(Array.from(values).filter(Number.isFinite).map(Math.abs))].sort(
    (a, b) => a - b,
  );
  const max = mags[mags.length - 1];
  const minPos = mags.find((v) => v > 0) ?? 1;
  const out: number[] = [0, -0, Infinity, -Infinity, max * 1.5, max * 1e6, minPos / 2, minPos / 4];
  for (let i = 0; i < mags.length; i++) {
    out.push(mags[i]);
    if (i + 1 < mags.length) {
      const mid = (mags[i] + mags[i + 1]) / 2;
      const eps = (mags[i + 1] - mags[i]) * 1e-6;
      out.push(mid, mid - eps, mid + eps, Math.fround(mid));
    }
  }
  const lo = Math.log2(minPos) - 4;
  const hi = Math.log2(max) + 3;
  for (let i = 0; i < randomCount; i++) {
    out.push(Math.fround(2 ** (lo + (hi - lo) * r())));
    out.push(Math.fround((r() * 2 - 1) * max * 1.2));
  }
  return out.flatMap((v) => [v, -v]);
}
