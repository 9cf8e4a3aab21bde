/**
 * The tiled GEMM generator, for dense matrices and for every weight source:
 * 256 threads (16×16) per workgroup compute a 128×128 (or 64×64 for small
 * problems) output tile; each thread holds an 8×8 (4×4) micro-tile in
 * registers, split in 4-wide column/row groups 64 apart so workgroup-memory
 * reads are conflict-free vec4s. K advances in steps of 16 through workgroup
 * memory (A and B stored k-major, in f32), and the next K-step's global loads
 * are issued before the current one is computed (register prefetch). Loads
 * are vec4 when the contiguous dimension, the leading dimension and the
 * offsets are multiples of 4, else scalar with bounds checks; out-of-range
 * elements load as 0 and are never stored.
 *
 * The B operand is pluggable: a dense strided matrix, or a
 * {@link WeightSource} `[N, K]` whose tile loader dequantizes packed codes
 * (value · scale, minus the zero point) as they are loaded — so the dense and
 * the low-bit GEMM are one kernel, and each output is the same sequential
 * f32 FMA chain over k in both.
 *
 * Reference: `tests/reference/matmul.ts`, `tests/reference/lowbit.ts`.
 *
 * @example
 * ```ts
 * import { gemmTuning } from "./tiled.ts";
 * console.log(gemmTuning.big.tm * 16, gemmTuning.small.tm * 16); // 128 64
 * ```
 * @module
 */
import type { DType } from "../dtype.ts";
import { F16_BITS } from "../ops/elementwise.ts";
import { header } from "../ops/wgsl.ts";
import { weightDecls, type WeightSource } from "./source.ts";

/** One tiled GEMM variant (every field is baked into the WGSL). */
export interface TileConfig {
  /** Dtype of A (and of a dense B). */
  T: DType;
  out: DType;
  ta: boolean;
  tb: boolean;
  vecA: boolean;
  vecB: boolean;
  vecC: boolean;
  tm: number;
  tn: number;
  bk: number;
  bias: boolean;
  accumulate: boolean;
  lowerOnly: boolean;
  aliasA: boolean;
  aliasB: boolean;
  rowsFirst: boolean;
  /** B is this weight source `[N, K]` (the loader: dequantized in registers) instead of a dense B. */
  weight?: WeightSource;
  /** Dtype of the bias (default T). */
  biasT?: DType;
}

/**
 * Tile parameters of the tiled GEMM, exposed for benchmarks: micro-tile rows ×
 * columns per thread (4 or 8; the workgroup tile is 16× that), the K step, the
 * number of 128×128 tiles from which the big configuration is used, and the
 * thread→element mapping of K-contiguous loads (`rowsFirst`: consecutive
 * threads take consecutive rows, so workgroup-memory stores don't conflict).
 *
 * @example
 * ```ts
 * import { gemmTuning } from "./tiled.ts";
 * console.log(gemmTuning.big.tm * 16); // 128: rows of the big tile
 * ```
 */
export const gemmTuning = {
  big: { tm: 8, tn: 8, bk: 16 },
  small: { tm: 4, tn: 4, bk: 16 },
  bigTiles: 256,
  rowsFirst: false,
};

/** The uniform struct `P` of the tiled GEMM (shape, leading dims, offsets, batch strides, α). */
export const PARAMS_STRUCT = `struct P {
  M: u32, N: u32, K: u32, lda: u32, ldb: u32, ldc: u32,
  offA: u32, offB: u32, offC: u32, sA: u32, sB: u32, sC: u32, alpha: f32,
}
@group(0) @binding(0) var<uniform> p: P;`;

/**
 * How a tile's elements are read: WGSL expressions of the 4 elements at
 * (o, k…k+3) when the stored matrix is k-contiguous, or (o…o+3, k)
 * otherwise (`vec4`, a vec4<f32>), and of one element (`at`, an f32).
 */
interface Operand {
  vec4(o: string, k: string): string;
  at(o: string, k: string): string;
}

