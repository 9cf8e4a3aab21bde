/**
 * Input (activation) quantizers of a `QuantLinear`, as plain data, and the
 * fake quantization each one applies to a layer's input `[tokens, in]`:
 *
 * - `{ kind: "token", quantizer, clip? }`: dynamic, one scale per token
 *   (row), set by the row's absmax (times `clip`): W8A8, W4A8 (Xiao et al.,
 *   SmoothQuant's per-token baseline);
 * - `{ kind: "crossquant", quantizer, alpha, columns? }`: CrossQuant's
 *   per-element scale Δ_ij = t_i^α · c_j^(1−α) / q_max from row and column
 *   absmaxima, the columns' either the input's own (dynamic) or calibrated
 *   ones (static; `quant/methods/crossquant.ts` cites the paper);
 * - `{ kind: "static", format, maxValue }`: one static per-tensor scale in an
 *   FP format (LLM-FP4, `quant/methods/llm_fp4.ts`).
 *
 * Being plain data, an input quantizer is saved in a checkpoint's
 * `quantization_config` as is and rebuilt on load.
 *
 * @example
 * ```ts
 * import { initGPU, int, Tensor } from "../mod.ts";
 * import { quantizeInput } from "./activation.ts";
 * await initGPU();
 * using x = Tensor.fromArray([[7, 1, 0.2]]);
 * using y = quantizeInput(x, { kind: "token", quantizer: int(4, { per: "token" }) });
 * console.log(await y.data()); // Float32Array [7, 1, 0]
 * ```
 * @module
 */
import { Tensor } from "../kernels/tensor.ts";
import { binary, cast, mul, unary, where } from "../kernels/ops/elementwise.ts";
import { absmax } from "../kernels/ops/reduce.ts";
import { fakeQuantRows, tableQuantize } from "../kernels/quantize/mod.ts";
import type { ElementFormat } from "./formats/format.ts";
import { describe, elementFormat, fromJSON, isInt, type Quantizer } from "./quantizer.ts";
import { decisionTable } from "./table.ts";
import { fpFormat } from "./fp_format.ts";

/** A layer's input quantizer (see the module doc). */
export type InputQuantizer =
  | { kind: "token"; quantizer: Quantizer; clip?: number }
  | { kind: "crossquant"; quantizer: Quantizer; alpha: number; columns?: Float32Array }
  | { kind: "static"; format: string; maxValue: number };

/** `a` checked through `fromJSON`; the caller's object is kept when it was already canonical. */
function canonical(a: Quantizer): Quantizer {
  const q = fromJSON(JSON.stringify(a));
  return JSON.stringify(q) === JSON.stringify(a) ? a : q;
}

/**
 * Checks an input quantizer (e.g. one read from a checkpoint), naming what is wrong.
 *
 * @example
 * ```ts
 * import { int } from "./quantizer.ts";
 * import { checkInputQuantizer } from "./activation.ts";
 * checkInputQuantizer({ kind: "token", quantizer: int(8, { per: "token" }) }); // passes
 * ```
 */
export function checkInputQuantizer(a: InputQuantizer, label = "input quantizer"): InputQuantizer {
  if (a === null || typeof a !== "object") {
    throw new TypeError(`${label}: expected an object with a "kind", got ${JSON.stringify(a)}`);
  }
  switch (a.kind) {
    case "token": {
      const q = canonical(a.quantizer);
      const g = q.granularity.kind;
      if ((g !== "token" && !(g === "channel" && q.granularity.axis === 0)) || !q.symmetric) {
        throw new RangeError(
          `${label}: activations are quantized per token and symmetric; got ${describe(q)}`,
        );
      }
      if (q.rounding.kind !== "nearest" || q.range.kind !== "minmax") {
        throw new RangeError(
          `${label}: activations are rounded to nearest with each token's min-max range, ` +
            `on the fly; got ${describe(q)}. Use rounding { kind: "nearest" } and ` +
            `range { kind: "minmax" } for the activation quantizer (stochastic rounding and ` +
            `other ranges apply to weights only)`,
        );
      }
      const clip = a.clip ?? 1;
      if (!(clip > 0 && clip <= 1)) throw new RangeError(`${label}: clip ${clip} ∉ (0, 1]`);
      return { kind: "token", quantizer: q, clip };
    }
    case "crossquant": {
      const q = canonical(a.quantizer);
      if (!q.symmetric) throw new RangeError(`${label}: CrossQuant needs a symmetric quantizer`);
      if (!(a.alpha >= 0 && a.alpha <= 1)) {
        throw new RangeError(`${label}: CrossQuant alpha ${a.alpha} ∉ [0, 1]`);
      }
      if (a.columns !== undefined && !(a.columns instanceof Float32Array)) {
        throw new TypeError(`${label}: CrossQuant columns must be a Float32Array`);
      }
      return { kind: "crossquant", quantizer: q, alpha: a.alpha, columns: a.columns };
    }
    case "static":
      fpFormat(a.format);
      if (!(a.maxValue > 0) || !Number.isFinite(a.maxValue)) {
        throw new RangeError(`${label}: static maxValue ${a.maxValue} must be finite and > 0`);
      }
      return { kind: "static", format: a.format, maxValue: a.maxValue };
    default:
      throw new TypeError(
        `${label}: unknown kind ${JSON.stringify((a as { kind: unknown }).kind)}; ` +
          `expected "token", "crossquant" or "static"`,
      );
  }
}

