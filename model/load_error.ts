/**
 * `ModelLoadError`: what `loadModel` throws when a checkpoint does not match
 * its config or holds non-finite weights; it names the tensor at fault.
 *
 * @example
 * ```ts
 * import { ModelLoadError } from "./load_error.ts";
 * console.log(new ModelLoadError("x is missing", "model.norm.weight").name); // ModelLoadError
 * ```
 * @module
 */

/** A checkpoint that does not match its config; names the tensor (or file). */
export class ModelLoadError extends Error {
  /** The tensor at fault, if one is. */
  readonly tensor?: string;

  /**
   * Makes the error.
   *
   * @param message what is wrong and what was expected
   * @param tensor the tensor's HF name
   *
   * @example
   * ```ts
   * import { ModelLoadError } from "./load_error.ts";
   * const e = new ModelLoadError("x is missing", "model.norm.weight");
   * console.log(e.name, e.tensor); // ModelLoadError model.norm.weight
   * ```
   */
  constructor(message: string, tensor?: string) {
    super(message);
    this.name = "ModelLoadError";
    this.tensor = tensor;
  }
}
