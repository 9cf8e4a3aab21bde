/**
 * The one copy kernel behind every layout op: a strided copy over an
 * iteration space of rank ≤ 8 (after merging adjacent dimensions that stay
 * contiguous; shapes as uniforms, so one pipeline serves every shape), a
 * plain buffer copy when both sides are contiguous, and a 32×32-tiled kernel
 * for a batched transpose of the last two dimensions. Bits are copied, not
 * values (4-byte dtypes as u32).
 *
 * Reference: `tests/reference/layout.ts` (through the layout ops).
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { stridedCopy } from "./strided_copy.ts";
 * await initGPU();
 * using x = Tensor.fromArray([[1, 2], [3, 4]]);
 * using y = Tensor.zeros([2, 2]);
 * stridedCopy("transpose", x, y, { shape: [2, 2], src: [1, 2], dst: [2, 1], srcOff: 0, dstOff: 0 });
 * console.log(await y.data()); // Float32Array [1, 3, 2, 4]
 * ```
 * @module
 */
import { bytesPerElement, type DType } from "../dtype.ts";
import { copy, dispatch, grid, linearIndex, Params } from "../runtime.ts";
import type { Tensor } from "../tensor.ts";
import { ENTRY_BUILTINS, header } from "./wgsl.ts";

const WG = 256;
const MAX_RANK = 8;
const TILE = 32;

/** The WGSL element type a copy moves: bits, not values. */
function bitsType(dtype: DType): string {
  return bytesPerElement(dtype) === 2 ? "f16" : "u32";
}

/** An iteration space with source and destination element strides and offsets. */
export interface Strided {
  shape: number[];
  src: number[];
  dst: number[];
  srcOff: number;
  dstOff: number;
}

/** Drops size-1 dimensions and merges neighbours that are contiguous on both sides. */
function simplify(s: Strided): Strided {
  const shape: number[] = [], src: number[] = [], dst: number[] = [];
  for (let k = 0; k < s.shape.length; k++) {
    if (s.shape[k] === 1) continue;
    const last = shape.length - 1;
    if (
      last >= 0 && src[last] === s.src[k] * s.shape[k] && dst[last] === s.dst[k] * s.shape[k]
    ) {
      shape[last] *= s.shape[k];
      src[last] = s.src[k];
      dst[last] = s.dst[k];
    } else {
      shape.push(s.shape[k]);
      src.push(s.src[k]);
      dst.push(s.dst[k]);
    }
  }
  return { shape, src, dst, srcOff: s.srcOff, dstOff: s.dstOff };
}

