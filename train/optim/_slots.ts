/**
 * The bookkeeping every optimizer shares (private to `train/optim/`):
 * validation of params and grads, lazily created per-parameter state
 * ("slots") with per-parameter step counts, `state()`/`loadState()` as copies,
 * memory accounting and disposal. An optimizer holds one {@link SlotState} and
 * gives it a {@link SlotRule}: its slot names, their layout for a parameter,
 * their empty state, and the update kernel of one tensor.
 *
 * @module
 */
import type { DType } from "../../kernels/dtype.ts";
import { copy } from "../../kernels/runtime.ts";
import { Tensor } from "../../kernels/tensor.ts";
import type { Optimizer, WeightDecayMask } from "./optimizer.ts";

/** Shape and dtype of one slot. */
export interface SlotLayout {
  /** The slot's shape. */
  shape: readonly number[];
  /** The slot's element type. */
  dtype: DType;
}

/** One parameter's state: its step count and its slot tensors. */
export interface ParamState {
  /** Steps this parameter has taken. */
  step: number;
  /** Its state tensors by slot name. */
  slots: Record<string, Tensor>;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

function copyOf(t: Tensor): Tensor {
  const c = Tensor.empty(t.shape, t.dtype);
  if (t.byteLength) copy(t.buffer, 0, c.buffer, 0, t.byteLength);
  return c;
}

/** Throws unless `v` is a finite number in the given range. */
export function checkRange(op: string, what: string, v: number, lo: number, hi: number): void {
  if (!(typeof v === "number" && v >= lo && v <= hi)) {
    throw new RangeError(`${op}: ${what} is ${v}; it must be a number in [${lo}, ${hi}]`);
  }
}

/** What an optimizer tells {@link SlotState}: its slots and its update of one tensor. */
export interface SlotRule {
  /** Every slot name the optimizer can hold (for `loadState` checks). */
  readonly slotNames: readonly string[];
  /** The slots a parameter has and their layout (may depend on its size). */
  layout(p: Tensor): Record<string, SlotLayout>;
  /** New slots for a parameter, initialised to the empty state. */
  create(p: Tensor): Record<string, Tensor>;
  /** One update of `p` in place; `step` counts this parameter's steps from 1. */
  update(
    p: Tensor,
    g: Tensor,
    slots: Record<string, Tensor>,
    step: number,
    lr: number,
    decay: boolean,
  ): void;
}

/** The per-parameter state of an optimizer and the {@link Optimizer} methods over it. */
export class SlotState implements Optimizer {
  #states = new Map<string, ParamState>();
  #stepCount = 0;
  #disposed = false;

  /**
   * The state of an optimizer named `name` that decays where `mask` says and
   * updates by `rule`.
   *
   * @param name the optimizer's class name, for messages
   * @param mask which parameters are decayed
   * @param rule the optimizer's slots and update
   */
  constructor(name: string, mask: WeightDecayMask, rule: SlotRule) {
    this.name = name;
    this.mask = mask;
    this.rule = rule;
  }

  /** The optimizer's class name, for messages. */
  readonly name: string;
  private readonly mask: WeightDecayMask;
  private readonly rule: SlotRule;

  /** Number of `step` calls so far. */
  get stepCount(): number {
    return this.#stepCount;
  }

  #alive(op: string): void {
    if (this.#disposed) {
      throw new ReferenceError(`${this.name}.${op}: the optimizer was disposed; create a new one`);
    }
  }

  /** One step; see {@link Optimizer.step}. */
  step(params: ReadonlyMap<string, Tensor>, grads: ReadonlyMap<string, Tensor>, lr: number): void {
    const op = `${this.name}.step`;
    this.#alive("step");
    checkRange(op, "the learning rate", lr, 0, Number.MAX_VALUE);
    // 1. check everything before changing anything
    for (const [name, g] of grads) {
      const p = params.get(name);
      if (!p) {
        throw new RangeError(
          `${op}: gradient "${name}" names no parameter; pass the parameters it belongs to ` +
            `(known: ${[...params.keys()].slice(0, 5).join(", ")}${params.size > 5 ? ", …" : ""})`,
        );
      }
      if (p.dtype !== "f32" || g.dtype !== "f32") {
        throw new TypeError(
          `${op}: "${name}" has a ${p.dtype} parameter and a ${g.dtype} gradient; both must be ` +
            `f32 (keep f32 masters with MasterWeights, which casts f16 gradients)`,
        );
      }
      if (!sameShape(p.shape, g.shape)) {
        throw new RangeError(
          `${op}: gradient "${name}" has shape [${g.shape}] but the parameter has [${p.shape}]`,
        );
      }
      const s = this.#states.get(name);
      if (s) this.#checkSlots(op, name, p, s.slots);
    }
    // 2. update
    for (const [name, g] of grads) {
      const p = params.get(name)!;
      let s = this.#states.get(name);
      if (!s) this.#states.set(name, s = { step: 0, slots: this.rule.create(p) });
      s.step++;
      this.rule.update(p, g, s.slots, s.step, lr, this.mask(name, p));
    }
    this.#stepCount++;
  }

