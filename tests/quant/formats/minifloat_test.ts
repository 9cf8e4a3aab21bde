import { assert, assertEquals, assertThrows } from "@std/assert";
import {
  e2m1,
  e2m3,
  e3m2,
  e4m3,
  e5m2,
  e8m0,
  minifloat,
  type MinifloatFormat,
} from "../../../quant/formats/minifloat.ts";
import { evenCode, nearestCode } from "./_brute.ts";
import { inputsFor, rng } from "./_rng.ts";

const ALL: MinifloatFormat[] = [e2m1, e3m2, e2m3, e4m3, e5m2];

Deno.test("e2m1 table is ±[0, 0.5, 1, 1.5, 2, 3, 4, 6]", () => {
  const pos = [0, 0.5, 1, 1.5, 2, 3, 4, 6];
  assertEquals(Array.from(e2m1.values.slice(0, 8)), pos);
  assertEquals(Array.from(e2m1.values.slice(8)), pos.map((v) => -v));
  assertEquals(e2m1.maxValue, 6);
  assertEquals(e2m1.emax, 2);
  assertEquals(e2m1.reserved, []);
});

Deno.test("FP6 key codes match the OCP MX spec", () => {
  assertEquals(e3m2.maxValue, 28);
  assertEquals(e3m2.decode(0b011111), 28);
  assertEquals(e3m2.decode(0b000001), 0.0625); // min subnormal 2^-4
  assertEquals(e3m2.decode(0b000100), 0.25); // min normal 2^-2
  assertEquals(e3m2.emax, 4);
  assertEquals(e2m3.maxValue, 7.5);
  assertEquals(e2m3.decode(0b011111), 7.5);
  assertEquals(e2m3.decode(0b000001), 0.125); // min subnormal 2^-3
  assertEquals(e2m3.decode(0b001000), 1); // min normal 2^0
  assertEquals(e2m3.decode(0b100000), -0);
  assertEquals(e2m3.emax, 2);
});

Deno.test("e4m3 key codes match OFP8 (FN: no inf, NaN only at S.1111.111)", () => {
  assertEquals(e4m3.decode(0x7e), 448);
  assertEquals(e4m3.decode(0xfe), -448);
  assertEquals(e4m3.decode(0x08), 2 ** -6);
  assertEquals(e4m3.decode(0x07), 0.875 * 2 ** -6);
  assertEquals(e4m3.decode(0x01), 2 ** -9);
  assertEquals(e4m3.decode(0x38), 1);
  assertEquals(e4m3.decode(0x78), 256); // E = 15 holds normal numbers
  assert(Number.isNaN(e4m3.decode(0x7f)) && Number.isNaN(e4m3.decode(0xff)));
  assertEquals(e4m3.reserved, [0x7f, 0xff]);
  assertEquals(e4m3.emax, 8);
  assertEquals(e4m3.values.filter(Number.isNaN).length, 2);
});

Deno.test("e5m2 key codes match OFP8 and every code equals the top byte of an f16", () => {
  assertEquals(e5m2.decode(0x7b), 57344);
  assertEquals(e5m2.decode(0x7c), Infinity);
  assertEquals(e5m2.decode(0xfc), -Infinity);
  assertEquals(e5m2.decode(0x01), 2 ** -16);
  assertEquals(e5m2.decode(0x04), 2 ** -14);
  assertEquals(e5m2.reserved, [0x7c, 0x7d, 0x7e, 0x7f, 0xfc, 0xfd, 0xfe, 0xff]);
  assertEquals(e5m2.emax, 15);
  const dv = new DataView(new ArrayBuffer(2));
  for (let c = 0; c < 256; c++) {
    dv.setUint16(0, c << 8);
    assert(Object.is(dv.getFloat16(0), e5m2.decode(c)), `code ${c}`);
  }
});

Deno.test("positive codes increase strictly and negative codes mirror them", () => {
  for (const f of ALL) {
    const half = f.values.length / 2;
    for (let c = 0; c < half; c++) {
      assert(Object.is(f.values[c + half], -f.values[c]) || Number.isNaN(f.values[c]), f.name);
      if (c > 0 && !f.reserved.includes(c)) assert(f.values[c] > f.values[c - 1], `${f.name} ${c}`);
    }
  }
});

Deno.test("encode(decode(c)) === c for every non-reserved code, −0 included", () => {
  for (const f of [...ALL, minifloat({ name: "e3m2n", ebits: 3, mbits: 2, subnormals: false })]) {
    for (let c = 0; c < f.values.length; c++) {
      if (f.reserved.includes(c)) continue;
      assertEquals(f.encode(f.decode(c)), c, `${f.name} code ${c}`);
    }
  }
});

/** Independent reference: saturate, then nearest positive code (ties to even), then sign. */
function brute(f: MinifloatFormat, x: number, tie = evenCode): number {
  const signBit = f.values.length / 2;
  const codes = [];
  for (let c = 0; c < signBit; c++) if (!f.reserved.includes(c)) codes.push(c);
  const a = Math.min(Math.abs(x), f.maxValue);
  const c = nearestCode(a, { codes, value: (k) => f.values[k], tie });
  return c | (x < 0 || Object.is(x, -0) ? signBit : 0);
}