/** Copies `s` from `x` into `y` (both any layout described by the strides). */
export function stridedCopy(op: string, x: Tensor, y: Tensor, desc: Strided): void {
  const s = simplify(desc);
  const n = s.shape.reduce((p, d) => p * d, 1);
  if (n === 0) return;
  const e = bytesPerElement(x.dtype);
  // Both sides contiguous: a buffer copy, when byte offsets and size are 4-aligned.
  if (s.shape.length <= 1 && (s.src[0] ?? 1) === 1 && (s.dst[0] ?? 1) === 1) {
    const [so, dO, bytes] = [s.srcOff * e, s.dstOff * e, n * e];
    if (so % 4 === 0 && dO % 4 === 0 && bytes % 4 === 0) {
      copy(x.buffer, so, y.buffer, dO, bytes);
      return;
    }
  }
  // A batched transpose of the last two dimensions: the tiled kernel.
  const r = s.shape.length;
  if (
    r === 2 && s.src[0] === 1 && s.dst[1] === 1 && s.dst[0] === s.shape[1] &&
    s.src[1] === s.shape[0] && s.srcOff === 0 && s.dstOff === 0
  ) {
    return tiledTranspose(op, x, y, 1, s.shape[1], s.shape[0]);
  }
  if (
    r === 3 && s.src[1] === 1 && s.dst[2] === 1 && s.dst[1] === s.shape[2] &&
    s.src[2] === s.shape[1] && s.src[0] === s.shape[1] * s.shape[2] &&
    s.dst[0] === s.shape[1] * s.shape[2] && s.srcOff === 0 && s.dstOff === 0
  ) {
    return tiledTranspose(op, x, y, s.shape[0], s.shape[2], s.shape[1]);
  }
  if (r > MAX_RANK) {
    throw new RangeError(
      `${op}: the copy needs ${r} dimensions after merging contiguous ones; at most ${MAX_RANK} ` +
        `are supported (reshape to fewer dimensions first)`,
    );
  }
  const B = bitsType(x.dtype);
  const code = `${header(B === "f16" ? "f16" : "f32")}
struct Params {
  n: u32, rank: u32, src_off: u32, dst_off: u32,
  shape: array<vec4u, 2>, ss: array<vec4u, 2>, ds: array<vec4u, 2>,
}
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> X: array<${B}>;
@group(0) @binding(2) var<storage, read_write> Y: array<${B}>;
@compute @workgroup_size(${WG}) fn main(${ENTRY_BUILTINS}) {
  let g = ${linearIndex(WG)};
  if (g >= P.n) { return; }
  var r = g;
  var si = P.src_off;
  var di = P.dst_off;
  for (var k = P.rank; k > 0u; k--) {
    let q = k - 1u;
    let d = P.shape[q / 4u][q % 4u];
    let c = r % d;
    r = r / d;
    si += c * P.ss[q / 4u][q % 4u];
    di += c * P.ds[q / 4u][q % 4u];
  }
  Y[di] = X[si];
}`;
  const pad = (a: number[]) => [...a, ...new Array(MAX_RANK - a.length).fill(0)];
  const params = new Params().u(n, r, s.srcOff, s.dstOff).u(...pad(s.shape)).u(...pad(s.src)).u(
    ...pad(s.dst),
  );
  dispatch(op, code, [x.buffer, y.buffer], params, grid(n, WG));
}

/** `y[b, j, i] = x[b, i, j]` for `x` of shape [batch, m, n], by 32×32 tiles. */
function tiledTranspose(op: string, x: Tensor, y: Tensor, batch: number, m: number, n: number) {
  const B = bitsType(x.dtype);
  const tm = Math.ceil(m / TILE), tn = Math.ceil(n / TILE);
  const tiles = batch * tm * tn;
  const code = `${header(B === "f16" ? "f16" : "f32")}
struct Params { m: u32, n: u32, tm: u32, tn: u32, tiles: u32, }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> X: array<${B}>;
@group(0) @binding(2) var<storage, read_write> Y: array<${B}>;
var<workgroup> tile: array<${B}, ${TILE * (TILE + 1)}>;
@compute @workgroup_size(${TILE}, 8) fn main(
  @builtin(local_invocation_id) lid: vec3u,
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
) {
  let w = wid.x + wid.y * nwg.x;
  let live = w < P.tiles;
  let per = P.tm * P.tn;
  let b = w / per;
  let ti = (w % per) / P.tn;
  let tj = (w % per) % P.tn;
  let base = b * P.m * P.n;
  for (var q = 0u; q < ${TILE}u; q += 8u) {
    let i = ti * ${TILE}u + lid.y + q;
    let j = tj * ${TILE}u + lid.x;
    if (live && i < P.m && j < P.n) { tile[(lid.y + q) * ${
    TILE + 1
  }u + lid.x] = X[base + i * P.n + j]; }
  }
  workgroupBarrier();
  for (var q = 0u; q < ${TILE}u; q += 8u) {
    let j = tj * ${TILE}u + lid.y + q;
    let i = ti * ${TILE}u + lid.x;
    if (live && i < P.m && j < P.n) { Y[base + j * P.m + i] = tile[lid.x * ${
    TILE + 1
  }u + lid.y + q]; }
  }
}`;
  const params = new Params().u(m, n, tm, tn, tiles);
  dispatch(op, code, [x.buffer, y.buffer], params, grid(tiles, 1));
}
