/**
 * The generic GEMV generator (`y = x · Wᵀ` for 1–8 activation rows, the
 * decode case; memory bound): every weight source, every format. Each
 * 256-thread workgroup owns `256 / T` output rows; the `T` threads of a row
 * stride over K in chunks of 16-byte `vec4<u32>` loads of the weight's words,
 * decode them in registers with the source's codegen (fully unrolled, code
 * positions known at compile time), multiply by the f32/f16 activations
 * (multiplication-free formats: add/subtract with `select`) and apply the
 * group scale once per group; partial sums meet in workgroup memory. K
 * beyond the last full chunk is read element by element (`wraw`).
 *
 * Shapes, group size and batch are constants of the WGSL (constant loop
 * bounds and divisors); pipelines are cached by source.
 *
 * Reference: `tests/reference/lowbit.ts` (dequantize, then a dense matmul in f64).
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { denseSource } from "./source.ts";
 * import { gemvCode, gemvThreads } from "./gemv.ts";
 * await initGPU();
 * using w = Tensor.zeros([3, 64]);
 * const src = denseSource(w);
 * const code = gemvCode(src, { x: "f32", bias: null, out: "f32" }, { M: 1, T: gemvThreads(src) });
 * console.log(code.includes("@workgroup_size(256)")); // true
 * ```
 * @module
 */
import { wgslF32 } from "../lowbit/codegen.ts";
import { gemvDecls, type IoTypes, type WeightSource } from "./source.ts";

const WG = 256;

function lcm(a: number, b: number): number {
  const g = (x: number, y: number): number => (y === 0 ? x : g(y, x % y));
  return (a / g(a, b)) * b;
}

/** Largest power of two ≤ v (1 for v < 2). */
export function pow2floor(v: number): number {
  return 2 ** Math.floor(Math.log2(Math.max(1, v)));
}

/**
 * The default threads per row: a power of two 4…64, about a quarter of the
 * row's chunks.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { denseSource } from "./source.ts";
 * import { gemvThreads } from "./gemv.ts";
 * await initGPU();
 * using w = Tensor.zeros([1, 4096]);
 * console.log(gemvThreads(denseSource(w))); // 64
 * ```
 */
export function gemvThreads(src: WeightSource): number {
  const UCH = lcm(4, src.unitWords) / src.unitWords * src.unitCodes;
  const chunks = src.vecOK ? Math.floor(src.K / UCH) : Math.ceil(src.K / 4);
  return Math.min(64, Math.max(4, pow2floor(chunks / 4)));
}

const NAN = "bitcast<f32>(0x7fc00000u)";

/**
 * The GEMV WGSL for `M` ≤ 8 activation rows and `T` threads per row
 * (dispatch `⌈N / (256 / T)⌉` workgroups, folded into x and y).
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { packTernary } from "../lowbit/pack.ts";
 * import { packedSource } from "./source.ts";
 * import { gemvCode } from "./gemv.ts";
 * await initGPU();
 * using w = packTernary(new Array(32).fill(1), [1, 32], { scales: [1] });
 * const code = gemvCode(packedSource(w, true), { x: "f16", bias: "f32", out: "f32" }, { M: 2, T: 4 });
 * console.log(code.includes("select(")); // true: ternary is multiplication-free
 * ```
 */
