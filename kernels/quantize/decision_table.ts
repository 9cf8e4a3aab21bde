/**
 * Grouped quantization against a *decision table*, knowing nothing of
 * particular formats: a row of `cols` values is cut into groups of
 * `groupSize`; each group has its own scale. A format is described by its
 * representable values sorted ascending, the code of each, and the
 * thresholds between neighbours (the smallest input that rounds up). Any
 * monotone round-to-nearest rule — ties to even, nearest in the log domain,
 * … — is a decision table, so one kernel serves every ≤ 8-bit format
 * bit-exactly.
 *
 * Reference: `tests/reference/quantize.ts` (`tableQuantizeRef`, `tableDequantizeRef`).
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { tableDequantize, tableQuantize } from "./decision_table.ts";
 * await initGPU();
 * const table = { values: new Float32Array([-1, 0, 1]), codes: new Uint32Array([3, 0, 1]),
 *   thresholds: new Float32Array([-0.5, 0.5]), byCode: new Float32Array([0, 1, 0, -1]) };
 * using x = Tensor.fromArray([0.6, -2, 0.1, 3]);
 * using s = Tensor.fromArray([2, 1]);
 * const q = tableQuantize(x, { groupSize: 2, table, encode: s, mode: "div", decode: s });
 * using y = tableDequantize(q.codes, { groupSize: 2, byCode: table.byCode, decode: s });
 * console.log(await y.data()); // Float32Array [0, -2, 0, 1]
 * q.codes.dispose(); q.dequantized.dispose();
 * ```
 * @module
 */
import { dispatch, grid, linearIndex, Params } from "../runtime.ts";
import { Tensor } from "../tensor.ts";
import { ENTRY_BUILTINS, expectDType, header } from "../ops/wgsl.ts";
import { checkGroups, PCG, tableIndexFn } from "./_wgsl.ts";

/** A format's decision table: sorted values, their codes, and the rounding thresholds. */
export interface DecisionTable {
  /** Representable values, ascending (reserved codes excluded). */
  values: Float32Array;
  /** `codes[i]` is the code of `values[i]`. */
  codes: Uint32Array;
  /** `thresholds[i]` (length n−1): the smallest input that rounds to `values[i + 1]`. */
  thresholds: Float32Array;
  /** Value of every code (length 2^bits), for dequantization. */
  byCode: Float32Array;
}

/** How the kernel maps x to the format's domain and back, per group. */
export interface TableQuantizeOptions {
  /** Elements per group along the last axis (must divide it). */
  groupSize: number;
  /** The format. */
  table: DecisionTable;
  /** Per-group encode scale [groups]: v = x / scale ("div") or v = x · scale ("mul"). */
  encode: Tensor;
  /** "div" (integer and scaled-float formats) or "mul" (MX and NVFP4 encode multipliers). */
  mode: "div" | "mul";
  /** Per-group decode multiplier [groups]: x̂ = value · decode · decode2. */
  decode: Tensor;
  /** A second decode multiplier for every group (NVFP4's tensor scale). Default 1. */
  decode2?: number;
  /** Stochastic rounding with this seed (rounds up with probability of the distance). */
  stochasticSeed?: number;
}

/** Codes and dequantized values of a tensor. */
export interface TableQuantized {
  /** One u32 code per element, shaped like the input. */
  codes: Tensor;
  /** The dequantized values (f32), shaped like the input. */
  dequantized: Tensor;
}

/**
 * Quantizes `x` group by group against a decision table and returns the codes
 * and the dequantized values. Scales are given per group, so any range
 * setting or scale format can be computed before (see `quant/quantize.ts`).
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { tableQuantize } from "./decision_table.ts";
 * await initGPU();
 * const table = { values: new Float32Array([-1, 0, 1]), codes: new Uint32Array([3, 0, 1]),
 *   thresholds: new Float32Array([-0.5, 0.5]), byCode: new Float32Array([0, 1, 0, -1]) };
 * using x = Tensor.fromArray([0.2, -0.9, 2]);
 * using s = Tensor.fromArray([1]);
 * const q = tableQuantize(x, { groupSize: 3, table, encode: s, mode: "div", decode: s });
 * console.log(await q.codes.data(), await q.dequantized.data()); // [0, 3, 1] [0, -1, 1]
 * ```
 */
