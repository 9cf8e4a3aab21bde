/**
 * The weight as the matmul generators see it (`y = x · Wᵀ`, W `[N, K]`): a
 * {@link WeightSource} is the pluggable weight-tile loader of the GEMV and
 * GEMM generators. A dense f16/f32 matrix is the identity loader (its words
 * are the values); a packed low-bit weight brings its storage's
 * {@link Codegen} (how a unit of packed words turns into values) and its
 * scales. The generators only call the source's WGSL — `wraw`, `scale`,
 * `zero`, the codegen's unit decoder — and never look at a format's name.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { denseSource } from "./source.ts";
 * await initGPU();
 * using w = Tensor.zeros([3, 8], "f16");
 * const s = denseSource(w);
 * console.log(s.what, s.unitCodes, s.paired); // "dense f16 weight [3, 8]" 4 { bits: 16, signed: false }
 * ```
 * @module
 */
import type { Binding } from "../runtime.ts";
import type { Tensor } from "../tensor.ts";
import { type Codegen, wgslF32 } from "../lowbit/codegen.ts";
import { E4M3_WGSL, E8M0_WGSL } from "../lowbit/fp4.ts";
import { type PackedWeight, rowWords } from "../lowbit/layout.ts";
import { F16_BITS } from "../ops/elementwise.ts";

/** A weight `[N, K]` as the generators see it: a packed weight or a dense f16/f32 matrix. */
export interface WeightSource {
  /** Label for errors. */
  what: string;
  /** Output features. */
  N: number;
  /** Input features. */
  K: number;
  /** Codes per scale group along K (dense: K). */
  GS: number;
  /** Groups per row. */
  G: number;
  /** u32 words per row. */
  stride: number;
  /** Codes per decode unit. */
  unitCodes: number;
  /** Words per decode unit. */
  unitWords: number;
  /** Rows can be read in 16-byte chunks (K fits the unit layout). */
  vecOK: boolean;
  /** The decoder. */
  cg: Codegen;
  /** How scales are bound: f16/f32 values, 8-bit codes, or none (dense). */
  scale: "f16" | "f32" | "e4m3" | "e8m0" | "none";
  /** Per-group zero points are bound. */
  zeros: boolean;
  /** Per-tensor scale multiplying every output. */
  tensorScale?: number;
  /** The weight's storage bindings, in order: codes, scales, zeros, codebook. */
  buffers: Binding[];
  /** The codebook values come from a binding. */
  lutTensor: boolean;
  /** Codebook entries (with `lutTensor`). */
  lutSize: number;
  /** Paired-GEMV decoding: code bits (16: dense f16) and two's complement, or null. */
  paired: { bits: number; signed: boolean } | null;
}

/**
 * The source of a packed weight: its storage's decoder for the weight's row
 * stride, its scales, zeros and codebook. `K4`: the activations allow
 * 16-byte reads.
 *
 * @example
 * ```ts
 * import { initGPU } from "../../mod.ts";
 * import { packInt } from "../lowbit/pack.ts";
 * import { packedSource } from "./source.ts";
 * await initGPU();
 * using w = packInt(new Array(64).fill(1), [2, 32], { bits: 4, groupSize: 16, scales: [1, 1, 1, 1] });
 * console.log(packedSource(w, true).G); // 2
 * ```
 */
export function packedSource(w: PackedWeight, K4: boolean): WeightSource {
  const info = w.storage;
  const [N, K] = w.shape;
  const stride = rowWords(K, info);
  const zeros = w.zeros !== undefined;
  const buffers: Binding[] = [w.codes.buffer, w.scales.buffer];
  if (w.zeros) buffers.push(w.zeros.buffer);
  if (w.codebook) buffers.push(w.codebook.buffer);
  const scale = info.scale === "float" ? w.scales.dtype as "f16" | "f32" : info.scale;
  return {
    what: `${w.format} weight [${N}, ${K}] g${w.groupSize}`,
    N,
    K,
    GS: w.groupSize,
    G: K / w.groupSize,
    stride,
    unitCodes: info.unitCodes,
    unitWords: info.unitWords,
    vecOK: K4,
    cg: info.codegen(stride, zeros),
    scale,
    zeros,
    tensorScale: w.tensorScale,
    buffers,
    lutTensor: w.codebook !== undefined,
    lutSize: w.codebook?.size ?? 0,
    paired: info.paired && (scale === "f16" || scale === "f32") && w.tensorScale === undefined
      ? { bits: info.paired.bits, signed: info.paired.signed && !zeros }
      : null,
  };
}

/**
 * The identity loader: a dense `[N, K]` f16 or f32 weight, its words read as
 * values (f16 in pairs), no scales.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { denseSource } from "./source.ts";
 * await initGPU();
 * using w = Tensor.zeros([2, 6]);
 * console.log(denseSource(w).vecOK); // false: 6 is not a multiple of 4
 * ```
 */
