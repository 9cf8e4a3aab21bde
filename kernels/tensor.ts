/**
 * `Tensor`: an n-dimensional array on the GPU with a shape, a dtype and a
 * buffer it owns. Ops encode work at once into a shared command stream;
 * `await t.data()` flushes and reads back. Free a tensor with `dispose()` or
 * `using t = …`; a disposed tensor throws when used.
 *
 * @example
 * ```ts
 * import { initGPU } from "./gpu.ts";
 * import { Tensor } from "./tensor.ts";
 * await initGPU();
 * using t = Tensor.fromArray([[1, 2, 3], [4, 5, 6]]);
 * console.log(t.shape, await t.data()); // [2, 3] Float32Array [1, 2, 3, 4, 5, 6]
 * ```
 * @module
 */
import { allocate, clear, readback, release, upload } from "./runtime.ts";
import { Rng } from "./random.ts";
import { summarize, type TensorSummary } from "./tensor_summary.ts";
import {
  type AnyTypedArray,
  bytesPerElement,
  type DType,
  dtypeOf,
  toTypedArray,
  viewAs,
} from "./dtype.ts";

/** A GPU buffer shared by a tensor and its reshaped views; freed when the last view is. */
class Storage {
  refs = 1;
  constructor(readonly buffer: GPUBuffer, readonly bytes: number) {}
  retain(): this {
    this.refs++;
    return this;
  }
  drop(): void {
    if (--this.refs === 0) release(this.buffer);
  }
}

/**
 * Set by `kernels/autograd.ts`: called when `reshape` makes a view, so a
 * recording tape can follow gradients through it. Not for other uses.
 */
export const viewHooks: { onReshape?: (x: Tensor, view: Tensor) => void } = {};

export type { TensorSummary } from "./tensor_summary.ts";

/** Nested arrays of numbers, as `Tensor.fromArray` accepts and `toArray` returns. */
export type NestedArray = number | NestedArray[];

/** Options for random tensors. */
export interface RandomOptions {
  /** Seed; the same seed gives the same bits. Default 0. */
  seed?: number;
  /** Element type (f32 or f16). Default f32. */
  dtype?: DType;
}

/**
 * Product of a shape's dimensions.
 *
 * @example
 * ```ts
 * import { numel } from "./tensor.ts";
 * console.log(numel([2, 3, 4])); // 24
 * ```
 */
export function numel(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

function checkShape(shape: readonly number[], what: string): void {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) {
      throw new RangeError(
        `${what}: shape [${shape}] has an invalid dimension ${d}; dimensions are integers ≥ 0`,
      );
    }
  }
}

function inferShape(data: NestedArray): number[] {
  const shape: number[] = [];
  let x: NestedArray = data;
  while (Array.isArray(x)) {
    shape.push(x.length);
    x = x[0] as NestedArray;
  }
  return shape;
}

/** An n-dimensional GPU array. */
export class Tensor {
  /** Dimensions, outermost first. */
  readonly shape: readonly number[];
  /** Element type. */
  readonly dtype: DType;
  /** Number of elements. */
  readonly size: number;
  #storage: Storage | undefined;
  /** A name used in error messages and displays (e.g. "layers.0.q_proj.weight"). */
  name?: string;

  /** Wraps a storage; use the static constructors instead. */
  private constructor(shape: readonly number[], dtype: DType, storage: Storage) {
    this.shape = Object.freeze([...shape]);
    this.dtype = dtype;
    this.size = numel(shape);
    this.#storage = storage;
  }

  /**
   * An uninitialised tensor (contents undefined): the output buffer of an op.
   *
   * @example
   * ```ts
   * import { initGPU } from "./gpu.ts";
   * import { Tensor } from "./tensor.ts";
   * await initGPU();
   * using t = Tensor.empty([4, 4], "f16");
   * console.log(t.size); // 16
   * ```
   */
  static empty(shape: readonly number[], dtype: DType = "f32"): Tensor {
    checkShape(shape, "Tensor.empty");
    const bytes = numel(shape) * bytesPerElement(dtype);
    const what = `a ${dtype} tensor of shape [${shape}]`;
    return new Tensor(shape, dtype, new Storage(allocate(bytes, what), bytes));
  }

