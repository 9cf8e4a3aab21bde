/**
 * Test helpers shared by every test file: a GPU test wrapper, closeness
 * checks that name the first bad index, and f16 rounding for references.
 * @module
 */
import { AssertionError } from "@std/assert";
import { initGPU } from "../kernels/gpu.ts";

/** Registers a test that needs the GPU (initialised once; async-op sanitizers off, since
 * WebGPU's internal completion promises outlive a test). */
export function gpuTest(name: string, fn: () => Promise<void> | void): void {
  Deno.test({
    name,
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async () => {
      await initGPU();
      await fn();
    },
  });
}

/** Tolerances: |a - e| ≤ atol + rtol·|e|. NaN must match NaN; ±Inf must match exactly. */
export interface Tolerance {
  atol?: number;
  rtol?: number;
}

/** Asserts two arrays are elementwise close; the message names the first bad index. */
export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  { atol = 1e-6, rtol = 1e-5 }: Tolerance = {},
  what = "values",
): void {
  if (actual.length !== expected.length) {
    throw new AssertionError(`${what}: length ${actual.length} ≠ expected ${expected.length}`);
  }
  let bad = 0;
  let first = -1;
  let worst = 0;
  for (let i = 0; i < expected.length; i++) {
    const a = Number(actual[i]);
    const e = Number(expected[i]);
    let ok: boolean;
    if (Number.isNaN(e)) ok = Number.isNaN(a);
    else if (!Number.isFinite(e)) ok = a === e;
    else {
      const d = Math.abs(a - e);
      ok = d <= atol + rtol * Math.abs(e);
      if (d > worst) worst = d;
    }
    if (!ok) {
      bad++;
      if (first < 0) first = i;
    }
  }
  if (bad) {
    throw new AssertionError(
      `${what}: ${bad}/${expected.length} elements differ beyond atol ${atol} rtol ${rtol}; ` +
        `first at [${first}]: got ${actual[first]}, expected ${expected[first]} ` +
        `(max abs diff ${worst})`,
    );
  }
}

/** Rounds each value to f16 (nearest even) and back, for f16 references. */
export function roundF16(x: ArrayLike<number>): Float32Array {
  return Float32Array.from(Float16Array.from(x));
}
