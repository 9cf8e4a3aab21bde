/**
 * The fused block-wise 8-bit AdamW update of one f32 tensor, in place: one
 * workgroup per block of {@link BLOCK} elements dequantizes the block's moments,
 * runs the AdamW update of `adamw_update.ts` in f32, takes the block's new
 * absmax, and requantizes both moments to the nearest value of their map.
 *
 * State of a tensor of n elements: `mCodes`, `vCodes` — u8 codes, four per
 * u32 word (element 4w + k in byte k of word w), `ceil(n/4)` words; `mAbsmax`,
 * `vAbsmax` — f32, one per block. A moment's value is `map[code]·absmax`. The
 * maps come from the caller (`maps`: 512 sorted f32 values, the signed map for
 * m in [0, 256) and the unsigned map for v in [256, 512)); a value x of a block
 * with absmax s is coded as the index of the nearest entry of the map to
 * `x / s` (0 when s = 0), ties to the lower index: the code is the number of
 * midpoints `(map[k] + map[k+1]) / 2` below `x / s`.
 *
 * NaN: a NaN gradient makes its parameter NaN at once; the block's absmax
 * (max that propagates NaN) becomes NaN, so from the next step every moment
 * of that block dequantizes to NaN and the block's parameters follow.
 *
 * Reference: `tests/reference/optim.ts`.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { adamwScalars } from "./adamw_update.ts";
 * import { adamw8bitUpdate } from "./adamw8bit_update.ts";
 * await initGPU();
 * // a toy map: 256 values evenly spaced in [-1, 1], then in [0, 1]
 * const maps = new Float32Array(512).map((_, i) => i < 256 ? -1 + (2 * i) / 255 : (i - 256) / 255);
 * using mp = Tensor.fromArray(maps);
 * using p = Tensor.fromArray([1, 2, 3]);
 * using g = Tensor.fromArray([1, -1, 0]);
 * using mc = Tensor.zeros([1], "u32"); // absmax 0: every moment is 0
 * using vc = Tensor.zeros([1], "u32");
 * using ma = Tensor.zeros([1]);
 * using va = Tensor.zeros([1]);
 * adamw8bitUpdate(p, g, { mCodes: mc, vCodes: vc, mAbsmax: ma, vAbsmax: va }, mp,
 *   adamwScalars({ lr: 0.5, step: 1 }));
 * console.log(await p.data(), await ma.data()); // Float32Array [0.5000000596046448, 2.5, 3] Float32Array [0.10000000149011612]
 * ```
 * @module
 */
import { dispatch, grid, Params } from "../runtime.ts";
import type { Tensor } from "../tensor.ts";
import { IS_NAN } from "../ops/wgsl.ts";
import { ADAMW_ELEMENT, ADAMW_FIELDS, type AdamWScalars, putScalars } from "./adamw_update.ts";
import { expectF32, expectSameShape } from "./_checks.ts";

/** Elements per quantization block (one absmax each). */
export const BLOCK = 2048;
const WG = 256;
const WORDS = BLOCK / 4; // u32 words of codes per block: two per invocation

/** The quantized moments of one tensor. */
export interface Blockwise8bitState {
  /** First-moment codes (signed map), u32 `[ceil(n/4)]`. */
  readonly mCodes: Tensor;
  /** Second-moment codes (unsigned map), u32 `[ceil(n/4)]`. */
  readonly vCodes: Tensor;
  /** First-moment absmax per block, f32 `[ceil(n/BLOCK)]`. */
  readonly mAbsmax: Tensor;
  /** Second-moment absmax per block, f32 `[ceil(n/BLOCK)]`. */
  readonly vAbsmax: Tensor;
}

