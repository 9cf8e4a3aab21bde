/**
 * Dynamic per-row (per-token) fake quantization of activations against a
 * decision table, with no readback: the activation side of W8A8 / W4A8.
 *
 * Reference: `tests/reference/quantize.ts` (`fakeQuantRowsRef`).
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { fakeQuantRows } from "./fake_quant.ts";
 * await initGPU();
 * const table = { values: new Float32Array([-1, 0, 1]), codes: new Uint32Array([3, 0, 1]),
 *   thresholds: new Float32Array([-0.5, 0.5]), byCode: new Float32Array([0, 1, 0, -1]) };
 * using x = Tensor.fromArray([[1, -0.2, 0.6]]);
 * using y = fakeQuantRows(x, { table, maxValue: 1 });
 * console.log(await y.data()); // Float32Array [1, 0, 1]
 * ```
 * @module
 */
import { dispatch, grid, Params } from "../runtime.ts";
import { Tensor } from "../tensor.ts";
import { expectDType, header, IS_NAN } from "../ops/wgsl.ts";
import { tableIndexFn } from "./_wgsl.ts";
import type { DecisionTable } from "./decision_table.ts";

/**
 * Dynamic per-row fake quantization on the GPU, with no readback: each row
 * (a token's activations) gets scale = clipRatio · max|row| / maxValue and
 * every element is rounded through the decision table, then multiplied back.
 * This is the activation side of W8A8 / W4A8 (per-token dynamic scales).
 * Rows that are all zero stay zero; NaN propagates.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { fakeQuantRows } from "./fake_quant.ts";
 * await initGPU();
 * const table = { values: new Float32Array([-1, 0, 1]), codes: new Uint32Array([3, 0, 1]),
 *   thresholds: new Float32Array([-0.5, 0.5]), byCode: new Float32Array([0, 1, 0, -1]) };
 * using x = Tensor.fromArray([[0.2, -4, 3], [0, 0, 0]]);
 * using y = fakeQuantRows(x, { table, maxValue: 1 });
 * console.log(await y.data()); // Float32Array [0, -4, 4, 0, 0, 0]
 * ```
 */
export function fakeQuantRows(
  x: Tensor,
  o: { table: DecisionTable; maxValue: number; clipRatio?: number },
): Tensor {
  expectDType("fakeQuantRows", x, "f32", "f16");
  const cols = x.shape.at(-1) ?? 1;
  const rows = cols === 0 ? 0 : x.size / cols;
  const y = Tensor.empty(x.shape, x.dtype);
  if (x.size === 0) return y;
  const n = o.table.values.length;
  const T = x.dtype;
  const WG = 128;
  const tbl = Tensor.fromArray(new Float32Array([...o.table.values, ...o.table.thresholds]));
  const code = `${header(T)}
struct Params { factor: f32, }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> X: array<${T}>;
@group(0) @binding(2) var<storage, read> TBL: array<f32>;
@group(0) @binding(3) var<storage, read_write> Y: array<${T}>;
var<workgroup> red: array<f32, ${WG}>;
${tableIndexFn(n)}
@compute @workgroup_size(${WG}) fn main(@builtin(workgroup_id) wid: vec3u,
    @builtin(num_workgroups) nwg: vec3u, @builtin(local_invocation_index) t: u32) {
  let row = wid.x + wid.y * nwg.x;
  if (row >= ${rows}u) { return; }
  let base = row * ${cols}u;
  var m = 0.0;
  for (var k = t; k < ${cols}u; k += ${WG}u) { m = max(m, abs(f32(X[base + k]))); }
  red[t] = m;
  workgroupBarrier();
  for (var w = ${WG / 2}u; w > 0u; w >>= 1u) {
    if (t < w) { red[t] = max(red[t], red[t + w]); }
    workgroupBarrier();
  }
  let scale = select(1.0, red[0] * P.factor, red[0] > 0.0);
  for (var k = t; k < ${cols}u; k += ${WG}u) {
    let x = f32(X[base + k]);
    Y[base + k] = ${T}(select(TBL[table_index(x / scale)] * scale, x, is_nan(x)));
  }
}
${IS_NAN}`;
  dispatch(
    "fakeQuantRows",
    code,
    [x.buffer, tbl.buffer, y.buffer],
    new Params().f((o.clipRatio ?? 1) / o.maxValue),
    grid(rows, 1),
  );
  tbl.dispose();
  return y;
}
