/**
 * Ternary weights {−1, 0, +1} times a scale: BitNet b1.58's absmean quantizer and the
 * absmedian variant.
 *
 * Source: Ma et al., "The Era of 1-bit LLMs: All Large Language Models are in 1.58 Bits"
 * (BitNet b1.58), 2024, eq. 1–3: W̃ = RoundClip(W / (γ + ε), −1, 1), γ = mean |W|,
 * RoundClip(x, a, b) = max(a, min(b, round(x))). Nielsen & Schneider-Kamp, "BitNet b1.58
 * Reloaded: State-of-the-art Performance Also on Smaller Networks", 2024: the same with
 * γ = median |W|.
 *
 * Exact rules here: γ is summed (or the median taken) in binary64 over the block, then the
 * stored scale is s = f32(max(γ, ε)) with ε = 1e−5 by default — the paper's γ + ε, written as a
 * floor so that the scale used to divide is the one stored; the two differ by at most ε.
 * code = RoundClip(f32(w / s)) with round half to even. Dequantized w = code · s.
 * Codes are 2-bit two's complement (0 → 0, 1 → +1, 3 → −1; 2 is reserved). Storage is 2 bits
 * per weight (+ 32 per block); the information content is log2(3) ≈ 1.585 bits.
 * A GPU kernel that reduces γ in another order may differ in the last f32 bit of the scale;
 * compare codes given the same scale (see {@link encodeTernary}).
 *
 * @module
 */

import {
  type BlockFormat,
  checkedAmax,
  type ElementFormat,
  f32ScaledFormat,
  type FormatFamily,
} from "./format.ts";
import { INT_FAMILY, intFormat, intScales } from "./int.ts";

/**
 * The ternary family: the int family (stored as `int2` codes), whose mean
 * scale (BitNet's absmean γ) is at least 10⁻⁵, as BitNet b1.58 clamps it.
 */
export const TERNARY_FAMILY: FormatFamily = {
  ...INT_FAMILY,
  name: "ternary",
  scale: intScales(1e-5),
};

/** The ternary element: 2-bit restricted-range integer {−1, 0, 1}. */
export const ternaryElement: ElementFormat = {
  ...intFormat(2, { range: "restricted" }),
  name: "ternary",
  family: TERNARY_FAMILY,
};

/** How the ternary scale γ is computed from |W|. */
export type TernaryScale = "absmean" | "absmedian";

/** Information content of a ternary weight, log2(3). */
export const TERNARY_ENTROPY_BITS: number = Math.log2(3);

/**
 * γ of `w[start, end)`: mean |w| or median |w| (mean of the two middle values for even n),
 * in binary64, 0 for an empty range.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { ternaryGamma } from "./ternary.ts";
 * assert(ternaryGamma([1, -2, 3, 0], "absmean") === 1.5);
 * assert(ternaryGamma([1, -2, 3, 0], "absmedian") === 1.5);
 * assert(ternaryGamma([5, 0, 0], "absmedian") === 0);
 * ```
 */
export function ternaryGamma(
  w: ArrayLike<number>,
  method: TernaryScale,
  start = 0,
  end = w.length,
): number {
  const n = end - start;
  if (n <= 0) return 0;
  if (method === "absmean") {
    let sum = 0;
    for (let i = start; i < end; i++) sum += Math.abs(w[i]);
    return sum / n;
  }
  const a = new Float64Array(n);
  for (let i = 0; i < n; i++) a[i] = Math.abs(w[start + i]);
  a.sort();
  return n % 2 === 1 ? a[(n - 1) / 2] : (a[n / 2 - 1] + a[n / 2]) / 2;
}

/**
 * The ternary code of `w` given the stored scale: RoundClip(f32(w / scale), −1, 1).
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { encodeTernary } from "./ternary.ts";
 * assert(encodeTernary(0.5, 1) === 0 && encodeTernary(0.51, 1) === 1);
 * assert(encodeTernary(-7, 1) === 3); // −1
 * ```
 */
export function encodeTernary(w: number, scale: number): number {
  if (!(scale > 0) || !Number.isFinite(scale)) {
    throw new RangeError(`ternary: scale must be finite and > 0, got ${scale}`);
  }
  return ternaryElement.encode(Math.fround(w / scale));
}

/** Options for {@link ternaryFormat}. */
export interface TernaryOptions {
  /** "absmean" (BitNet b1.58, default) or "absmedian" (b1.58 Reloaded). */
  scale?: TernaryScale;
  /** Elements per scale; 0 (default) means one scale for the whole tensor, as in BitNet. */
  blockSize?: number;
  /** Floor of the scale (default 1e−5). */
  eps?: number;
}

/**
 * A ternary block format. Names: `ternary_absmean`, `ternary_absmedian` (+ `_g<n>` when
 * blocked).
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { ternaryFormat } from "./ternary.ts";
 * const fmt = ternaryFormat();
 * const q = fmt.quantize([0.1, -2, 0.9, 1]); // γ = 1
 * assert(q.scales[0] === 1 && Array.from(fmt.dequantize(q)).join() === "0,-1,1,1");
 * ```
 */
export function ternaryFormat(options: TernaryOptions = {}): BlockFormat {
  const method = options.scale ?? "absmean";
  const blockSize = options.blockSize ?? 0;
  const eps = options.eps ?? 1e-5;
  const name = `ternary_${method}${blockSize ? `_g${blockSize}` : ""}`;
  return f32ScaledFormat(name, {
    element: ternaryElement,
    blockSize,
    check: (x) => checkedAmax(x, name),
    block(x, start, end, codes) {
      const s = Math.fround(Math.max(ternaryGamma(x, method, start, end), eps));
      for (let i = start; i < end; i++) codes[i] = encodeTernary(x[i], s);
      return s;
    },
  });
}

/** BitNet b1.58: per-tensor absmean ternary. */
export const ternaryAbsmean: BlockFormat = ternaryFormat();
/** BitNet b1.58 Reloaded: per-tensor absmedian ternary. */
export const ternaryAbsmedian: BlockFormat = ternaryFormat({ scale: "absmedian" });
