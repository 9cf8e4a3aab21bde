/**
 * A `Quantizer` is plain data — format × granularity × rounding × range ×
 * scale format — that prints, compares and serialises to JSON. The builders
 * (`int`, `fp`, `mxfp4`, `nvfp4`, `nf4`, `ternary`, `binary`, …) give the
 * settings of the literature; `quantize` in `./quantize.ts` applies one.
 *
 * Scale formats: `f32`/`f16` store the per-group scale (clip / max value);
 * `e8m0` is the OCP MX rule (a power of two, 2^(⌊log2 amax⌋ − emax));
 * `e4m3` is NVFP4's rule (an E4M3 scale per block times an f32 tensor scale).
 *
 * @example
 * ```ts
 * import { describe, fromJSON, int, nvfp4 } from "./quantizer.ts";
 * const q = int(4, { group: 128 });
 * console.log(describe(q)); // int4 · group 128 · symmetric · nearest · minmax · f16 scales
 * console.log(describe(fromJSON(JSON.stringify(nvfp4()))));
 * ```
 * @module
 */
import type { ElementFormat, IntFormat } from "./formats/mod.ts";
import { elementFormat, validateQuantizer } from "./quantizer_schema.ts";

export { elementFormat, MAX_KL_BINS, MAX_MSE_GRID, registerFormat } from "./quantizer_schema.ts";

/** Which elements share a scale. Groups and channels run along the last (input) axis. */
export type Granularity =
  | { kind: "tensor" }
  | { kind: "channel"; axis: 0 | 1 }
  | { kind: "group"; size: number }
  | { kind: "token" };

/** Round to nearest (the format's rule, ties to even) or stochastically with a seed. */
export type Rounding = { kind: "nearest" } | { kind: "stochastic"; seed: number };

/** How the clipping range of each group is chosen. */
export type RangeSetting =
  | { kind: "minmax" }
  | { kind: "percentile"; p: number }
  | { kind: "mse"; grid: number; minRatio: number }
  | { kind: "kl"; bins: number }
  | { kind: "absmean" }
  | { kind: "absmedian" };

/** How per-group scales are stored. */
export type ScaleFormat = "f32" | "f16" | "e8m0" | "e4m3";

/** A quantizer: what to round to, in which groups, how, and with which ranges. */
export interface Quantizer {
  /** Element format name, a key of `formats` (e.g. "int4", "uint4", "e2m1", "nf4", "ternary"). */
  readonly format: string;
  /** Symmetric around zero, or with a zero point (integer formats only: uses `uint<b>` codes). */
  readonly symmetric: boolean;
  /** Which elements share a scale. */
  readonly granularity: Granularity;
  /** Nearest or stochastic rounding. */
  readonly rounding: Rounding;
  /** How each group's clipping range is chosen. */
  readonly range: RangeSetting;
  /** How scales are stored. */
  readonly scale: ScaleFormat;
}

/** Options shared by the builders. */
export interface QuantizerOptions {
  /** Group size along the input axis (overrides `channel`). */
  group?: number;
  /** "tensor", "channel" (per output row, the default), "channel-in" (per input column) or "token". */
  per?: "tensor" | "channel" | "channel-in" | "token";
  /** Rounding (default nearest). */
  rounding?: Rounding;
  /** Range setting (default min-max). */
  range?: RangeSetting;
  /** Scale storage (default f16 for int/fp, f32 for nf4/ternary/binary). */
  scale?: ScaleFormat;
}

function granularity(o: QuantizerOptions, fallback: Granularity): Granularity {
  if (o.group !== undefined) {
    if (!Number.isInteger(o.group) || o.group < 1) {
      throw new RangeError(`group size must be a positive integer, got ${o.group}`);
    }
    return { kind: "group", size: o.group };
  }
  switch (o.per) {
    case undefined:
      return fallback;
    case "tensor":
      return { kind: "tensor" };
    case "channel":
      return { kind: "channel", axis: 0 };
    case "channel-in":
      return { kind: "channel", axis: 1 };
    case "token":
      return { kind: "token" };
  }
  throw new RangeError(`per must be tensor, channel, channel-in or token; got ${o.per}`);
}