/**
 * Fake-quantizes a layer input `x` `[tokens, in]` (f32 or f16; the result has
 * x's dtype and shape) with `a`.
 */
export function quantizeInput(x: Tensor, a: InputQuantizer): Tensor {
  switch (a.kind) {
    case "token": {
      const fmt = elementFormat(a.quantizer.format);
      return fakeQuantRows(x, {
        table: decisionTable(fmt),
        maxValue: isInt(fmt) ? fmt.qmax : fmt.maxValue,
        clipRatio: a.clip ?? 1,
      });
    }
    case "crossquant": {
      const cols = x.shape[x.shape.length - 1];
      using x2 = x.reshape([x.size / cols, cols]);
      using columns = a.columns ? Tensor.fromArray(a.columns) : undefined;
      using y = crossQuantize(x2, { act: a.quantizer, alpha: a.alpha, columns });
      return y.reshape(x.shape);
    }
    case "static":
      return quantizeStatic(x, a);
  }
}

/** A one-line description of an input quantizer, for display. */
export function describeInput(a: InputQuantizer): string {
  switch (a.kind) {
    case "token":
      return describe(a.quantizer) +
        (a.clip !== undefined && a.clip !== 1 ? ` · clip ${a.clip}` : "");
    case "crossquant":
      return `${a.quantizer.format} · CrossQuant α ${a.alpha}${
        a.columns ? " · static columns" : ""
      }`;
    case "static":
      return `${a.format} static ≤ ${a.maxValue.toPrecision(3)}`;
  }
}

/** Options of {@link crossQuantize}. */
export interface CrossQuantOptions {
  /** The activation format, as a per-token symmetric quantizer (e.g. `int(8, { per: "token" })`). */
  act: Quantizer;
  /** Exponent of the row maxima (1 − α goes to the columns). Default 0.15. */
  alpha?: number;
  /**
   * Static column maxima c `[channels]` (calibrated); default: the input's
   * own column maxima (dynamic, not foldable).
   */
  columns?: Tensor;
}

function formatOf(q: Quantizer) {
  const fmt = elementFormat(q.format);
  if (!q.symmetric) throw new RangeError(`CrossQuant: ${describe(q)} must be symmetric`);
  if (q.rounding.kind !== "nearest") {
    throw new RangeError(
      `CrossQuant: activations are rounded to nearest on the fly; got ${describe(q)}. ` +
        `Use rounding { kind: "nearest" } for the activation quantizer`,
    );
  }
  return { table: decisionTable(fmt), maxValue: isInt(fmt) ? fmt.qmax : fmt.maxValue };
}

/**
 * Per-token dynamic fake quantization (one scale per row, the baseline
 * CrossQuant is compared with): what `QuantLinear` does to its inputs.
 *
 * @example
 * ```ts
 * import { initGPU, int, Tensor } from "../mod.ts";
 * import { perTokenQuantize } from "./activation.ts";
 * await initGPU();
 * using y = perTokenQuantize(Tensor.fromArray([[7, 1]]), int(4, { per: "token" }));
 * console.log(await y.data()); // Float32Array [7, 1]
 * ```
 */
export function perTokenQuantize(x: Tensor, act: Quantizer): Tensor {
  return fakeQuantRows(x, formatOf(act));
}

/**
 * CrossQuant fake quantization of activations `x` `[tokens, channels]`
 * (f32 or f16; the result has x's dtype). All-zero rows and columns stay
 * zero; a NaN stays NaN in its own place and does not spoil the scales of
 * its row and column.
 *
 * @example
 * ```ts
 * import { initGPU, int, Tensor } from "../mod.ts";
 * import { crossQuantize } from "./activation.ts";
 * await initGPU();
 * using x = Tensor.fromArray([[4, 0.1], [2, NaN]]);
 * using y = crossQuantize(x, { act: int(8, { per: "token" }), alpha: 0.5 });
 * console.log(await y.data()); // ≈ [4, 0.1, 2, NaN]
 * ```
 */