  /**
   * A tensor holding `data`: a typed array, a flat array with a `shape`, or
   * nested arrays (shape inferred). The dtype defaults to the typed array's,
   * else f32. The input is copied, never modified.
   *
   * @example
   * ```ts
   * import { initGPU } from "./gpu.ts";
   * import { Tensor } from "./tensor.ts";
   * await initGPU();
   * using a = Tensor.fromArray(new Int32Array([1, 2, 3, 4]), [2, 2]);
   * console.log(a.dtype, await a.toArray()); // "i32" [[1, 2], [3, 4]]
   * ```
   */
  static fromArray(
    data: ArrayLike<number> | NestedArray,
    shape?: readonly number[],
    dtype?: DType,
  ): Tensor {
    let flat: ArrayLike<number>;
    if (Array.isArray(data) && data.some((x) => Array.isArray(x))) {
      const inferred = inferShape(data);
      flat = (data as unknown[]).flat(Infinity) as number[];
      if (flat.length !== numel(inferred)) {
        throw new RangeError(
          `Tensor.fromArray: nested array is ragged (shape [${inferred}] needs ${
            numel(inferred)
          } values, got ${flat.length})`,
        );
      }
      shape ??= inferred;
    } else if (typeof data === "number") {
      flat = [data];
      shape ??= [];
    } else {
      flat = data as ArrayLike<number>;
      shape ??= [flat.length];
    }
    checkShape(shape, "Tensor.fromArray");
    if (numel(shape) !== flat.length) {
      throw new RangeError(
        `Tensor.fromArray: shape [${shape}] needs ${
          numel(shape)
        } values but the data has ${flat.length}`,
      );
    }
    const dt = dtype ?? dtypeOf(flat) ?? "f32";
    const typed = dtypeOf(flat) === dt ? flat as AnyTypedArray : toTypedArray(flat, dt);
    const t = Tensor.empty(shape, dt);
    upload(t.buffer, typed);
    return t;
  }

  /**
   * A tensor of zeros.
   *
   * @example
   * ```ts
   * import { initGPU } from "./gpu.ts";
   * import { Tensor } from "./tensor.ts";
   * await initGPU();
   * using z = Tensor.zeros([3]);
   * console.log(await z.data()); // Float32Array [0, 0, 0]
   * ```
   */
  static zeros(shape: readonly number[], dtype: DType = "f32"): Tensor {
    const t = Tensor.empty(shape, dtype);
    clear(t.buffer, t.byteLength);
    return t;
  }

  /**
   * A tensor filled with `value`.
   *
   * @example
   * ```ts
   * import { initGPU } from "./gpu.ts";
   * import { Tensor } from "./tensor.ts";
   * await initGPU();
   * using t = Tensor.full([2], 7, "i32");
   * console.log(await t.data()); // Int32Array [7, 7]
   * ```
   */
  static full(shape: readonly number[], value: number, dtype: DType = "f32"): Tensor {
    checkShape(shape, "Tensor.full");
    return Tensor.fromArray(toTypedArray(new Array(numel(shape)).fill(value), dtype), shape, dtype);
  }

  /**
   * `[start, start + step, …]` with `n` elements.
   *
   * @example
   * ```ts
   * import { initGPU } from "./gpu.ts";
   * import { Tensor } from "./tensor.ts";
   * await initGPU();
   * using t = Tensor.arange(4, { start: 1, step: 2 });
   * console.log(await t.data()); // Float32Array [1, 3, 5, 7]
   * ```
   */
  static arange(
    n: number,
    { start = 0, step = 1, dtype = "f32" }: { start?: number; step?: number; dtype?: DType } = {},
  ): Tensor {
    const values = Array.from({ length: n }, (_, i) => start + i * step);
    return Tensor.fromArray(toTypedArray(values, dtype), [n], dtype);
  }