function make(q: Quantizer, where = "quantizer"): Quantizer {
  validateQuantizer(q, where);
  const fmt = elementFormat(q.format);
  if (!q.symmetric && !isInt(fmt)) {
    throw new RangeError(
      `${where}: symmetric is false with format "${q.format}"; asymmetric (zero-point) ` +
        `quantization needs an integer format`,
    );
  }
  if ((q.scale === "e8m0" || q.scale === "e4m3") && q.granularity.kind !== "group") {
    throw new RangeError(
      `${where}: scale "${q.scale}" with granularity "${q.granularity.kind}"; ${q.scale} block ` +
        `scales need a group granularity (MX: 32, NVFP4: 16)`,
    );
  }
  // a deep copy, so later changes to the caller's objects cannot change the quantizer
  return Object.freeze({
    format: q.format,
    symmetric: q.symmetric,
    granularity: Object.freeze({ ...q.granularity }),
    rounding: Object.freeze({ ...q.rounding }),
    range: Object.freeze({ ...q.range }),
    scale: q.scale,
  }) as Quantizer;
}

/** True for the integer formats (which have qmin/qmax). */
export function isInt(fmt: ElementFormat): fmt is IntFormat {
  return "qmin" in fmt && "qmax" in fmt;
}

const NEAREST: Rounding = { kind: "nearest" };
const MINMAX: RangeSetting = { kind: "minmax" };

/**
 * Integer quantizer of 1–8 bits. Symmetric uses the full signed range with
 * scale = amax / qmax; `symmetric: false` uses unsigned codes with a zero point.
 * Default: per output channel, f16 scales.
 *
 * @example
 * ```ts
 * import { describe, int } from "./quantizer.ts";
 * console.log(describe(int(3, { group: 32, symmetric: false })));
 * ```
 */
export function int(bits: number, o: QuantizerOptions & { symmetric?: boolean } = {}): Quantizer {
  if (!Number.isInteger(bits) || bits < 1 || bits > 8) {
    throw new RangeError(`int: bits must be an integer from 1 to 8, got ${bits}`);
  }
  const symmetric = o.symmetric ?? true;
  if (symmetric && bits < 2) throw new RangeError("int: a symmetric integer needs ≥ 2 bits");
  return make({
    format: symmetric ? `int${bits}` : `uint${bits}`,
    symmetric,
    granularity: granularity(o, { kind: "channel", axis: 0 }),
    rounding: o.rounding ?? NEAREST,
    range: o.range ?? MINMAX,
    scale: o.scale ?? "f16",
  });
}

/**
 * Scaled minifloat (or any element format by name) with a per-group f16/f32
 * scale = clip / max value: `fp("e2m1", { group: 32 })`.
 *
 * @example
 * ```ts
 * import { describe, fp } from "./quantizer.ts";
 * console.log(describe(fp("e4m3", { per: "channel" })));
 * ```
 */
export function fp(format = "e2m1", o: QuantizerOptions = {}): Quantizer {
  return make({
    format,
    symmetric: true,
    granularity: granularity(o, { kind: "channel", axis: 0 }),
    rounding: o.rounding ?? NEAREST,
    range: o.range ?? MINMAX,
    scale: o.scale ?? "f16",
  });
}

/**
 * OCP Microscaling block format: `element` codes with an E8M0 scale per 32.
 *
 * @example
 * ```ts
 * import { describe, mx } from "./quantizer.ts";
 * console.log(describe(mx("e4m3"))); // MXFP8
 * ```
 */
export function mx(
  element = "e2m1",
  o: Omit<QuantizerOptions, "scale" | "group" | "per"> = {},
): Quantizer {
  return make({
    format: element,
    symmetric: true,
    granularity: { kind: "group", size: 32 },
    rounding: o.rounding ?? NEAREST,
    range: o.range ?? MINMAX,
    scale: "e8m0",
  });
}

