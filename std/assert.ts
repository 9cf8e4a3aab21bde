/**
 * A small stand-in for `jsr:@std/assert`, with the same names and call
 * signatures for the functions lowbit uses. JSR cannot be reached from the
 * machines lowbit is built on; to go back to the real module, change the
 * `@std/assert` entry of the import map in `deno.json` to `jsr:@std/assert@^1`.
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * assertEquals([1, 2], [1, 2]);
 * ```
 * @module
 */

/** Error thrown by every assertion in this module. */
export class AssertionError extends Error {
  /** @param message what went wrong */
  constructor(message: string) {
    super(message);
    this.name = "AssertionError";
  }
}

function fmt(v: unknown): string {
  return Deno.inspect(v, { depth: 6, colors: false, iterableLimit: 40 });
}

/**
 * Throws unless `expr` is truthy.
 *
 * @example
 * ```ts
 * import { assert } from "@std/assert";
 * assert(1 + 1 === 2);
 * ```
 */
export function assert(expr: unknown, msg = ""): asserts expr {
  if (!expr) throw new AssertionError(msg || "Expected expression to be true");
}

/**
 * Throws unless `actual` and `expected` are deeply equal (same structure,
 * same primitive values; `NaN` equals `NaN`; typed arrays compare by type and
 * contents).
 *
 * @example
 * ```ts
 * import { assertEquals } from "@std/assert";
 * assertEquals({ a: [1, NaN] }, { a: [1, NaN] });
 * ```
 */
export function assertEquals<T>(actual: T, expected: T, msg?: string): void {
  if (!equal(actual, expected)) {
    throw new AssertionError(
      `${msg ? msg + ": " : ""}Values are not equal.\n  actual:   ${fmt(actual)}\n  expected: ${
        fmt(expected)
      }`,
    );
  }
}

/**
 * Throws if `actual` and `expected` are deeply equal.
 *
 * @example
 * ```ts
 * import { assertNotEquals } from "@std/assert";
 * assertNotEquals(1, 2);
 * ```
 */
export function assertNotEquals<T>(actual: T, expected: T, msg?: string): void {
  if (equal(actual, expected)) {
    throw new AssertionError(
      `${msg ? msg + ": " : ""}Expected values to differ: ${fmt(actual)}`,
    );
  }
}

/**
 * Throws unless `|actual - expected| <= tolerance`. The default tolerance is
 * 1e-7, as in `@std/assert`.
 *
 * @example
 * ```ts
 * import { assertAlmostEquals } from "@std/assert";
 * assertAlmostEquals(0.1 + 0.2, 0.3);
 * assertAlmostEquals(3.14, Math.PI, 0.01);
 * ```
 */
export function assertAlmostEquals(
  actual: number,
  expected: number,
  tolerance = 1e-7,
  msg?: string,
): void {
  if (Object.is(actual, expected)) return;
  const delta = Math.abs(expected - actual);
  if (!(delta <= tolerance)) {
    throw new AssertionError(
      `${
        msg ? msg + ": " : ""
      }Expected ${actual} to be close to ${expected}: delta ${delta} > ${tolerance}`,
    );
  }
}

/**
 * Throws unless `actual` is greater than `expected`.
 *
 * @example
 * ```ts
 * import { assertGreater } from "@std/assert";
 * assertGreater(2, 1);
 * ```
 */
export function assertGreater(actual: number, expected: number, msg?: string): void {
  if (!(actual > expected)) {
    throw new AssertionError(msg ?? `Expected ${actual} > ${expected}`);
  }
}

/**
 * Throws unless `actual` is less than `expected`.
 *
 * @example
 * ```ts
 * import { assertLess } from "@std/assert";
 * assertLess(1, 2);
 * ```
 */
export function assertLess(actual: number, expected: number, msg?: string): void {
  if (!(actual < expected)) {
    throw new AssertionError(msg ?? `Expected ${actual} < ${expected}`);
  }
}

/**
 * Throws unless `actual` contains `expected` as a substring.
 *
 * @example
 * ```ts
 * import { assertStringIncludes } from "@std/assert";
 * assertStringIncludes("lowbit", "bit");
 * ```
 */