/** A dense operand stored in `src` at `base + o·ld + k` (k-contiguous) or `base + k·ld + o`. */
function denseOperand(
  src: string,
  kContig: boolean,
  ld: string,
  base: string,
  T: DType,
): Operand {
  const at = (o: string, k: string) =>
    kContig ? `${base} + ${o} * ${ld} + ${k}` : `${base} + ${k} * ${ld} + ${o}`;
  return {
    vec4: (o, k) => vec4f(T, `${src}[(${at(o, k)}) / 4u]`),
    at: (o, k) => `f32(${src}[${at(o, k)}])`,
  };
}

/** A weight source `[N, K]` (k-contiguous): values dequantized as they are loaded. */
function weightOperand(): Operand {
  return {
    vec4: (o, k) => `wq4(${o}, ${k})`,
    at: (o, k) => `wq(${o}, ${k})`,
  };
}

function loadTile(
  op: "A" | "B",
  operand: Operand,
  vec: boolean,
  kContig: boolean,
  outer: number,
  bk: number,
  outerLimit: string,
  outerStart: string,
  rowsFirst: boolean,
): { decl: string; load: string; store: string } {
  // Loads one [outer × bk] tile (outer = M or N) into registers and stores it
  // k-major into workgroup memory (S[k * outer/4 + o/4][o % 4]).
  const S = op === "A" ? "As" : "Bs";
  const q4 = outer / 4;
  const lines: string[] = [];
  const stores: string[] = [];
  const decl: string[] = [];
  if (vec) {
    const n = (outer * bk) / 4 / 256;
    for (let q = 0; q < n; q++) {
      const r = `r${op}${q}`;
      decl.push(`var ${r} = vec4<f32>(0.0);`);
      const e = `(lid + ${q * 256}u)`;
      if (kContig) {
        // 4 consecutive k of one row o
        const ok = rowsFirst
          ? `let o = ${e} % ${outer}u; let k = (${e} / ${outer}u) * 4u;`
          : `let o = ${e} / ${bk / 4}u; let k = (${e} % ${bk / 4}u) * 4u;`;
        lines.push(`{ ${ok}
      let go = ${outerStart} + o; let gk = k0 + k;
      ${r} = vec4<f32>(0.0);
      if (go < ${outerLimit} && gk < p.K) { ${r} = ${operand.vec4("go", "gk")}; } }`);
        stores.push(`{ ${ok}
      ${S}[k * ${q4}u + o / 4u][o % 4u] = ${r}.x;
      ${S}[(k + 1u) * ${q4}u + o / 4u][o % 4u] = ${r}.y;
      ${S}[(k + 2u) * ${q4}u + o / 4u][o % 4u] = ${r}.z;
      ${S}[(k + 3u) * ${q4}u + o / 4u][o % 4u] = ${r}.w; }`);
      } else {
        // 4 consecutive o of one k
        lines.push(`{ let k = ${e} / ${q4}u; let o = (${e} % ${q4}u) * 4u;
      let go = ${outerStart} + o; let gk = k0 + k;
      ${r} = vec4<f32>(0.0);
      if (go < ${outerLimit} && gk < p.K) { ${r} = ${operand.vec4("go", "gk")}; } }`);
        stores.push(`${S}[${e}] = ${r};`);
      }
    }
  } else {
    const n = (outer * bk) / 256;
    for (let q = 0; q < n; q++) {
      const r = `r${op}${q}`;
      decl.push(`var ${r} = 0.0;`);
      const e = `(lid + ${q * 256}u)`;
      const idx = kContig
        ? `let o = ${e} / ${bk}u; let k = ${e} % ${bk}u;`
        : `let k = ${e} / ${outer}u; let o = ${e} % ${outer}u;`;
      lines.push(`{ ${idx} let go = ${outerStart} + o; let gk = k0 + k;
      ${r} = 0.0;
      if (go < ${outerLimit} && gk < p.K) { ${r} = ${operand.at("go", "gk")}; } }`);
      stores.push(`{ ${idx} ${S}[k * ${q4}u + o / 4u][o % 4u] = ${r}; }`);
    }
  }
  return { decl: decl.join("\n  "), load: lines.join("\n    "), store: stores.join("\n    ") };
}