export function crossQuantize(x: Tensor, options: CrossQuantOptions): Tensor {
  const alpha = options.alpha ?? 0.15;
  if (!(alpha >= 0 && alpha <= 1)) throw new RangeError(`crossQuantize: alpha ${alpha} ∉ [0, 1]`);
  if (x.rank !== 2) throw new RangeError(`crossQuantize: ${x} must be 2-D [tokens, channels]`);
  const { table, maxValue } = formatOf(options.act);
  const [rows, cols] = x.shape;
  if (x.size === 0) return Tensor.empty(x.shape, x.dtype);
  using x32 = x.dtype === "f32" ? x.reshape(x.shape) : cast(x, "f32");
  // NaN-free copy for the scales
  using nan = unary("isnan", x32);
  using zero = Tensor.zeros([1]);
  using clean = where(nan, zero, x32);
  // Δ_ij = t_i^α · c_j^(1−α) / q_max, floored so zero rows and columns give 0/Δ = 0
  if (options.columns && (options.columns.rank !== 1 || options.columns.size !== cols)) {
    throw new RangeError(
      `crossQuantize: columns ${options.columns} must have shape [${cols}] for ${x}`,
    );
  }
  using t = absmax(clean, 1);
  using c = options.columns ? options.columns.reshape([cols]) : absmax(clean, 0);
  using t1 = binary("max", t, 1e-30);
  using c1 = binary("max", c, 1e-30);
  using ta = binary("pow", t1, alpha);
  using cb = binary("pow", c1, 1 - alpha);
  using ta2 = mul(ta, 1 / maxValue);
  using taCol = ta2.reshape([rows, 1]);
  using cbRow = cb.reshape([1, cols]);
  using delta = mul(taCol, cbRow);
  using flat = delta.reshape([rows * cols]);
  const q = tableQuantize(clean, { groupSize: 1, table, encode: flat, mode: "div", decode: flat });
  q.codes.dispose();
  using deq = q.dequantized;
  using y = where(nan, x32, deq);
  return x.dtype === "f32" ? y.reshape(y.shape) : cast(y, x.dtype);
}

/** Fake-quantizes each row of `x` `[rows, cols]` to `fmt` with the per-row maximum `m` (`[rows]`). */
export function quantizeRows(x: Tensor, fmt: ElementFormat, m: Float32Array): Tensor {
  const q = quantizeRowsPass(x, fmt, m);
  q.codes.dispose();
  return q.dequantized;
}

/**
 * {@link quantizeRows} keeping the codes: u32 codes and dequantized values
 * `[rows, cols]` (owned by the caller) and the per-row scales m_r / max(fmt).
 */
export function quantizeRowsPass(
  x: Tensor,
  fmt: ElementFormat,
  m: Float32Array,
): { codes: Tensor; dequantized: Tensor; scales: Float32Array } {
  const scales = Float32Array.from(m, (v) => (v > 0 ? v / fmt.maxValue : 1));
  using scale = Tensor.fromArray(scales);
  const q = tableQuantize(x, {
    groupSize: x.shape[1],
    table: decisionTable(fmt),
    encode: scale,
    mode: "div",
    decode: scale,
  });
  return { codes: q.codes, dequantized: q.dequantized, scales };
}

/** A static per-tensor FP activation quantizer: X̂ = Q_f(X; m). */
export interface ActQuant {
  /** Format name. */
  format: string;
  /** Maximum value m (the clip). */
  maxValue: number;
}

/**
 * Fake-quantizes `x` with a static per-tensor FP quantizer.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../mod.ts";
 * import { quantizeStatic } from "./activation.ts";
 * await initGPU();
 * using y = quantizeStatic(Tensor.fromArray([[0.3, -5, 12]]), { format: "e2m1", maxValue: 6 });
 * console.log(await y.data()); // Float32Array [0.5, -4, 6]
 * ```
 */
export function quantizeStatic(x: Tensor, a: ActQuant): Tensor {
  const cols = x.shape.at(-1)!;
  const rows = x.size / cols;
  using x2 = x.reshape([rows, cols]);
  using y = quantizeRows(x2, fpFormat(a.format), new Float32Array(rows).fill(a.maxValue));
  return y.reshape(x.shape);
}
