/**
 * Input normalisation for the chart builders: plain arrays, typed arrays,
 * Arrow vectors (anything with `toArray()`), and columns of Arrow tables.
 *
 * @example
 * ```ts
 * import { numbers } from "./data.ts";
 * const xs = numbers(new Int32Array([1, 2]), "xs");
 * if (xs[1] !== 2) throw new Error("bad conversion");
 * ```
 * @module
 */

/** Something with an `toArray()` method, such as an Arrow `Vector`. */
export interface ArrayConvertible {
  /** Returns the values as an array or typed array. */
  toArray(): ArrayLike<unknown>;
}

/** Numeric input accepted by every chart builder. */
export type Numbers = ArrayLike<number | bigint> | ArrayConvertible;

/** Label input: strings or numbers (shown as text). */
export type Labels = ArrayLike<string | number | bigint> | ArrayConvertible;

/** The part of an Arrow `Table` that the charts use. */
export interface ColumnSource {
  /** Returns the named column, or null when there is none. */
  getChild(name: string): ArrayConvertible | null;
  /** The table's schema, for error messages. */
  schema: { fields: { name: string }[] };
}

function raw(v: Numbers | Labels, what: string): ArrayLike<unknown> {
  if (v === null || v === undefined) throw new TypeError(`${what}: expected values, got ${v}`);
  if (typeof (v as ArrayConvertible).toArray === "function") {
    return (v as ArrayConvertible).toArray();
  }
  if (typeof (v as ArrayLike<unknown>).length !== "number") {
    throw new TypeError(`${what}: expected an array, typed array or Arrow vector`);
  }
  return v as ArrayLike<unknown>;
}

/**
 * Converts numeric input to a `Float64Array` (bigints and nulls become numbers / NaN).
 *
 * @example
 * ```ts
 * import { numbers } from "./data.ts";
 * const v = numbers([1n, 2n], "counts");
 * if (v[0] !== 1) throw new Error("bigint not converted");
 * ```
 */
export function numbers(v: Numbers, what = "values"): Float64Array {
  const a = raw(v, what);
  const out = new Float64Array(a.length);
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    out[i] = x === null || x === undefined ? NaN : Number(x);
  }
  return out;
}

/**
 * Converts label input to strings.
 *
 * @example
 * ```ts
 * import { labels } from "./data.ts";
 * if (labels([1, "b"], "x").join() !== "1,b") throw new Error("bad labels");
 * ```
 */
export function labels(v: Labels, what = "labels"): string[] {
  return Array.from(raw(v, what), (x) => String(x));
}

/**
 * The named column of an Arrow table, with an error naming the available
 * columns when it is missing.
 *
 * @example
 * ```ts
 * import { tableFromArrays } from "apache-arrow";
 * import { column, numbers } from "./data.ts";
 * const t = tableFromArrays({ layer: ["a", "b"], mse: new Float32Array([0.5, 0.25]) });
 * if (numbers(column(t, "mse"))[1] !== 0.25) throw new Error("wrong column");
 * ```
 */
export function column(table: ColumnSource, name: string): ArrayConvertible {
  const c = table.getChild(name);
  if (!c) {
    const have = table.schema.fields.map((f) => f.name).join(", ");
    throw new Error(`column "${name}" not found in the table (columns: ${have})`);
  }
  return c;
}

/**
 * Throws unless the arrays have equal lengths, naming them.
 *
 * @example
 * ```ts
 * import { sameLength } from "./data.ts";
 * sameLength({ x: [1, 2], y: [3, 4] });
 * ```
 */
export function sameLength(arrays: Record<string, ArrayLike<unknown>>): number {
  const entries = Object.entries(arrays);
  const n = entries[0]?.[1].length ?? 0;
  for (const [name, a] of entries) {
    if (a.length !== n) {
      const desc = entries.map(([k, v]) => `${k}: ${v.length}`).join(", ");
      throw new RangeError(`length mismatch for "${name}" (${desc})`);
    }
  }
  return n;
}
