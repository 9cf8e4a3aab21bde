/**
 * Shared pieces of the scaling methods (AQAS, DFQ, Norm Tweaking, LLM-FP4,
 * CrossQuant): the places in a Llama decoder layer where a per-channel scale
 * can be folded so the float function is unchanged, and a recorder that keeps
 * a bounded sample of each linear's calibration inputs.
 *
 * Sites of layer i (s > 0, one entry per channel of the shared input):
 * - `attn`: input_layernorm γ → q, k, v. γ ← γ / s, W ← W·diag(s).
 * - `mlp`: post_attention_layernorm γ → gate, up. γ ← γ / s, W ← W·diag(s).
 * - `down`: up_proj → down_proj through SwiGLU. silu(gate)·up is linear in each
 *   row of up, so W_up ← diag(s)⁻¹·W_up and W_down ← W_down·diag(s).
 *
 * @example
 * ```ts
 * import { SITES } from "./_sites.ts";
 * console.log(SITES.mlp.linears); // ["mlp.gate_proj", "mlp.up_proj"]
 * ```
 * @module
 */
import { Tensor } from "../../kernels/tensor.ts";
import { concat, contiguous, narrow } from "../../kernels/ops/layout.ts";
import { DenseLinear } from "../../model/linear.ts";
import { LAYER_TOPOLOGY, type LlamaModel } from "../../model/llama.ts";
import { reciprocal, scaleColumns, scaleRows } from "../transforms/smoothing.ts";
import type { WeightedLinear } from "../linear.ts";

/** A place where per-channel scales fold into the op before a group of linears. */
export interface Site {
  /** Where 1/s goes: an RMSNorm weight, or the rows of a previous linear. */
  readonly from: { norm: "input" | "post" } | { linear: string };
  /** The linears whose input columns take s (they share one input). */
  readonly linears: readonly string[];
}

/** The three smoothing sites of a Llama decoder layer (from the model's `LAYER_TOPOLOGY`). */
export const SITES: Readonly<Record<SiteName, Site>> = {
  attn: { from: LAYER_TOPOLOGY.attn.foldInto, linears: LAYER_TOPOLOGY.attn.linears },
  mlp: { from: LAYER_TOPOLOGY.mlp.foldInto, linears: LAYER_TOPOLOGY.mlp.linears },
  down: { from: LAYER_TOPOLOGY.down.foldInto, linears: LAYER_TOPOLOGY.down.linears },
};

/** Name of a smoothing site. */
export type SiteName = "attn" | "mlp" | "down";

/** The float weight of a dense layer, or a clear error when it was already replaced. */
export function denseWeight(model: LlamaModel, name: string): WeightedLinear {
  const lin = model.getLinear(name) as WeightedLinear;
  if (!lin.weight || !(lin instanceof DenseLinear)) {
    throw new TypeError(
      `${name} is ${lin}; a float DenseLinear is needed (quantize after scaling)`,
    );
  }
  return lin;
}

/**
 * Folds scales `s` `[channels]` into site `site` of layer `layer` in place:
 * the float model computes the same function afterwards (up to rounding).
 */
export function foldScales(model: LlamaModel, layer: number, site: SiteName, s: Tensor): void {
  const spec: Site = SITES[site];
  using inv = reciprocal(s);
  if ("norm" in spec.from) {
    const g = model.layerNorm(layer, spec.from.norm);
    model.setLayerNorm(layer, spec.from.norm, scaleRows(g, inv));
  } else {
    const name = `layers.${layer}.${spec.from.linear}`;
    const prev = denseWeight(model, name);
    const bias = prev.bias ? scaleRows(prev.bias, inv) : undefined;
    model.setLinear(name, new DenseLinear(scaleRows(prev.weight, inv), bias));
  }
  for (const l of spec.linears) {
    const name = `layers.${layer}.${l}`;
    const lin = denseWeight(model, name);
    const bias = lin.bias ? contiguous(lin.bias) : undefined;
    model.setLinear(name, new DenseLinear(scaleColumns(lin.weight, s), bias));
  }
}

/**
 * Keeps copies of the first `maxTokens` input rows of chosen linears, per
 * layer, fed from `captureLayerInputs`'s `onLinearInput` hook.
 */
export class InputRecorder implements Disposable {
  readonly #chunks = new Map<string, Tensor[]>();
  readonly #rows = new Map<string, number>();
  readonly #wanted: (name: string) => boolean;
  readonly maxTokens: number;

  /**
   * @param wanted which linear names to keep (by the suffix after `layers.i.`)
   * @param maxTokens rows kept per linear
   */
  constructor(wanted: readonly string[], maxTokens: number) {
    this.#wanted = (name) => wanted.some((w) => name.endsWith(`.${w}`));
    this.maxTokens = maxTokens;
  }

  /** The hook: copies `x`'s rows while fewer than `maxTokens` are kept. */
  observe(name: string, x: Tensor): void {
    if (!this.#wanted(name)) return;
    const have = this.#rows.get(name) ?? 0;
    const take = Math.min(this.maxTokens - have, x.shape[0]);
    if (take <= 0) return;
    const list = this.#chunks.get(name) ?? [];
    list.push(take === x.shape[0] ? contiguous(x) : narrow(x, 0, 0, take));
    this.#chunks.set(name, list);
    this.#rows.set(name, have + take);
  }

  /** The kept rows of `name` as one `[tokens, in]` tensor (owned by the caller); forgets them. */
  take(name: string): Tensor {
    const list = this.#chunks.get(name);
    if (!list?.length) throw new RangeError(`InputRecorder: no inputs of ${name} were recorded`);
    this.#chunks.delete(name);
    this.#rows.delete(name);
    if (list.length === 1) return list[0];
    const x = concat(list, 0);
    for (const t of list) t.dispose();
    return x;
  }

  /** Frees everything kept. */
  dispose(): void {
    for (const list of this.#chunks.values()) for (const t of list) t.dispose();
    this.#chunks.clear();
    this.#rows.clear();
  }

  /** Disposes at the end of a `using` scope. */
  [Symbol.dispose](): void {
    this.dispose();
  }
}

/** A 1-D f32 tensor from numbers. */
export function vector(v: ArrayLike<number>): Tensor {
  return Tensor.fromArray(Float32Array.from(v));
}
