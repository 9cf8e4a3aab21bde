/**
 * Private helpers of the quantization kernels: the group-size check every
 * grouped kernel makes, and WGSL shared by several of them (a counter-based
 * random number generator for stochastic rounding, and the binary search of
 * a decision table).
 *
 * @module
 */
import type { Tensor } from "../tensor.ts";

/** Checks that the last axis of `x` splits into groups of `groupSize`; returns its size and the group count. */
export function checkGroups(
  op: string,
  x: Tensor,
  groupSize: number,
): { cols: number; groups: number } {
  const cols = x.shape.at(-1) ?? 1;
  if (!Number.isInteger(groupSize) || groupSize < 1) {
    throw new RangeError(`${op}: groupSize must be a positive integer, got ${groupSize}`);
  }
  if (cols % groupSize !== 0) {
    throw new RangeError(
      `${op}: ${x.toString()} has ${cols} columns, not a multiple of the group size ${groupSize}; ` +
        `choose a group size that divides ${cols} (e.g. ${
          largestDivisorAtMost(cols, groupSize)
        }) ` +
        `or pad the input dimension`,
    );
  }
  return { cols, groups: x.size / groupSize };
}

function largestDivisorAtMost(n: number, k: number): number {
  for (let d = Math.min(n, k); d > 1; d--) if (n % d === 0) return d;
  return 1;
}

/** WGSL `pcg(v)` and `uniform01(seed, i)`: a hash-based uniform in [0, 1) per element index. */
export const PCG = `
fn pcg(v: u32) -> u32 {
  let s = v * 747796405u + 2891336453u;
  let w = ((s >> ((s >> 28u) + 4u)) ^ s) * 277803737u;
  return (w >> 22u) ^ w;
}
fn uniform01(seed: u32, i: u32) -> f32 { return f32(pcg(pcg(i) ^ seed) >> 8u) * (1.0 / 16777216.0); }`;

/**
 * WGSL `table_index(v) -> u32`: the number of decision thresholds ≤ v, i.e.
 * the index of v's value in a table of `n` values stored in `TBL` with the
 * n − 1 thresholds after them (binary search).
 */
export function tableIndexFn(n: number): string {
  return `
fn table_index(v: f32) -> u32 {
  var lo = 0u;
  var hi = ${n - 1}u;
  while (lo < hi) {
    let mid = (lo + hi) / 2u;
    if (TBL[${n}u + mid] <= v) { lo = mid + 1u; } else { hi = mid; }
  }
  return lo;
}`;
}
