/**
 * Low-bit matmul `y = x · Wᵀ (+ bias)` for every packed format: a GEMV for
 * batch 1–8 (decode; memory bound) and a tiled GEMM for larger batches.
 *
 * - **GEMV**: each 256-thread workgroup owns `256 / T` output rows; the `T`
 *   threads of a row stride over K in chunks of 16-byte `vec4<u32>` loads of
 *   packed codes, decode them in registers (fully unrolled, code positions
 *   known at compile time), multiply by the f32/f16 activations (ternary and
 *   binary: add/subtract with `select`, no multiplication) and apply the
 *   group scale once per group; partial sums meet in workgroup memory.
 * - **Paired GEMV** (fastgemv.ts; the default for int2/int4/int8, 2-bit ternary
 *   and dense f16 whenever a 16-byte chunk lies in one group): two codes per
 *   decode through f16 mantissas and `unpack2x16float`, activations staged
 *   once per workgroup, several rows and chunks per thread in flight. Pass
 *   `gemv: "generic"` for the kernel above.
 * - **GEMM**: 64×128 (or 16/32×128) output tiles; each K step dequantizes a
 *   128×32 tile of W (scales and zeros applied) and the activation tile into
 *   workgroup memory, then every thread accumulates a 4×8 (TM×8) register block.
 *
 * Shapes, group size and batch (GEMV) are baked into the WGSL as constants,
 * so the compiler sees constant loop bounds and divisors; pipelines are cached
 * by source. Activations f32 or f16, output f32 (or f16), accumulation in f32.
 *
 * Reference: `tests/reference/lowbit.ts` (dequantize, then a dense matmul in f64).
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { packInt } from "./int.ts";
 * import { lowbitMatmul } from "./kernel.ts";
 * await initGPU();
 * using w = packInt([1, 2, 3, 4, 0xf, 0xe, 0xd, 0xc], [2, 4], { bits: 4, scales: [1, 0.5] });
 * using x = Tensor.fromArray([[1, 1, 1, 1]]);
 * using bias = Tensor.fromArray([100, 200]);
 * using y = lowbitMatmul(x, w, { bias });
 * console.log(await y.data()); // Float32Array [110, 195]
 * ```
 * @module
 */
import { gpu } from "../gpu.ts";
import { type Binding, dispatch, Params } from "../runtime.ts";
import { Tensor } from "../tensor.ts";
import { binaryCodegen } from "./binary.ts";
import { type Codegen, wgslF32 } from "./codegen.ts";
import { codebookCodegen } from "./codebook.ts";
import { E4M3_WGSL, E8M0_WGSL, fp4Codegen } from "./fp4.ts";
import { intCodegen } from "./int.ts";
import { fastGemvCode, fastGemvFits, type FastGemvSource } from "./fastgemv.ts";
import { formatInfo, type PackedWeight, rowWords } from "./layout.ts";
import { nf4Codegen } from "./nf4.ts";
import { ternary5Codegen, ternaryCodegen } from "./ternary.ts";

/** Options of {@link lowbitMatmul}. */
export interface LowbitMatmulOptions {
  /** Bias `[N]` (f32 or f16) added to every output row. */
  bias?: Tensor;
  /** Output dtype (default f32; f16 needs `shader-f16`). */
  outDtype?: "f32" | "f16";
  /** Force a kernel (default: GEMV for batch ≤ 8, GEMM above). */
  kernel?: "gemv" | "gemm";
  /** GEMV threads per output row (power of two 1…256; default from K). */
  threadsPerRow?: number;
  /** Paired GEMV: output rows per thread (default 2 for batch ≤ 4, else 1). */
  rowsPerThread?: number;
  /** Paired GEMV: 16-byte chunks per thread and iteration (default 2 for batch ≤ 4, else 1). */
  unroll?: number;
  /**
   * GEMV variant: "paired" (fastgemv.ts; int2/4/8, ternary, dense f16 when a
   * 16-byte chunk lies in one group) or "generic" (every format). Default:
   * paired where it applies.
   */
  gemv?: "paired" | "generic";
}