  #checkSlots(op: string, name: string, p: Tensor, slots: Record<string, Tensor>): void {
    const want = this.rule.layout(p);
    const keys = Object.keys(want);
    const have = Object.keys(slots);
    const ok = keys.length === have.length && keys.every((k) => {
      const t = slots[k];
      return t && t.dtype === want[k].dtype && sameShape(t.shape, want[k].shape);
    });
    if (!ok) {
      const show = (r: Record<string, { shape: readonly number[]; dtype: DType }>) =>
        Object.entries(r).map(([k, v]) => `${k} ${v.dtype} [${v.shape}]`).join(", ");
      throw new RangeError(
        `${op}: the state of "${name}" (${show(slots)}) does not fit the parameter ` +
          `[${p.shape}] (expected ${show(want)}); was it loaded from another model or optimizer?`,
      );
    }
  }

  /** Copies of the state; see {@link Optimizer.state}. */
  state(): Map<string, Tensor> {
    this.#alive("state");
    const out = new Map<string, Tensor>();
    out.set("step", Tensor.fromArray(new Int32Array([this.#stepCount]), [], "i32"));
    for (const [name, s] of this.#states) {
      out.set(`${name}/step`, Tensor.fromArray(new Int32Array([s.step]), [], "i32"));
      for (const [k, t] of Object.entries(s.slots)) out.set(`${name}/${k}`, copyOf(t));
    }
    return out;
  }

  /** Loads copies of a state; see {@link Optimizer.loadState}. */
  async loadState(state: ReadonlyMap<string, Tensor>): Promise<void> {
    const op = `${this.name}.loadState`;
    this.#alive("loadState");
    const scalar = async (key: string, t: Tensor | undefined) => {
      if (!t || t.dtype !== "i32" || t.size !== 1) {
        throw new TypeError(`${op}: "${key}" must be an i32 scalar step count (as state() gives)`);
      }
      return (await t.data())[0];
    };
    const stepCount = await scalar("step", state.get("step"));
    const parsed = new Map<string, ParamState>();
    for (const [key, t] of state) {
      if (key === "step") continue;
      const cut = key.lastIndexOf("/");
      const name = key.slice(0, cut), slot = key.slice(cut + 1);
      if (cut < 0 || (slot !== "step" && !this.rule.slotNames.includes(slot))) {
        throw new RangeError(
          `${op}: unknown key "${key}"; ${this.name} keys are "step" and "<param>/<slot>" ` +
            `with slot one of step, ${this.rule.slotNames.join(", ")}`,
        );
      }
      let s = parsed.get(name);
      if (!s) parsed.set(name, s = { step: -1, slots: {} });
      if (slot === "step") s.step = await scalar(key, t);
      else s.slots[slot] = t;
    }
    for (const [name, s] of parsed) {
      if (s.step < 1) throw new RangeError(`${op}: "${name}/step" is missing or < 1`);
    }
    // nothing is replaced until every key has been checked
    this.#disposeStates();
    for (const [name, s] of parsed) {
      const slots: Record<string, Tensor> = {};
      for (const [k, t] of Object.entries(s.slots)) slots[k] = copyOf(t);
      this.#states.set(name, { step: s.step, slots });
    }
    this.#stepCount = stepCount;
  }

  /** Bytes of the slot tensors. */
  memoryBytes(): number {
    let bytes = 0;
    for (const s of this.#states.values()) {
      for (const t of Object.values(s.slots)) bytes += t.byteLength;
    }
    return bytes;
  }

  #disposeStates(): void {
    for (const s of this.#states.values()) for (const t of Object.values(s.slots)) t.dispose();
    this.#states.clear();
  }

  /** Frees the state (safe to call twice). */
  dispose(): void {
    this.#disposeStates();
    this.#disposed = true;
  }

  /** Frees the state at the end of a `using` scope. */
  [Symbol.dispose](): void {
    this.dispose();
  }
}

/**
 * The {@link Optimizer} methods over a {@link SlotState}: an optimizer class
 * extends this and sets `slots` in its constructor.
 */
export abstract class SlotOptimizer implements Optimizer {
  /** The per-parameter state and update rule. */
  protected slots!: SlotState;

  /** Number of `step` calls so far. */
  get stepCount(): number {
    return this.slots.stepCount;
  }

  /** One step with learning rate `lr`; see {@link Optimizer.step}. */
  step(params: ReadonlyMap<string, Tensor>, grads: ReadonlyMap<string, Tensor>, lr: number): void {
    this.slots.step(params, grads, lr);
  }

  /** Copies of the state (owned by the caller); see {@link Optimizer.state}. */
  state(): Map<string, Tensor> {
    return this.slots.state();
  }

  /** Replaces the state by copies of `state`; see {@link Optimizer.loadState}. */
  loadState(state: ReadonlyMap<string, Tensor>): Promise<void> {
    return this.slots.loadState(state);
  }

  /** Bytes of GPU memory the state holds now. */
  memoryBytes(): number {
    return this.slots.memoryBytes();
  }

  /** Frees the state (safe to call twice). */
  dispose(): void {
    this.slots.dispose();
  }

  /** Frees the state at the end of a `using` scope. */
  [Symbol.dispose](): void {
    this.dispose();
  }
}
