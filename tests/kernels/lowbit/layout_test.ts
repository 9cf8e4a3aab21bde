import { assertEquals, assertThrows } from "@std/assert";
import { Rng } from "../../../kernels/random.ts";
import {
  checkGroup,
  formatInfo,
  type LowbitFormat,
  packWeights,
  rowWords,
  unpackWeights,
} from "../../../kernels/lowbit/layout.ts";

const FORMATS: LowbitFormat[] = [
  "int8",
  "int7",
  "int6",
  "int5",
  "int4",
  "int3",
  "int2",
  "ternary",
  "ternary5",
  "binary",
  "fp4",
  "nvfp4",
  "mxfp4",
  "nf4",
  "codebook1",
  "codebook3",
  "codebook5",
  "codebook8",
];

Deno.test("pack/unpack round trip is exact for every format and odd shapes", () => {
  for (const f of FORMATS) {
    const info = formatInfo(f);
    for (const [N, K] of [[1, 1], [3, 7], [5, 33], [2, 101], [4, 640]]) {
      const u = new Rng(N * 1000 + K).uniform(N * K, 0, 1);
      const codes = Uint8Array.from(
        u,
        (v) =>
          f.startsWith("ternary") ? [0, 1, 3][Math.floor(v * 3)] : Math.floor(v * 2 ** info.bits),
      );
      const words = packWeights(codes, [N, K], f);
      assertEquals(words.length, N * rowWords(K, f), `${f} [${N},${K}] word count`);
      assertEquals(rowWords(K, f) % 4, 0);
      assertEquals(unpackWeights(words, [N, K], f), codes, `${f} [${N},${K}]`);
    }
  }
});

Deno.test("layout: bit positions, int3 straddling, ternary5 bytes", () => {
  // int3: code 10 occupies bits 30..32 (straddles words 0 and 1)
  const codes = new Array(32).fill(0);
  codes[10] = 7;
  const w = packWeights(codes, [1, 32], "int3");
  assertEquals([w[0], w[1], w[2]], [0xc0000000, 1, 0]);
  // ternary5: all 243 byte values decode back (5 codes per byte)
  for (let v = 0; v < 243; v++) {
    const digits = [4, 3, 2, 1, 0].map((p) => Math.floor(v / 3 ** p) % 3);
    const c = digits.map((d) => [3, 0, 1][d]);
    const words = packWeights(c, [1, 5], "ternary5");
    assertEquals(words[0], Math.ceil((v * 256) / 243));
    assertEquals(Array.from(unpackWeights(words, [1, 5], "ternary5")), c);
  }
});

Deno.test("layout: invalid codes and groups are named", () => {
  assertThrows(
    () => packWeights([2], [1, 1], "ternary"),
    RangeError,
    "ternary codes are 0, 1 and 3",
  );
  assertThrows(() => packWeights([8], [1, 1], "int3"), RangeError, "code 8 at index 0");
  assertThrows(() => packWeights([1, 2], [1, 3], "int4"), RangeError, "needs 3 codes");
  assertThrows(
    () => checkGroup([4, 100], 64, "int4"),
    RangeError,
    "[4,100]: K = 100 is not divisible by the group size 64",
  );
  assertThrows(() => checkGroup([4, 64], 16, "binary"), RangeError, "multiple of 32");
  checkGroup([4, 37], 37, "binary");
  assertThrows(() => formatInfo("int9"), RangeError, "unknown low-bit format");
});
