/**
 * The schema behind `quant/quantizer.ts`: the element formats a quantizer may
 * name (the `formats` registry plus formats registered at run time), the
 * limits of range searches, and the field-by-field validation every
 * quantizer passes, from a builder or from JSON.
 *
 * @example
 * ```ts
 * import { elementFormat } from "./quantizer_schema.ts";
 * console.log(elementFormat("uint3").values.length); // 8
 * ```
 * @module
 */
import { type ElementFormat, formats, intFormat } from "./formats/mod.ts";
import type { Quantizer, ScaleFormat } from "./quantizer.ts";

const synthesized = new Map<string, ElementFormat>();

/** A format by its own name only: never an inherited property such as "constructor". */
function knownFormat(name: string): ElementFormat | undefined {
  return Object.hasOwn(formats, name) ? formats[name] : synthesized.get(name);
}

/**
 * The element format named `name`: a key of `formats`, or any `int<b>`,
 * `int<b>r` or `uint<b>` with 1 ≤ b ≤ 8. Throws, listing the names, when unknown.
 *
 * @example
 * ```ts
 * import { elementFormat } from "./quantizer.ts";
 * console.log(elementFormat("uint3").values.length); // 8
 * ```
 */
export function elementFormat(name: string): ElementFormat {
  if (typeof name !== "string") {
    throw new TypeError(`format must be a string naming a format, got ${JSON.stringify(name)}`);
  }
  const known = knownFormat(name);
  if (known) return known;
  const m = /^(u?)int([1-8])(r?)$/.exec(name);
  if (m) {
    const f = intFormat(Number(m[2]), {
      signed: m[1] !== "u",
      range: m[3] ? "restricted" : "full",
    });
    synthesized.set(name, f);
    return f;
  }
  throw new RangeError(
    `unknown format "${name}"; one of ${Object.keys(formats).join(", ")}, or int<b>/uint<b>`,
  );
}

/**
 * Makes an element format built elsewhere (e.g. `minifloat({ name: "e1m2", … })`)
 * known to {@link elementFormat} and so usable in a {@link Quantizer} by its
 * name. Registering the same object twice is a no-op; a different format
 * under a taken name throws.
 *
 * @example
 * ```ts
 * import { minifloat } from "./formats/minifloat.ts";
 * import { elementFormat, registerFormat } from "./quantizer.ts";
 * registerFormat(minifloat({ name: "e1m2", ebits: 1, mbits: 2 }));
 * console.log(elementFormat("e1m2").maxValue); // 3.5
 * ```
 */
export function registerFormat(fmt: ElementFormat): ElementFormat {
  const taken = knownFormat(fmt.name);
  if (taken === fmt) return fmt;
  if (taken) {
    throw new RangeError(`registerFormat: the name "${fmt.name}" is taken by another format`);
  }
  synthesized.set(fmt.name, fmt);
  return fmt;
}

/** The most bins a KL range search takes (its work grows with bins × levels). */
export const MAX_KL_BINS = 1 << 16;
/** The most steps an MSE clipping search takes. */
export const MAX_MSE_GRID = 4096;

const FIELDS = ["format", "symmetric", "granularity", "rounding", "range", "scale"] as const;
const SCALES: readonly ScaleFormat[] = ["f32", "f16", "e8m0", "e4m3"];
/** Each kind's own fields (besides `kind`), by setting. */
const KINDS: Record<"granularity" | "rounding" | "range", Record<string, readonly string[]>> = {
  granularity: { tensor: [], channel: ["axis"], group: ["size"], token: [] },
  rounding: { nearest: [], stochastic: ["seed"] },
  range: {
    minmax: [],
    percentile: ["p"],
    mse: ["grid", "minRatio"],
    kl: ["bins"],
    absmean: [],
    absmedian: [],
  },
};

const show = (v: unknown) => (v === undefined ? "missing" : `${JSON.stringify(v) ?? String(v)}`);
const list = (xs: readonly string[]) => xs.map((x) => JSON.stringify(x)).join(", ");

/**
 * Checks every field of a quantizer (from a builder or from JSON) against the
 * schema; errors name the field, what it is, and the allowed values.
 *
 * @example
 * ```ts
 * import { validateQuantizer } from "./quantizer_schema.ts";
 * try { validateQuantizer({ format: "int4" }, "q"); } catch (e) { console.log((e as Error).message.startsWith("q: ")); } // true
 * ```
 */