export function gemvCode(src: WeightSource, io: IoTypes, cfg: { M: number; T: number }): string {
  const { M, T } = cfg;
  const { N, K, GS, G, stride, unitCodes: UC, unitWords: UW, cg } = src;
  const R = WG / T;
  const CHW = lcm(4, UW);
  const units = CHW / UW;
  const CHC = units * UC;
  const FULL = src.vecOK ? Math.floor(K / CHC) : 0;
  const TAIL0 = FULL * CHC;
  const scaleMode = G === 1 ? "end" : GS % CHC === 0 ? "chunk" : "unit";
  const multFree = cg.contrib !== undefined;
  const d = gemvDecls(src, io);
  const ms = Array.from({ length: M }, (_, m) => m);
  const body: string[] = [];
  // One chunk: CHW words = CHW/4 vec4 loads.
  body.push(`let wb = n * ${stride / 4}u + c * ${CHW / 4}u;`);
  for (let q = 0; q < CHW / 4; q++) body.push(`let v${q} = W[wb + ${q}u];`);
  const word = (i: number) => `v${i >> 2}.${"xyzw"[i & 3]}`;
  if (scaleMode === "end" && src.zeros) body.push(`let zrow = zero(n);`);
  if (scaleMode === "chunk") {
    body.push(`let gi = n * ${G}u + (c * ${CHC}u) / ${GS}u;`);
    body.push(`let s = scale(gi);`);
    if (src.zeros) body.push(`let z = zero(gi);`);
    for (const m of ms) body.push(`var pc${m} = 0.0;`);
  }
  for (let u = 0; u < units; u++) {
    const words: string[] = [];
    for (let i = 0; i < UW; i++) {
      const w = word(u * UW + i);
      if (cg.prepWord) {
        body.push(`let w${u}_${i} = ${cg.prepWord(w, i)};`);
        words.push(`w${u}_${i}`);
      } else words.push(w);
    }
    const k0 = `c * ${CHC}u + ${u * UC}u`;
    let zname: string | null = null;
    if (scaleMode === "unit") {
      body.push(`let gi${u} = n * ${G}u + (${k0}) / ${GS}u;`);
      body.push(`let s${u} = scale(gi${u});`);
      if (src.zeros) {
        body.push(`let z${u} = zero(gi${u});`);
        zname = `z${u}`;
      }
    } else if (src.zeros) {
      zname = scaleMode === "chunk" ? "z" : "zrow";
    }
    const { pre, codes } = cg.unit(words, `${u}`);
    if (pre) body.push(pre);
    if (!multFree) {
      codes.forEach((c, j) => body.push(`let d${u}_${j} = ${cg.value!(c, zname)};`));
    }
    for (const m of ms) {
      const terms: string[] = [];
      for (let q = 0; q < UC / 4; q++) {
        body.push(`let x${u}_${m}_${q} = xload(${m * K / 4}u + (${k0}) / 4u + ${q}u);`);
        const xv = `x${u}_${m}_${q}`;
        if (multFree) {
          body.push(`xs${m} = xs${m} + ${xv};`);
          for (let j = 0; j < 4; j++) {
            terms.push(cg.contrib!(codes[4 * q + j], `${xv}.${"xyzw"[j]}`));
          }
        } else {
          terms.push(
            `dot(vec4<f32>(${[0, 1, 2, 3].map((j) => `d${u}_${4 * q + j}`).join(", ")}), ${xv})`,
          );
        }
      }
      const p = `(${terms.join(" + ")})`;
      if (scaleMode === "unit") body.push(`acc${m} = fma(${p}, s${u}, acc${m});`);
      else if (scaleMode === "chunk") body.push(`pc${m} = pc${m} + ${p};`);
      else body.push(`acc${m} = acc${m} + ${p};`);
    }
  }
  if (scaleMode === "chunk") {
    for (const m of ms) {
      body.push(`acc${m} = fma(pc${m}, s, acc${m});`);
    }
  }

  const tailScale = scaleMode === "end" ? "1.0" : "scale(gi)";
  const tail = `
  for (var k = ${TAIL0}u + t; k < ${K}u; k += ${T}u) {
    let gi = n * ${G}u + k / ${GS}u;
    let v = ${cg.rawValue("wraw(n, k)", src.zeros ? "zero(gi)" : null)} * ${tailScale};
    ${ms.map((m) => `acc${m} = fma(v, xat(${m * K}u + k), acc${m});`).join("\n    ")}
  }`;
  const finish: string[] = [];
  finish.push(`var r = red[o * ${T}u];`);
  if (scaleMode === "end") finish.push(`r = r * scale(nn * ${G}u);`);
  if (src.tensorScale !== undefined) finish.push(`r = r * ${wgslF32(src.tensorScale)};`);
  if (io.bias) finish.push(`r = r + bias(nn);`);
  finish.push(`store(mm * ${N}u + nn, r);`);
  return `${d.code}
var<workgroup> red: array<f32, ${R * M * T}>;
fn nonfinite(v: vec4<f32>) -> bool {
  let b = bitcast<vec4<u32>>(v) & vec4<u32>(0x7f800000u);
  return any(b == vec4<u32>(0x7f800000u));
}
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u,
        @builtin(local_invocation_index) lid: u32) {
  ${d.lutInit}
  ${cg.signBias ? `let sbias = f32(${cg.signBias}u + nwg.z - 1u);` : ""}
  let row = lid / ${T}u;
  let t = lid % ${T}u;
  let n0 = (wid.x + wid.y * nwg.x) * ${R}u;
  let n = min(n0 + row, ${N - 1}u);
  ${ms.map((m) => `var acc${m} = 0.0;`).join(" ")}
  ${multFree ? ms.map((m) => `var xs${m} = vec4<f32>(0.0);`).join(" ") : ""}
  ${
    FULL > 0
      ? `for (var c = t; c < ${FULL}u; c += ${T}u) {
    ${body.join("\n    ")}
  }`
      : ""
  }${TAIL0 < K ? tail : ""}
  ${multFree ? ms.map((m) => `if (nonfinite(xs${m})) { acc${m} = ${NAN}; }`).join("\n  ") : ""}
  ${ms.map((m) => `red[(row * ${M}u + ${m}u) * ${T}u + t] = acc${m};`).join("\n  ")}
  for (var h = ${T / 2}u; h > 0u; h = h >> 1u) {
    workgroupBarrier();
    if (t < h) {
      ${
    ms.map((m) =>
      `red[(row * ${M}u + ${m}u) * ${T}u + t] += red[(row * ${M}u + ${m}u) * ${T}u + t + h];`
    ).join("\n      ")
  }
    }
  }
  workgroupBarrier();
  for (var o = lid; o < ${R * M}u; o += ${WG}u) {
    let mm = o % ${M}u;
    let nn = n0 + o / ${M}u;
    if (nn < ${N}u) {
      ${finish.join("\n      ")}
    }
  }
}`;
}
