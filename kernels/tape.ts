/**
 * The tape under `autograd.ts`: the recording of ops, the stack of active
 * tapes, the no-grad switch, and `record`, which every op file calls with its
 * backward rule. Users reach all of it through `autograd.ts`.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../mod.ts";
 * import { Tape } from "./tape.ts";
 * import { mul } from "./ops/elementwise.ts";
 * await initGPU();
 * using x = Tensor.fromArray([2]);
 * using tape = new Tape([x]);
 * using y = tape.run(() => mul(x, x));
 * console.log(tape.size, await tape.gradients(y).get(x)!.data()); // 1 Float32Array [4]
 * ```
 * @module
 */
import { Tensor } from "./tensor.ts";
import { add, cast } from "./ops/elementwise.ts";

/**
 * The backward rule of one recorded op: given the gradient of the output
 * (`gy`, the output's shape and dtype) and the tensors the op saved, return
 * one gradient per input (same order as the op's inputs; `undefined` where
 * an input gets no gradient or is not a tensor). Gradients it returns are
 * owned by the tape.
 */
export type Backward = (
  gy: Tensor,
  saved: readonly Tensor[],
  ctx: BackwardContext,
) => readonly (Tensor | undefined)[];

/** What a backward rule may do besides returning input gradients. */
export interface BackwardContext {
  /** Adds `g` into the gradient of a tensor recorded earlier on this tape. */
  accumulate(t: Tensor, g: Tensor): void;
}

interface Node {
  op: string;
  inputs: readonly (Tensor | undefined)[];
  saved: Tensor[];
  backward: Backward;
}

const tapes: Tape[] = [];
let paused = 0;

/**
 * A recording of ops, from the parameters it watches to whatever the forward
 * computes. Most code uses {@link valueAndGrad}; drive a tape by hand to take
 * gradients of several outputs or to inspect what was recorded. Disposing
 * the tape frees every tensor it retained.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../mod.ts";
 * import { Tape } from "./autograd.ts";
 * import { mul } from "./ops/elementwise.ts";
 * import { sumAll } from "./ops/reduce_all.ts";
 * await initGPU();
 * using x = Tensor.fromArray([3]);
 * using tape = new Tape([x]);
 * using y = tape.run(() => {
 *   using x3 = mul(x, 3);
 *   return sumAll(x3);
 * });
 * const grads = tape.gradients(y);
 * console.log(tape.size, await grads.get(x)!.data()); // 0 Float32Array [3]
 * ```
 */
export class Tape implements Disposable {
  readonly #watched = new Set<Tensor>();
  readonly #nodes = new Map<Tensor, Node>();
  readonly #order: Tensor[] = [];
  readonly #parent: Tape | undefined;
  #disposed = false;

  /** A tape watching `params` (their gradients are what `gradients` returns). */
  constructor(params: Iterable<Tensor>, parent?: Tape) {
    for (const p of params) this.#watched.add(p);
    this.#parent = parent;
  }

  /** Ops recorded and not yet consumed by a backward pass. */
  get size(): number {
    return this.#nodes.size;
  }

  /** Runs `fn` with this tape recording (nested tapes record on the innermost). */
  run<T>(fn: () => T): T {
    this.#check();
    tapes.push(this);
    try {
      return fn();
    } finally {
      tapes.pop();
    }
  }

  /** True when `t` is watched or computed from a watched tensor (here or on a parent tape). */
  tracks(t: Tensor): boolean {
    return this.#watched.has(t) || this.#nodes.has(t) || (this.#parent?.tracks(t) ?? false);
  }

  /** Records one op; see {@link record}. */
  add(
    op: string,
    inputs: readonly (Tensor | undefined)[],
    output: Tensor,
    save: readonly Tensor[],
    backward: Backward,
  ): void {
    if (this.#nodes.has(output) || this.#watched.has(output)) {
      throw new Error(
        `autograd: ${op} returned a tensor already on the tape; an op must return a new tensor`,
      );
    }
    // The tape keeps its own handles: the caller may dispose its tensors at once.
    const saved = save.map((t) => t.share());
    this.#nodes.set(output, { op, inputs: [...inputs], saved, backward });
    this.#order.push(output);
  }