  /**
   * Standard normal values (seeded, generated on the CPU so the same seed
   * gives the same bits on every machine), scaled by `std` and shifted by `mean`.
   *
   * @example
   * ```ts
   * import { initGPU } from "./gpu.ts";
   * import { Tensor } from "./tensor.ts";
   * await initGPU();
   * using a = Tensor.randn([2, 3], { seed: 1 });
   * using b = Tensor.randn([2, 3], { seed: 1 });
   * console.log(String(await a.data()) === String(await b.data())); // true
   * ```
   */
  static randn(
    shape: readonly number[],
    { seed = 0, dtype = "f32", mean = 0, std = 1 }: RandomOptions & {
      mean?: number;
      std?: number;
    } = {},
  ): Tensor {
    checkShape(shape, "Tensor.randn");
    return Tensor.fromArray(new Rng(seed).normal(numel(shape), mean, std), shape, dtype);
  }

  /**
   * Uniform values in [low, high) (seeded, CPU-generated).
   *
   * @example
   * ```ts
   * import { initGPU } from "./gpu.ts";
   * import { Tensor } from "./tensor.ts";
   * await initGPU();
   * using u = Tensor.rand([1000], { seed: 3 });
   * const d = await u.data();
   * console.log(d.every((v) => v >= 0 && v < 1)); // true
   * ```
   */
  static rand(
    shape: readonly number[],
    { seed = 0, dtype = "f32", low = 0, high = 1 }: RandomOptions & {
      low?: number;
      high?: number;
    } = {},
  ): Tensor {
    checkShape(shape, "Tensor.rand");
    return Tensor.fromArray(new Rng(seed).uniform(numel(shape), low, high), shape, dtype);
  }

  /** The GPU buffer. Throws if the tensor was disposed. */
  get buffer(): GPUBuffer {
    if (!this.#storage) {
      throw new ReferenceError(
        `Tensor${
          this.name ? ` "${this.name}"` : ""
        } [${this.shape}] ${this.dtype} was used after ` +
          `dispose(); keep it alive until its last use (or clone it before disposing)`,
      );
    }
    return this.#storage.buffer;
  }

  /** Bytes the elements occupy (without padding). */
  get byteLength(): number {
    return this.size * bytesPerElement(this.dtype);
  }

  /** Number of dimensions. */
  get rank(): number {
    return this.shape.length;
  }

  /** True once `dispose()` has been called. */
  get disposed(): boolean {
    return this.#storage === undefined;
  }

