/**
 * The paired-decode GEMV for batch 1–8 (decode), used by `planMatmul`
 * (plan.ts) for every weight source whose storage declares a paired decode
 * (int2/int4/int8 symmetric or with zero points, 2-bit ternary) and for dense
 * f16 weights, whenever a 16-byte chunk of codes lies inside one scale group.
 *
 * - **Two codes per decode**: one `(word >> r) & mask ^ magic` puts two
 *   b-bit fields (from the low and high halves of a word) into the mantissas
 *   of the f16 pair `1024 + u·2^p`; `unpack2x16float` turns the pair into two
 *   exact f32 values. The `1024` and the sign bias are never subtracted per
 *   code: the activations staged in workgroup memory are pre-multiplied by
 *   `2^−p`, and each chunk subtracts `Σ x·(1024·2^−p + bias)` once, which
 *   the staging step computes per chunk (shared by every row of the
 *   workgroup). Per code: about ½ logic op, one conversion, one FMA.
 *   Ternary codes (0, +1, −1 = 0, 1, 3) decode as two's complement int2.
 * - **Activations staged once per workgroup** (f32, in the order the codes
 *   are decoded, swizzled so that the threads of a row read consecutive
 *   16-byte words), in K tiles that fit the workgroup memory.
 * - **Several rows per thread**: `rowsPerThread` independent 16-byte weight
 *   loads in flight per iteration, one activation read for all of them.
 *
 * @example
 * ```ts
 * import { pairPlan } from "./paired.ts";
 * const p = pairPlan(4, true);
 * console.log(p.length, p[0].lo, p[0].hi); // 4 pairs per word; codes 0 and 4 share a decode
 * ```
 * @module
 */
import { wgslF32 } from "../lowbit/codegen.ts";

/** One decode of two codes of a 32-bit word. */
export interface PairDecode {
  /** Right shift of the word before masking (negative: left shift). */
  readonly shift: number;
  /** Bit position of both fields inside their 16-bit halves after the shift. */
  readonly pos: number;
  /** Code index (within the word) of the low-half field. */
  readonly lo: number;
  /** Code index of the high-half field. */
  readonly hi: number;
  /** `mask` of the two fields after the shift. */
  readonly mask: number;
  /** Value XOR-ed in after masking: the f16 exponent of 1024, and the sign bits when signed. */
  readonly magic: number;
}

/**
 * How a word of `bits`-bit codes (2, 4 or 8) decodes in pairs: every field
 * lands at an f16 mantissa position `p` with `p + bits ≤ 10`, chosen high
 * (few bits cancel when the `1024` is subtracted later) with few distinct
 * shifts. `signed`: flip each field's sign bit (two's complement → offset binary).
 *
 * @example
 * ```ts
 * import { pairPlan } from "./paired.ts";
 * console.log(new Set(pairPlan(2, true).map((d) => d.shift)).size); // 3 distinct shifts for 8 pairs
 * ```
 */
export function pairPlan(bits: number, signed: boolean): PairDecode[] {
  const half = 16 / bits;
  const hiPos = 10 - bits;
  const loPos = Math.max(0, hiPos - 4);
  const left = new Set(Array.from({ length: half }, (_, j) => j));
  const out: PairDecode[] = [];
  const fmask = 2 ** bits - 1;
  while (left.size) {
    let best = 0;
    let bestN = -1;
    for (let r = -16; r <= 16; r++) {
      let n = 0;
      for (const j of left) {
        const p = j * bits - r;
        if (p >= loPos && p <= hiPos) n++;
      }
      const better = n > bestN || (n === bestN && Math.abs(r) < Math.abs(best));
      if (better) [best, bestN] = [r, n];
    }
    for (const j of [...left]) {
      const pos = j * bits - best;
      if (pos < loPos || pos > hiPos) continue;
      left.delete(j);
      const mask = ((fmask << pos) | (fmask << (pos + 16))) >>> 0;
      const sign = signed ? ((1 << (pos + bits - 1)) | (1 << (pos + bits - 1 + 16))) >>> 0 : 0;
      out.push({ shift: best, pos, lo: j, hi: j + half, mask, magic: (0x64006400 | sign) >>> 0 });
    }
  }
  return out.sort((a, b) => a.lo - b.lo);
}

