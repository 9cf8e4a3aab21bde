/**
 * Random weights in every low-bit format, as a GPU PackedWeight and the
 * matching CPU reference description (tests and benchmarks share it).
 * @module
 */
import { Rng } from "../../../kernels/random.ts";
import {
  createPackedWeight,
  type LowbitFormat,
  packWeights,
} from "../../../kernels/lowbit/layout.ts";
import type { PackedWeight } from "../../../kernels/lowbit/layout.ts";
import type { RefWeight } from "../../reference/lowbit.ts";
import { NF4_VALUES } from "../../../quant/formats/nf4.ts";

/** A test case: format plus scale options. */
export interface Case {
  name: string;
  format: LowbitFormat;
  groupSize: number | "K";
  scaleDtype?: "f16" | "f32";
  zeros?: boolean;
}

/** One case per format family and option. */
export const CASES: Case[] = [
  { name: "int8 per-row f32", format: "int8", groupSize: "K", scaleDtype: "f32" },
  { name: "int4 g32", format: "int4", groupSize: 32 },
  { name: "int4 g32 asym", format: "int4", groupSize: 32, zeros: true },
  { name: "int3 g32", format: "int3", groupSize: 32 },
  { name: "int2 g16 asym f32", format: "int2", groupSize: 16, zeros: true, scaleDtype: "f32" },
  { name: "ternary per-row", format: "ternary", groupSize: "K" },
  { name: "ternary g16", format: "ternary", groupSize: 16 },
  { name: "ternary5 g40", format: "ternary5", groupSize: 40 },
  { name: "binary g32", format: "binary", groupSize: 32 },
  { name: "fp4 g32", format: "fp4", groupSize: 32 },
  { name: "nvfp4", format: "nvfp4", groupSize: 16 },
  { name: "mxfp4", format: "mxfp4", groupSize: 32 },
  { name: "nf4", format: "nf4", groupSize: 64 },
  { name: "codebook3 g32", format: "codebook3", groupSize: 32 },
  { name: "codebook8 per-row", format: "codebook8", groupSize: "K" },
];

function codeBits(format: string): number {
  if (format.startsWith("int")) return Number(format.slice(3));
  if (format.startsWith("codebook")) return Number(format.slice(8));
  if (format === "binary") return 1;
  if (format.startsWith("ternary")) return 2;
  return 4;
}

/** Random codes, scales (rounded to their storage dtype) and the packed weight. */
export function randomWeight(
  c: Case,
  N: number,
  K: number,
  seed: number,
): { ref: RefWeight; packed: PackedWeight } {
  const rng = new Rng(seed);
  const gs = c.groupSize === "K" ? K : c.groupSize;
  const G = K / gs;
  const bits = codeBits(c.format);
  const u = rng.uniform(N * K, 0, 1);
  const codes = new Uint8Array(N * K);
  for (let i = 0; i < codes.length; i++) {
    let v = Math.floor(u[i] * 2 ** bits);
    if (c.format.startsWith("ternary")) v = [0, 1, 3][Math.floor(u[i] * 3)];
    codes[i] = v;
  }
  const su = rng.uniform(N * G, 0, 1);
  let scales: ArrayLike<number>;
  let tensorScale: number | undefined;
  if (c.format === "nvfp4") {
    scales = Array.from(su, (v) => 0x28 + Math.floor(v * 0x20)); // E4M3 0.125 … 1.875
    tensorScale = 0.75;
  } else if (c.format === "mxfp4") {
    scales = Array.from(su, (v) => 124 + Math.floor(v * 6)); // 2^-3 … 2^2
  } else {
    const s = Array.from(su, (v) => 0.01 + v * 0.05);
    scales = c.scaleDtype === "f32"
      ? Float32Array.from(s)
      : Float32Array.from(Float16Array.from(s));
  }
  let zeros: Float32Array | undefined;
  if (c.zeros) {
    const z = rng.uniform(N * G, 0, 2 ** bits - 1);
    zeros = c.scaleDtype === "f32" ? Float32Array.from(z) : Float32Array.from(Float16Array.from(z));
  }
  const codebook = c.format.startsWith("codebook")
    ? Float32Array.from(rng.normal(2 ** bits, 0, 1))
    : undefined;
  // nf4: the kernel gets quant/'s table; the reference decodes with its own copy (NF4_REF).
  const levels = c.format === "nf4" ? NF4_VALUES : codebook;
  const ref: RefWeight = {
    format: c.format,
    shape: [N, K],
    groupSize: gs,
    codes,
    scales,
    zeros,
    tensorScale,
    codebook,
  };
  const packed = createPackedWeight({
    format: c.format,
    shape: [N, K],
    groupSize: gs,
    words: packWeights(codes, [N, K], c.format),
    scales,
    scaleDtype: c.scaleDtype,
    zeros,
    tensorScale,
    codebook: levels,
  });
  return { ref, packed };
}
