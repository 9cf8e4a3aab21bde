/**
 * The named trainable tensors a QAT layer owns: set once when the layer is
 * built, read by name (throwing once the layer is disposed), handed out by
 * `parameters()`, freed together. Also the f32 master copy such layers make of
 * a weight they are given.
 * @module
 */
import type { Tensor } from "../../kernels/tensor.ts";
import { noGrad } from "../../kernels/autograd.ts";
import { cast } from "../../kernels/ops/elementwise.ts";
import { contiguous } from "../../kernels/ops/layout.ts";

/** Named tensors owned by one layer (`owner` names it in errors). */
export class ParamSet {
  readonly #params = new Map<string, Tensor>();
  #disposed = false;

  /** An empty set for the layer class `owner`. */
  constructor(readonly owner: string) {}

  /** Adds (or replaces) a tensor; the set owns it from now on. */
  set(name: string, t: Tensor): void {
    this.#params.set(name, t);
  }

  /** The tensor `name` (which must exist); throws once disposed. */
  get(name: string): Tensor {
    this.check();
    return this.#params.get(name)!;
  }

  /** The tensor `name` if the layer has one (e.g. a bias), without the disposal check. */
  optional(name: string): Tensor | undefined {
    return this.#params.get(name);
  }

  /** A new map of every tensor (the tensors themselves, not copies); throws once disposed. */
  all(): Map<string, Tensor> {
    this.check();
    return new Map(this.#params);
  }

  /** Throws once the set is disposed. */
  check(): void {
    if (this.#disposed) throw new Error(`${this.owner}: this layer was disposed`);
  }

  /** Frees every tensor (safe to call twice). */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    for (const t of this.#params.values()) t.dispose();
    this.#params.clear();
  }
}

/** An independent f32 copy (a master weight), not recorded on any tape. */
export function f32Copy(t: Tensor): Tensor {
  return noGrad(() => (t.dtype === "f32" ? contiguous(t) : cast(t, "f32")));
}