  /**
   * Backpropagates `seed` (default 1 for a one-element output) from `output`
   * and returns the gradient of every watched tensor, zeros where the output
   * does not depend on it. Recorded ops are consumed (their saved tensors
   * freed) as the pass goes; call once per recording.
   */
  gradients(output: Tensor, seed?: Tensor): Map<Tensor, Tensor> {
    this.#check();
    const grads = new Map<Tensor, Tensor>();
    const accumulate = (t: Tensor, g: Tensor) => {
      if (g.shape.length !== t.shape.length || g.shape.some((d, i) => d !== t.shape[i])) {
        throw new Error(
          `autograd: a gradient of shape [${g.shape}] reached a tensor of shape [${t.shape}] ` +
            `(${t.name ?? "unnamed"}); the backward rule of the op that used it is wrong`,
        );
      }
      const g2 = g.dtype === t.dtype ? g : cast(g, t.dtype);
      if (g2 !== g) g.dispose();
      const old = grads.get(t);
      if (old) {
        grads.set(t, add(old, g2));
        old.dispose();
        g2.dispose();
      } else grads.set(t, g2);
    };
    if (seed) {
      accumulate(output, seed.share());
    } else {
      if (output.size !== 1) {
        throw new RangeError(
          `autograd: the output ${output} has ${output.size} elements; pass a seed gradient ` +
            `(a vector-Jacobian product) or reduce it to one element (e.g. sumAll, meanAll)`,
        );
      }
      accumulate(output, Tensor.full(output.shape, 1, output.dtype));
    }
    const ctx: BackwardContext = { accumulate: (t, g) => accumulate(t, g) };
    paused++;
    try {
      for (let i = this.#order.length - 1; i >= 0; i--) {
        const out = this.#order[i];
        const node = this.#nodes.get(out)!;
        const gy = grads.get(out);
        if (gy && !this.#watched.has(out)) grads.delete(out);
        if (gy) {
          const gin = node.backward(gy, node.saved, ctx);
          for (const [k, t] of node.inputs.entries()) {
            const g = gin[k];
            if (!t || !g) {
              g?.dispose();
              continue;
            }
            if (this.tracks(t)) accumulate(t, g);
            else g.dispose();
          }
          if (!this.#watched.has(out)) gy.dispose();
        }
        for (const s of node.saved) s.dispose();
        this.#nodes.delete(out);
      }
      this.#order.length = 0;
    } finally {
      paused--;
    }
    const result = new Map<Tensor, Tensor>();
    for (const p of this.#watched) {
      result.set(p, grads.get(p) ?? Tensor.zeros(p.shape, p.dtype));
      grads.delete(p);
    }
    // Gradients of tensors that belong to a parent tape (a checkpointed block's
    // captured parameters) are handed up.
    for (const [t, g] of grads) {
      if (this.#parent?.tracks(t)) this.#leftover.set(t, g);
      else g.dispose();
    }
    return result;
  }

  /** Gradients of parent-tape tensors found by the last `gradients` call (checkpointing). */
  readonly #leftover = new Map<Tensor, Tensor>();

  /** Takes the gradients of parent-tape tensors the last pass produced. */
  takeLeftover(): Map<Tensor, Tensor> {
    const m = new Map(this.#leftover);
    this.#leftover.clear();
    return m;
  }

  #check(): void {
    if (this.#disposed) throw new Error("autograd: this tape was disposed");
  }

  /** Frees every tensor the tape retained. */
  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    for (const n of this.#nodes.values()) for (const s of n.saved) s.dispose();
    this.#nodes.clear();
    for (const g of this.#leftover.values()) g.dispose();
    this.#leftover.clear();
    this.#order.length = 0;
  }

  /** Same as `dispose()`, for `using`. */
  [Symbol.dispose](): void {
    this.dispose();
  }
}

/** The tape ops record onto now (none inside `noGrad` or a backward pass). */
export function activeTape(): Tape | undefined {
  return paused === 0 ? tapes[tapes.length - 1] : undefined;
}

/**
 * True when an op on these inputs must be recorded: a tape is recording and
 * one of the inputs is watched or computed from a watched tensor.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../mod.ts";
 * import { tracking } from "./autograd.ts";
 * await initGPU();
 * using x = Tensor.fromArray([1]);
 * console.log(tracking(x, 2)); // false
 * ```
 */
export function tracking(...inputs: readonly unknown[]): boolean {
  const tape = activeTape();
  if (!tape) return false;
  return inputs.some((t) => t instanceof Tensor && tape.tracks(t));
}

/**
 * Records `output = op(inputs)` on the recording tape when an input is
 * tracked, and returns `output`. `save` lists the tensors the backward rule
 * reads (inputs or outputs); the tape keeps its own handles to them, so the
 * caller may dispose its own at once. Op files call this at their end:
 *
 * ```text
 * return record("mul", [a, b], y, [a, b], (gy, [a, b]) => [mul(gy, b), mul(gy, a)]);
 * ```
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../mod.ts";
 * import { noGrad, record, valueAndGrad } from "./autograd.ts";
 * import { mul, unary } from "./ops/elementwise.ts";
 * import { sumAll } from "./ops/reduce_all.ts";
 * await initGPU();
 * // A user-written op, y = x³, with its derivative 3x².
 * const cube = (x: Tensor) => {
 *   const y = noGrad(() => {
 *     using x2 = unary("square", x);
 *     return mul(x2, x);
 *   });
 *   return record("cube", [x], y, [x], (gy, [x]) => {
 *     using x2 = unary("square", x);
 *     using d = mul(x2, 3);
 *     return [mul(gy, d)];
 *   });
 * };
 * using x = Tensor.fromArray([2]);
 * const { value, grads } = valueAndGrad(() => {
 *   using y = cube(x);
 *   return sumAll(y);
 * }, [x]);
 * console.log(await grads.get("0")!.data()); // Float32Array [12]
 * value.dispose();
 * grads.get("0")!.dispose();
 * ```
 */
export function record(
  op: string,
  inputs: readonly (Tensor | number | undefined | null)[],
  output: Tensor,
  save: readonly Tensor[],
  backward: Backward,
): Tensor {
  const tape = activeTape();
  if (!tape || !inputs.some((t) => t instanceof Tensor && tape.tracks(t))) return output;
  tape.add(op, inputs.map((t) => (t instanceof Tensor ? t : undefined)), output, save, backward);
  return output;
}

/**
 * Runs `fn` with recording off: nothing it computes has a gradient.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../mod.ts";
 * import { noGrad, tracking, valueAndGrad } from "./autograd.ts";
 * import { sumAll } from "./ops/reduce_all.ts";
 * await initGPU();
 * using w = Tensor.fromArray([1]);
 * const { value, grads } = valueAndGrad(() => noGrad(() => sumAll(w)), { w });
 * console.log(await grads.get("w")!.data(), tracking(w)); // Float32Array [0] false
 * value.dispose();
 * grads.get("w")!.dispose();
 * ```
 */
export function noGrad<T>(fn: () => T): T {
  paused++;
  try {
    return fn();
  } finally {
    paused--;
  }
}

/** The innermost tape, recording or not (a new tape nests under it). */
export function innermostTape(): Tape | undefined {
  return tapes[tapes.length - 1];
}

/**
 * Runs `fn` with recording back on inside a backward pass (checkpointing
 * recomputes a block under a nested tape this way).
 */
export function resumeRecording<T>(fn: () => T): T {
  paused--;
  try {
    return fn();
  } finally {
    paused++;
  }
}
