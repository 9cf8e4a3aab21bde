/**
 * The Llama decoder layer's topology, declared once: its projections in
 * execution order, which of them read the same input tensor, and where a
 * per-channel scale on that input can be folded (an RMSNorm, or the rows of
 * the previous projection). Methods ask here instead of writing projection
 * names out again.
 *
 * @example
 * ```ts
 * import { LAYER_TOPOLOGY, sharedInput } from "./topology.ts";
 * console.log(LAYER_TOPOLOGY.mlp.linears, sharedInput("self_attn.k_proj")); // ["mlp.gate_proj", "mlp.up_proj"] self_attn.q_proj
 * ```
 * @module
 */

/** The names of one decoder layer's projections, in execution order. */
export const LAYER_LINEARS = [
  "self_attn.q_proj",
  "self_attn.k_proj",
  "self_attn.v_proj",
  "self_attn.o_proj",
  "mlp.gate_proj",
  "mlp.up_proj",
  "mlp.down_proj",
] as const;

/** A group of a decoder layer's projections that read one input tensor. */
export interface InputGroup {
  /** The projections (suffixes after `layers.i.`), the first one names the input. */
  readonly linears: readonly LayerLinear[];
  /**
   * Where a per-channel scale s on the input folds so the float function is
   * unchanged (γ ← γ/s or W_prev ← diag(s)⁻¹·W_prev, and W ← W·diag(s)):
   * an RMSNorm weight, or the rows of a previous projection (for
   * `self_attn.v_proj` → `o_proj` only when the heads line up, i.e. without GQA).
   */
  readonly foldInto: { readonly norm: "input" | "post" } | { readonly linear: LayerLinear };
}

/** One decoder layer's projection names. */
export type LayerLinear = typeof LAYER_LINEARS[number];

/**
 * The Llama decoder layer's topology, declared once: which projections share
 * an input, and where scales on that input fold. Methods ask this (and
 * {@link sharedInput}) instead of writing projection names out again.
 */
export const LAYER_TOPOLOGY: Readonly<Record<"attn" | "o" | "mlp" | "down", InputGroup>> = {
  attn: {
    linears: ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"],
    foldInto: { norm: "input" },
  },
  o: { linears: ["self_attn.o_proj"], foldInto: { linear: "self_attn.v_proj" } },
  mlp: { linears: ["mlp.gate_proj", "mlp.up_proj"], foldInto: { norm: "post" } },
  down: { linears: ["mlp.down_proj"], foldInto: { linear: "mlp.up_proj" } },
};

/**
 * The projection whose input `name` reads (q for k and v, gate for up; itself
 * otherwise), for a full name (`layers.3.self_attn.k_proj`) or a suffix.
 *
 * @example
 * ```ts
 * import { sharedInput } from "./llama.ts";
 * console.log(sharedInput("layers.3.self_attn.v_proj"), sharedInput("mlp.down_proj")); // layers.3.self_attn.q_proj mlp.down_proj
 * ```
 */
export function sharedInput(name: string): string {
  for (const g of Object.values(LAYER_TOPOLOGY)) {
    for (const l of g.linears.slice(1)) {
      if (name === l || name.endsWith(`.${l}`)) return name.slice(0, -l.length) + g.linears[0];
    }
  }
  return name;
}
