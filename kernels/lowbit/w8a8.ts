/**
 * W8A8: int8 weights with one scale per output channel times int8
 * activations with one scale per token, multiplied four at a time with
 * WGSL's `dot4I8Packed` (language feature `packed_4x8_integer_dot_product`)
 * into an i32 accumulator: `y[m, n] = sx[m] · sw[n] · Σ_k qx[m, k] · qw[n, k]`.
 *
 * {@link quantizeInt8Rows} makes the activation codes: per row
 * `sx = max|x| / 127`, `qx = round_half_even(x / sx)`; a row containing NaN
 * gets a NaN scale, so its outputs are NaN. Batch ≤ 8 per call (decode).
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { packInt } from "./pack.ts";
 * import { matmulW8A8, quantizeInt8Rows } from "./w8a8.ts";
 * await initGPU();
 * using w = packInt([1, 2, 3, 4], [1, 4], { bits: 8, scales: [0.5], scaleDtype: "f32" });
 * using x = Tensor.fromArray([[127, 0, 0, -127]]);
 * const q = quantizeInt8Rows(x);
 * using y = matmulW8A8(q, w);
 * q.codes.dispose();
 * q.scales.dispose();
 * console.log(await y.data()); // Float32Array [-190.5]
 * ```
 * @module
 */
import { dispatch } from "../runtime.ts";
import { Tensor } from "../tensor.ts";
import type { KernelCall } from "./kernel.ts";
import type { PackedWeight } from "./layout.ts";

/** Int8 activations: codes packed 4 per u32 `[M, K/4]` and f32 scales `[M]`. */
export interface Int8Rows {
  /** u32 `[M, K/4]`, little-endian int8 codes. */
  readonly codes: Tensor;
  /** f32 `[M]`. */
  readonly scales: Tensor;
}

/**
 * Whether this runtime's WGSL has `dot4I8Packed`.
 *
 * @example
 * ```ts
 * import { hasDot4I8 } from "./w8a8.ts";
 * console.log(typeof hasDot4I8()); // "boolean"
 * ```
 */
export function hasDot4I8(): boolean {
  const f = (navigator.gpu as unknown as { wgslLanguageFeatures?: Set<string> })
    .wgslLanguageFeatures;
  return f?.has("packed_4x8_integer_dot_product") ?? false;
}

/**
 * Per-row symmetric int8 quantization of activations `[M, K]` (K a multiple of 4).
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { quantizeInt8Rows } from "./w8a8.ts";
 * await initGPU();
 * using x = Tensor.fromArray([[1, -2, 0.5, 2]]);
 * const q = quantizeInt8Rows(x);
 * console.log(await q.scales.data()); // Float32Array [2 / 127]
 * q.codes.dispose();
 * q.scales.dispose();
 * ```
 */
