/**
 * `findNonFinite`: the first NaN or ±Inf among many float tensors, found on
 * the GPU with one pass over each and a single readback for all of them: each
 * tensor's lowest bad index goes into its own u32 slot (`atomicMin`), and only
 * the element at the first hit is read back afterwards to name its value.
 *
 * The test is on the bits (exponent all ones), so compilers cannot fold it
 * away, and f16 tensors are tested as f16 (an f32 value that overflowed to
 * f16 Inf is found).
 *
 * Reference: `tests/kernels/ops/nonfinite_test.ts` (against the pure-TS
 * `firstNonFinite` of `model/finite.ts`).
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { findNonFinite } from "./nonfinite.ts";
 * await initGPU();
 * using a = Tensor.fromArray([1, 2, 3]);
 * using b = Tensor.fromArray([4, Infinity, NaN]);
 * console.log(await findNonFinite([a, b])); // { tensor: 1, index: 1, value: Infinity }
 * ```
 * @module
 */
import { dispatch, grid, linearIndex, Params, readback } from "../runtime.ts";
import { Tensor } from "../tensor.ts";
import { ENTRY_BUILTINS } from "./wgsl.ts";

const WG = 256;
const NONE = 0xffffffff;

/** Where {@link findNonFinite} found the first NaN or ±Inf. */
export interface NonFiniteHit {
  /** The position of the tensor in the list given. */
  tensor: number;
  /** The flat (row-major) index of its first non-finite element. */
  index: number;
  /** That element: NaN, Infinity or -Infinity. */
  value: number;
}

function checkCode(dtype: "f32" | "f16"): string {
  // one u32 word per invocation: one f32, or two f16 halves (low half first)
  const test = dtype === "f32"
    ? `if ((w & 0x7f800000u) == 0x7f800000u) { atomicMin(&F[P.slot], t); }`
    : `if ((w & 0x7c00u) == 0x7c00u) {
    atomicMin(&F[P.slot], 2u * t);
  } else if ((w & 0x7c000000u) == 0x7c000000u && 2u * t + 1u < P.n) {
    atomicMin(&F[P.slot], 2u * t + 1u);
  }`;
  return `
struct Params { n: u32, slot: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<storage, read> X: array<u32>;
@group(0) @binding(2) var<storage, read_write> F: array<atomic<u32>>;
@compute @workgroup_size(${WG}) fn main(${ENTRY_BUILTINS}) {
  let t = ${linearIndex(WG)};
  if (t >= arrayLength(&X)) { return; }
  let w = X[t];
  ${test}
}`;
}

/**
 * Finds the first NaN or ±Inf in `tensors`, taken in order: the first tensor
 * holding one, and its first such element. One kernel per tensor, one readback
 * of all the per-tensor results (no stall per tensor), then one 4-byte
 * readback of the element found. The tensors are not modified.
 *
 * @param tensors f32 or f16 tensors
 * @returns the hit, or undefined when every element of every tensor is finite
 * @throws {TypeError} naming a tensor that is not f32 or f16
 *
 * @example
 * ```ts
 * import { initGPU, Tensor } from "../../mod.ts";
 * import { findNonFinite } from "./nonfinite.ts";
 * await initGPU();
 * using a = Tensor.fromArray([1, -Infinity, 3], [3], "f16");
 * using b = Tensor.fromArray([0, 1]);
 * console.log(await findNonFinite([a, b])); // { tensor: 0, index: 1, value: -Infinity }
 * console.log(await findNonFinite([b])); // undefined
 * ```
 */
export async function findNonFinite(
  tensors: readonly Tensor[],
): Promise<NonFiniteHit | undefined> {
  tensors.forEach((t, i) => {
    if (t.dtype !== "f32" && t.dtype !== "f16") {
      throw new TypeError(
        `findNonFinite: tensor ${i} (${t.toString()}) is ${t.dtype}; only f32 and f16 ` +
          `tensors can hold NaN or Inf`,
      );
    }
  });
  if (tensors.length === 0) return undefined;
  using flags = Tensor.fromArray(new Uint32Array(tensors.length).fill(NONE), undefined, "u32");
  tensors.forEach((t, slot) => {
    if (t.size === 0) return;
    const words = Math.ceil(t.byteLength / 4);
    dispatch(
      `findNonFinite ${t.dtype}`,
      checkCode(t.dtype as "f32" | "f16"),
      [{ buffer: t.buffer, offset: 0, size: words * 4 }, flags.buffer],
      new Params().u(t.size, slot),
      grid(words, WG),
    );
  });
  const found = new Uint32Array(await readback(flags.buffer, flags.byteLength));
  const tensor = found.findIndex((v) => v !== NONE);
  if (tensor < 0) return undefined;
  const t = tensors[tensor];
  const index = found[tensor];
  const byte = index * (t.dtype === "f32" ? 4 : 2);
  const word = new DataView(await readback(t.buffer, 4, byte - (byte % 4)));
  const value = t.dtype === "f32" ? word.getFloat32(0, true) : word.getFloat16(byte % 4, true);
  return { tensor, index, value };
}
