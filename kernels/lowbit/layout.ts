/**
 * The packed weight layout shared by every low-bit kernel, and its pure-TS
 * reference packer. `quant/`'s `pack` produces exactly this layout. What a
 * format contributes — its bits, unit, scale storage and WGSL decoder — is a
 * `Storage` record (codegen.ts); the built-in ones are listed by name in
 * formats.ts, and a packed weight carries its storage to the kernels.
 *
 * ## Weights
 *
 * A weight of shape `[N, K]` (N outputs, K inputs; `y = x · Wᵀ`) is stored row
 * by row. Each row is one little-endian **bit stream** of K codes of `bits`
 * bits: code `k` occupies bits `[k·bits, (k+1)·bits)` of the row, where bit `i`
 * of the row is bit `i mod 32` of the row's word `⌊i / 32⌋`. A code may
 * straddle two words (3, 5, 6, 7 bits). Codes come in **units** of
 * `unitCodes = 32 / gcd(32, bits)` codes filling exactly
 * `unitWords = bits / gcd(32, bits)` words (int4: 8 codes in 1 word; int3: 32
 * codes in 3 words). The row stride in words is the number of units the row
 * needs times `unitWords`, rounded up to a multiple of 4 words (16 bytes), so
 * every row starts 16-byte aligned and kernels can load `vec4<u32>`. Padding
 * bits are zero.
 *
 * `ternary5` packs 5 trits per byte (1.6 bits per weight), 4 bytes per word
 * (20 codes per word, byte `i` of a word = bits `8i..8i+7`): with digits
 * `t = value + 1 ∈ {0, 1, 2}` of codes `j = 0..4` of the byte,
 * `v = Σ t_j · 3^(4−j)` (first code most significant), and the byte stores
 * `⌈v · 256 / 243⌉`. A decoder recovers digit j by `q = byte·3; t = q >> 8;
 * byte = q & 255`, repeated (exact for all 243 values; no division).
 *
 * ## Codes
 *
 * A code is the unsigned integer as stored (the `quant/formats` convention):
 * - `int2`…`int8`: two's complement; with `zeros` (asymmetric) the codes are
 *   read unsigned, `0 ≤ q < 2^bits`, and `value = (q − zero) · scale`.
 * - `ternary`, `ternary5`: 0 → 0, 1 → +1, 3 → −1 (2 is reserved and rejected).
 * - `binary`: 0 → +1, 1 → −1.
 * - `fp4`, `nvfp4`, `mxfp4`: E2M1 (sign bit 3, exponent bits 2–1, mantissa bit 0).
 * - `nf4`: index into QLoRA's 16 NormalFloat levels (ascending), which the
 *   weight carries as its `codebook` (the kernels hold no level values).
 * - `codebookB` (B = 1…8): index into a user table of 2^B f32 values.
 *
 * ## Scales
 *
 * One scale per group of `groupSize` consecutive codes of a row, shape
 * `[N, K / groupSize]` row-major, f16 or f32 (`value = code value · scale`),
 * and for asymmetric ints a `zeros` tensor of the same shape and dtype. NVFP4
 * stores E4M3 scale codes and MXFP4 E8M0 scale codes: one byte per group,
 * bytes in row-major `[N, K / groupSize]` order packed little-endian four to a
 * u32 word (a u32 tensor of `⌈N·G / 4⌉` words); NVFP4 also has an f32
 * `tensorScale` multiplying every output.
 *
 * K must be a multiple of `groupSize`, and `groupSize` a multiple of the
 * format's unit (`unitCodes`, 20 for ternary5) unless it equals K (one scale
 * per row).
 *
 * @example
 * ```ts
 * import { packWeights, unpackWeights } from "./layout.ts";
 * const codes = Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9], (v) => v % 16);
 * const words = packWeights(codes, [1, 9], "int4");
 * console.log(words.length, words[0].toString(16)); // 4 "87654321"
 * console.log(unpackWeights(words, [1, 9], "int4")); // Uint8Array [1, …, 9]
 * ```
 * @module
 */
import { Tensor } from "../tensor.ts";
import type { DType } from "../dtype.ts";
import type { Storage } from "./codegen.ts";
import { formatInfo, type LowbitFormat } from "./formats.ts";

export { formatInfo } from "./formats.ts";
export type { FormatInfo, LowbitFormat } from "./formats.ts";

/**
 * Words per packed row of K codes (units × unitWords, rounded up to 4 words).
 *
 * @example
 * ```ts
 * import { rowWords } from "./layout.ts";
 * console.log(rowWords(4096, "int4"), rowWords(9, "int4"), rowWords(33, "int3")); // 512 4 8
 * ```
 */