function code8bit(): string {
  return `
struct Params { ${ADAMW_FIELDS} n: u32, nwords: u32, nblocks: u32, }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read_write> W: array<f32>;
@group(0) @binding(2) var<storage, read> G: array<f32>;
@group(0) @binding(3) var<storage, read_write> MC: array<u32>;
@group(0) @binding(4) var<storage, read_write> VC: array<u32>;
@group(0) @binding(5) var<storage, read_write> MA: array<f32>;
@group(0) @binding(6) var<storage, read_write> VA: array<f32>;
@group(0) @binding(7) var<storage, read> MAPS: array<f32>;
var<workgroup> tbl: array<f32, 512>;
var<workgroup> mid: array<f32, 512>;
var<workgroup> red_m: array<f32, ${WG}>;
var<workgroup> red_v: array<f32, ${WG}>;
${ADAMW_ELEMENT}
${IS_NAN}
fn fmax(a: f32, b: f32) -> f32 { return select(max(a, b), bitcast<f32>(0x7fc00000u), is_nan(a) || is_nan(b)); }
// The code of x in the map at offset \`base\`: how many midpoints lie below x / s.
fn encode(x: f32, s: f32, base: u32) -> u32 {
  let q = select(x / s, 0.0, s == 0.0);
  var lo = 0u;
  var hi = 255u;
  for (var it = 0u; it < 8u; it++) {
    if (lo < hi) {
      let c = (lo + hi) / 2u;
      if (mid[base + c] < q) { lo = c + 1u; } else { hi = c; }
    }
  }
  return lo;
}
@compute @workgroup_size(${WG}) fn main(
  @builtin(local_invocation_id) lid: vec3u,
  @builtin(workgroup_id) wid: vec3u,
  @builtin(num_workgroups) nwg: vec3u,
) {
  let block = wid.x + wid.y * nwg.x;
  if (block >= P.nblocks) { return; }
  let t = lid.x;
  tbl[t] = MAPS[t];
  tbl[t + 256u] = MAPS[t + 256u];
  workgroupBarrier();
  mid[t] = (tbl[t] + tbl[min(t + 1u, 255u)]) * 0.5;
  mid[t + 256u] = (tbl[t + 256u] + tbl[min(t + 257u, 511u)]) * 0.5;
  let sm = MA[block];
  let sv = VA[block];
  var mn: array<f32, 8>;
  var vn: array<f32, 8>;
  var am = 0.0;
  var av = 0.0;
  for (var j = 0u; j < 2u; j++) {
    let w = block * ${WORDS}u + j * ${WG}u + t;
    if (w < P.nwords) {
      let wm = MC[w];
      let wv = VC[w];
      for (var k = 0u; k < 4u; k++) {
        let e = 4u * w + k;
        if (e < P.n) {
          let m0 = tbl[(wm >> (8u * k)) & 0xffu] * sm;
          let v0 = tbl[256u + ((wv >> (8u * k)) & 0xffu)] * sv;
          let r = adamw_element(W[e], G[e], m0, v0);
          W[e] = r.p;
          mn[4u * j + k] = r.m;
          vn[4u * j + k] = r.v;
          am = fmax(am, abs(r.m));
          av = fmax(av, r.v);
        }
      }
    }
  }
  red_m[t] = am;
  red_v[t] = av;
  workgroupBarrier();
  for (var h = ${WG / 2}u; h > 0u; h = h / 2u) {
    if (t < h) {
      red_m[t] = fmax(red_m[t], red_m[t + h]);
      red_v[t] = fmax(red_v[t], red_v[t + h]);
    }
    workgroupBarrier();
  }
  let am_all = red_m[0];
  let av_all = red_v[0];
  if (t == 0u) {
    MA[block] = am_all;
    VA[block] = av_all;
  }
  for (var j = 0u; j < 2u; j++) {
    let w = block * ${WORDS}u + j * ${WG}u + t;
    if (w < P.nwords) {
      var cm = 0u;
      var cv = 0u;
      for (var k = 0u; k < 4u; k++) {
        if (4u * w + k < P.n) {
          cm |= encode(mn[4u * j + k], am_all, 0u) << (8u * k);
          cv |= encode(vn[4u * j + k], av_all, 256u) << (8u * k);
        }
      }
      MC[w] = cm;
      VC[w] = cv;
    }
  }
}`;
}

/**
 * One 8-bit AdamW step of `p` in place (f32), updating the quantized moments
 * `state` in place; `g` (f32, p's shape) is read, never modified; `maps` is
 * the f32 `[512]` table described in the module doc.
 */
export function adamw8bitUpdate(
  p: Tensor,
  g: Tensor,
  state: Blockwise8bitState,
  maps: Tensor,
  s: AdamWScalars,
): void {
  const op = "adamw8bitUpdate";
  const { mCodes, vCodes, mAbsmax, vAbsmax } = state;
  expectF32(op, p, g, mAbsmax, vAbsmax, maps);
  expectSameShape(op, p, g);
  const n = p.size;
  const nwords = Math.ceil(n / 4);
  const nblocks = Math.ceil(n / BLOCK);
  for (
    const [t, size, dtype] of [
      [mCodes, nwords, "u32"],
      [vCodes, nwords, "u32"],
      [
        mAbsmax,
        nblocks,
        "f32",
      ],
      [vAbsmax, nblocks, "f32"],
      [maps, 512, "f32"],
    ] as const
  ) {
    if (t.size !== size || t.dtype !== dtype) {
      throw new RangeError(
        `${op}: ${t.toString()} should be ${dtype} with ${size} elements for ${p.toString()} ` +
          `(codes: ceil(n/4) u32 words; absmax: one f32 per block of ${BLOCK}; maps: 512 f32)`,
      );
    }
  }
  if (n === 0) return;
  const params = putScalars(new Params(), s).u(n, nwords, nblocks);
  dispatch(
    op,
    code8bit(),
    [p.buffer, g.buffer, mCodes.buffer, vCodes.buffer, mAbsmax.buffer, vAbsmax.buffer, maps.buffer],
    params,
    grid(nblocks * WG, WG),
  );
}
