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
import { type Tensor, viewHooks } from "./tensor.ts";
import { add } from "./ops/elementwise.ts";
import { activeTape, innermostTape, noGrad, record, resumeRecording, Tape } from "./tape.ts";

export { type Backward, type BackwardContext, noGrad, record, Tape, tracking } from "./tape.ts";

/** Parameters: a Map or a plain object of named tensors. */
export type Params = ReadonlyMap<string, Tensor> | Readonly<Record<string, Tensor>>;

/** Named parameters as `[name, tensor]` pairs. */
export function paramEntries(params: Params): [string, Tensor][] {
  return params instanceof Map ? [...params] : Object.entries(params as Record<string, Tensor>);
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
  using tape = new Tape(entries.map(([, t]) => t), innermostTape());
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
  const outer = activeTape();
  const y = noGrad(() => fn(...inputs));
  if (!outer) return y;
  // Recorded even when no input is tracked: the block's parameters are.
  outer.add("checkpoint", inputs, y, inputs, (gy, saved, ctx) => {
    // Fresh handles, so the nested tape can tell the block's inputs from the
    // outer tensors it captures.
    const xs = saved.map((s) => s.share());
    using inner = new Tape(xs, outer);
    const out = resumeRecording(() => inner.run(() => fn(...xs)));
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