/** One queued (or timeable) dispatch: what `dispatch` needs, plus its output. */
export interface KernelCall {
  /** Label for errors and profiles. */
  readonly label: string;
  /** WGSL source (entry point `main`). */
  readonly code: string;
  /** Storage bindings (after the uniform params when given). */
  readonly buffers: Binding[];
  /** Uniform parameters, or null. */
  readonly params: Params | null;
  /** Workgroup counts. */
  readonly workgroups: [number, number, number];
  /** The output tensor the call writes. */
  readonly out: Tensor;
}

/** A weight as the generator sees it: a packed weight or a dense f16/f32 matrix. */
interface Source {
  what: string;
  N: number;
  K: number;
  GS: number;
  G: number;
  stride: number;
  unitCodes: number;
  unitWords: number;
  vecOK: boolean;
  cg: Codegen;
  scale: "f16" | "f32" | "e4m3" | "e8m0" | "none";
  zeros: boolean;
  tensorScale?: number;
  buffers: Binding[];
  lutTensor: boolean;
  lutSize: number;
  /** Paired-GEMV decoding: code bits (16: dense f16) and two's complement, or null. */
  paired: { bits: number; signed: boolean } | null;
}

function packedSource(w: PackedWeight, K4: boolean): Source {
  const info = formatInfo(w.format);
  const [N, K] = w.shape;
  const stride = rowWords(K, w.format);
  const f = w.format;
  const zeros = w.zeros !== undefined;
  let cg: Codegen;
  if (f.startsWith("int")) cg = intCodegen(info.bits, zeros, stride);
  else if (f === "ternary") cg = ternaryCodegen(stride);
  else if (f === "ternary5") cg = ternary5Codegen(stride);
  else if (f === "binary") cg = binaryCodegen(stride);
  else if (f === "fp4" || f === "nvfp4" || f === "mxfp4") cg = fp4Codegen(stride);
  else if (f === "nf4") cg = nf4Codegen(stride);
  else cg = codebookCodegen(info.bits, stride);
  const buffers: Binding[] = [w.codes.buffer, w.scales.buffer];
  if (w.zeros) buffers.push(w.zeros.buffer);
  if (w.codebook) buffers.push(w.codebook.buffer);
  const scale = info.scale === "float" ? w.scales.dtype as "f16" | "f32" : info.scale;
  return {
    what: `${f} weight [${N}, ${K}] g${w.groupSize}`,
    N,
    K,
    GS: w.groupSize,
    G: K / w.groupSize,
    stride,
    unitCodes: info.unitCodes,
    unitWords: info.unitWords,
    vecOK: K4,
    cg,
    scale,
    zeros,
    tensorScale: w.tensorScale,
    buffers,
    lutTensor: w.codebook !== undefined,
    lutSize: w.codebook?.size ?? 0,
    paired: (f === "int2" || f === "int4" || f === "int8" || f === "ternary") &&
        (scale === "f16" || scale === "f32") && w.tensorScale === undefined
      ? { bits: f === "ternary" ? 2 : info.bits, signed: f === "ternary" || !zeros }
      : null,
  };
}

/** A dense `[N, K]` f16 or f32 weight as a generator source. */
function denseSource(w: Tensor): Source {
  const [N, K] = w.shape;
  const f16 = w.dtype === "f16";
  const cg: Codegen = f16
    ? {
      unit: (words, id) => ({
        pre: `let h${id}a = unpack2x16float(${words[0]}); let h${id}b = unpack2x16float(${
          words[1]
        });`,
        codes: [`h${id}a.x`, `h${id}a.y`, `h${id}b.x`, `h${id}b.y`],
      }),
      value: (c) => c,
      rawFn: `
  let e = n * ${K}u + k;
  let wv = W[e >> 3u][(e >> 1u) & 3u];
  return (wv >> ((e & 1u) * 16u)) & 0xffffu;`,
      rawValue: (r) => `unpack2x16float(${r}).x`,
    }
    : {
      unit: (words) => ({ pre: "", codes: words.map((w) => `bitcast<f32>(${w})`) }),
      value: (c) => c,
      rawFn: `
  let e = n * ${K}u + k;
  return W[e >> 2u][e & 3u];`,
      rawValue: (r) => `bitcast<f32>(${r})`,
    };
  return {
    what: `dense ${w.dtype} weight [${N}, ${K}]`,
    N,
    K,
    GS: K,
    G: 1,
    stride: f16 ? K / 2 : K,
    unitCodes: 4,
    unitWords: f16 ? 2 : 4,
    vecOK: K % (f16 ? 8 : 4) === 0,
    cg,
    scale: "none",
    zeros: false,
    buffers: [w.buffer],
    lutTensor: false,
    lutSize: 0,
    paired: f16 ? { bits: 16, signed: false } : null,
  };
}

