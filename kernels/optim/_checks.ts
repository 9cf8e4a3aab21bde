/**
 * Argument checks shared by the optimizer kernels: every tensor f32, shapes
 * equal. Private to `kernels/optim/`.
 *
 * @module
 */
import type { Tensor } from "../tensor.ts";

/** Throws unless every tensor is f32. */
export function expectF32(op: string, ...ts: Tensor[]): void {
  for (const t of ts) {
    if (t.dtype !== "f32") {
      throw new TypeError(
        `${op}: ${t.toString()} has dtype ${t.dtype}; optimizer tensors are f32 ` +
          `(keep f32 master weights, e.g. with MasterWeights, and cast gradients with cast(g, "f32"))`,
      );
    }
  }
}

/** Throws unless every tensor has the shape of the first. */
export function expectSameShape(op: string, ...ts: Tensor[]): void {
  const s = ts[0].shape;
  for (const t of ts) {
    if (
      t.size !== ts[0].size || t.shape.length !== s.length || t.shape.some((d, i) => d !== s[i])
    ) {
      throw new RangeError(
        `${op}: ${t.toString()} does not match ${ts[0].toString()}; ` +
          `a parameter, its gradient and its state have one shape`,
      );
    }
  }
}