export function rowWords(K: number, format: LowbitFormat | Storage): number {
  const f = formatInfo(format);
  const words = Math.ceil(K / f.unitCodes) * f.unitWords;
  return Math.ceil(words / 4) * 4;
}

/**
 * Checks `[N, K]` and the group size against a format; throws a RangeError
 * naming the shape, the group size and what would be valid.
 *
 * @example
 * ```ts
 * import { checkGroup } from "./layout.ts";
 * checkGroup([8, 256], 128, "int4"); // fine
 * try { checkGroup([8, 200], 128, "int4"); } catch (e) { console.log((e as Error).message); }
 * ```
 */
export function checkGroup(
  shape: readonly number[],
  groupSize: number,
  format: LowbitFormat | Storage,
): void {
  const f = formatInfo(format);
  const name = f.name;
  if (shape.length !== 2 || !shape.every((d) => Number.isInteger(d) && d > 0)) {
    throw new RangeError(`${name} weight: shape [${shape}] must be [N, K] with N, K ≥ 1`);
  }
  const [, K] = shape;
  if (!Number.isInteger(groupSize) || groupSize < 1) {
    throw new RangeError(
      `${name} weight [${shape}]: group size ${groupSize} must be an integer ≥ 1`,
    );
  }
  if (K % groupSize !== 0) {
    throw new RangeError(
      `${name} weight [${shape}]: K = ${K} is not divisible by the group size ${groupSize}; ` +
        `pad K to a multiple of ${groupSize} or choose a group size dividing ${K}`,
    );
  }
  if (groupSize !== K && groupSize % f.unitCodes !== 0) {
    throw new RangeError(
      `${name} weight [${shape}]: group size ${groupSize} must be a multiple of ${f.unitCodes} ` +
        `(codes per ${f.unitWords}-word unit of ${name}) or equal K = ${K}`,
    );
  }
}

/**
 * Packs unsigned codes (`codes[n·K + k]`, row-major `[N, K]`) into the layout
 * above: a `Uint32Array` of `N · rowWords(K, format)` words. Throws on a code
 * out of range or invalid for the format (naming its index).
 *
 * @example
 * ```ts
 * import { packWeights } from "./layout.ts";
 * const w = packWeights([1, 0, 3, 1], [2, 2], "ternary");
 * console.log(w.length, w[0], w[4]); // 8 1 7
 * ```
 */
export function packWeights(
  codes: ArrayLike<number>,
  shape: readonly [number, number] | readonly number[],
  format: LowbitFormat | Storage,
): Uint32Array {
  const f = formatInfo(format);
  const name = f.name;
  const [N, K] = shape;
  if (shape.length !== 2 || !(N >= 1) || !(K >= 1)) {
    throw new RangeError(`packWeights: shape [${shape}] must be [N, K] with N, K ≥ 1`);
  }
  if (codes.length !== N * K) {
    throw new RangeError(
      `packWeights: ${name} shape [${shape}] needs ${N * K} codes, got ${codes.length}`,
    );
  }
  const stride = rowWords(K, f);
  const out = new Uint32Array(N * stride);
  const limit = f.codeLimit ?? 2 ** f.bits;
  for (let i = 0; i < codes.length; i++) {
    const c = codes[i];
    if (!Number.isInteger(c) || c < 0 || c >= limit || f.invalid?.(c)) {
      const valid = Array.from({ length: limit }, (_, v) => v).filter((v) => !f.invalid?.(v));
      throw new RangeError(
        `packWeights: code ${c} at index ${i} (row ${Math.floor(i / K)}, col ${i % K}) is not a ` +
          `valid ${name} code` +
          (f.invalid
            ? ` (${name.replace(/\d+$/, "")} codes are ${valid.slice(0, -1).join(", ")} and ${
              valid.at(-1)
            })`
            : ` (0…${limit - 1})`),
      );
    }
  }
  if (f.packRows) {
    f.packRows(codes, N, K, stride, out);
    return out;
  }
  const bits = f.bits;
  for (let n = 0; n < N; n++) {
    const base = n * stride;
    for (let k = 0; k < K; k++) {
      const c = codes[n * K + k];
      const bit = k * bits;
      const w = bit >>> 5;
      const off = bit & 31;
      out[base + w] |= c << off;
      if (off + bits > 32) out[base + w + 1] |= c >>> (32 - off);
    }
  }
  return out;
}

/**
 * The inverse of {@link packWeights}: the codes of a packed `[N, K]` weight.
 *
 * @example
 * ```ts
 * import { packWeights, unpackWeights } from "./layout.ts";
 * const codes = [5, 0, 7, 2, 1, 3];
 * console.log(unpackWeights(packWeights(codes, [2, 3], "int3"), [2, 3], "int3")); // Uint8Array [5, 0, 7, 2, 1, 3]
 * ```
 */