const WG = 256;

function lcm(a: number, b: number): number {
  const g = (x: number, y: number): number => (y === 0 ? x : g(y, x % y));
  return (a / g(a, b)) * b;
}

function pow2floor(v: number): number {
  return 2 ** Math.floor(Math.log2(Math.max(1, v)));
}

/** WGSL helpers for activations, scales, zeros, bias and the LUT. */
function commonDecls(
  src: Source,
  xDtype: "f32" | "f16",
  hasBias: boolean,
  biasDtype: string,
  outDtype: string,
): {
  bindings: string;
  fns: string;
  lutN: number;
  lutInit: string;
} {
  let b = 0;
  const lines: string[] = [];
  lines.push(
    `@group(0) @binding(${b++}) var<storage, read> X: array<${
      xDtype === "f32" ? "vec4<f32>" : "vec2<u32>"
    }>;`,
  );
  lines.push(`@group(0) @binding(${b++}) var<storage, read> W: array<vec4<u32>>;`);
  if (src.scale !== "none") {
    lines.push(
      `@group(0) @binding(${b++}) var<storage, read> S: array<${
        src.scale === "f32" ? "f32" : "u32"
      }>;`,
    );
  }
  if (src.zeros) {
    lines.push(
      `@group(0) @binding(${b++}) var<storage, read> Z: array<${
        src.scale === "f32" ? "f32" : "u32"
      }>;`,
    );
  }
  if (src.lutTensor) lines.push(`@group(0) @binding(${b++}) var<storage, read> L: array<f32>;`);
  if (hasBias) {
    lines.push(
      `@group(0) @binding(${b++}) var<storage, read> B: array<${
        biasDtype === "f32" ? "f32" : "u32"
      }>;`,
    );
  }
  lines.push(`@group(0) @binding(${b++}) var<storage, read_write> Y: array<${outDtype}>;`);
  const fns: string[] = [];
  fns.push(
    xDtype === "f32"
      ? `fn xload(i: u32) -> vec4<f32> { return X[i]; }
fn xat(i: u32) -> f32 { return X[i >> 2u][i & 3u]; }`
      : `fn xload(i: u32) -> vec4<f32> { let v = X[i]; return vec4<f32>(unpack2x16float(v.x), unpack2x16float(v.y)); }
fn xat(i: u32) -> f32 { return unpack2x16float(X[i >> 2u][(i >> 1u) & 1u])[i & 1u]; }`,
  );
  const f16at = (arr: string) => `unpack2x16float(${arr}[i >> 1u])[i & 1u]`;
  switch (src.scale) {
    case "f32":
      fns.push(`fn scale(i: u32) -> f32 { return S[i]; }`);
      break;
    case "f16":
      fns.push(`fn scale(i: u32) -> f32 { return ${f16at("S")}; }`);
      break;
    case "e4m3":
      fns.push(
        E4M3_WGSL,
        `fn scale(i: u32) -> f32 { return e4m3((S[i >> 2u] >> ((i & 3u) * 8u)) & 255u); }`,
      );
      break;
    case "e8m0":
      fns.push(
        E8M0_WGSL,
        `fn scale(i: u32) -> f32 { return e8m0((S[i >> 2u] >> ((i & 3u) * 8u)) & 255u); }`,
      );
      break;
    case "none":
      fns.push(`fn scale(i: u32) -> f32 { return 1.0; }`);
  }
  if (src.zeros) {
    fns.push(
      `fn zero(i: u32) -> f32 { return ${src.scale === "f32" ? "Z[i]" : f16at("Z")}; }`,
    );
  }
  if (hasBias) {
    fns.push(`fn bias(i: u32) -> f32 { return ${biasDtype === "f32" ? "B[i]" : f16at("B")}; }`);
  }
  fns.push(`fn wraw(n: u32, k: u32) -> u32 {${src.cg.rawFn}\n}`);
  if (src.cg.decls) fns.push(src.cg.decls);
  const lut = src.cg.lut;
  let lutN = 0;
  let lutInit = "";
  if (lut === "tensor") {
    lutN = src.lutSize;
    lutInit = `if (lid < ${lutN}u) { lut[lid] = L[lid]; }
  workgroupBarrier();`;
  } else if (lut) {
    lutN = lut.length;
    fns.push(
      `var<private> LUTC: array<f32, ${lut.length}> = array<f32, ${lut.length}>(${
        Array.from(lut, wgslF32).join(", ")
      });`,
    );
    lutInit = `if (lid < ${lut.length}u) { lut[lid] = LUTC[lid]; }
  workgroupBarrier();`;
  }
  if (lutN) fns.push(`var<workgroup> lut: array<f32, ${lutN}>;`);
  return { bindings: lines.join("\n"), fns: fns.join("\n"), lutN, lutInit };
}

