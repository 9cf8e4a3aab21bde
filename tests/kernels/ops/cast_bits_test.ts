import { assertEquals, assertThrows } from "@std/assert";
import { Tensor } from "../../../kernels/tensor.ts";
import { Rng } from "../../../kernels/random.ts";
import { castBits, storedWords } from "../../../kernels/ops/cast_bits.ts";
import { gpuTest } from "../../_helpers.ts";
import { castBitsRef } from "../../reference/cast_bits.ts";

// Bit patterns at the edges: ±0, subnormals, the normal/subnormal boundary, the f16 overflow
// boundary, round-to-even ties, ±Inf, quiet and signalling NaN of both signs.
const SPECIAL = {
  bf16: [
    0x0000,
    0x8000,
    0x0001,
    0x807f,
    0x0080,
    0x3f80,
    0xbf80,
    0x7f7f,
    0xff7f,
    0x477f,
    0x4780,
    0xc780,
    0x3380,
    0x3300,
    0x3340,
    0x3381,
    0x387f,
    0x3880,
    0x7f80,
    0xff80,
    0x7fc0,
    0x7f81,
    0xffff,
  ],
  f16: [
    0x0000,
    0x8000,
    0x0001,
    0x8001,
    0x03ff,
    0x0200,
    0x0400,
    0x3c00,
    0xbc00,
    0x7bff,
    0xfbff,
    0x7c00,
    0xfc00,
    0x7e00,
    0x7c01,
    0xffff,
    0x3555,
  ],
  f32: [
    0x00000000,
    0x80000000,
    0x00000001,
    0x807fffff,
    0x00800000,
    0x33000000,
    0x33000001,
    0x33800000,
    0x387fe000,
    0x387ff000,
    0x38800000,
    0x3f800000,
    0x3f801000,
    0x3f803000,
    0x477fefff,
    0x477ff000,
    0xc77ff000,
    0x7f7fffff,
    0x7f800000,
    0xff800000,
    0x7fc00000,
    0x7f800001,
    0xffffffff,
  ],
};

/** `n` elements of `from`: the special patterns first, then random bits, packed into words. */
function storedBits(from: "bf16" | "f16" | "f32", n: number, seed: number): Uint32Array {
  const words = new Uint32Array(storedWords(from, n));
  const rng = new Rng(seed).uniform(n, 0, 1);
  const elems = from === "f32" ? words : new Uint16Array(words.buffer, 0, n);
  const max = from === "f32" ? 2 ** 32 : 2 ** 16;
  for (let i = 0; i < n; i++) {
    elems[i] = i < SPECIAL[from].length ? SPECIAL[from][i] : Math.floor(rng[i] * max);
  }
  return words;
}

/** Bits of every element; NaN as one marker, so NaN matches NaN whatever its payload. */
function bitsOf(a: Float32Array | Float16Array): number[] {
  const u = a instanceof Float32Array
    ? new Uint32Array(a.buffer, a.byteOffset, a.length)
    : new Uint16Array(a.buffer, a.byteOffset, a.length);
  return Array.from(u, (b, i) => (Number.isNaN(a[i]) ? -1 : b));
}

for (const from of ["bf16", "f16", "f32"] as const) {
  for (const to of ["f32", "f16"] as const) {
    gpuTest(
      `castBits ${from} → ${to}: bit-exact to the reference (odd sizes, edge bits)`,
      async () => {
        // 1 element; 3 (a pair and a half); 513 and 1001: not multiples of the 512 per workgroup
        for (const n of [1, 2, 3, 513, 1001]) {
          const words = storedBits(from, n, n);
          const copy = words.slice();
          using w = Tensor.fromArray(words, [words.length], "u32");
          using y = castBits(w, { from, to, shape: [n] });
          assertEquals(y.dtype, to);
          assertEquals(y.shape, [n]);
          const got = await y.data() as Float32Array | Float16Array;
          const want = castBitsRef(words, from, to, n);
          assertEquals(bitsOf(got), bitsOf(want), `${from} → ${to}, n ${n}`);
          assertEquals(await w.data(), copy, "the source words are not modified");
        }
      },
    );
  }
}

gpuTest("castBits: shapes, extra words, empty tensors", async () => {
  const words = storedBits("bf16", 12, 7);
  // more words than the shape needs (a pooled buffer's padding): only the first ones are read
  using w = Tensor.fromArray(new Uint32Array([...words, 0x7f807f80]), undefined, "u32");
  using y = castBits(w, { from: "bf16", to: "f32", shape: [3, 4] });
  assertEquals(y.shape, [3, 4]);
  assertEquals(
    bitsOf(await y.data() as Float32Array),
    bitsOf(castBitsRef(words, "bf16", "f32", 12)),
  );
  using e = castBits(w, { from: "f16", to: "f16", shape: [0, 5] });
  assertEquals(e.size, 0);
});

gpuTest("castBits: bad input is named", () => {
  using w = Tensor.fromArray(new Uint32Array(3), undefined, "u32");
  using f = Tensor.fromArray([1, 2]);
  assertThrows(() => castBits(f, { from: "bf16", to: "f32", shape: [2] }), TypeError, "u32 tensor");
  assertThrows(
    () => castBits(w, { from: "bf16", to: "f32", shape: [7] }),
    RangeError,
    "needs 4 u32 words but the source",
  );
  assertThrows(
    () => castBits(w, { from: "f8" as "f16", to: "f32", shape: [1] }),
    TypeError,
    'from "f8"',
  );
  assertThrows(
    () => castBits(w, { from: "f16", to: "i32" as "f32", shape: [1] }),
    TypeError,
    'to "i32"',
  );
});
