import { assert, assertEquals, assertThrows } from "@std/assert";
import {
  affineParams,
  decodeAffine,
  decodeSymmetric,
  encodeAffine,
  encodeSymmetric,
  int4,
  int4r,
  int8,
  intFormat,
  symmetricScale,
  uint4,
} from "../../../quant/formats/int.ts";
import { evenCode, nearestCode } from "./_brute.ts";
import { inputsFor, rng } from "./_rng.ts";

Deno.test("ranges: int4 [−8, 7], int4r [−7, 7], uint4 [0, 15], int1 {−1, 0}, uint1 {0, 1}", () => {
  assertEquals([int4.qmin, int4.qmax], [-8, 7]);
  assertEquals([int4r.qmin, int4r.qmax], [-7, 7]);
  assertEquals([uint4.qmin, uint4.qmax], [0, 15]);
  assertEquals(Array.from(intFormat(1).values), [0, -1]);
  assertEquals(Array.from(intFormat(1, { signed: false }).values), [0, 1]);
  assertEquals(Array.from(int4.values), [0, 1, 2, 3, 4, 5, 6, 7, -8, -7, -6, -5, -4, -3, -2, -1]);
  assertEquals(int4r.reserved, [8]);
  assertEquals(int4r.decode(8), -8); // the bit pattern still decodes
  assertEquals(int8.decode(0x80), -128);
  assertEquals(int8.decode(0xff), -1);
  assertThrows(() => intFormat(9), RangeError);
  assertThrows(() => intFormat(4, { signed: false, range: "restricted" }), RangeError);
});

Deno.test("every int/uint format of 1–8 bits: round trip and brute-force nearest", () => {
  const r = rng(5);
  for (let bits = 1; bits <= 8; bits++) {
    const fmts = [intFormat(bits), intFormat(bits, { signed: false })];
    if (bits >= 2) fmts.push(intFormat(bits, { range: "restricted" }));
    for (const f of fmts) {
      const codes = [];
      for (let c = 0; c < 2 ** bits; c++) {
        if (f.reserved.includes(c)) continue;
        codes.push(c);
        assertEquals(f.encode(f.decode(c)), c, `${f.name} ${c}`);
      }
      for (const x of inputsFor(f.values, r, 300)) {
        const clamped = Math.min(f.qmax, Math.max(f.qmin, x));
        const want = nearestCode(clamped, { codes, value: (c) => f.values[c], tie: evenCode });
        assertEquals(f.encode(x), want, `${f.name} x=${x}`);
      }
    }
  }
});

Deno.test("round half to even: 2.5 → 2, 3.5 → 4, −2.5 → −2, −0.5 → 0", () => {
  assertEquals(int4.decode(int4.encode(2.5)), 2);
  assertEquals(int4.decode(int4.encode(3.5)), 4);
  assertEquals(int4.decode(int4.encode(-2.5)), -2);
  assertEquals(int4.encode(-0.5), 0);
  assertEquals(int4.encode(-0), 0);
  assertEquals(int4.decode(int4.encode(-7.5)), -8);
  assertEquals(int4r.decode(int4r.encode(-7.5)), -7);
  assertThrows(() => int4.encode(NaN), RangeError);
});

Deno.test("symmetric helpers: scale = amax/qmax, f32 division, zero range → scale 1", () => {
  assertEquals(symmetricScale(7, int4r), 1);
  assertEquals(symmetricScale(0, int4r), 1);
  assertEquals(symmetricScale(1, int8), Math.fround(1 / 127));
  assertThrows(() => symmetricScale(NaN, int4), RangeError);
  assertEquals(encodeSymmetric(0.75, 0.5, int4), 2); // 1.5 → 2
  assertEquals(encodeSymmetric(-100, 0.5, int4r), 9); // −7
  assertEquals(decodeSymmetric(9, 0.5, int4r), -3.5);
  assertThrows(() => encodeSymmetric(1, 0, int4), RangeError, "scale");
});

Deno.test("affine helpers: 0 is exact, codes clamp, params cover the range", () => {
  const { scale, zero } = affineParams(-0.3, 1.2, uint4);
  assertEquals(scale, Math.fround(1.5 / 15));
  assertEquals(zero, 3);
  assertEquals(decodeAffine(encodeAffine(0, scale, zero, uint4), scale, zero, uint4), 0);
  assertEquals(encodeAffine(-5, scale, zero, uint4), 0);
  assertEquals(encodeAffine(5, scale, zero, uint4), 15);
  // positive-only range is widened to include 0
  assertEquals(affineParams(2, 4, uint4).zero, 0);
  assertEquals(affineParams(0, 0, uint4), { scale: 1, zero: 0 });
  assertThrows(() => affineParams(1, 0, uint4), RangeError);
  const r = rng(11);
  for (let i = 0; i < 2000; i++) {
    const x = (r() * 1.5 - 0.3) * 0.999;
    const back = decodeAffine(encodeAffine(x, scale, zero, uint4), scale, zero, uint4);
    assert(Math.abs(back - x) <= scale / 2 + 1e-7, `x=${x} back=${back}`);
  }
});