export function quantizeInt8Rows(x: Tensor): Int8Rows {
  if (x.dtype !== "f32" && x.dtype !== "f16") {
    throw new TypeError(`quantizeInt8Rows: ${x} must be f32 or f16`);
  }
  const K = x.shape[x.rank - 1];
  if (K % 4 !== 0) {
    throw new RangeError(`quantizeInt8Rows: K = ${K} of ${x} must be a multiple of 4`);
  }
  const M = x.size / K;
  const codes = Tensor.empty([M, K / 4], "u32");
  const scales = Tensor.empty([M], "f32");
  const xat = x.dtype === "f32" ? "X[i]" : "unpack2x16float(X[i >> 1u])[i & 1u]";
  const code = `
@group(0) @binding(0) var<storage, read> X: array<${x.dtype === "f32" ? "f32" : "u32"}>;
@group(0) @binding(1) var<storage, read_write> Q: array<u32>;
@group(0) @binding(2) var<storage, read_write> S: array<f32>;
var<workgroup> red: array<f32, 256>;
fn xat(i: u32) -> f32 { return ${xat}; }
fn is_nan(v: f32) -> bool { return (bitcast<u32>(v) & 0x7fffffffu) > 0x7f800000u; }
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let m = wid.x;
  var a = 0.0;
  for (var k = lid; k < ${K}u; k += 256u) {
    let v = xat(m * ${K}u + k);
    a = select(max(a, abs(v)), bitcast<f32>(0x7fc00000u), is_nan(v) || is_nan(a));
  }
  red[lid] = a;
  for (var h = 128u; h > 0u; h = h >> 1u) {
    workgroupBarrier();
    if (lid < h) {
      let o = red[lid + h];
      red[lid] = select(max(red[lid], o), bitcast<f32>(0x7fc00000u), is_nan(o) || is_nan(red[lid]));
    }
  }
  workgroupBarrier();
  let amax = red[0];
  let s = select(amax / 127.0, 1.0, amax == 0.0);
  if (lid == 0u) { S[m] = select(s, amax, is_nan(amax)); }
  for (var j = lid; j < ${K / 4}u; j += 256u) {
    var w = 0u;
    for (var b = 0u; b < 4u; b++) {
      let q = i32(clamp(round(xat(m * ${K}u + 4u * j + b) / s), -127.0, 127.0));
      w = w | ((bitcast<u32>(q) & 255u) << (8u * b));
    }
    Q[m * ${K / 4}u + j] = w;
  }
}`;
  if (M > 0) {
    dispatch("quantizeInt8Rows", code, [x.buffer, codes.buffer, scales.buffer], null, [M]);
  }
  return { codes, scales };
}

/**
 * Plans the W8A8 GEMV (batch ≤ 8) for {@link matmulW8A8} or a timer.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { packInt } from "./pack.ts";
 * import { planW8A8, quantizeInt8Rows } from "./w8a8.ts";
 * await initGPU();
 * using w = packInt(new Array(8).fill(1), [2, 4], { bits: 8, scales: [1, 1] });
 * using x = Tensor.fromArray([[1, 1, 1, 1]]);
 * const q = quantizeInt8Rows(x);
 * const call = planW8A8(q, w);
 * console.log(call.out.shape); // [1, 2]
 * call.out.dispose();
 * q.codes.dispose();
 * q.scales.dispose();
 * ```
 */