export function unpackWeights(
  words: Uint32Array,
  shape: readonly [number, number] | readonly number[],
  format: LowbitFormat | Storage,
): Uint8Array {
  const f = formatInfo(format);
  const [N, K] = shape;
  const stride = rowWords(K, f);
  if (words.length < N * stride) {
    throw new RangeError(
      `unpackWeights: ${f.name} shape [${shape}] needs ${N * stride} words, got ${words.length}`,
    );
  }
  const out = new Uint8Array(N * K);
  if (f.unpackRows) {
    f.unpackRows(words, N, K, stride, out);
    return out;
  }
  const bits = f.bits;
  const mask = 2 ** bits - 1;
  for (let n = 0; n < N; n++) {
    const base = n * stride;
    for (let k = 0; k < K; k++) {
      const bit = k * bits;
      const w = bit >>> 5;
      const off = bit & 31;
      let v = words[base + w] >>> off;
      if (off + bits > 32) v |= words[base + w + 1] << (32 - off);
      out[n * K + k] = v & mask;
    }
  }
  return out;
}

/**
 * Packs 8-bit scale codes (E4M3 or E8M0), row-major `[N, G]`, four per u32
 * word, little-endian.
 *
 * @example
 * ```ts
 * import { packBytes } from "./layout.ts";
 * console.log(packBytes([1, 2, 3, 4, 5])[0].toString(16)); // "4030201"
 * ```
 */
export function packBytes(bytes: ArrayLike<number>): Uint32Array {
  const out = new Uint32Array(Math.max(1, Math.ceil(bytes.length / 4)));
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i];
    if (!Number.isInteger(b) || b < 0 || b > 255) {
      throw new RangeError(`packBytes: value ${b} at index ${i} is not a byte`);
    }
    out[i >> 2] |= b << (8 * (i & 3));
  }
  return out;
}

/**
 * A weight in a low-bit format on the GPU, ready for {@link lowbitMatmul}.
 * `dispose()` frees its tensors.
 */
export interface PackedWeight {
  /** The format's name (a built-in name, or the name of the storage passed in). */
  readonly format: LowbitFormat;
  /** How the codes are stored and decoded: what the kernels read (never `format`). */
  readonly storage: Storage;
  /** `[N, K]`: N outputs, K inputs. */
  readonly shape: readonly [number, number];
  /** Codes per scale group along K (K itself for one scale per row). */
  readonly groupSize: number;
  /** The packed codes, u32 `[N, rowWords(K)]`. */
  readonly codes: Tensor;
  /** Scales: f16/f32 `[N, K/groupSize]`, or u32 words of E4M3/E8M0 bytes. */
  readonly scales: Tensor;
  /** Zero points (asymmetric ints), same shape and dtype as float scales. */
  readonly zeros?: Tensor;
  /** Per-tensor f32 scale multiplying every output (NVFP4). */
  readonly tensorScale?: number;
  /** Codebook values, f32 `[2^bits]` (codebook formats). */
  readonly codebook?: Tensor;
  /** Frees the GPU tensors. */
  dispose(): void;
  /** Disposes at the end of a `using` scope. */
  [Symbol.dispose](): void;
}

/** What {@link createPackedWeight} takes: CPU arrays or GPU tensors. */
export interface PackedWeightInit {
  /** The format: a built-in name, or a {@link Storage} (a format defined outside `kernels/`). */
  format: LowbitFormat | Storage;
  /** `[N, K]`. */
  shape: readonly [number, number] | readonly number[];
  /** Codes per scale group (default K: one scale per row). */
  groupSize?: number;
  /** Packed words (from {@link packWeights}) or a u32 tensor of them. */
  words: Uint32Array | Tensor;
  /** Scales `[N, K/groupSize]` (f16/f32 values), or the 8-bit scale codes of nvfp4/mxfp4. */
  scales: ArrayLike<number> | Tensor;
  /** Dtype of float scales and zeros when given as arrays (default f16). */
  scaleDtype?: "f16" | "f32";
  /** Zero points (storages with `zeros`, the ints): `value = (q − zero) · scale`, codes read unsigned. */
  zeros?: ArrayLike<number> | Tensor;
  /** Per-tensor scale (storages with `tensorScale`, NVFP4; default 1). */
  tensorScale?: number;
  /** The `codebookSize` f32 values (codebook storages). */
  codebook?: ArrayLike<number> | Tensor;
}

