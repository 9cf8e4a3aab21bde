/**
 * Integer weights, 2–8 bits, with a per-group f16/f32 scale: symmetric
 * (two's complement codes, `value = q · scale`) or asymmetric (unsigned codes
 * and a per-group zero point, `value = (q − zero) · scale`).
 *
 * The GEMV decodes a code without an int→float conversion instruction: the
 * code is OR-ed into the mantissa of 2^23 and 2^23 (plus the sign bias) is
 * subtracted, which is exact. Signed codes are first turned into offset
 * binary by flipping every field's sign bit with one XOR per word.
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { packInt } from "./pack.ts";
 * import { lowbitMatmul } from "./kernel.ts";
 * await initGPU();
 * // int4 codes: 1 → +1, 15 → −1; one group of 8 per row, scale 0.5
 * using w = packInt([1, 1, 1, 1, 15, 15, 15, 15], [1, 8], { bits: 4, scales: [0.5] });
 * using x = Tensor.fromArray([[1, 2, 3, 4, 5, 6, 7, 8]]);
 * using y = lowbitMatmul(x, w);
 * console.log(await y.data()); // Float32Array [-8]
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
 * WGSL decoding of `bits`-bit integers for a row stride of `stride` words.
 *
 * @example
 * ```ts
 * import { intCodegen } from "./int.ts";
 * console.log(intCodegen(4, false, 512).rawValue("r", null)); // f32 of the sign-extended code
 * ```
 */
export function intCodegen(bits: number, asymmetric: boolean, stride: number): Codegen {
  const unitCodes = 32 / gcd(32, bits);
  const unitWords = bits / gcd(32, bits);
  // Sign bit of every field, as unit words.
  const signMask: number[] = new Array(unitWords).fill(0);
  for (let j = 0; j < unitCodes; j++) {
    const b = j * bits + bits - 1;
    signMask[b >> 5] = (signMask[b >> 5] | (1 << (b & 31))) >>> 0;
  }
  const sh = 32 - bits;
  return {
    signBias: asymmetric ? undefined : 2 ** (bits - 1),
    prepWord: asymmetric ? undefined : (w, i) => `(${w} ^ 0x${signMask[i].toString(16)}u)`,
    unit: (words) => bitstreamUnit(words, bits, unitCodes),
    // The sign bias is subtracted separately and comes from `sbias`, a value the kernel
    // derives from a builtin (the compiler cannot fold it): with one folded constant
    // (2^23 + 2^(b−1)) the NVIDIA Vulkan compiler produced a 5× slower GEMV on the H100.
    value: (c, z) => `((bitcast<f32>(${c} | 0x4b000000u) - 8388608.0) - ${z ?? "sbias"})`,
    rawFn: bitstreamRawFn(bits, stride),
    rawValue: (r, z) =>
      asymmetric ? `(f32(${r}) - ${z})` : `f32(bitcast<i32>(${r} << ${sh}u) >> ${sh}u)`,
  };
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

/**
 * The storage of `bits`-bit integers (2–8): two's complement codes, or
 * unsigned codes with zero points. 2, 4 and 8 bits take the paired GEMV.
 *
 * @example
 * ```ts
 * import { intStorage } from "./int.ts";
 * console.log(intStorage(3).unitCodes, intStorage(4).paired); // 32 { bits: 4, signed: true }
 * ```
 */
export function intStorage(bits: number): Storage {
  return bitstreamStorage(`int${bits}`, bits, (stride, zeros) => intCodegen(bits, zeros, stride), {
    integer: true,
    zeros: true,
    paired: bits === 2 || bits === 4 || bits === 8 ? { bits, signed: true } : undefined,
  });
}
