/**
 * Ternary (1.58-bit) weights {−1, 0, +1} × a per-group scale, as in BitNet
 * b1.58: `ternary` stores 2-bit codes (0 → 0, 1 → +1, 3 → −1; 16 per word),
 * `ternary5` stores 5 trits per byte (1.6 bits per weight, 20 per word,
 * decoded with shifts and adds only — see layout.ts).
 *
 * The GEMV is multiplication-free: each activation is added, subtracted or
 * skipped with `select`, and the scale is applied once per group. An
 * activation row containing NaN gives NaN in every output of that row (as
 * a dense product would), detected from the row's running sum.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { packTernary } from "./pack.ts";
 * import { lowbitMatmul } from "./kernel.ts";
 * await initGPU();
 * using w = packTernary([1, 0, 3, 1], [1, 4], { scales: [2] }); // [+1, 0, −1, +1] × 2
 * using x = Tensor.fromArray([[1, 10, 100, 1000]]);
 * using y = lowbitMatmul(x, w);
 * console.log(await y.data()); // Float32Array [1802]
 * ```
 * @module
 */
import {
  bitstreamRawFn,
  bitstreamStorage,
  bitstreamUnit,
  type Codegen,
  type Storage,
} from "./codegen.ts";

/**
 * WGSL decoding of 2-bit ternary codes (row stride `stride` words).
 *
 * @example
 * ```ts
 * import { ternaryCodegen } from "./ternary.ts";
 * console.log(ternaryCodegen(4).contrib!("c", "x").includes("select")); // true
 * ```
 */
export function ternaryCodegen(stride: number): Codegen {
  return {
    unit: (words) => bitstreamUnit(words, 2, 16),
    contrib: (c, x) => `select(select(0.0, ${x}, (${c} & 1u) != 0u), -${x}, ${c} > 1u)`,
    rawFn: bitstreamRawFn(2, stride),
    rawValue: (r) => `select(select(0.0, 1.0, (${r} & 1u) != 0u), -1.0, ${r} > 1u)`,
  };
}

/**
 * WGSL decoding of `ternary5` (5 trits per byte); digits are 0 (−1), 1 (0), 2 (+1).
 *
 * @example
 * ```ts
 * import { ternary5Codegen } from "./ternary.ts";
 * console.log(ternary5Codegen(4).unit(["w"], "a").codes.length); // 20
 * ```
 */
export function ternary5Codegen(stride: number): Codegen {
  return {
    unit: (words, id) => {
      const pre: string[] = [];
      const codes: string[] = [];
      for (let i = 0; i < 4; i++) {
        let r = `((${words[0]} >> ${8 * i}u) & 255u)`;
        for (let j = 0; j < 5; j++) {
          const q = `q${id}_${i}_${j}`;
          pre.push(`let ${q} = ${r} + (${r} << 1u);`); // byte · 3
          codes.push(`(${q} >> 8u)`);
          r = `(${q} & 255u)`;
        }
      }
      return { pre: pre.join(" "), codes };
    },
    contrib: (d, x) => `select(select(0.0, ${x}, ${d} == 2u), -${x}, ${d} == 0u)`,
    rawFn: `
  let wi = n * ${stride}u + k / 20u;
  var b = (W[wi >> 2u][wi & 3u] >> (((k % 20u) / 5u) * 8u)) & 255u;
  var d = 0u;
  for (var j = 0u; j <= k % 5u; j++) { let q = b * 3u; d = q >> 8u; b = q & 255u; }
  return d;`,
    rawValue: (r) => `(f32(${r}) - 1.0)`,
  };
}

/** Trit digits 0..2 → packed byte (first digit most significant; see layout.ts). */
function packTrits(d: number[]): number {
  let v = 0;
  for (let j = 0; j < 5; j++) v = v * 3 + (d[j] ?? 1);
  return Math.ceil((v * 256) / 243);
}

function unpackTrits(byte: number): number[] {
  const out: number[] = [];
  let b = byte;
  for (let j = 0; j < 5; j++) {
    const q = b * 3;
    out.push(q >> 8);
    b = q & 255;
  }
  return out;
}

const TRIT_OF_CODE = [1, 2, -1, 0]; // code → digit (value + 1); code 2 invalid
const CODE_OF_TRIT = [3, 0, 1];
const reserved = (c: number) => c === 2;

/**
 * The storages of ternary weights: `TERNARY` (2-bit codes, 16 per word; the
 * paired GEMV decodes them as int2) and `TERNARY5` (5 trits per byte).
 *
 * @example
 * ```ts
 * import { TERNARY, TERNARY5 } from "./ternary.ts";
 * console.log(TERNARY.unitCodes, TERNARY5.unitCodes, TERNARY5.invalid?.(2)); // 16 20 true
 * ```
 */
export const TERNARY: Storage = bitstreamStorage("ternary", 2, (stride) => ternaryCodegen(stride), {
  invalid: reserved,
  paired: { bits: 2, signed: true },
});
/** 5 trits per byte, 20 codes per word (1.6 bits per weight). */
export const TERNARY5: Storage = {
  name: "ternary5",
  bits: 1.6,
  unitCodes: 20,
  unitWords: 1,
  scale: "float",
  invalid: reserved,
  codeLimit: 4,
  codegen: (stride) => ternary5Codegen(stride),
  packRows(codes, N, K, stride, out) {
    for (let n = 0; n < N; n++) {
      for (let b = 0; b * 5 < K; b++) {
        const d: number[] = [];
        for (let j = 0; j < 5 && b * 5 + j < K; j++) d.push(TRIT_OF_CODE[codes[n * K + b * 5 + j]]);
        out[n * stride + (b >> 2)] |= packTrits(d) << (8 * (b & 3));
      }
    }
  },
  unpackRows(words, N, K, stride, out) {
    for (let n = 0; n < N; n++) {
      for (let b = 0; b * 5 < K; b++) {
        const d = unpackTrits((words[n * stride + (b >> 2)] >>> (8 * (b & 3))) & 255);
        for (let j = 0; j < 5 && b * 5 + j < K; j++) out[n * K + b * 5 + j] = CODE_OF_TRIT[d[j]];
      }
    }
  },
};