/**
 * The tiled GEMM WGSL (uniform `P` of {@link PARAMS_STRUCT} at binding 0;
 * dispatch `[⌈N / 16·tn⌉, ⌈M / 16·tm⌉, batch]`).
 *
 * @example
 * ```ts
 * import { gemmCode, gemmTuning } from "./tiled.ts";
 * const t = gemmTuning.small;
 * const code = gemmCode({ T: "f32", out: "f32", ta: false, tb: true, vecA: true, vecB: true,
 *   vecC: true, ...t, bias: false, accumulate: false, lowerOnly: false, aliasA: false,
 *   aliasB: false, rowsFirst: false });
 * console.log(code.includes("var<workgroup> As")); // true
 * ```
 */
export function gemmCode(c: TileConfig): string {
  const { T, tm, tn, bk } = c;
  const bm = 16 * tm, bn = 16 * tn;
  const inA = c.vecA ? vecType(T) : T;
  const inB = c.vecB ? vecType(T) : T;
  // f16 C: exact rounding on the bits, two halves per u32 store (vecC), or one f16 per store.
  const cT = c.out === "f16" ? (c.vecC ? "u32" : "f16") : c.vecC ? "vec4<f32>" : "f32";
  let binding = 1;
  const dl: string[] = [];
  const A = c.aliasA ? "C" : "A", B = c.aliasB ? "C" : "B", C = "C";
  if (!c.aliasA) dl.push(`@group(0) @binding(${binding++}) var<storage, read> A: array<${inA}>;`);
  let lutInit = "";
  if (c.weight) {
    const w = weightDecls(c.weight, binding);
    binding = w.next;
    dl.push(w.code, weightLoads(c.weight));
    lutInit = w.lutInit;
  } else if (!c.aliasB) {
    dl.push(`@group(0) @binding(${binding++}) var<storage, read> B: array<${inB}>;`);
  }
  const biasT = c.biasT ?? T;
  if (c.bias) dl.push(`@group(0) @binding(${binding++}) var<storage, read> Bias: array<${biasT}>;`);
  dl.push(`@group(0) @binding(${binding++}) var<storage, read_write> C: array<${cT}>;`);
  const opA = denseOperand(A, !c.ta, "p.lda", "aBase", T);
  const opB = c.weight ? weightOperand() : denseOperand(B, c.tb, "p.ldb", "bBase", T);
  const la = loadTile("A", opA, c.vecA, !c.ta, bm, bk, "p.M", "m0", c.rowsFirst);
  const lb = loadTile("B", opB, c.vecB, c.weight ? true : c.tb, bn, bk, "p.N", "n0", c.rowsFirst);
  const accDecl: string[] = [];
  const fmas: string[] = [];
  const frag: string[] = [];
  for (let g = 0; g < tm / 4; g++) frag.push(`let a${g} = As[kk * ${bm / 4}u + ${g * 16}u + ty];`);
  for (let g = 0; g < tn / 4; g++) frag.push(`let b${g} = Bs[kk * ${bn / 4}u + ${g * 16}u + tx];`);
  for (let i = 0; i < tm; i++) {
    for (let g = 0; g < tn / 4; g++) {
      accDecl.push(`var c${i}_${g} = vec4<f32>(0.0);`);
      fmas.push(
        `c${i}_${g} = fma(vec4<f32>(a${i >> 2}.${"xyzw"[i & 3]}), b${g}, c${i}_${g});`,
      );
    }
  }
  const stores: string[] = [];
  for (let i = 0; i < tm; i++) {
    const row = `m0 + ${(i >> 2) * 64 + (i & 3)}u + ty * 4u`;
    for (let g = 0; g < tn / 4; g++) {
      const col = `n0 + ${g * 64}u + tx * 4u`;
      const biasAdd = c.bias
        ? `v += vec4<f32>(f32(Bias[min(col, p.N - 1u)]), f32(Bias[min(col + 1u, p.N - 1u)]), ` +
          `f32(Bias[min(col + 2u, p.N - 1u)]), f32(Bias[min(col + 3u, p.N - 1u)]));`
        : "";
      let st: string;
      if (c.vecC && c.out === "f16") {
        st = `if (row < p.M && col < p.N) {
        let w = (cBase + row * p.ldc + col) / 2u;
        ${C}[w] = f16_bits(v.x) | (f16_bits(v.y) << 16u);
        ${C}[w + 1u] = f16_bits(v.z) | (f16_bits(v.w) << 16u);
      }`;
      } else if (c.vecC) {
        const acc = c.accumulate ? `${C}[ci] + ` : "";
        st =
          `if (row < p.M && col < p.N) { let ci = (cBase + row * p.ldc + col) / 4u; ${C}[ci] = ${acc}v; }`;
      } else {
        const parts = [0, 1, 2, 3].map((j) => {
          const acc = c.accumulate ? `${C}[ci] + ` : "";
          const e = `v.${"xyzw"[j]}`;
          const val = c.out === "f16" ? `f16(unpack2x16float(f16_bits(${e})).x)` : `${acc}${e}`;
          return `if (col + ${j}u < p.N) { let ci = cBase + row * p.ldc + col + ${j}u; ${C}[ci] = ${val}; }`;
        });
        st = `if (row < p.M) { ${parts.join("\n        ")} }`;
      }
      stores.push(`{ let row = ${row}; let col = ${col};
      var v = c${i}_${g} * p.alpha;
      ${biasAdd}
      ${st} }`);
    }
  }
  const skip = c.lowerOnly ? `if (m0 + ${bm}u <= n0) { return; }` : "";
  return `${header(T, c.biasT ?? T, c.vecC ? T : c.out)}
${PARAMS_STRUCT}
${dl.join("\n")}
${T === "f16" ? UNPACK4H : ""}
var<workgroup> As: array<vec4<f32>, ${(bk * bm) / 4}>;
var<workgroup> Bs: array<vec4<f32>, ${(bk * bn) / 4}>;
${c.out === "f16" ? F16_BITS : ""}
@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) lid: u32) {
  ${lutInit}
  let tx = lid % 16u;
  let ty = lid / 16u;
  let m0 = wg.y * ${bm}u;
  let n0 = wg.x * ${bn}u;
  ${skip}
  let aBase = p.offA + wg.z * p.sA;
  let bBase = p.offB + wg.z * p.sB;
  let cBase = p.offC + wg.z * p.sC;
  ${accDecl.join("\n  ")}
  ${la.decl}
  ${lb.decl}
  var k0 = 0u;
  ${la.load}
  ${lb.load}
  while (k0 < p.K) {
    ${la.store}
    ${lb.store}
    workgroupBarrier();
    k0 += ${bk}u;
    if (k0 < p.K) {
    ${la.load}
    ${lb.load}
    }
    for (var kk = 0u; kk < ${bk}u; kk++) {
      ${frag.join("\n      ")}
      ${fmas.join("\n      ")}
    }
    workgroupBarrier();
  }
  ${stores.join("\n  ")}
}`;
}