/** What the paired GEMV needs to know about the weight. */
export interface FastGemvSource {
  /** Rows (output features). */
  readonly N: number;
  /** Columns (input features). */
  readonly K: number;
  /** Group size (dense: K). */
  readonly GS: number;
  /** Groups per row (dense: 1). */
  readonly G: number;
  /** Words per row (a multiple of 4). */
  readonly stride: number;
  /** 2, 4 or 8 (bit-stream codes) or 16 (dense f16). */
  readonly bits: number;
  /** Two's complement codes (int sym, ternary). */
  readonly signed: boolean;
  /** Per-group zero points bound as `zero(i)`. */
  readonly zeros: boolean;
  /** Per-group scales bound as `scale(i)` (false: dense). */
  readonly scaled: boolean;
}

/** Tuning of {@link fastGemvCode}. */
export interface FastGemvConfig {
  /** Threads per row (power of two). */
  readonly T: number;
  /** Rows per thread. */
  readonly RPT: number;
  /** Activation rows. */
  readonly M: number;
  /** Workgroup memory available for the activation tile, bytes. */
  readonly tileBytes: number;
  /** Chunks per thread and iteration (used when it divides the tile's chunks; default 1). */
  readonly unroll?: number;
}

const WG = 256;
const XYZW = "xyzw";

/**
 * Whether a weight fits the paired GEMV: 16-byte chunks inside one group, K a
 * multiple of the chunk.
 *
 * @example
 * ```ts
 * import { fastGemvFits } from "./paired.ts";
 * console.log(fastGemvFits(4, 4096, 128)); // true
 * ```
 */
export function fastGemvFits(bits: number, K: number, GS: number): boolean {
  if (![2, 4, 8, 16].includes(bits)) return false;
  const CHC = 128 / bits;
  return K % CHC === 0 && GS % CHC === 0;
}

/** Largest K tile (a multiple of the chunk dividing K) whose M rows fit `bytes`. */
function tileK(K: number, CHC: number, M: number, bytes: number): number {
  const chunks = K / CHC;
  for (let d = 1; d <= chunks; d++) {
    if (chunks % d !== 0) continue;
    const KT = K / d;
    if (M * KT * 4 + 2 * M * (KT / CHC) * 4 <= bytes) return KT;
  }
  return CHC;
}

/**
 * WGSL of the paired GEMV. `decls` holds the bindings and the helpers
 * `xload`, `scale`, `zero`, `bias` (as source.ts `gemvDecls` declares them, with `store`); `finish`
 * the statements that turn the reduced `r` of output (`mm`, `nn`) into `Y`.
 * Returns the code and the rows per workgroup.
 *
 * @example
 * ```ts
 * import { fastGemvCode } from "./paired.ts";
 * const src = { N: 64, K: 256, GS: 128, G: 2, stride: 32, bits: 4, signed: true, zeros: false, scaled: true };
 * const { rows } = fastGemvCode(src, { T: 8, RPT: 2, M: 1, tileBytes: 16384 }, "", "");
 * console.log(rows); // 64
 * ```
 */
