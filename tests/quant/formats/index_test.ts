import { assert, assertEquals } from "@std/assert";
import { blockFormats, formats } from "../../../quant/formats/mod.ts";
import { gaussianArray, rng } from "./_rng.ts";

Deno.test("registry: every element format is ≤ 8 bits, has a full table and round-trips", () => {
  const names = Object.keys(formats);
  for (
    const want of [
      "int4",
      "int4r",
      "uint4",
      "int8",
      "e2m1",
      "e3m2",
      "e2m3",
      "e4m3",
      "e5m2",
      "e8m0",
      "nf4",
      "log2_4",
      "logsqrt2_4",
      "ternary",
      "binary",
      "dint4",
      "mxint8_elem",
    ]
  ) {
    assert(names.includes(want), want);
  }
  for (const [name, f] of Object.entries(formats)) {
    assertEquals(f.name, name);
    assert(f.bits >= 1 && f.bits <= 8, name);
    assertEquals(f.values.length, 2 ** f.bits, name);
    let finiteMax = 0;
    for (let c = 0; c < f.values.length; c++) {
      assertEquals(f.decode(c), f.values[c], `${name} ${c}`);
      if (Number.isFinite(f.values[c]) && !f.reserved.includes(c)) {
        finiteMax = Math.max(finiteMax, Math.abs(f.values[c]));
        assertEquals(f.encode(f.values[c]), c, `${name} round trip ${c}`);
      } else {
        assert(f.reserved.includes(c), `${name}: non-finite code ${c} must be reserved`);
      }
    }
    assertEquals(f.maxValue, finiteMax, name);
    assertEquals(f.encode(Infinity), f.encode(f.maxValue), `${name} saturates`);
  }
});

Deno.test("registry: every block format round-trips its own output and reports bits", () => {
  const x = gaussianArray(rng(1), 1000);
  for (const [name, f] of Object.entries(blockFormats)) {
    assertEquals(f.name, name);
    const q = f.quantize(x);
    assertEquals(q.format, name);
    assertEquals(q.codes.length, x.length);
    const y = f.dequantize(q);
    assert(y.every(Number.isFinite), name);
    // quantizing the dequantized tensor again is a fixed point for the same scales
    const q2 = f.quantize(y);
    if (name.startsWith("mx") || name === "nf4" || name === "binary") {
      assertEquals(Array.from(f.dequantize(q2)), Array.from(y), name);
    }
    assert(f.bitsPerWeight >= f.element.bits, name);
  }
  assertEquals(blockFormats.mxfp4.bitsPerWeight, 4.25);
  assertEquals(blockFormats.nvfp4.bitsPerWeight, 4.5);
  assertEquals(blockFormats.nf4.bitsPerWeight, 4.5);
});
