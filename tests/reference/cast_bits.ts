/**
 * Pure-TS reference for kernels/ops/cast_bits.ts: the stored bits are viewed
 * through JavaScript's typed arrays (bf16 widened by a 16-bit shift, the one
 * exact definition), and converted with `Float32Array` / `Float16Array`,
 * whose conversions are IEEE's (round to nearest even, overflow to ±Inf).
 * @module
 */

/** The values of `n` elements of `from` stored little-endian in `words`, converted to `to`. */
export function castBitsRef(
  words: Uint32Array,
  from: "bf16" | "f16" | "f32",
  to: "f32" | "f16",
  n: number,
): Float32Array | Float16Array {
  let f32: Float32Array;
  if (from === "f32") f32 = new Float32Array(words.buffer, words.byteOffset, n).slice();
  else {
    const halves = new Uint16Array(words.buffer, words.byteOffset, n);
    if (from === "f16") f32 = Float32Array.from(new Float16Array(halves.slice().buffer));
    else f32 = new Float32Array(Uint32Array.from(halves, (h) => h << 16).buffer);
  }
  return to === "f32" ? f32 : Float16Array.from(f32);
}