export function denseSource(w: Tensor): WeightSource {
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

/**
 * WGSL of the weight's bindings (from `binding` on: `W`, then `S`, `Z`, `L`
 * as the source has them) and its helpers `scale(i)`, `zero(i)`,
 * `wraw(n, k)`, the codegen's declarations and the value table `lut` in
 * workgroup memory, with the statements that fill it (`lid` in scope).
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { denseSource, weightDecls } from "./source.ts";
 * await initGPU();
 * using w = Tensor.zeros([2, 4]);
 * const d = weightDecls(denseSource(w), 1);
 * console.log(d.next, d.code.includes("fn scale(i: u32) -> f32 { return 1.0; }")); // 2 true
 * ```
 */
export function weightDecls(
  src: WeightSource,
  binding: number,
): { code: string; lutInit: string; next: number } {
  let b = binding;
  const lines: string[] = [`@group(0) @binding(${b++}) var<storage, read> W: array<vec4<u32>>;`];
  const floatT = src.scale === "f32" ? "f32" : "u32";
  if (src.scale !== "none") {
    lines.push(`@group(0) @binding(${b++}) var<storage, read> S: array<${floatT}>;`);
  }
  if (src.zeros) lines.push(`@group(0) @binding(${b++}) var<storage, read> Z: array<${floatT}>;`);
  if (src.lutTensor) lines.push(`@group(0) @binding(${b++}) var<storage, read> L: array<f32>;`);
  const byte = (fn: string) => `${fn}((S[i >> 2u] >> ((i & 3u) * 8u)) & 255u)`;
  const scale = {
    f32: "S[i]",
    f16: f16At("S"),
    e4m3: byte("e4m3"),
    e8m0: byte("e8m0"),
    none: "1.0",
  }[src.scale];
  if (src.scale === "e4m3") lines.push(E4M3_WGSL);
  if (src.scale === "e8m0") lines.push(E8M0_WGSL);
  lines.push(`fn scale(i: u32) -> f32 { return ${scale}; }`);
  if (src.zeros) {
    lines.push(`fn zero(i: u32) -> f32 { return ${src.scale === "f32" ? "Z[i]" : f16At("Z")}; }`);
  }
  lines.push(`fn wraw(n: u32, k: u32) -> u32 {${src.cg.rawFn}\n}`);
  if (src.cg.decls) lines.push(src.cg.decls);
  const lut = src.cg.lut;
  let lutN = 0;
  let from = "L";
  if (lut === "tensor") lutN = src.lutSize;
  else if (lut) {
    lutN = lut.length;
    from = "LUTC";
    lines.push(
      `var<private> LUTC: array<f32, ${lutN}> = array<f32, ${lutN}>(${
        Array.from(lut, wgslF32).join(", ")
      });`,
    );
  }
  if (lutN) lines.push(`var<workgroup> lut: array<f32, ${lutN}>;`);
  const lutInit = lutN
    ? `if (lid < ${lutN}u) { lut[lid] = ${from}[lid]; }
  workgroupBarrier();`
    : "";
  return { code: lines.join("\n"), lutInit, next: b };
}

/** WGSL expression of f16 element `i` of a u32-packed array. */
function f16At(arr: string): string {
  return `unpack2x16float(${arr}[i >> 1u])[i & 1u]`;
}

/** Dtypes of a GEMV call's activations, bias and output. */
export interface IoTypes {
  /** Activations. */
  x: "f32" | "f16";
  /** Bias, or null when there is none. */
  bias: "f32" | "f16" | null;
  /** Output. */
  out: "f32" | "f16";
}

/**
 * WGSL of a GEMV call: activations `X` (binding 0), the weight's bindings,
 * the bias `B` and the output `Y`, with `xload(i)` (4 activations),
 * `xat(i)`, `bias(i)` and `store(i, v)` (f16 outputs rounded to nearest
 * even on the bits, as every f16 result of the library).
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { denseSource, gemvDecls } from "./source.ts";
 * await initGPU();
 * using w = Tensor.zeros([2, 4]);
 * const d = gemvDecls(denseSource(w), { x: "f32", bias: null, out: "f16" });
 * console.log(d.code.startsWith("enable f16;")); // true
 * ```
 */
export function gemvDecls(src: WeightSource, io: IoTypes): { code: string; lutInit: string } {
  const w = weightDecls(src, 1);
  let b = w.next;
  const lines: string[] = [
    `${io.out === "f16" ? "enable f16;\n" : ""}@group(0) @binding(0) var<storage, read> X: array<${
      io.x === "f32" ? "vec4<f32>" : "vec2<u32>"
    }>;`,
    w.code,
  ];
  if (io.bias) {
    const t = io.bias === "f32" ? "f32" : "u32";
    lines.push(`@group(0) @binding(${b++}) var<storage, read> B: array<${t}>;`);
    lines.push(`fn bias(i: u32) -> f32 { return ${t === "f32" ? "B[i]" : f16At("B")}; }`);
  }
  lines.push(`@group(0) @binding(${b++}) var<storage, read_write> Y: array<${io.out}>;`);
  lines.push(
    io.x === "f32"
      ? `fn xload(i: u32) -> vec4<f32> { return X[i]; }
fn xat(i: u32) -> f32 { return X[i >> 2u][i & 3u]; }`
      : `fn xload(i: u32) -> vec4<f32> { let v = X[i]; return vec4<f32>(unpack2x16float(v.x), unpack2x16float(v.y)); }
fn xat(i: u32) -> f32 { return unpack2x16float(X[i >> 2u][(i >> 1u) & 1u])[i & 1u]; }`,
  );
  lines.push(
    io.out === "f32" ? `fn store(i: u32, v: f32) { Y[i] = v; }` : `${F16_BITS}
fn store(i: u32, v: f32) { Y[i] = f16(unpack2x16float(f16_bits(v)).x); }`,
  );
  return { code: lines.join("\n"), lutInit: w.lutInit };
}
