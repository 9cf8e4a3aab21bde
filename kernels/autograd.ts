/**
 * Reverse-mode automatic differentiation over lowbit's tensor ops.
 *
 * **The API is functional, in the style of JAX:** `valueAndGrad(fn, params)`
 * runs `fn` once while a tape records every op that touches a parameter, then
 * walks the tape backwards and returns the value and one gradient per
 * parameter. We chose it over PyTorch's `loss.backward()` for three reasons
 * that matter to quantization research on WebGPU:
 * - GPU buffers are not garbage collected. A tape that lives as long as the
 *   loss tensor leaks when a notebook cell forgets it; a tape that lives for
 *   one call cannot. Everything it retained is freed before `valueAndGrad`
 *   returns (and `using tape = new Tape(...)` gives the same guarantee to code
 *   that drives a tape by hand).
 * - What is a parameter is what you pass. Fake-quantization research
 *   constantly switches between training the weights, only the scales (LSQ,
 *   EfficientQAT's second stage), or only low-rank adapters (QLoRA): that is a
 *   different `params` map, not a sweep of `requires_grad` flags.
 * - Custom rules are ordinary functions. A straight-through estimator, LSQ's
 *   step-size gradient or PACT's clipping gradient is `customGrad(name,
 *   forward, backward)`, with no class to subclass.
 *
 * Ops record themselves: each op file calls {@link record} with the op's
 * backward, so a model's forward pass is differentiable as written. Ops on
 * tensors that no parameter reaches (constants) record nothing and cost
 * nothing. `noGrad(fn)` and `stopGradient(x)` cut the graph;
 * {@link checkpoint} recomputes a block (one transformer layer) in the
 * backward pass instead of keeping its activations; the `into` option of
 * {@link valueAndGrad} accumulates gradients over micro-batches.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../mod.ts";
 * import { valueAndGrad } from "./autograd.ts";
 * import { mul } from "./ops/elementwise.ts";
 * import { sumAll } from "./ops/reduce_all.ts";
 * await initGPU();
 * using w = Tensor.fromArray([1, 2, 3]);
 * // d/dw Σ w² = 2w
 * const { value, grads } = valueAndGrad(() => {
 *   using sq = mul(w, w);
 *   return sumAll(sq);
 * }, { w });
 * console.log(await value.item(), await grads.get("w")!.data()); // 14 Float32Array [2, 4, 6]
 * value.dispose();
 * for (const g of grads.values()) g.dispose();
 * ```
 * @module
 */
import { Tensor, viewHooks } from "./tensor.ts";
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

/** Parameters: a Map or a plain object of named tensors. */
export type Params = ReadonlyMap<string, Tensor> | Readonly<Record<string, Tensor>>;