/**
 * Uploads and validates a packed weight. Arrays are copied to new GPU
 * tensors (owned by the result); tensors passed in are taken over and freed
 * by `dispose()`.
 *
 * @example
 * ```ts
 * import { initGPU } from "../gpu.ts";
 * import { createPackedWeight, packWeights } from "./layout.ts";
 * await initGPU();
 * const codes = new Array(2 * 16).fill(1); // int4 code 1 = +1
 * using w = createPackedWeight({
 *   format: "int4", shape: [2, 16], groupSize: 8,
 *   words: packWeights(codes, [2, 16], "int4"), scales: [1, 1, 0.5, 0.5],
 * });
 * console.log(w.codes.shape, w.scales.dtype); // [2, 4] "f16"
 * ```
 */
export function createPackedWeight(init: PackedWeightInit): PackedWeight {
  const info = formatInfo(init.format);
  const format = info.name as LowbitFormat;
  const [N, K] = init.shape;
  const groupSize = init.groupSize ?? K;
  checkGroup(init.shape, groupSize, info);
  const G = K / groupSize;
  const what = `${format} weight [${N}, ${K}] g${groupSize}`;
  const owned: Tensor[] = [];
  const take = (t: Tensor) => (owned.push(t), t);
  try {
    const stride = rowWords(K, info);
    let codes: Tensor;
    if (init.words instanceof Tensor) {
      if (init.words.dtype !== "u32" || init.words.size !== N * stride) {
        throw new RangeError(
          `${what}: codes must be a u32 tensor of ${N}×${stride} words, got ${init.words}`,
        );
      }
      codes = take(init.words.reshape([N, stride]));
      init.words.dispose();
    } else {
      if (init.words.length !== N * stride) {
        throw new RangeError(
          `${what}: ${init.words.length} packed words, expected ${N}×${stride} (use packWeights)`,
        );
      }
      codes = take(Tensor.fromArray(init.words, [N, stride], "u32"));
    }
    const float = info.scale === "float";
    const scaleDtype: DType = init.scaleDtype ?? "f16";
    let scaleT: Tensor;
    if (float) {
      scaleT = take(toTensor(init.scales, [N, G], scaleDtype, `${what} scales`));
    } else if (init.scales instanceof Tensor) {
      scaleT = take(toTensor(init.scales, [Math.ceil((N * G) / 4)], "u32", `${what} scale words`));
    } else {
      if (init.scales.length !== N * G) {
        throw new RangeError(
          `${what}: ${init.scales.length} ${info.scale} scale codes, expected N·G = ${N * G}`,
        );
      }
      scaleT = take(Tensor.fromArray(packBytes(init.scales), [Math.ceil((N * G) / 4)], "u32"));
    }
    let zeros: Tensor | undefined;
    if (init.zeros !== undefined) {
      if (!info.zeros) {
        throw new RangeError(`${what}: zero points are only supported for int formats`);
      }
      zeros = take(toTensor(init.zeros, [N, G], scaleT.dtype, `${what} zeros`));
    }
    let codebook: Tensor | undefined;
    const lut = info.codebookSize;
    if (lut) {
      if (init.codebook === undefined) {
        throw new RangeError(`${what}: a codebook of ${lut} values is required`);
      }
      codebook = take(toTensor(init.codebook, [lut], "f32", `${what} codebook`));
    } else if (init.codebook !== undefined) {
      throw new RangeError(`${what}: a codebook is only used by codebook formats`);
    }
    if (init.tensorScale !== undefined && !info.tensorScale) {
      throw new RangeError(`${what}: tensorScale is only used by nvfp4`);
    }
    const tensorScale = info.tensorScale ? init.tensorScale ?? 1 : undefined;
    if (tensorScale !== undefined && !Number.isFinite(tensorScale)) {
      throw new RangeError(`${what}: tensorScale must be finite, got ${tensorScale}`);
    }
    const dispose = () => owned.forEach((t) => t.dispose());
    return {
      format,
      storage: info,
      shape: [N, K],
      groupSize,
      codes,
      scales: scaleT,
      zeros,
      tensorScale,
      codebook,
      dispose,
      [Symbol.dispose]: dispose,
    };
  } catch (e) {
    owned.forEach((t) => t.dispose());
    throw e;
  }
}

function toTensor(
  v: ArrayLike<number> | Tensor,
  shape: number[],
  dtype: DType,
  what: string,
): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  if (v instanceof Tensor) {
    if (v.dtype !== dtype || v.size !== n) {
      throw new RangeError(`${what}: expected a ${dtype} tensor of ${n} elements, got ${v}`);
    }
    const r = v.reshape(shape);
    v.dispose();
    return r;
  }
  if (v.length !== n) {
    throw new RangeError(`${what}: expected ${n} values, got ${v.length}`);
  }
  return Tensor.fromArray(v, shape, dtype);
}