const NAN = "bitcast<f32>(0x7fc00000u)";

/** The GEMV WGSL for `M` ≤ 8 activation rows. */
function gemvCode(
  src: Source,
  M: number,
  T: number,
  xDtype: "f32" | "f16",
  outDtype: "f32" | "f16",
  biasDtype: string | null,
): string {
  const { N, K, GS, G, stride, unitCodes: UC, unitWords: UW, cg } = src;
  const R = WG / T;
  const CHW = lcm(4, UW);
  const units = CHW / UW;
  const CHC = units * UC;
  const FULL = src.vecOK ? Math.floor(K / CHC) : 0;
  const TAIL0 = FULL * CHC;
  const scaleMode = G === 1 ? "end" : GS % CHC === 0 ? "chunk" : "unit";
  const multFree = cg.contrib !== undefined;
  const d = commonDecls(src, xDtype, biasDtype !== null, biasDtype ?? "f32", outDtype);
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
  if (biasDtype) finish.push(`r = r + bias(nn);`);
  finish.push(`Y[mm * ${N}u + nn] = ${outDtype}(r);`);
  return `${outDtype === "f16" ? "enable f16;\n" : ""}${d.bindings}
${d.fns}
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

/** The tiled GEMM WGSL (batch M is a uniform). */
function gemmCode(
  src: Source,
  TM: number,
  TN: number,
  xDtype: "f32" | "f16",
  outDtype: "f32" | "f16",
  biasDtype: string | null,
): string {
  const { N, K, GS, G, cg } = src;
  const BM = 16 * TM;
  const BN = 16 * TN;
  const BK = src.unitCodes * Math.ceil(32 / src.unitCodes);
  const d = commonDecls(src, xDtype, biasDtype !== null, biasDtype ?? "f32", outDtype);
  const I = Array.from({ length: TM }, (_, i) => i);
  const J = Array.from({ length: TN }, (_, j) => j);
  const out: string[] = [];
  for (const i of I) {
    out.push(`{ let gm = m0 + ty + ${16 * i}u; if (gm < P.M) {`);
    for (const j of J) {
      let v = `acc${i}_${j}`;
      if (src.tensorScale !== undefined) v = `${v} * ${wgslF32(src.tensorScale)}`;
      if (biasDtype) v = `${v} + bias(gn${j})`;
      out.push(`if (gn${j} < ${N}u) { Y[gm * ${N}u + gn${j}] = ${outDtype}(${v}); }`);
    }
    out.push(`} }`);
  }
  return `${outDtype === "f16" ? "enable f16;\n" : ""}struct Params { M: u32, }
@group(0) @binding(0) var<uniform> P: Params;
${d.bindings.replace(/@binding\((\d+)\)/g, (_, n) => `@binding(${Number(n) + 1})`)}
${d.fns}
var<workgroup> xs: array<f32, ${BK * (BM + 1)}>;
var<workgroup> ws: array<f32, ${BK * (BN + 1)}>;
@compute @workgroup_size(${WG})
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  ${d.lutInit}
  let tx = lid % 16u;
  let ty = lid / 16u;
  let n0 = wid.x * ${BN}u;
  let m0 = wid.y * ${BM}u;
  ${I.map((i) => J.map((j) => `var acc${i}_${j} = 0.0;`).join(" ")).join("\n  ")}
  for (var k0 = 0u; k0 < ${K}u; k0 += ${BK}u) {
    for (var i = lid; i < ${BM * BK}u; i += ${WG}u) {
      let mm = i / ${BK}u;
      let kk = i % ${BK}u;
      let gm = m0 + mm;
      let gk = k0 + kk;
      var v = 0.0;
      if (gm < P.M && gk < ${K}u) { v = xat(gm * ${K}u + gk); }
      xs[kk * ${BM + 1}u + mm] = v;
    }
    for (var i = lid; i < ${BN * BK}u; i += ${WG}u) {
      let nn = i / ${BK}u;
      let kk = i % ${BK}u;
      let gn = n0 + nn;
      let gk = k0 + kk;
      var v = 0.0;
      if (gn < ${N}u && gk < ${K}u) {
        let gi = gn * ${G}u + gk / ${GS}u;
        v = ${cg.rawValue("wraw(gn, gk)", src.zeros ? "zero(gi)" : null)} * scale(gi);
      }
      ws[kk * ${BN + 1}u + nn] = v;
    }
    workgroupBarrier();
    for (var kk = 0u; kk < ${BK}u; kk++) {
      ${I.map((i) => `let a${i} = xs[kk * ${BM + 1}u + ty + ${16 * i}u];`).join(" ")}
      ${J.map((j) => `let b${j} = ws[kk * ${BN + 1}u + tx + ${16 * j}u];`).join(" ")}
      ${
    I.map((i) => J.map((j) => `acc${i}_${j} = fma(a${i}, b${j}, acc${i}_${j});`).join(" ")).join(
      "\n      ",
    )
  }
    }
    workgroupBarrier();
  }
  ${J.map((j) => `let gn${j} = n0 + tx + ${16 * j}u;`).join(" ")}
  ${out.join("\n  ")}
}`;
}

/** The paired GEMV (fastgemv.ts) for this source, or null where it does not apply. */
function pairedGemv(
  src: Source,
  M: number,
  xDtype: "f32" | "f16",
  outDtype: "f32" | "f16",
  biasDtype: string | null,
  opts: LowbitMatmulOptions,
): { code: string; workgroups: [number, number, number] } | null {
  const p = src.paired;
  if (opts.gemv === "generic" || !p || !src.vecOK || !fastGemvFits(p.bits, src.K, src.GS)) {
    if (opts.gemv === "paired") {
      throw new RangeError(`planMatmul: the paired GEMV does not apply to the ${src.what}`);
    }
    return null;
  }
  const chunks = src.K / (128 / p.bits);
  const T = opts.threadsPerRow ?? Math.min(32, Math.max(4, pow2floor(chunks / 8)));
  const RPT = opts.rowsPerThread ?? (M <= 4 ? 2 : 1);
  const unroll = opts.unroll ?? (M <= 4 ? 2 : 1);
  if (!Number.isInteger(Math.log2(T)) || T > WG || !(RPT >= 1 && RPT <= 8)) {
    throw new RangeError(`planMatmul: threadsPerRow ${T} / rowsPerThread ${RPT} out of range`);
  }
  const fsrc: FastGemvSource = {
    N: src.N,
    K: src.K,
    GS: src.GS,
    G: src.G,
    stride: src.stride,
    bits: p.bits,
    signed: p.signed,
    zeros: src.zeros,
    scaled: src.scale !== "none",
  };
  const d = commonDecls(src, xDtype, biasDtype !== null, biasDtype ?? "f32", outDtype);
  const finish = [
    biasDtype ? `r = r + bias(nn);` : "",
    `Y[mm * ${src.N}u + nn] = ${outDtype}(r);`,
  ].join("\n      ");
  const redBytes = WG * RPT * M * 4;
  const limit = gpu().limits.maxComputeWorkgroupStorageSize;
  const tileBytes = Math.min(32768, limit - redBytes - 1024);
  const { code, rows } = fastGemvCode(
    fsrc,
    { T, RPT, M, tileBytes, unroll },
    `${outDtype === "f16" ? "enable f16;\n" : ""}${d.bindings}\n${d.fns}`,
    finish,
  );
  const groups = Math.ceil(src.N / rows);
  const maxDim = gpu().limits.maxComputeWorkgroupsPerDimension;
  const gy = Math.ceil(groups / maxDim);
  return { code, workgroups: [Math.ceil(groups / gy), gy, 1] };
}

function checkInputs(op: string, x: Tensor, src: Source, opts: LowbitMatmulOptions): number {
  if (x.disposed) void x.buffer; // throws the standard use-after-dispose error
  if (x.dtype !== "f32" && x.dtype !== "f16") {
    throw new TypeError(`${op}: activations ${x} must be f32 or f16`);
  }
  const K = x.shape[x.rank - 1];
  if (x.rank < 1 || K !== src.K) {
    throw new RangeError(
      `${op}: activations ${x} have K = ${K}, but the ${src.what} expects K = ${src.K}`,
    );
  }
  const M = x.size / K;
  if (opts.bias) {
    const b = opts.bias;
    if (b.size !== src.N || (b.dtype !== "f32" && b.dtype !== "f16")) {
      throw new RangeError(`${op}: bias ${b} must be f32 or f16 with ${src.N} elements`);
    }
  }
  if ((opts.outDtype === "f16" || x.dtype === "f16") && !gpu().hasF16) {
    throw new TypeError(`${op}: f16 needs the shader-f16 feature, which this adapter lacks`);
  }
  return M;
}

/**
 * Plans `y = x · Wᵀ (+ bias)` without queueing it: allocates the output and
 * returns the dispatch (for {@link lowbitMatmul} or a benchmark timer).
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { packInt } from "./int.ts";
 * import { planMatmul } from "./kernel.ts";
 * await initGPU();
 * using w = packInt(new Array(32).fill(1), [4, 8], { bits: 4, scales: [1, 1, 1, 1] });
 * using x = Tensor.fromArray([new Array(8).fill(1)]);
 * const call = planMatmul(x, w);
 * console.log(call.label, call.out.shape); // "lowbit gemv int4 …" [1, 4]
 * call.out.dispose();
 * ```
 */