/** Named parameters as `[name, tensor]` pairs. */
export function paramEntries(params: Params): [string, Tensor][] {
  return params instanceof Map ? [...params] : Object.entries(params as Record<string, Tensor>);
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

function active(): Tape | undefined {
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
  const tape = active();
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
  const tape = active();
  if (!tape || !inputs.some((t) => t instanceof Tensor && tape.tracks(t))) return output;
  tape.add(op, inputs.map((t) => (t instanceof Tensor ? t : undefined)), output, save, backward);
  return output;
}

/** Options of {@link valueAndGrad}. */
export interface ValueAndGradOptions {
  /** Add the new gradients into these (gradient accumulation); missing entries are created. */
  into?: Map<string, Tensor>;
  /** Seed gradient for an output with more than one element (a vector-Jacobian product). */
  seed?: Tensor;
}

/**
 * Runs `fn` with a tape watching `params` and returns its value and the
 * gradient of the value with respect to each parameter (zeros where it does
 * not depend on one), keyed by the parameter's name (array index for an
 * array). The caller owns `value` and every gradient; the tape is freed
 * before this returns. With `into`, gradients are added into that map
 * instead (and it is returned), for accumulation over micro-batches.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../mod.ts";
 * import { valueAndGrad } from "./autograd.ts";
 * import { mul } from "./ops/elementwise.ts";
 * import { sumAll } from "./ops/reduce_all.ts";
 * await initGPU();
 * using w = Tensor.fromArray([1, -1]);
 * using x = Tensor.fromArray([5, 7]); // a constant: not in params, gets no gradient
 * const acc = new Map<string, Tensor>();
 * for (let step = 0; step < 2; step++) {
 *   const { value } = valueAndGrad(() => {
 *     using wx = mul(w, x);
 *     return sumAll(wx);
 *   }, { w }, { into: acc });
 *   value.dispose();
 * }
 * console.log(await acc.get("w")!.data()); // Float32Array [10, 14]
 * acc.get("w")!.dispose();
 * ```
 */
export function valueAndGrad(
  fn: () => Tensor,
  params: Params | readonly Tensor[],
  options: ValueAndGradOptions = {},
): { value: Tensor; grads: Map<string, Tensor> } {
  const entries: [string, Tensor][] = Array.isArray(params)
    ? (params as readonly Tensor[]).map((t, i) => [String(i), t])
    : paramEntries(params as Params);
  for (const [name, t] of entries) {
    if (t.dtype !== "f32" && t.dtype !== "f16") {
      throw new TypeError(
        `valueAndGrad: parameter "${name}" ${t} is ${t.dtype}; only float tensors have gradients`,
      );
    }
  }
  using tape = new Tape(entries.map(([, t]) => t), tapes[tapes.length - 1]);
  const value = tape.run(fn);
  try {
    const byTensor = tape.gradients(value, options.seed);
    const grads = options.into ?? new Map<string, Tensor>();
    for (const [name, t] of entries) {
      const g = byTensor.get(t)!;
      byTensor.delete(t);
      const old = grads.get(name);
      if (old) {
        grads.set(name, add(old, g));
        old.dispose();
        g.dispose();
      } else grads.set(name, g);
    }
    for (const g of byTensor.values()) g.dispose(); // a tensor passed twice
    return { value, grads };
  } catch (e) {
    value.dispose();
    throw e;
  }
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

/**
 * A new handle to `x`'s values that the tape does not track: the gradient
 * stops here. The caller disposes it.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../mod.ts";
 * import { stopGradient } from "./autograd.ts";
 * await initGPU();
 * using x = Tensor.fromArray([1, 2]);
 * using y = stopGradient(x);
 * console.log(await y.data()); // Float32Array [1, 2]
 * ```
 */
export function stopGradient(x: Tensor): Tensor {
  return x.share();
}

/**
 * Defines an op with its own gradient rule: `forward` runs with recording
 * off, then the op is recorded with `backward` (which receives the upstream
 * gradient, the inputs and the output). This is how straight-through
 * estimators, LSQ's step-size gradient and PACT's clipping gradient are
 * written.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../mod.ts";
 * import { customGrad, valueAndGrad } from "./autograd.ts";
 * import { unary } from "./ops/elementwise.ts";
 * import { sumAll } from "./ops/reduce_all.ts";
 * await initGPU();
 * // round() with a straight-through gradient: d round(x)/dx := 1.
 * const roundSte = customGrad("round-ste", (x: Tensor) => unary("round", x), (gy) => [gy.share()]);
 * using x = Tensor.fromArray([0.4, 1.6]);
 * const { value, grads } = valueAndGrad(() => {
 *   using r = roundSte(x);
 *   return sumAll(r);
 * }, { x });
 * console.log(await value.item(), await grads.get("x")!.data()); // 2 Float32Array [1, 1]
 * value.dispose();
 * grads.get("x")!.dispose();
 * ```
 */
export function customGrad<A extends Tensor[]>(
  op: string,
  forward: (...xs: A) => Tensor,
  backward: (gy: Tensor, xs: A, y: Tensor) => readonly (Tensor | undefined)[],
): (...xs: A) => Tensor {
  return (...xs: A) => {
    const y = noGrad(() => forward(...xs));
    return record(op, xs, y, [...xs, y], (gy, saved) => {
      const ins = saved.slice(0, xs.length) as A;
      return backward(gy, ins, saved[xs.length]);
    });
  };
}

/**
 * Activation checkpointing: computes `fn(...inputs)` without recording its
 * inside, keeps only `inputs`, and in the backward pass runs `fn` again under
 * a nested tape to get the gradients of the inputs and of every tracked
 * tensor `fn` captures (the block's parameters). Use it per transformer
 * layer to trade one extra forward for the layer's activations. `fn` must be
 * deterministic (same inputs, same output).
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../mod.ts";
 * import { checkpoint, valueAndGrad } from "./autograd.ts";
 * import { mul, unary } from "./ops/elementwise.ts";
 * import { sumAll } from "./ops/reduce_all.ts";
 * await initGPU();
 * using w = Tensor.fromArray([0.5, 2]);
 * using x = Tensor.fromArray([1, 3]);
 * const block = (h: Tensor) => {
 *   using hw = mul(h, w);
 *   return unary("tanh", hw);
 * };
 * const { value, grads } = valueAndGrad(() => {
 *   using y = checkpoint(block, [x]);
 *   return sumAll(y);
 * }, { w });
 * console.log((await grads.get("w")!.data()).map((g) => +g.toFixed(4))); // Float32Array [0.7864, 0.0001]
 * value.dispose();
 * grads.get("w")!.dispose();
 * ```
 */
export function checkpoint(fn: (...xs: Tensor[]) => Tensor, inputs: readonly Tensor[]): Tensor {
  const outer = active();
  const y = noGrad(() => fn(...inputs));
  if (!outer) return y;
  // Recorded even when no input is tracked: the block's parameters are.
  outer.add("checkpoint", inputs, y, inputs, (gy, saved, ctx) => {
    // Fresh handles, so the nested tape can tell the block's inputs from the
    // outer tensors it captures.
    const xs = saved.map((s) => s.share());
    using inner = new Tape(xs, outer);
    let out: Tensor;
    paused--;
    try {
      out = inner.run(() => fn(...xs));
    } finally {
      paused++;
    }
    try {
      const g = inner.gradients(out, gy);
      for (const [t, gt] of inner.takeLeftover()) ctx.accumulate(t, gt);
      return xs.map((x) => g.get(x));
    } finally {
      out.dispose();
      for (const x of xs) x.dispose();
    }
  });
  return y;
}

// Reshape makes a new tensor object that shares storage: record it so the
// gradient flows through views the model creates.
viewHooks.onReshape = (x, y) => {
  record("reshape", [x], y, [], (gy) => [gy.reshape(x.shape)]);
};
