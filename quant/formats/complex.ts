/**
 * Complex 2-bit codes {+1, +i, −1, −i} (the fourth roots of unity) for a weight pair
 * w = re + i·im, times a real scale.
 *
 * Source: "iFairy: the First 2-bit Complex LLM with All Parameters in {±1, ±i}" and
 * "Fairy2i: Training Complex LLMs from Real LLMs with All Parameters in {±1, ±i}" (2025):
 * weights are mapped to the nearest fourth root of unity (phase-aware quantization). The
 * papers' exact scale rule was not confirmed here; this file uses the least-squares scale for
 * the chosen codes (documented below), and does not implement Fairy2i's recursive residual
 * stages (apply this quantizer again to the residual for those).
 *
 * Exact rules: code k stands for i^k (0 → +1, 1 → +i, 2 → −1, 3 → −i). The nearest root is
 * the one with the largest projection: |re| ≥ |im| picks the real axis (re ≥ 0 → +1, else −1),
 * otherwise the imaginary axis (im > 0 → +i, else −i); so a tie |re| = |im| goes to the real
 * axis and 0 goes to +1. Scale per block = f32(mean over pairs of max(|re|, |im|)) in binary64,
 * which minimizes Σ|w − s·c|² for the chosen codes c. 2 bits per pair = 1 bit per real weight.
 *
 * @module
 */

import { blockLayout, checkedAmax } from "./format.ts";

/** Real and imaginary parts of i^k, indexed by code k. */
export const COMPLEX_CODEBOOK: readonly (readonly [number, number])[] = [
  [1, 0],
  [0, 1],
  [-1, 0],
  [0, -1],
];

/**
 * The code (k of i^k) of the fourth root of unity nearest to re + i·im.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { encodeComplex } from "./complex.ts";
 * assert(encodeComplex(0.2, 0.9) === 1 && encodeComplex(-3, 1) === 2);
 * assert(encodeComplex(0, -0.1) === 3 && encodeComplex(0, 0) === 0);
 * ```
 */
export function encodeComplex(re: number, im: number): number {
  if (Number.isNaN(re) || Number.isNaN(im)) throw new RangeError("complex.encode: input is NaN");
  if (Math.abs(re) >= Math.abs(im)) return re >= 0 ? 0 : 2;
  return im > 0 ? 1 : 3;
}

/** Complex codes of interleaved pairs, with one scale per block of pairs. */
export interface QuantizedComplex {
  /** Number of pairs. */
  readonly pairs: number;
  /** Pairs per block actually used. */
  readonly blockSize: number;
  /** One code per pair (k of i^k). */
  readonly codes: Uint8Array;
  /** One f32 scale per block. */
  readonly scales: Float32Array;
}

/**
 * Quantizes interleaved pairs `[re0, im0, re1, im1, …]` with one scale per `blockSize` pairs
 * (0, the default: one scale for all). Throws on odd length or NaN/Inf (naming the index).
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { dequantizeComplex, quantizeComplex } from "./complex.ts";
 * const q = quantizeComplex([2, 0.5, -0.1, -2]); // codes +1, −i; scale 2
 * assert(Array.from(q.codes).join() === "0,3" && q.scales[0] === 2);
 * assert(Array.from(dequantizeComplex(q)).join() === "2,0,0,-2");
 * ```
 */
export function quantizeComplex(x: ArrayLike<number>, blockSize = 0): QuantizedComplex {
  if (x.length % 2 !== 0) {
    throw new RangeError(`complex: need interleaved (re, im) pairs, got odd length ${x.length}`);
  }
  checkedAmax(x, "complex");
  const pairs = x.length / 2;
  const { size, count } = blockLayout(pairs, blockSize);
  const codes = new Uint8Array(pairs);
  const scales = new Float32Array(count);
  for (let b = 0; b < count; b++) {
    const start = b * size;
    const end = Math.min(start + size, pairs);
    let sum = 0;
    for (let p = start; p < end; p++) {
      const re = x[2 * p];
      const im = x[2 * p + 1];
      codes[p] = encodeComplex(re, im);
      sum += Math.max(Math.abs(re), Math.abs(im));
    }
    scales[b] = end > start ? sum / (end - start) : 0;
  }
  return { pairs, blockSize: size, codes, scales };
}

/**
 * Interleaved (re, im) values s · i^k of quantized pairs.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * import { dequantizeComplex } from "./complex.ts";
 * const q = { pairs: 2, blockSize: 2, codes: new Uint8Array([1, 2]), scales: new Float32Array([0.5]) };
 * assert(Array.from(dequantizeComplex(q)).join() === "0,0.5,-0.5,0");
 * ```
 */
export function dequantizeComplex(q: QuantizedComplex): Float32Array {
  const out = new Float32Array(2 * q.pairs);
  for (let p = 0; p < q.pairs; p++) {
    const [re, im] = COMPLEX_CODEBOOK[q.codes[p] & 3];
    const s = q.scales[Math.floor(p / q.blockSize)];
    out[2 * p] = re * s;
    out[2 * p + 1] = im * s;
  }
  return out;
}

/** Bits per real weight of the complex 2-bit code (2 bits per pair), scales excluded. */
export const COMPLEX_BITS_PER_WEIGHT = 1;
