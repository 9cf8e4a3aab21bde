/**
 * Function-preserving transforms, each with its inverse: orthogonal
 * rotations (randomized Hadamard, random orthogonal) and per-channel
 * smoothing scales.
 *
 * @example
 * ```ts
 * import { randomRotation, scaleColumns } from "./mod.ts";
 * console.log(typeof randomRotation, typeof scaleColumns); // function function
 * ```
 * @module
 */
export {
  HadamardRotation,
  incoherence,
  MatrixRotation,
  randomOrthogonal,
  randomRotation,
  rotateHessian,
  rotateWeight,
  type Rotation,
  unrotateWeight,
} from "./rotation.ts";
export { reciprocal, scaleColumns, scaleRows } from "./smoothing.ts";