/**
 * MXFP4: E2M1 with an E8M0 scale per 32 (4.25 bits per weight).
 *
 * @example
 * ```ts
 * import { describe, mxfp4 } from "./quantizer.ts";
 * console.log(describe(mxfp4()));
 * ```
 */
export function mxfp4(o: Omit<QuantizerOptions, "scale" | "group" | "per"> = {}): Quantizer {
  return mx("e2m1", o);
}

/**
 * NVFP4: E2M1 with an E4M3 scale per 16 and an f32 tensor scale (4.5 bits per weight).
 *
 * @example
 * ```ts
 * import { describe, nvfp4 } from "./quantizer.ts";
 * console.log(describe(nvfp4()));
 * ```
 */
export function nvfp4(o: Omit<QuantizerOptions, "scale" | "group" | "per"> = {}): Quantizer {
  return make({
    format: "e2m1",
    symmetric: true,
    granularity: { kind: "group", size: 16 },
    rounding: o.rounding ?? NEAREST,
    range: o.range ?? MINMAX,
    scale: "e4m3",
  });
}

/**
 * NF4 (QLoRA): the normal-float code book with an absmax scale per block of 64.
 *
 * @example
 * ```ts
 * import { describe, nf4 } from "./quantizer.ts";
 * console.log(describe(nf4({ group: 128 })));
 * ```
 */
export function nf4(o: QuantizerOptions = {}): Quantizer {
  return make({
    format: "nf4",
    symmetric: true,
    granularity: granularity(o, { kind: "group", size: 64 }),
    rounding: o.rounding ?? NEAREST,
    range: o.range ?? MINMAX,
    scale: o.scale ?? "f32",
  });
}

/**
 * Ternary {−1, 0, 1} with BitNet b1.58's absmean scale (or absmedian), per tensor by default.
 *
 * @example
 * ```ts
 * import { describe, ternary } from "./quantizer.ts";
 * console.log(describe(ternary({ median: true })));
 * ```
 */
export function ternary(o: QuantizerOptions & { median?: boolean } = {}): Quantizer {
  return make({
    format: "ternary",
    symmetric: true,
    granularity: granularity(o, { kind: "tensor" }),
    rounding: o.rounding ?? NEAREST,
    range: o.range ?? (o.median ? { kind: "absmedian" } : { kind: "absmean" }),
    scale: o.scale ?? "f32",
  });
}

/**
 * Binary sign(w) × mean |w| (XNOR-Net / BitNet), per tensor by default.
 *
 * @example
 * ```ts
 * import { binary, describe } from "./quantizer.ts";
 * console.log(describe(binary({ per: "channel" })));
 * ```
 */
export function binary(o: QuantizerOptions = {}): Quantizer {
  return make({
    format: "binary",
    symmetric: true,
    granularity: granularity(o, { kind: "tensor" }),
    rounding: o.rounding ?? NEAREST,
    range: o.range ?? { kind: "absmean" },
    scale: o.scale ?? "f32",
  });
}

/**
 * Any element format of the registry with explicit settings.
 *
 * @example
 * ```ts
 * import { describe, quantizer } from "./quantizer.ts";
 * console.log(describe(quantizer("log2_4", { group: 64 })));
 * ```
 */
export function quantizer(
  format: string,
  o: QuantizerOptions & { symmetric?: boolean } = {},
): Quantizer {
  return make({
    format,
    symmetric: o.symmetric ?? true,
    granularity: granularity(o, { kind: "channel", axis: 0 }),
    rounding: o.rounding ?? NEAREST,
    range: o.range ?? MINMAX,
    scale: o.scale ?? "f16",
  });
}

/**
 * A copy of `q` with some settings changed (validated again).
 *
 * @example
 * ```ts
 * import { describe, int, withSettings } from "./quantizer.ts";
 * console.log(describe(withSettings(int(4), { range: { kind: "mse", grid: 20, minRatio: 0.5 } })));
 * ```
 */