export function planW8A8(x: Int8Rows, w: PackedWeight, threadsPerRow?: number): KernelCall {
  if (!hasDot4I8()) {
    throw new TypeError(
      "matmulW8A8: this runtime's WGSL lacks dot4I8Packed (packed_4x8_integer_dot_product)",
    );
  }
  const [N, K] = w.shape;
  const int8 = w.storage.integer === true && w.storage.bits === 8;
  if (!int8 || w.zeros || w.groupSize !== K || w.scales.dtype === "u32") {
    throw new RangeError(
      `matmulW8A8: needs a symmetric int8 weight with one scale per output channel ` +
        `(groupSize = K = ${K}); got ${w.format} g${w.groupSize}${w.zeros ? " with zeros" : ""}`,
    );
  }
  if (K % 4 !== 0) throw new RangeError(`matmulW8A8: K = ${K} must be a multiple of 4`);
  const M = x.scales.size;
  if (x.codes.size !== M * (K / 4)) {
    throw new RangeError(`matmulW8A8: activation codes ${x.codes} do not match K = ${K}`);
  }
  if (M > 8) throw new RangeError(`matmulW8A8: batch ≤ 8 per call, got ${M}`);
  const stride = w.codes.shape[1];
  const words = K / 4;
  const vec = words % 4 === 0;
  const units = vec ? words / 4 : words;
  const T = threadsPerRow ??
    Math.min(64, Math.max(4, 2 ** Math.floor(Math.log2(Math.max(1, units / 4)))));
  const R = 256 / T;
  const ms = Array.from({ length: Math.max(1, M) }, (_, m) => m);
  const f16 = w.scales.dtype === "f16";
  const body = vec
    ? `let wv = W[(n * ${stride}u) / 4u + u];
    ${
      ms.map((m) =>
        `let xv${m} = XQ[(${m * words}u) / 4u + u];
    acc${m} += dot4I8Packed(wv.x, xv${m}.x) + dot4I8Packed(wv.y, xv${m}.y) + dot4I8Packed(wv.z, xv${m}.z) + dot4I8Packed(wv.w, xv${m}.w);`
      ).join("\n    ")
    }`
    : `let wi = n * ${stride}u + u;
    let wv = W[wi >> 2u][wi & 3u];
    ${
      ms.map((m) =>
        `let xi${m} = ${m * words}u + u;
    acc${m} += dot4I8Packed(wv, XQ[xi${m} >> 2u][xi${m} & 3u]);`
      ).join("\n    ")
    }`;
  const code = `
@group(0) @binding(0) var<storage, read> XQ: array<vec4<u32>>;
@group(0) @binding(1) var<storage, read> XS: array<f32>;
@group(0) @binding(2) var<storage, read> W: array<vec4<u32>>;
@group(0) @binding(3) var<storage, read> S: array<${f16 ? "u32" : "f32"}>;
@group(0) @binding(4) var<storage, read_write> Y: array<f32>;
var<workgroup> red: array<i32, ${R * ms.length * T}>;
fn wscale(i: u32) -> f32 { return ${f16 ? "unpack2x16float(S[i >> 1u])[i & 1u]" : "S[i]"}; }
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let row = lid / ${T}u;
  let t = lid % ${T}u;
  let n0 = (wid.x + wid.y * nwg.x) * ${R}u;
  let n = min(n0 + row, ${N - 1}u);
  ${ms.map((m) => `var acc${m} = 0i;`).join(" ")}
  for (var u = t; u < ${units}u; u += ${T}u) {
    ${body}
  }
  ${ms.map((m) => `red[(row * ${ms.length}u + ${m}u) * ${T}u + t] = acc${m};`).join("\n  ")}
  for (var h = ${T / 2}u; h > 0u; h = h >> 1u) {
    workgroupBarrier();
    if (t < h) {
      ${
    ms.map((m) =>
      `red[(row * ${ms.length}u + ${m}u) * ${T}u + t] += red[(row * ${ms.length}u + ${m}u) * ${T}u + t + h];`
    ).join("\n      ")
  }
    }
  }
  workgroupBarrier();
  for (var o = lid; o < ${R * ms.length}u; o += 256u) {
    let mm = o % ${ms.length}u;
    let nn = n0 + o / ${ms.length}u;
    if (nn < ${N}u) { Y[mm * ${N}u + nn] = f32(red[o * ${T}u]) * XS[mm] * wscale(nn); }
  }
}`;
  const out = Tensor.empty([M, N], "f32");
  const groups = Math.ceil(N / R);
  return {
    label: `w8a8 gemv [${N}, ${K}] M${M}`,
    code,
    buffers: [x.codes.buffer, x.scales.buffer, w.codes.buffer, w.scales.buffer, out.buffer],
    params: null,
    workgroups: [M === 0 ? 0 : groups, 1, 1],
    out,
  };
}

/**
 * `y = dequant(xq) · dequant(W)ᵀ` with `dot4I8Packed` (batch ≤ 8), f32 `[M, N]`.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { packInt } from "./pack.ts";
 * import { matmulW8A8, quantizeInt8Rows } from "./w8a8.ts";
 * await initGPU();
 * using w = packInt([2, 0xfe, 0, 0], [1, 4], { bits: 8, scales: [1] }); // [2, −2, 0, 0]
 * using x = Tensor.fromArray([[127, 127, 0, 0]]);
 * const q = quantizeInt8Rows(x);
 * using y = matmulW8A8(q, w);
 * console.log(await y.data()); // Float32Array [0]
 * q.codes.dispose();
 * q.scales.dispose();
 * ```
 */
export function matmulW8A8(x: Int8Rows, w: PackedWeight): Tensor {
  const call = planW8A8(x, w);
  if (call.workgroups[0] > 0) {
    dispatch(call.label, call.code, call.buffers, call.params, call.workgroups);
  }
  return call.out;
}