export function fastGemvCode(
  src: FastGemvSource,
  cfg: FastGemvConfig,
  decls: string,
  finish: string,
): { code: string; rows: number } {
  const { N, K, GS, G, stride, bits } = src;
  const { T, RPT, M } = cfg;
  const dense = bits === 16;
  const CHC = 128 / bits; // codes per chunk (one vec4<u32>)
  const CPW = 32 / bits; // codes per word
  const KT = tileK(K, CHC, M, cfg.tileBytes);
  const NT = K / KT;
  const TCH = KT / CHC; // chunks per tile
  const SLOTS = WG / T;
  const R = SLOTS * RPT;
  const asym = src.zeros;
  // Per word: the decodes, and the position (in decode order) of every code.
  const plan: PairDecode[] = dense
    ? [{ shift: 0, pos: 0, lo: 0, hi: 1, mask: 0, magic: 0 }]
    : pairPlan(bits, src.signed);
  const posOf = new Array<number>(CHC); // code in chunk → position in the staged chunk
  const multOf = new Array<number>(CHC); // the staged x is x · multOf
  const offOf = new Array<number>(CHC); // Σ x · offOf is subtracted per chunk
  const bias = src.signed ? 2 ** (bits - 1) : 0;
  for (let i = 0; i < 4; i++) {
    plan.forEach((d, q) => {
      for (const [h, j] of [[0, d.lo], [1, d.hi]]) {
        const k = i * CPW + j;
        posOf[k] = i * CPW + 2 * q + h;
        multOf[k] = dense ? 1 : 2 ** -d.pos;
        offOf[k] = dense ? 0 : 1024 * 2 ** -d.pos + bias;
      }
    });
  }
  const codeAt = new Array<number>(CHC);
  posOf.forEach((p, k) => (codeAt[p] = k));
  const Q = CHC / 4;
  const ms = Array.from({ length: M }, (_, m) => m);
  const rs = Array.from({ length: RPT }, (_, r) => r);

  // Staging: one thread per (m, chunk) of the tile.
  const stage: string[] = [];
  stage.push(`let m = idx / ${TCH}u;`, `let cc = idx % ${TCH}u;`);
  stage.push(`let xb = (m * ${K}u + tile * ${KT}u + cc * ${CHC}u) / 4u;`);
  for (let q = 0; q < Q; q++) stage.push(`let x${q} = xload(xb + ${q}u);`);
  const xe = (k: number) => `x${k >> 2}.${XYZW[k & 3]}`;
  for (let q = 0; q < Q; q++) {
    const comps = [0, 1, 2, 3].map((c) => {
      const k = codeAt[4 * q + c];
      return multOf[k] === 1 ? xe(k) : `${xe(k)} * ${wgslF32(multOf[k])}`;
    });
    stage.push(`xs[m * ${KT / 4}u + ${q * TCH}u + cc] = vec4<f32>(${comps.join(", ")});`);
  }
  if (!dense) {
    const terms = Array.from(
      { length: Q },
      (_, q) =>
        `dot(x${q}, vec4<f32>(${[0, 1, 2, 3].map((c) => wgslF32(offOf[4 * q + c])).join(", ")}))`,
    );
    stage.push(`xo[idx] = ${terms.join(" + ")};`);
    if (asym) {
      stage.push(
        `xz[idx] = ${
          Array.from({ length: Q }, (_, q) => `dot(x${q}, vec4<f32>(1.0))`).join(" + ")
        };`,
      );
    }
  }

  // Compute: thread (slot, t) takes rows n0 + slot + r·SLOTS and chunks t, t + T, … of the
  // tile, U chunks per iteration (all weight loads first).
  const U = TCH % (T * (cfg.unroll ?? 1)) === 0 ? (cfg.unroll ?? 1) : 1;
  const loads: string[] = [];
  const body: string[] = [];
  const preload = M * CHC <= 64;
  const shifts = [...new Set(plan.map((d) => d.shift))];
  for (let u = 0; u < U; u++) {
    const cc = `cc${u}`;
    loads.push(`let ${cc} = cc + ${u * T}u;`, `let c${u} = tile * ${TCH}u + ${cc};`);
    if (!dense) loads.push(`let gi${u} = (c${u} * ${CHC}u) / ${GS}u;`);
    for (const r of rs) loads.push(`let v${u}_${r} = W[nr${r} * ${stride / 4}u + c${u}];`);
    if (src.scaled) {
      for (const r of rs) {
        loads.push(`let s${u}_${r} = scale(nr${r} * ${G}u + gi${u});`);
        if (asym) loads.push(`let z${u}_${r} = zero(nr${r} * ${G}u + gi${u});`);
      }
    }
    const xq = (m: number, q: number) => `xs[${m * (KT / 4)}u + ${q * TCH}u + ${cc}]`;
    if (preload) {
      for (const m of ms) {
        for (let q = 0; q < Q; q++) body.push(`let a${u}_${m}_${q} = ${xq(m, q)};`);
      }
    }
    for (const r of rs) {
      const id = `${u}_${r}`;
      for (let i = 0; i < 4; i++) {
        const w = `v${id}.${XYZW[i]}`;
        if (dense) {
          body.push(`let f${id}_${i} = unpack2x16float(${w});`);
          continue;
        }
        const sname = (sh: number) => `w${id}_${i}_${sh < 0 ? "l" : "r"}${Math.abs(sh)}`;
        for (const sh of shifts) {
          if (sh === 0) continue;
          body.push(`let ${sname(sh)} = ${w} ${sh > 0 ? ">>" : "<<"} ${Math.abs(sh)}u;`);
        }
        plan.forEach((d, q) => {
          const sw = d.shift === 0 ? w : sname(d.shift);
          body.push(
            `let f${id}_${i * (CPW / 2) + q} = unpack2x16float((${sw} & 0x${
              d.mask.toString(16)
            }u) ^ 0x${d.magic.toString(16)}u);`,
          );
        });
      }
      for (const m of ms) {
        const chains: string[] = [];
        for (let i = 0; i < 4; i++) {
          const terms: string[] = [];
          for (let p = 0; p < CPW; p += 2) {
            const pos = i * CPW + p;
            const q = pos >> 2;
            const xv = preload ? `a${u}_${m}_${q}` : `b${id}_${m}_${q}`;
            const f = `f${id}_${pos >> 1}`;
            terms.push(`${f}.x * ${xv}.${XYZW[pos & 3]}`, `${f}.y * ${xv}.${XYZW[(pos & 3) + 1]}`);
          }
          if (!preload) {
            for (let q = (i * CPW) >> 2; q < ((i + 1) * CPW) >> 2; q++) {
              body.push(`let b${id}_${m}_${q} = ${xq(m, q)};`);
            }
          }
          body.push(`let p${id}_${m}_${i} = ${terms.join(" + ")};`);
          chains.push(`p${id}_${m}_${i}`);
        }
        const raw = `((${chains[0]} + ${chains[1]}) + (${chains[2]} + ${chains[3]}))`;
        if (dense) body.push(`acc${r}_${m} = acc${r}_${m} + ${raw};`);
        else {
          const off = asym
            ? `xo[${m * TCH}u + ${cc}] + z${id} * xz[${m * TCH}u + ${cc}]`
            : `xo[${m * TCH}u + ${cc}]`;
          body.push(`acc${r}_${m} = fma(${raw} - (${off}), s${id}, acc${r}_${m});`);
        }
      }
    }
  }
  body.unshift(...loads);

  const accs = rs.flatMap((r) => ms.map((m) => `acc${r}_${m}`));
  const code = `${decls}
var<workgroup> xs: array<vec4<f32>, ${(M * KT) / 4}>;
${dense ? "" : `var<workgroup> xo: array<f32, ${M * TCH}>;`}
${asym ? `var<workgroup> xz: array<f32, ${M * TCH}>;` : ""}
var<workgroup> red: array<f32, ${WG * RPT * M}>;
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  let slot = lid / ${T}u;
  let t = lid % ${T}u;
  let n0 = (wid.x + wid.y * nwg.x) * ${R}u;
  ${rs.map((r) => `let nr${r} = min(n0 + slot + ${r * SLOTS}u, ${N - 1}u);`).join("\n  ")}
  ${accs.map((a) => `var ${a} = 0.0;`).join(" ")}
  for (var tile = 0u; tile < ${NT}u; tile++) {
    workgroupBarrier();
    for (var idx = lid; idx < ${M * TCH}u; idx += ${WG}u) {
      ${stage.join("\n      ")}
    }
    workgroupBarrier();
    for (var cc = t; cc < ${TCH}u; cc += ${T * U}u) {
      ${body.join("\n      ")}
    }
  }
  ${
    rs.flatMap((r) =>
      ms.map((m) => `red[((slot + ${r * SLOTS}u) * ${M}u + ${m}u) * ${T}u + t] = acc${r}_${m};`)
    )
      .join("\n  ")
  }
  for (var h = ${T / 2}u; h > 0u; h = h >> 1u) {
    workgroupBarrier();
    if (t < h) {
      for (var j = 0u; j < ${RPT * M}u; j++) {
        let e = ((slot + (j / ${M}u) * ${SLOTS}u) * ${M}u + j % ${M}u) * ${T}u + t;
        red[e] += red[e + h];
      }
    }
  }
  workgroupBarrier();
  for (var o = lid; o < ${R * M}u; o += ${WG}u) {
    let mm = o % ${M}u;
    let nn = n0 + o / ${M}u;
    if (nn < ${N}u) {
      var r = red[o * ${T}u];
      ${finish}
    }
  }
}`;
  return { code, rows: R };
}