export function withSettings(q: Quantizer, changes: Partial<Quantizer>): Quantizer {
  return make({ ...q, ...changes });
}

/**
 * One line that says what the quantizer does.
 *
 * @example
 * ```ts
 * import { describe, mxfp4 } from "./quantizer.ts";
 * console.log(describe(mxfp4())); // e2m1 · group 32 · symmetric · nearest · minmax · e8m0 scales
 * ```
 */
export function describe(q: Quantizer): string {
  const g = q.granularity;
  const gran = g.kind === "group"
    ? `group ${g.size}`
    : g.kind === "channel"
    ? (g.axis === 0 ? "per channel" : "per input channel")
    : g.kind === "token"
    ? "per token"
    : "per tensor";
  const r = q.range;
  const range = r.kind === "percentile"
    ? `percentile ${r.p}`
    : r.kind === "mse"
    ? `mse (${r.grid} steps ≥ ${r.minRatio})`
    : r.kind === "kl"
    ? `kl (${r.bins} bins)`
    : r.kind;
  const rounding = q.rounding.kind === "nearest"
    ? "nearest"
    : `stochastic (seed ${q.rounding.seed})`;
  return [
    q.format,
    gran,
    q.symmetric ? "symmetric" : "asymmetric",
    rounding,
    range,
    `${q.scale} scales`,
  ]
    .join(" · ");
}

/**
 * Bits per weight of `q` on a [rows, cols] weight: element bits plus the
 * amortised scale (and zero-point) bits; NVFP4's f32 tensor scale included.
 *
 * @example
 * ```ts
 * import { bitsPerWeight, int, mxfp4, nvfp4 } from "./quantizer.ts";
 * console.log(bitsPerWeight(int(4, { group: 128 }), [4096, 4096])); // 4.125
 * console.log(bitsPerWeight(mxfp4(), [4096, 4096])); // 4.25
 * console.log(bitsPerWeight(nvfp4(), [4096, 4096]) > 4.5); // true
 * ```
 */
export function bitsPerWeight(q: Quantizer, shape: readonly number[]): number {
  const fmt = elementFormat(q.format);
  const n = shape.reduce((a, b) => a * b, 1);
  const rows = shape.length > 1 ? n / shape[shape.length - 1] : 1;
  const cols = shape[shape.length - 1] ?? 1;
  const scaleBits = { f32: 32, f16: 16, e8m0: 8, e4m3: 8 }[q.scale];
  const groups = groupCount(q, rows, cols);
  const zeroBits = q.symmetric ? 0 : fmt.bits;
  const tensorScale = q.scale === "e4m3" ? 32 : 0;
  // ternary codes are stored in 2 bits; their information content is log2(3)
  return fmt.bits + (groups * (scaleBits + zeroBits) + tensorScale) / n;
}

/** Number of scale groups `q` uses on a [rows, cols] weight. */
export function groupCount(q: Quantizer, rows: number, cols: number): number {
  const g = q.granularity;
  switch (g.kind) {
    case "tensor":
      return 1;
    case "channel":
      return g.axis === 0 ? rows : cols;
    case "token":
      return rows;
    case "group":
      return rows * Math.ceil(cols / g.size);
  }
}

/**
 * Parses a quantizer from JSON (as written by `JSON.stringify`), validating it.
 *
 * @example
 * ```ts
 * import { fromJSON, int } from "./quantizer.ts";
 * const q = fromJSON(JSON.stringify(int(8)));
 * console.log(q.format); // int8
 * ```
 */
export function fromJSON(json: string): Quantizer {
  if (typeof json !== "string") {
    throw new TypeError(`quantizer JSON: expected a string, got ${typeof json}`);
  }
  let o: unknown;
  try {
    o = JSON.parse(json);
  } catch (e) {
    throw new SyntaxError(`quantizer JSON is not valid JSON (${(e as Error).message})`);
  }
  return make(o as Quantizer, "quantizer JSON");
}
