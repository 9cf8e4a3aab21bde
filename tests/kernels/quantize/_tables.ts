/**
 * Inputs shared by the quantization kernel tests: a signed int4 decision
 * table (ties away from the grid's odd values do not matter here: the
 * reference reads the same thresholds) and data with zeros, NaN and ±Inf.
 * @module
 */
import { Rng } from "../../../kernels/random.ts";
import type { TableRef } from "../../reference/quantize.ts";

/** Signed int4: values −8…7, two's complement codes, midpoint thresholds. */
export function int4Table(): TableRef {
  const values = Float32Array.from({ length: 16 }, (_, i) => i - 8);
  const codes = Uint32Array.from(values, (v) => v & 15);
  const thresholds = Float32Array.from({ length: 15 }, (_, i) => i - 7.5);
  const byCode = new Float32Array(16);
  values.forEach((v, i) => (byCode[codes[i]] = v));
  return { values, codes, thresholds, byCode };
}

/** `n` normal values (σ = 3), with the first `zeros` entries set to 0. */
export function data(n: number, seed: number, zeros = 0): Float32Array {
  const x = new Rng(seed).normal(n, 0, 3);
  x.fill(0, 0, zeros);
  return x;
}