export function planMatmul(
  x: Tensor,
  w: PackedWeight | Tensor,
  opts: LowbitMatmulOptions = {},
): KernelCall {
  const K = x.shape[x.rank - 1];
  const vec = K % 4 === 0 && x.size > 0;
  const src = w instanceof Tensor ? denseSource(w) : packedSource(w, vec);
  if (w instanceof Tensor) {
    if (w.rank !== 2 || (w.dtype !== "f16" && w.dtype !== "f32")) {
      throw new TypeError(`matmul: dense weight ${w} must be f16 or f32 [N, K]`);
    }
  } else if (w.codes.disposed) {
    throw new ReferenceError(`lowbitMatmul: the ${src.what} was used after dispose()`);
  }
  const op = w instanceof Tensor ? "denseMatmul" : "lowbitMatmul";
  const M = checkInputs(op, x, src, opts);
  const outDtype = opts.outDtype ?? "f32";
  const outShape = [...x.shape.slice(0, -1), src.N];
  const out = Tensor.empty(outShape, outDtype);
  const kernel = opts.kernel ?? (M <= 8 ? "gemv" : "gemm");
  const biasDtype = opts.bias ? opts.bias.dtype : null;
  const buffers: Binding[] = [x.buffer, ...src.buffers];
  if (opts.bias) buffers.push(opts.bias.buffer);
  buffers.push(out.buffer);
  const xd = x.dtype as "f32" | "f16";
  if (kernel === "gemv") {
    if (M > 8) {
      throw new RangeError(`${op}: the GEMV handles batch ≤ 8, got ${M} rows of ${x}`);
    }
    const pairedCall = pairedGemv(src, Math.max(1, M), xd, outDtype, biasDtype, opts);
    if (pairedCall) {
      return {
        label: `lowbit gemv-paired ${src.what} M${M}`,
        code: pairedCall.code,
        buffers,
        params: null,
        workgroups: M === 0 ? [0, 1, 1] : pairedCall.workgroups,
        out,
      };
    }
    const UCH = lcm(4, src.unitWords) / src.unitWords * src.unitCodes;
    const chunks = src.vecOK ? Math.floor(src.K / UCH) : Math.ceil(src.K / 4);
    const T = opts.threadsPerRow ?? Math.min(64, Math.max(4, pow2floor(chunks / 4)));
    if (!Number.isInteger(Math.log2(T)) || T < 1 || T > WG) {
      throw new RangeError(`${op}: threadsPerRow must be a power of two 1…${WG}, got ${T}`);
    }
    const groups = Math.ceil(src.N / (WG / T));
    const maxDim = gpu().limits.maxComputeWorkgroupsPerDimension;
    const gy = Math.ceil(groups / maxDim);
    const code = gemvCode(src, Math.max(1, M), T, xd, outDtype, biasDtype);
    return {
      label: `lowbit gemv ${src.what} M${M}`,
      code,
      buffers,
      params: null,
      workgroups: [M === 0 ? 0 : Math.ceil(groups / gy), gy, 1],
      out,
    };
  }
  // Small batches: narrow tiles so that enough workgroups exist to fill the GPU.
  const TM = M <= 16 ? 1 : M <= 32 ? 2 : 4;
  const TN = M <= 32 ? 2 : 8;
  const code = gemmCode(src, TM, TN, xd, outDtype, biasDtype);
  return {
    label: `lowbit gemm ${src.what} M${M}`,
    code,
    buffers,
    params: new Params().u(M),
    workgroups: [Math.ceil(src.N / (16 * TN)), Math.ceil(M / (16 * TM)), 1],
    out,
  };
}