/** Four consecutive elements as one load: vec4<f32>, or f16 as two u32 words (unpacked exactly). */
function vecType(T: DType): string {
  return T === "f16" ? "vec2<u32>" : "vec4<f32>";
}

/** WGSL converting one {@link vecType} load to vec4<f32>. */
function vec4f(T: DType, load: string): string {
  return T === "f16" ? `unpack4h(${load})` : `${load}`;
}

const UNPACK4H = `
fn unpack4h(u: vec2<u32>) -> vec4<f32> { return vec4<f32>(unpack2x16float(u.x), unpack2x16float(u.y)); }`;
/**
 * WGSL `wq(n, k)` (one dequantized weight value) and `wq4(n, k)` (four along
 * k, k a multiple of 4 in the same group) of a weight source.
 */
function weightLoads(src: WeightSource): string {
  const z = src.zeros ? "zero(gi)" : null;
  return `fn wq(n: u32, k: u32) -> f32 {
  let gi = n * ${src.G}u + k / ${src.GS}u;
  return ${src.cg.rawValue("wraw(n, k)", z)} * scale(gi);
}
fn wq4(n: u32, k: u32) -> vec4<f32> {
  return vec4<f32>(wq(n, k), wq(n, k + 1u), wq(n, k + 2u), wq(n, k + 3u));
}`;
}
