/**
 * The replaceable parts of a model: its projections (every `Linear`, by HF
 * name without the `model.` prefix, plus `lm_head`) and its per-layer
 * RMSNorm weights, with ownership rules (a replaced part is disposed) and
 * edits that can be rolled back. `LlamaModel` extends it with the forward
 * pass.
 *
 * @example
 * ```ts
 * import { initGPU } from "../mod.ts";
 * import { loadModel } from "./load.ts";
 * await initGPU();
 * using model = await loadModel("data/tiny");
 * console.log(model.linears().size, model.layerNorm(0, "input").shape); // 28 [128]
 * ```
 * @module
 */
import type { Tensor } from "../kernels/tensor.ts";
import type { Linear } from "./linear.ts";

/** One layer's RMSNorm weights. */
export interface LayerNorms {
  /** Before attention (HF `input_layernorm`). */
  input: Tensor;
  /** Before the MLP (HF `post_attention_layernorm`). */
  post: Tensor;
}

/** A model's projections and norms (see the module doc). */
export class ModelParts {
  #norms: LayerNorms[] = [];
  readonly #linears = new Map<string, Linear>();
  #head?: Linear;
  #edit?: { linears: Map<string, Linear>; norms: Map<string, Tensor> };
  #disposed = false;

  /** Takes ownership of the parts (called once by the subclass's constructor). */
  protected initParts(norms: LayerNorms[], linears: Map<string, Linear>, head: Linear): void {
    this.#norms = norms;
    for (const [k, v] of linears) this.#linears.set(k, v);
    this.#head = head;
  }