  /**
   * A view with another shape over the same buffer (one dimension may be
   * -1). The view must be disposed too; the buffer is freed with the last.
   *
   * @example
   * ```ts
   * import { initGPU } from "./gpu.ts";
   * import { Tensor } from "./tensor.ts";
   * await initGPU();
   * using t = Tensor.arange(6);
   * using v = t.reshape([2, -1]);
   * console.log(v.shape); // [2, 3]
   * ```
   */
  reshape(shape: readonly number[]): Tensor {
    const buffer = this.buffer; // throws if disposed
    const known = shape.filter((d) => d !== -1);
    const free = shape.length - known.length;
    if (free > 1) throw new RangeError(`reshape: at most one -1 in [${shape}]`);
    const resolved = free === 1 ? shape.map((d) => (d === -1 ? this.size / numel(known) : d)) : [
      ...shape,
    ];
    checkShape(resolved, "reshape");
    if (numel(resolved) !== this.size) {
      throw new RangeError(
        `reshape: cannot view [${this.shape}] (${this.size} elements) as [${shape}]`,
      );
    }
    void buffer;
    const t = new Tensor(resolved, this.dtype, this.#storage!.retain());
    t.name = this.name;
    viewHooks.onReshape?.(this, t);
    return t;
  }

  /**
   * A second handle to the same values (same shape, shared buffer): the
   * buffer is freed when the last handle is disposed. Not recorded by
   * autograd: a shared handle is a new, untracked tensor.
   *
   * @example
   * ```ts
   * import { initGPU } from "./gpu.ts";
   * import { Tensor } from "./tensor.ts";
   * await initGPU();
   * const t = Tensor.fromArray([1, 2]);
   * using u = t.share();
   * t.dispose();
   * console.log(await u.data()); // Float32Array [1, 2]
   * ```
   */
  share(): Tensor {
    void this.buffer; // throws if disposed
    const t = new Tensor(this.shape, this.dtype, this.#storage!.retain());
    t.name = this.name;
    return t;
  }

  /**
   * Reads the elements back to the CPU (flushes queued work) as a typed array
   * of the tensor's dtype.
   *
   * @example
   * ```ts
   * import { initGPU } from "./gpu.ts";
   * import { Tensor } from "./tensor.ts";
   * await initGPU();
   * using t = Tensor.fromArray([1.5, -2], [2], "f16");
   * console.log(await t.data()); // Float16Array [1.5, -2]
   * ```
   */
  async data(): Promise<AnyTypedArray> {
    const bytes = await readback(this.buffer, this.byteLength);
    return viewAs(bytes, this.dtype, this.size);
  }

  /**
   * Reads back as nested arrays of numbers matching the shape.
   *
   * @example
   * ```ts
   * import { initGPU } from "./gpu.ts";
   * import { Tensor } from "./tensor.ts";
   * await initGPU();
   * using t = Tensor.arange(4).reshape([2, 2]);
   * console.log(await t.toArray()); // [[0, 1], [2, 3]]
   * ```
   */
  async toArray(): Promise<NestedArray> {
    const flat = Array.from(await this.data());
    const build = (dim: number, offset: number): NestedArray => {
      if (dim === this.shape.length) return flat[offset];
      const stride = numel(this.shape.slice(dim + 1));
      return Array.from({ length: this.shape[dim] }, (_, i) => build(dim + 1, offset + i * stride));
    };
    return build(0, 0);
  }

  /**
   * The single value of a one-element tensor.
   *
   * @example
   * ```ts
   * import { initGPU } from "./gpu.ts";
   * import { Tensor } from "./tensor.ts";
   * await initGPU();
   * using t = Tensor.fromArray([42]);
   * console.log(await t.item()); // 42
   * ```
   */
  async item(): Promise<number> {
    if (this.size !== 1) {
      throw new RangeError(
        `item(): tensor of shape [${this.shape}] has ${this.size} elements, not 1`,
      );
    }
    return (await this.data())[0];
  }

  /** Frees the buffer (returned to the pool). Safe to call twice. */
  dispose(): void {
    this.#storage?.drop();
    this.#storage = undefined;
  }

  /** Disposes at the end of a `using` scope. */
  [Symbol.dispose](): void {
    this.dispose();
  }

  /** A short description without reading the GPU: `Tensor [2, 3] f32`. */
  toString(): string {
    return `Tensor${this.name ? ` "${this.name}"` : ""} [${this.shape.join(", ")}] ${this.dtype}${
      this.disposed ? " (disposed)" : ""
    }`;
  }

  /** Summary for notebooks: shape, dtype, a few values and min/max/mean. */
  async summary(): Promise<TensorSummary> {
    return summarize(this.toString(), await this.data());
  }

  /** Jupyter display (Deno kernel): reads back and shows a summary table. */
  async [Symbol.for("Jupyter.display")](): Promise<Record<string, string>> {
    if (this.disposed) return { "text/plain": this.toString() };
    const s = await this.summary();
    return { "text/plain": s.text, "text/html": s.html };
  }

  /** Deno.inspect shows the description (values need `await t.data()`). */
  [Symbol.for("Deno.customInspect")](): string {
    return this.toString();
  }
}