export function tableQuantize(x: Tensor, o: TableQuantizeOptions): TableQuantized {
  expectDType("tableQuantize", x, "f32", "f16");
  const { groups } = checkGroups("tableQuantize", x, o.groupSize);
  for (const [name, t] of [["encode", o.encode], ["decode", o.decode]] as const) {
    if (t.size !== groups) {
      throw new RangeError(
        `tableQuantize: ${name} scales have ${t.size} entries; ${groups} groups need one each`,
      );
    }
    expectDType(`tableQuantize ${name}`, t, "f32");
  }
  const n = o.table.values.length;
  if (n < 2 || o.table.thresholds.length !== n - 1 || o.table.codes.length !== n) {
    throw new RangeError(
      "tableQuantize: a decision table needs n ≥ 2 values, n codes, n−1 thresholds",
    );
  }
  const codes = Tensor.empty(x.shape, "u32");
  const deq = Tensor.empty(x.shape, "f32");
  if (x.size === 0) return { codes, dequantized: deq };
  const T = x.dtype;
  const stochastic = o.stochasticSeed !== undefined;
  const WG = 256;
  const tbl = Tensor.fromArray(
    new Float32Array([
      ...o.table.values,
      ...o.table.thresholds,
      ...new Float32Array(o.table.codes.buffer),
    ]),
  );
  // codes are stored bit-for-bit in the f32 table buffer and read back with bitcast.
  const code = `${header(T)}
struct Params { decode2: f32, seed: u32, }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> X: array<${T}>;
@group(0) @binding(2) var<storage, read> TBL: array<f32>;
@group(0) @binding(3) var<storage, read> ENC: array<f32>;
@group(0) @binding(4) var<storage, read> DEC: array<f32>;
@group(0) @binding(5) var<storage, read_write> C: array<u32>;
@group(0) @binding(6) var<storage, read_write> Y: array<f32>;
${PCG}
${tableIndexFn(n)}
@compute @workgroup_size(${WG}) fn main(${ENTRY_BUILTINS}) {
  let i = ${linearIndex(WG)};
  if (i >= ${x.size}u) { return; }
  let g = i / ${o.groupSize}u;
  let x = f32(X[i]);
  let v = ${o.mode === "div" ? "x / ENC[g]" : "x * ENC[g]"};
  var idx = table_index(v);
  ${
    stochastic
      ? `// stochastic: between the neighbours below and above v, round up with probability ∝ distance
  let below = select(idx, idx - 1u, idx > 0u && TBL[idx] > v);
  let above = min(below + 1u, ${n - 1}u);
  if (above != below && v >= TBL[below] && v <= TBL[above]) {
    let p = (v - TBL[below]) / (TBL[above] - TBL[below]);
    idx = select(below, above, uniform01(P.seed, i) < p);
  }`
      : ""
  }
  C[i] = bitcast<u32>(TBL[${2 * n - 1}u + idx]);
  Y[i] = (TBL[idx] * DEC[g]) * P.decode2;
}`;
  dispatch(
    "tableQuantize",
    code,
    [x.buffer, tbl.buffer, o.encode.buffer, o.decode.buffer, codes.buffer, deq.buffer],
    new Params().f(o.decode2 ?? 1).u(o.stochasticSeed ?? 0),
    grid(x.size, WG),
  );
  tbl.dispose();
  return { codes, dequantized: deq };
}

/**
 * Values of codes: x̂ = byCode[code] · decode[group] · decode2 (the inverse of
 * {@link tableQuantize}), or (code − zero) · scale for affine integers when
 * `zero` is given (codes sign-extended from `bits` when `signed`).
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { tableDequantize } from "./decision_table.ts";
 * await initGPU();
 * using c = Tensor.fromArray([0, 1, 3], [3], "u32");
 * using s = Tensor.fromArray([2]);
 * using y = tableDequantize(c, { groupSize: 3, byCode: new Float32Array([0, 1, 0, -1]), decode: s });
 * console.log(await y.data()); // Float32Array [0, 2, -2]
 * ```
 */
export function tableDequantize(
  codes: Tensor,
  o: { groupSize: number; byCode: Float32Array; decode: Tensor; decode2?: number; zero?: Tensor },
): Tensor {
  expectDType("tableDequantize", codes, "u32");
  const { groups } = checkGroups("tableDequantize", codes, o.groupSize);
  if (o.decode.size !== groups) {
    throw new RangeError(`tableDequantize: ${o.decode.size} scales for ${groups} groups`);
  }
  const y = Tensor.empty(codes.shape, "f32");
  if (codes.size === 0) return y;
  const WG = 256;
  const byCode = Tensor.fromArray(o.byCode);
  const zero = o.zero ?? o.decode;
  const code = `
struct Params { decode2: f32, useZero: u32, }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> C: array<u32>;
@group(0) @binding(2) var<storage, read> V: array<f32>;
@group(0) @binding(3) var<storage, read> S: array<f32>;
@group(0) @binding(4) var<storage, read> Z: array<f32>;
@group(0) @binding(5) var<storage, read_write> Y: array<f32>;
@compute @workgroup_size(${WG}) fn main(${ENTRY_BUILTINS}) {
  let i = ${linearIndex(WG)};
  if (i >= ${codes.size}u) { return; }
  let g = i / ${o.groupSize}u;
  let v = V[C[i]];
  if (P.useZero == 1u) { Y[i] = (v - Z[g]) * S[g]; } else { Y[i] = (v * S[g]) * P.decode2; }
}`;
  dispatch(
    "tableDequantize",
    code,
    [codes.buffer, byCode.buffer, o.decode.buffer, zero.buffer, y.buffer],
    new Params().f(o.decode2 ?? 1).u(o.zero ? 1 : 0),
    grid(codes.size, WG),
  );
  byCode.dispose();
  return y;
}
