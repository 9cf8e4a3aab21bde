/**
 * f32 master weights with f16 compute: the optimizer updates f32 masters,
 * the forward pass reads f16 copies, and after each step the updated masters
 * are cast (round to nearest even) into the f16 copies' own buffers, so a
 * model holding the f16 tensors sees the new values without re-binding.
 * f16 gradients are cast to f32 for the optimizer (temporaries).
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { MasterWeights } from "./master.ts";
 * import { SGD } from "./sgd.ts";
 * await initGPU();
 * using w = Tensor.fromArray([1, 2]);
 * using mw = MasterWeights.from(new Map([["w", w]]));
 * using opt = new SGD();
 * using g = Tensor.fromArray([1e-4, 1], [2], "f16");
 * mw.step(opt, new Map([["w", g]]), 1);
 * console.log(await mw.masters.get("w")!.data(), await mw.half.get("w")!.data());
 * // Float32Array [0.9998999834060669, 1] Float16Array [1, 1]
 * ```
 * @module
 */
import { copy } from "../../kernels/runtime.ts";
import type { Tensor } from "../../kernels/tensor.ts";
import { cast } from "../../kernels/ops/elementwise.ts";
import type { Optimizer } from "./optimizer.ts";

/** f32 masters and their f16 copies, by parameter name; owns both. */
export class MasterWeights implements Disposable {
  /** The f32 master weights (give these to the optimizer). */
  readonly masters: ReadonlyMap<string, Tensor>;
  /** The f16 copies (give these to the forward pass). */
  readonly half: ReadonlyMap<string, Tensor>;

  private constructor(masters: Map<string, Tensor>, half: Map<string, Tensor>) {
    this.masters = masters;
    this.half = half;
  }

  /**
   * Masters copied from `params` (f32 or f16, cast to f32; the inputs are
   * never modified nor kept) and their f16 copies.
   */
  static from(params: ReadonlyMap<string, Tensor>): MasterWeights {
    const masters = new Map<string, Tensor>(), half = new Map<string, Tensor>();
    try {
      for (const [name, p] of params) {
        if (p.dtype !== "f32" && p.dtype !== "f16") {
          throw new TypeError(
            `MasterWeights.from: "${name}" is ${p.dtype}; master weights come from f32 or f16 ` +
              `parameters (packed low-bit weights are not trained directly)`,
          );
        }
        const m = cast(p, "f32");
        m.name = name;
        masters.set(name, m);
        const h = cast(m, "f16");
        h.name = name;
        half.set(name, h);
      }
    } catch (e) {
      for (const t of [...masters.values(), ...half.values()]) t.dispose();
      throw e;
    }
    return new MasterWeights(masters, half);
  }

  /**
   * One optimizer step on the masters (f16 gradients are cast to f32 first;
   * `grads` is never modified), then the f16 copies of the updated parameters
   * are refreshed.
   */
  step(optimizer: Optimizer, grads: ReadonlyMap<string, Tensor>, lr: number): void {
    const g32 = new Map<string, Tensor>();
    const temps: Tensor[] = [];
    try {
      for (const [name, g] of grads) {
        if (g.dtype === "f32") g32.set(name, g);
        else if (g.dtype === "f16") {
          const c = cast(g, "f32");
          temps.push(c);
          g32.set(name, c);
        } else {
          throw new TypeError(`MasterWeights.step: gradient "${name}" is ${g.dtype}, not f32/f16`);
        }
      }
      optimizer.step(this.masters, g32, lr);
    } finally {
      for (const t of temps) t.dispose();
    }
    this.refresh(g32.keys());
  }

  /** Recasts the masters (all, or those named) into their f16 copies, in place. */
  refresh(names: Iterable<string> = this.masters.keys()): void {
    for (const name of names) {
      const m = this.masters.get(name), h = this.half.get(name);
      if (!m || !h) throw new RangeError(`MasterWeights.refresh: no parameter "${name}"`);
      using c = cast(m, "f16");
      if (c.byteLength) copy(c.buffer, 0, h.buffer, 0, c.byteLength);
    }
  }

  /** Frees the masters and the f16 copies (safe to call twice). */
  dispose(): void {
    for (const t of [...this.masters.values(), ...this.half.values()]) t.dispose();
  }

  /** Frees at the end of a `using` scope. */
  [Symbol.dispose](): void {
    this.dispose();
  }
}
