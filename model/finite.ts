/**
 * Finding NaN and ±Inf in weights: the first non-finite element of an array,
 * and its place written as `name[i, j] = value`, for the errors of
 * `loadModel` and of the evaluation functions.
 *
 * @example
 * ```ts
 * import { describeNonFinite } from "./finite.ts";
 * console.log(describeNonFinite("w", Float32Array.of(1, 2, NaN, 4), [2, 2]));
 * // w[1, 0] = NaN
 * ```
 * @module
 */

/**
 * Index of the first NaN or ±Inf in `data`, or −1 when every element is finite.
 *
 * @example
 * ```ts
 * import { firstNonFinite } from "./finite.ts";
 * console.log(firstNonFinite(Float32Array.of(0, Infinity)), firstNonFinite([1, 2])); // 1 -1
 * ```
 */
export function firstNonFinite(data: ArrayLike<number>): number {
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    // v − v is 0 for finite v, NaN for NaN and ±Inf
    if (v - v !== 0) return i;
  }
  return -1;
}

/**
 * `name[i, j] = value` for the first non-finite element of `data` (row-major
 * with `shape`), or undefined when every element is finite.
 *
 * @example
 * ```ts
 * import { describeNonFinite } from "./finite.ts";
 * console.log(describeNonFinite("b", Float32Array.of(1, -Infinity), [2])); // b[1] = -Infinity
 * console.log(describeNonFinite("b", Float32Array.of(1, 2), [2])); // undefined
 * ```
 */
export function describeNonFinite(
  name: string,
  data: ArrayLike<number>,
  shape: readonly number[],
): string | undefined {
  const at = firstNonFinite(data);
  return at < 0 ? undefined : describeElement(name, at, data[at], shape);
}

/**
 * `name[i, j] = value`: element `index` (flat, row-major with `shape`) and its value.
 *
 * @example
 * ```ts
 * import { describeElement } from "./finite.ts";
 * console.log(describeElement("w", 5, NaN, [2, 3])); // w[1, 2] = NaN
 * ```
 */
export function describeElement(
  name: string,
  index: number,
  value: number,
  shape: readonly number[],
): string {
  const coords: number[] = [];
  let rest = index;
  for (let d = shape.length - 1; d >= 0; d--) {
    coords.unshift(rest % shape[d]);
    rest = Math.floor(rest / shape[d]);
  }
  return `${name}[${coords.join(", ")}] = ${value}`;
}
