/**
 * `castBits`: turns the raw little-endian bits of a stored float format
 * (bf16, f16 or f32), uploaded as they are into a `u32` tensor, into an f32
 * or f16 tensor, on the GPU. A checkpoint can then be uploaded byte for byte
 * and converted where the bandwidth is.
 *
 * Every conversion works on the bits, never on float arithmetic, so subnormals
 * survive (no flush to zero) and the results are those of the CPU:
 * - bf16 → f32: exact (`bits << 16`), NaN payloads kept.
 * - f16 → f32: exact; subnormal halves are normalised.
 * - f32 (or bf16) → f16: round to nearest even; beyond ±65504 → ±Inf; NaN → NaN
 *   (as JavaScript's `Float16Array` rounds).
 *
 * Element `2t` of a 16-bit source is the low half of word `t`, element `2t + 1`
 * the high half (little-endian). Each invocation converts one such pair.
 *
 * Reference: `tests/reference/cast_bits.ts`.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { castBits } from "./cast_bits.ts";
 * await initGPU();
 * // bf16 1 (0x3f80) and -2 (0xc000), two halves of one word
 * using words = Tensor.fromArray(new Uint32Array([0xc0003f80]), [1], "u32");
 * using y = castBits(words, { from: "bf16", to: "f32", shape: [2] });
 * console.log(await y.data()); // Float32Array [1, -2]
 * ```
 * @module
 */
import { dispatch, grid, linearIndex, Params } from "../runtime.ts";
import { numel, Tensor } from "../tensor.ts";
import { F16_BITS } from "./elementwise.ts";
import { ENTRY_BUILTINS, header } from "./wgsl.ts";

const WG = 256;

/** A stored float format {@link castBits} reads. */
export type StoredFloat = "bf16" | "f16" | "f32";

/** Options of {@link castBits}. */
export interface CastBitsOptions {
  /** The stored format of the bits in the source words. */
  from: StoredFloat;
  /** The dtype of the result. */
  to: "f32" | "f16";
  /** The shape of the result; its element count is what the words hold. */
  shape: readonly number[];
}

/** Bytes per element of a stored float format. */
function storedBytes(from: StoredFloat): number {
  return from === "f32" ? 4 : 2;
}

/** How many u32 words hold `n` elements of `from` (the last one padded). */
export function storedWords(from: StoredFloat, n: number): number {
  return Math.ceil((n * storedBytes(from)) / 4);
}

// Each decoder takes the raw bits of one element and gives the IEEE f32 bits.
const TO_F32_BITS: Record<StoredFloat, string> = {
  bf16: `fn to_f32_bits(h: u32) -> u32 { return h << 16u; }`,
  f32: `fn to_f32_bits(x: u32) -> u32 { return x; }`,
  f16: `
fn to_f32_bits(h: u32) -> u32 {
  let sign = (h & 0x8000u) << 16u;
  let e = (h >> 10u) & 0x1fu;
  let m = h & 0x3ffu;
  if (e == 31u) { return sign | 0x7f800000u | (m << 13u); }
  if (e != 0u) { return sign | ((e + 112u) << 23u) | (m << 13u); }
  if (m == 0u) { return sign; }
  // subnormal: m · 2^-24 = 1.f · 2^(p - 24), p the leading bit of m
  let p = firstLeadingBit(m);
  return sign | ((p + 103u) << 23u) | ((m << (23u - p)) & 0x7fffffu);
}`,
};

function castBitsCode(from: StoredFloat, to: "f32" | "f16"): string {
  // the pair (2t, 2t + 1) as raw source bits
  const load = from === "f32"
    ? `let a = X[2u * t];
  let b = select(0u, X[min(2u * t + 1u, P.n - 1u)], has_b);`
    : `let w = X[t];
  let a = w & 0xffffu;
  let b = w >> 16u;`;
  const store = to === "f32"
    ? `Y[2u * t] = to_f32_bits(a);
  if (has_b) { Y[2u * t + 1u] = to_f32_bits(b); }`
    : `let lo = f16_bits(bitcast<f32>(to_f32_bits(a)));
  let hi = select(0u, f16_bits(bitcast<f32>(to_f32_bits(b))), has_b);
  Y[t] = lo | (hi << 16u);`;
  return `${header()}
struct Params { n: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> X: array<u32>;
@group(0) @binding(2) var<storage, read_write> Y: array<u32>;
${TO_F32_BITS[from]}
${to === "f16" ? F16_BITS : ""}
@compute @workgroup_size(${WG}) fn main(${ENTRY_BUILTINS}) {
  let t = ${linearIndex(WG)};
  if (2u * t >= P.n) { return; }
  let has_b = 2u * t + 1u < P.n;
  ${load}
  ${store}
}`;
}

/**
 * Converts raw float bits held in a `u32` tensor into a new f32 or f16 tensor
 * of `options.shape` (owned by the caller; `words` is not modified). The words
 * may hold more than the shape needs (e.g. a pooled buffer's padding); the
 * extra ones are ignored.
 *
 * @param words the stored bits, little-endian, packed into u32 words
 * @param options the source format, the result's dtype and shape
 * @throws {TypeError} when `words` is not u32, or a format is unknown
 * @throws {RangeError} when `words` holds fewer bits than the shape needs
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { castBits } from "./cast_bits.ts";
 * await initGPU();
 * // f16 bits: 1, the smallest subnormal 2^-24, -0
 * using words = Tensor.fromArray(new Uint32Array([0x00013c00, 0x8000]), [2], "u32");
 * using y = castBits(words, { from: "f16", to: "f32", shape: [3] });
 * console.log(await y.data()); // Float32Array [1, 5.960464477539063e-8, -0]
 * ```
 */
export function castBits(words: Tensor, options: CastBitsOptions): Tensor {
  const { from, to, shape } = options;
  if (words.dtype !== "u32") {
    throw new TypeError(
      `castBits: the source ${words.toString()} is ${words.dtype}; upload the raw bits into a ` +
        `u32 tensor`,
    );
  }
  if (!(from in TO_F32_BITS)) {
    throw new TypeError(`castBits: from "${from}" is not one of "bf16", "f16", "f32"`);
  }
  if (to !== "f32" && to !== "f16") {
    throw new TypeError(`castBits: to "${to}" is not one of "f32", "f16"`);
  }
  const n = numel(shape);
  const need = storedWords(from, n);
  if (words.size < need) {
    throw new RangeError(
      `castBits: shape [${shape}] of ${from} needs ${need} u32 words but the source ` +
        `${words.toString()} holds ${words.size}; give the whole tensor's bytes`,
    );
  }
  if (n >= 2 ** 32 - 1) {
    throw new RangeError(`castBits: shape [${shape}] has ${n} elements, more than 2^32 - 2`);
  }
  const y = Tensor.empty(shape, to);
  if (n === 0) return y;
  const pairs = Math.ceil(n / 2);
  dispatch(
    `castBits ${from}→${to}`,
    castBitsCode(from, to),
    [
      { buffer: words.buffer, offset: 0, size: need * 4 },
      { buffer: y.buffer, offset: 0, size: Math.ceil(y.byteLength / 4) * 4 },
    ],
    new Params().u(n),
    grid(pairs, WG),
  );
  return y;
}