/**
 * `y = x · Wᵀ (+ bias)` for a packed weight `W` `[N, K]` and activations `x`
 * `[…, K]` (f32 or f16); returns `[…, N]` (f32 unless `outDtype`).
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { packBinary } from "./binary.ts";
 * import { lowbitMatmul } from "./kernel.ts";
 * await initGPU();
 * using w = packBinary([0, 1, 0, 0], [2, 2], { scales: [1, 2] });
 * using x = Tensor.fromArray([[3, 1]], undefined, "f16");
 * using y = lowbitMatmul(x, w);
 * console.log(await y.data()); // Float32Array [2, 8]
 * ```
 */
export function lowbitMatmul(
  x: Tensor,
  w: PackedWeight,
  opts: LowbitMatmulOptions = {},
): Tensor {
  return run(planMatmul(x, w, opts));
}

/**
 * Queues a planned call and returns its output.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { packInt } from "./int.ts";
 * import { planMatmul, run } from "./kernel.ts";
 * await initGPU();
 * using w = packInt([1, 1, 1, 1], [1, 4], { bits: 8, scales: [2] });
 * using x = Tensor.fromArray([[1, 2, 3, 4]]);
 * using y = run(planMatmul(x, w));
 * console.log(await y.data()); // Float32Array [20]
 * ```
 */
export function run(call: KernelCall): Tensor {
  const [x, y, z] = call.workgroups;
  if (x * y * z > 0) dispatch(call.label, call.code, call.buffers, call.params, call.workgroups);
  return call.out;
}