  /** Frees every part; false when they were freed already. */
  protected disposeParts(): boolean {
    if (this.#disposed) return false;
    this.#disposed = true;
    for (const n of this.#norms) {
      n.input.dispose();
      n.post.dispose();
    }
    for (const l of this.#linears.values()) l.dispose();
    this.#head?.dispose();
    return true;
  }

  /**
   * The RMSNorm weight `[hidden]` of layer `i` before attention (`"input"`,
   * HF `input_layernorm`) or before the MLP (`"post"`,
   * `post_attention_layernorm`). Methods that fold per-channel scales into
   * the preceding norm (AWQ, SmoothQuant) read it here and replace it with
   * {@link setLayerNorm}.
   *
   * @example
   * ```ts
   * import { initGPU } from "../mod.ts";
   * import { loadModel } from "./load.ts";
   * await initGPU();
   * using model = await loadModel("data/tiny");
   * console.log(model.layerNorm(0, "post").shape); // [128]
   * ```
   */
  layerNorm(i: number, which: "input" | "post"): Tensor {
    this.alive();
    const n = this.#norms[i];
    if (!n) {
      throw new RangeError(`layerNorm: layer ${i} does not exist (${this.#norms.length} layers)`);
    }
    return which === "input" ? n.input : n.post;
  }

  /**
   * Replaces the RMSNorm weight of layer `i` (see {@link layerNorm}) by
   * `weight` (same shape and dtype; owned from now on); the old one is disposed.
   *
   * @example
   * ```ts
   * import { initGPU } from "../mod.ts";
   * import { loadModel } from "./load.ts";
   * import { mul } from "../kernels/ops/elementwise.ts";
   * await initGPU();
   * using model = await loadModel("data/tiny");
   * model.setLayerNorm(0, "input", mul(model.layerNorm(0, "input"), 2));
   * console.log(model.layerNorm(0, "input").shape); // [128]
   * ```
   */
  setLayerNorm(i: number, which: "input" | "post", weight: Tensor): void {
    const old = this.layerNorm(i, which);
    if (weight.dtype !== old.dtype || weight.size !== old.size || weight.rank !== 1) {
      throw new RangeError(`setLayerNorm(${i}, "${which}"): ${weight} must match ${old}`);
    }
    if (which === "input") this.#norms[i].input = weight;
    else this.#norms[i].post = weight;
    if (old === weight) return;
    const key = `norm:${i}:${which}`;
    if (this.#edit && !this.#edit.norms.has(key)) this.#edit.norms.set(key, old);
    else old.dispose();
  }

  /**
   * Starts an edit: until `commit` or `rollback`, the linears and norms the
   * model replaces are kept instead of disposed, so `rollback()` restores the
   * model exactly as it was (and disposes what replaced them), and `commit()`
   * frees the originals. An edit begun inside another is part of the outer one
   * (its commit and rollback do nothing).
   *
   * @example
   * ```ts
   * import { initGPU, Tensor } from "../mod.ts";
   * import { loadModel } from "./load.ts";
   * import { DenseLinear } from "./linear.ts";
   * await initGPU();
   * using model = await loadModel("data/tiny");
   * const before = model.getLinear("layers.0.mlp.up_proj");
   * const edit = model.beginEdit();
   * model.setLinear("layers.0.mlp.up_proj", new DenseLinear(Tensor.zeros([384, 128])));
   * edit.rollback();
   * console.log(model.getLinear("layers.0.mlp.up_proj") === before); // true
   * ```
   */
  beginEdit(): { commit(): void; rollback(): void } {
    this.alive();
    // nested: the outer edit keeps the originals and decides (a method calling `rtn`, …)
    if (this.#edit) return { commit: () => {}, rollback: () => {} };
    const edit = { linears: new Map<string, Linear>(), norms: new Map<string, Tensor>() };
    this.#edit = edit;
    const end = () => {
      if (this.#edit !== edit) throw new Error("this model edit has already ended");
      this.#edit = undefined;
    };
    return {
      commit: () => {
        end();
        for (const [name, old] of edit.linears) if (this.getLinear(name) !== old) old.dispose();
        for (const [key, old] of edit.norms) if (this.#normOf(key) !== old) old.dispose();
      },
      rollback: () => {
        end();
        for (const [name, old] of edit.linears) this.setLinear(name, old);
        for (const [key, old] of edit.norms) {
          const [, i, which] = key.split(":");
          this.setLayerNorm(Number(i), which as "input" | "post", old);
        }
      },
    };
  }

  #normOf(key: string): Tensor {
    const [, i, which] = key.split(":");
    return this.layerNorm(Number(i), which as "input" | "post");
  }

  /**
   * The decoder layers' projections by HF name without the `model.` prefix,
   * in execution order (`layers.0.self_attn.q_proj`, …, `layers.N.mlp.down_proj`).
   * `lm_head` is included only with `{ includeHead: true }` (quantizers
   * usually leave it in full precision). The map is a snapshot; replace
   * layers with {@link setLinear}.
   *
   * @example
   * ```ts
   * import { initGPU } from "../mod.ts";
   * import { loadModel } from "./load.ts";
   * await initGPU();
   * using model = await loadModel("data/tiny");
   * const lin = model.linears();
   * console.log(lin.size, lin.get("layers.0.mlp.down_proj")!.inFeatures); // 28 384
   * ```
   */
  linears(options: { includeHead?: boolean; layer?: number } = {}): Map<string, Linear> {
    this.alive();
    const out = new Map<string, Linear>();
    for (const [name, lin] of this.#linears) {
      if (options.layer !== undefined && !name.startsWith(`layers.${options.layer}.`)) continue;
      out.set(name, lin);
    }
    if (options.includeHead && options.layer === undefined) out.set("lm_head", this.#head!);
    return out;
  }

  /**
   * The linear layer called `name` (`layers.i.self_attn.q_proj`, …, or `lm_head`).
   *
   * @example
   * ```ts
   * import { initGPU } from "../mod.ts";
   * import { loadModel } from "./load.ts";
   * await initGPU();
   * using model = await loadModel("data/tiny");
   * console.log(model.getLinear("lm_head").outFeatures); // 256
   * ```
   */
  getLinear(name: string): Linear {
    this.alive();
    if (name === "lm_head") return this.#head!;
    const lin = this.#linears.get(name);
    if (!lin) throw new RangeError(this.#unknown(name));
    return lin;
  }

  /**
   * Replaces the linear layer `name` (e.g. by a quantized one with the same
   * in/out features). The replaced layer is disposed unless
   * `{ dispose: false }`, in which case it is returned for the caller to own.
   *
   * @example
   * ```ts
   * import { initGPU } from "../mod.ts";
   * import { loadModel } from "./load.ts";
   * import { DenseLinear } from "./linear.ts";
   * import { unary } from "../kernels/ops/elementwise.ts";
   * await initGPU();
   * using model = await loadModel("data/tiny");
   * const old = model.getLinear("layers.0.mlp.up_proj") as DenseLinear;
   * // a crude "quantizer": every weight rounded to an integer (nearly all become 0)
   * model.setLinear("layers.0.mlp.up_proj", new DenseLinear(unary("round", old.weight)));
   * console.log(model.getLinear("layers.0.mlp.up_proj").outFeatures); // 384
   * ```
   */
  setLinear(name: string, linear: Linear, options: { dispose?: boolean } = {}): Linear {
    this.alive();
    const old = this.getLinear(name);
    if (linear.inFeatures !== old.inFeatures || linear.outFeatures !== old.outFeatures) {
      throw new RangeError(
        `setLinear("${name}"): the new layer is ${linear.inFeatures} → ${linear.outFeatures} ` +
          `but the model needs ${old.inFeatures} → ${old.outFeatures}`,
      );
    }
    if (name === "lm_head") this.#head = linear;
    else this.#linears.set(name, linear);
    if (old === linear) return old;
    // during an edit the first replaced layer of each name is kept for a rollback
    if (this.#edit && !this.#edit.linears.has(name)) this.#edit.linears.set(name, old);
    else if (options.dispose ?? true) old.dispose();
    return old;
  }

  /** Throws once the model was disposed. */
  protected alive(): void {
    if (this.#disposed) throw new ReferenceError("LlamaModel: used after dispose()");
  }

  #unknown(name: string): string {
    const some = [...this.#linears.keys()].slice(0, 7).join(", ");
    return `no linear layer "${name}"; names look like ${some}, …, lm_head`;
  }
}
