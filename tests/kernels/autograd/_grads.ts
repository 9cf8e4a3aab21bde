/**
 * Test helper of the gradient tests in this folder: the gradients of
 * Σ f(params)·seed read back as arrays, for edge cases (NaN, zeros) and
 * bit-for-bit determinism checks that a finite-difference check cannot make.
 * @module
 */
import { Tensor } from "../../../kernels/tensor.ts";
import { valueAndGrad } from "../../../kernels/autograd.ts";
import { cast, mul } from "../../../kernels/ops/elementwise.ts";
import { sumAll } from "../../../kernels/ops/reduce_all.ts";

/**
 * Gradients of `Σ fn(...params) · seed` (seed all ones when omitted) with
 * respect to each of `params`, as f32 arrays in the order given.
 */
export async function gradsOf(
  fn: (...xs: Tensor[]) => Tensor,
  params: Tensor[],
  seed?: ArrayLike<number>,
): Promise<Float32Array[]> {
  const { value, grads } = valueAndGrad(() => {
    using y = fn(...params);
    // (share() would stop the gradient: only ops and reshape views are recorded.)
    using y32 = y.dtype === "f32" ? undefined : cast(y, "f32");
    using flat = (y32 ?? y).reshape([y.size]);
    using s = seed ? Tensor.fromArray(Float32Array.from(seed), [y.size]) : undefined;
    using ys = s ? mul(flat, s) : undefined;
    return sumAll(ys ?? flat);
  }, params);
  value.dispose();
  const out: Float32Array[] = [];
  for (let i = 0; i < params.length; i++) {
    using g = grads.get(String(i))!;
    using g32 = g.dtype === "f32" ? g.share() : cast(g, "f32");
    out.push(await g32.data() as Float32Array);
  }
  return out;
}

/** Same bits: the byte-level equality of two arrays (NaN payloads included). */
export function sameBits(a: Float32Array, b: Float32Array): boolean {
  const ua = new Uint32Array(a.buffer, a.byteOffset, a.length);
  const ub = new Uint32Array(b.buffer, b.byteOffset, b.length);
  return ua.length === ub.length && ua.every((v, i) => v === ub[i]);
}
