import { assert, assertEquals, assertThrows } from "@std/assert";
import { nf4, NF4_VALUES, nf4Element, nf4Format } from "../../../quant/formats/nf4.ts";
import { gaussianArray, inputsFor, rng } from "./_rng.ts";
import { nearestCode } from "./_brute.ts";

Deno.test("NF4 values are QLoRA's 16 constants: sorted, ±1 ends, exact zero at code 7", () => {
  assertEquals(NF4_VALUES.length, 16);
  assertEquals(NF4_VALUES[0], -1);
  assertEquals(NF4_VALUES[7], 0);
  assertEquals(NF4_VALUES[15], 1);
  assertEquals(NF4_VALUES[8], Math.fround(0.07958029955625534));
  assertEquals(NF4_VALUES[1], Math.fround(-0.6961928009986877));
  for (let c = 1; c < 16; c++) assert(NF4_VALUES[c] > NF4_VALUES[c - 1]);
  for (let c = 0; c < 16; c++) assertEquals(nf4Element.encode(nf4Element.decode(c)), c);
});

Deno.test("NF4 element encode is the nearest level (ties to the lower code)", () => {
  const codes = Array.from({ length: 16 }, (_, c) => c);
  const r = rng(41);
  for (const x of inputsFor(NF4_VALUES, r, 2000)) {
    const want = nearestCode(Math.min(1, Math.max(-1, x)), {
      codes,
      value: (c) => NF4_VALUES[c],
      tie: (a, b) => Math.min(a, b),
    });
    assertEquals(nf4Element.encode(x), want, `x=${x}`);
  }
  assertThrows(() => nf4Element.encode(NaN), RangeError);
});

Deno.test("NF4 blocks: absmax of 64 as f32 scale, max element maps to ±1, zero block defined", () => {
  assertEquals(nf4.blockSize, 64);
  assertEquals(nf4.bitsPerWeight, 4.5);
  const x = gaussianArray(rng(42), 200);
  x[70] = -9; // block 1's absmax
  const q = nf4.quantize(x);
  assertEquals(q.scales.length, 4); // 64 + 64 + 64 + 8
  assertEquals(q.scales[1], 9);
  assertEquals(q.codes[70], 0);
  const y = nf4.dequantize(q);
  assertEquals(y[70], -9);
  for (let i = 0; i < x.length; i++) {
    const s = q.scales[Math.floor(i / 64)];
    assertEquals(q.codes[i], nf4Element.encode(Math.fround(x[i] / s)));
    assertEquals(y[i], Math.fround(NF4_VALUES[q.codes[i]] * s));
  }
  const z = nf4Format(4).quantize([0, 0, 0, 0, 1, 0, 0, 0]);
  assertEquals(z.scales[0], 0);
  assertEquals(Array.from(z.codes.slice(0, 4)), [7, 7, 7, 7]);
  assertEquals(Array.from(nf4Format(4).dequantize(z)), [0, 0, 0, 0, 1, 0, 0, 0]);
  assertThrows(() => nf4.quantize([1, Infinity]), RangeError, "[1]");
  assertThrows(() => nf4.dequantize({ ...q, format: "mxfp4" }), TypeError);
});