export function assertStringIncludes(actual: string, expected: string, msg?: string): void {
  if (!actual.includes(expected)) {
    throw new AssertionError(msg ?? `Expected ${fmt(actual)} to include ${fmt(expected)}`);
  }
}

// deno-lint-ignore no-explicit-any
type ErrorClass = new (...args: any[]) => Error;

function checkError(
  e: unknown,
  ErrorClass?: ErrorClass,
  msgIncludes?: string,
): Error {
  if (!(e instanceof Error)) {
    throw new AssertionError(`A non-Error was thrown: ${fmt(e)}`);
  }
  if (ErrorClass && !(e instanceof ErrorClass)) {
    const err = e as Error;
    throw new AssertionError(
      `Expected error to be instance of "${ErrorClass.name}", but was "${err.constructor.name}": ${err.message}`,
    );
  }
  if (msgIncludes !== undefined && !e.message.includes(msgIncludes)) {
    throw new AssertionError(
      `Expected error message to include ${fmt(msgIncludes)}, but got ${fmt(e.message)}`,
    );
  }
  return e;
}

/**
 * Calls `fn` and throws unless it throws. With an error class (and
 * optionally a message fragment) the thrown error must match them.
 * Returns the thrown error.
 *
 * @example
 * ```ts
 * import { assertThrows } from "@std/assert";
 * assertThrows(() => JSON.parse("{"), SyntaxError);
 * ```
 */
export function assertThrows(
  fn: () => unknown,
  ErrorClass?: ErrorClass,
  msgIncludes?: string,
  msg?: string,
): Error {
  try {
    fn();
  } catch (e) {
    return checkError(e, ErrorClass, msgIncludes);
  }
  throw new AssertionError(msg ?? "Expected function to throw.");
}

/**
 * Awaits `fn()` and throws unless the promise rejects. With an error class
 * (and optionally a message fragment) the rejection must match them.
 * Resolves to the rejection's error.
 *
 * @example
 * ```ts
 * import { assertRejects } from "@std/assert";
 * await assertRejects(() => Promise.reject(new RangeError("x")), RangeError, "x");
 * ```
 */
export async function assertRejects(
  fn: () => PromiseLike<unknown>,
  ErrorClass?: ErrorClass,
  msgIncludes?: string,
  msg?: string,
): Promise<Error> {
  try {
    await fn();
  } catch (e) {
    return checkError(e, ErrorClass, msgIncludes);
  }
  throw new AssertionError(msg ?? "Expected function to reject.");
}

/**
 * Always throws: marks code that must not be reached.
 *
 * @example
 * ```ts
 * import { fail, assertThrows } from "@std/assert";
 * assertThrows(() => fail("no"));
 * ```
 */
export function fail(msg?: string): never {
  throw new AssertionError(`Failed assertion${msg ? `: ${msg}` : "."}`);
}

/**
 * Deep equality as `assertEquals` uses it.
 *
 * @example
 * ```ts
 * import { equal } from "@std/assert";
 * equal(new Float32Array([1]), new Float32Array([1])); // true
 * ```
 */
export function equal(a: unknown, b: unknown): boolean {
  if (Object.is(a, b)) return true;
  if (typeof a !== "object" || typeof b !== "object" || a === null || b === null) {
    return false;
  }
  if (Object.getPrototypeOf(a) !== Object.getPrototypeOf(b)) return false;
  if (a instanceof Date) return a.getTime() === (b as Date).getTime();
  if (ArrayBuffer.isView(a)) {
    const x = a as unknown as ArrayLike<unknown>;
    const y = b as unknown as ArrayLike<unknown>;
    if (x.length !== y.length) return false;
    for (let i = 0; i < x.length; i++) if (!Object.is(x[i], y[i])) return false;
    return true;
  }
  if (a instanceof Map) {
    const m = b as Map<unknown, unknown>;
    if (a.size !== m.size) return false;
    for (const [k, v] of a) if (!m.has(k) || !equal(v, m.get(k))) return false;
    return true;
  }
  if (a instanceof Set) {
    const s = b as Set<unknown>;
    if (a.size !== s.size) return false;
    for (const v of a) if (!s.has(v)) return false;
    return true;
  }
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  for (const k of ka) {
    if (!Object.hasOwn(b, k)) return false;
    if (!equal((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k])) return false;
  }
  return true;
}