Deno.test("random, tie, subnormal, overflow and −0 inputs encode to the brute-force nearest", () => {
  const r = rng(1234);
  for (const f of ALL) {
    const xs = inputsFor(f.values, r);
    for (const x of xs) assertEquals(f.encode(x), brute(f, x), `${f.name} x=${x}`);
    assert(xs.length > 8000);
  }
});

Deno.test("ties go to the even code, e.g. e2m1 2.5 → 2, 3.5 → 4, 0.25 → 0, 0.75 → 1", () => {
  assertEquals(e2m1.decode(e2m1.encode(2.5)), 2);
  assertEquals(e2m1.decode(e2m1.encode(3.5)), 4);
  assertEquals(e2m1.decode(e2m1.encode(5)), 4);
  assertEquals(e2m1.decode(e2m1.encode(0.25)), 0);
  assertEquals(e2m1.decode(e2m1.encode(0.75)), 1);
  assertEquals(e2m1.decode(e2m1.encode(1.25)), 1);
  assertEquals(e4m3.encode(2 ** -10), 0); // half the min subnormal ties to 0
  assertEquals(e4m3.encode(3 * 2 ** -10), 2); // 1.5 × min subnormal → 2 (even)
});

Deno.test("saturation: beyond max and ±Infinity give ±max; NaN throws", () => {
  assertEquals(e4m3.encode(464), 0x7e); // above 448 + half ulp would be NaN/inf unsaturated
  assertEquals(e4m3.encode(1e9), 0x7e);
  assertEquals(e4m3.encode(-Infinity), 0xfe);
  assertEquals(e5m2.encode(Infinity), 0x7b);
  assertEquals(e5m2.encode(61440), 0x7b);
  assertEquals(e2m1.encode(-7), 0xf);
  assertThrows(() => e4m3.encode(NaN), RangeError, "NaN");
  assertThrows(() => e4m3.decode(256), RangeError);
});

Deno.test("underflow: below half the smallest subnormal rounds to ±0", () => {
  assertEquals(e4m3.encode(2 ** -10 * 0.999), 0);
  assertEquals(e4m3.encode(-(2 ** -11)), 0x80);
  assertEquals(e5m2.encode(2 ** -18), 0);
  assertEquals(e2m1.encode(0.2), 0);
});

Deno.test("without subnormals, the midpoint to the smallest normal goes to zero", () => {
  const f = minifloat({ name: "e3m2n", ebits: 3, mbits: 2, subnormals: false });
  assertEquals(f.reserved, [1, 2, 3, 33, 34, 35]);
  assertEquals(f.encode(0.125), 0); // min normal 0.25, midpoint 0.125
  assertEquals(f.encode(0.1251), 4);
  const r = rng(7);
  const tie = (
    a: number,
    b: number,
  ) => (a % 2 === 0 && b % 2 === 0 ? Math.min(a, b) : evenCode(a, b));
  for (const x of inputsFor(f.values.filter((_, c) => !f.reserved.includes(c)), r, 500)) {
    assertEquals(f.encode(x), brute(f, x, tie), `x=${x}`);
  }
});

Deno.test("bad parameters are rejected", () => {
  assertThrows(() => minifloat({ name: "x", ebits: 5, mbits: 3 }), RangeError, "8 bits");
  assertThrows(() => minifloat({ name: "x", ebits: 3, mbits: 0 }), RangeError);
});

Deno.test("e8m0: 2^(c−127), 0xFF NaN, nearest power of two, unsigned saturating", () => {
  assertEquals(e8m0.decode(127), 1);
  assertEquals(e8m0.decode(0), 2 ** -127);
  assertEquals(e8m0.decode(254), 2 ** 127);
  assert(Number.isNaN(e8m0.decode(255)));
  for (let c = 0; c < 255; c++) {
    assertEquals(e8m0.decode(c), 2 ** (c - 127));
    assertEquals(e8m0.encode(e8m0.decode(c)), c);
  }
  const codes = Array.from({ length: 255 }, (_, c) => c);
  const r = rng(99);
  for (let i = 0; i < 3000; i++) {
    const x = 2 ** (-130 + 260 * r());
    const want = nearestCode(Math.min(Math.max(x, 2 ** -127), 2 ** 127), {
      codes,
      value: (c) => 2 ** (c - 127),
      tie: evenCode,
    });
    assertEquals(e8m0.encode(x), want, `x=${x}`);
  }
  assertEquals(e8m0.encode(1.5), 128); // tie between 127 and 128 → even code 128
  assertEquals(e8m0.encode(3), 128); // tie between 128 and 129 → 128
  assertEquals(e8m0.encode(0), 0);
  assertEquals(e8m0.encode(-4), 0);
  assertEquals(e8m0.fromExponent(0), 127);
  assertThrows(() => e8m0.fromExponent(128), RangeError);
  assertThrows(() => e8m0.encode(NaN), RangeError);
});