export function validateQuantizer(o: unknown, where: string): Quantizer {
  const bad = (field: string, v: unknown, allowed: string, E = RangeError) =>
    new E(`${where}: ${field} is ${show(v)}; ${allowed}`);
  if (o === null || typeof o !== "object" || Array.isArray(o)) {
    throw new TypeError(
      `${where}: expected an object with the fields ${FIELDS.join(", ")}, got ${show(o)}`,
    );
  }
  const r = o as Record<string, unknown>;
  for (const k of Object.keys(r)) {
    if (!(FIELDS as readonly string[]).includes(k)) {
      throw new TypeError(`${where}: unknown field "${k}"; the fields are ${FIELDS.join(", ")}`);
    }
  }
  if (typeof r.format !== "string") {
    throw bad("format", r.format, 'expected a format name such as "int4"', TypeError);
  }
  try {
    elementFormat(r.format);
  } catch {
    throw bad(
      "format",
      r.format,
      `an unknown format; allowed: ${Object.keys(formats).join(", ")}, a registered format, ` +
        `or int<b>/int<b>r/uint<b> with 1 ≤ b ≤ 8`,
    );
  }
  if (typeof r.symmetric !== "boolean") {
    throw bad("symmetric", r.symmetric, "expected true or false", TypeError);
  }
  for (const setting of ["granularity", "rounding", "range"] as const) {
    const v = r[setting];
    const kinds = KINDS[setting];
    if (v === null || typeof v !== "object" || Array.isArray(v)) {
      throw bad(setting, v, `expected an object { kind: ${list(Object.keys(kinds))} }`, TypeError);
    }
    const kind = (v as Record<string, unknown>).kind;
    if (typeof kind !== "string" || !Object.hasOwn(kinds, kind)) {
      throw bad(`${setting}.kind`, kind, `allowed: ${list(Object.keys(kinds))}`);
    }
    for (const k of Object.keys(v)) {
      if (k !== "kind" && !kinds[kind].includes(k)) {
        const own = kinds[kind].length ? `; its fields are ${kinds[kind].join(", ")}` : "";
        throw new TypeError(`${where}: ${setting} "${kind}" has no field "${k}"${own}`);
      }
    }
  }
  const g = r.granularity as Record<string, unknown>;
  if (g.kind === "channel" && g.axis !== 0 && g.axis !== 1) {
    throw bad("granularity.axis", g.axis, "allowed: 0 (per output row) or 1 (per input column)");
  }
  if (g.kind === "group" && !(Number.isSafeInteger(g.size) && (g.size as number) >= 1)) {
    throw bad("granularity.size", g.size, "expected a positive integer (the group size)");
  }
  const rd = r.rounding as Record<string, unknown>;
  if (
    rd.kind === "stochastic" &&
    !(Number.isSafeInteger(rd.seed) && (rd.seed as number) >= 0 && (rd.seed as number) < 2 ** 32)
  ) {
    throw bad("rounding.seed", rd.seed, "expected an integer in [0, 2³²) for stochastic rounding");
  }
  const rg = r.range as Record<string, unknown>;
  const num = (v: unknown): v is number => typeof v === "number" && Number.isFinite(v);
  if (rg.kind === "percentile" && !(num(rg.p) && rg.p > 0 && rg.p <= 100)) {
    throw bad("range.p", rg.p, "expected a percentile in (0, 100]");
  }
  if (rg.kind === "mse") {
    if (
      !(Number.isSafeInteger(rg.grid) && (rg.grid as number) >= 1 &&
        (rg.grid as number) <= MAX_MSE_GRID)
    ) {
      throw bad("range.grid", rg.grid, `expected an integer from 1 to ${MAX_MSE_GRID}`);
    }
    if (!(num(rg.minRatio) && rg.minRatio > 0 && rg.minRatio <= 1)) {
      throw bad("range.minRatio", rg.minRatio, "expected a number in (0, 1]");
    }
  }
  if (
    rg.kind === "kl" &&
    !(Number.isSafeInteger(rg.bins) && (rg.bins as number) >= 1 &&
      (rg.bins as number) <= MAX_KL_BINS)
  ) {
    throw bad("range.bins", rg.bins, `expected an integer from 1 to ${MAX_KL_BINS} (e.g. 2048)`);
  }
  if (typeof r.scale !== "string" || !(SCALES as readonly string[]).includes(r.scale)) {
    throw bad("scale", r.scale, `allowed: ${list(SCALES)}`);
  }
  return r as unknown as Quantizer;
}
