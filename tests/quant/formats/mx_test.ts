import { assert, assertEquals, assertThrows } from "@std/assert";
import {
  mxFormat,
  mxfp4,
  mxfp6e2m3,
  mxfp6e3m2,
  mxfp8e4m3,
  mxfp8e5m2,
  mxint8,
  mxint8Element,
  mxSharedExponent,
} from "../../../quant/formats/mx.ts";
import { e2m1, e4m3 } from "../../../quant/formats/minifloat.ts";
import type { ElementFormat } from "../../../quant/formats/format.ts";
import { evenCode, nearestCode } from "./_brute.ts";
import { gaussianArray, rng } from "./_rng.ts";

const ALL = [mxfp4, mxfp6e3m2, mxfp6e2m3, mxfp8e4m3, mxfp8e5m2, mxint8];

function block(values: number[], n = 32): Float32Array {
  const x = new Float32Array(n);
  x.set(values);
  return x;
}

Deno.test("emax_elem and bits per weight follow OCP MX v1.0", () => {
  assertEquals(ALL.map((f) => f.emax), [2, 4, 2, 8, 15, 0]);
  assertEquals(ALL.map((f) => f.bitsPerWeight), [4.25, 6.25, 6.25, 8.25, 8.25, 8.25]);
  assertEquals(ALL.map((f) => f.blockSize), [32, 32, 32, 32, 32, 32]);
});

Deno.test("MXINT8 element: int8 · 2^-6, symmetric saturation, 0x80 reserved", () => {
  assertEquals(mxint8Element.decode(0x40), 1);
  assertEquals(mxint8Element.decode(0x7f), 1.984375);
  assertEquals(mxint8Element.decode(0x80), -2);
  assertEquals(mxint8Element.encode(-2), 0x81);
  assertEquals(mxint8Element.encode(1.9999), 0x7f);
  assertEquals(mxint8Element.encode(1.5 / 64), 2); // 1.5 → 2 (ties to even)
  assertEquals(mxint8Element.encode(2.5 / 64), 2);
  for (let c = 0; c < 256; c++) {
    if (c !== 0x80) assertEquals(mxint8Element.encode(mxint8Element.decode(c)), c);
  }
});

Deno.test("shared exponent = floor(log2 amax) − emax on hand-made blocks", () => {
  const cases: [typeof mxfp4, number, number][] = [
    [mxfp4, 6, 127],
    [mxfp4, 7.99, 127],
    [mxfp4, 8, 128],
    [mxfp4, 0.75, 124],
    [mxfp8e4m3, 448, 127],
    [mxfp8e4m3, 500, 127],
    [mxfp8e4m3, 1, 119],
    [mxfp8e5m2, 1, 112],
    [mxfp6e3m2, 28, 127],
    [mxfp6e2m3, 7.5, 127],
    [mxint8, 1, 127],
    [mxint8, 1.999, 127],
    [mxint8, 2, 128],
  ];
  for (const [f, amax, code] of cases) {
    const q = f.quantize(block([amax * 0.5, -amax, 0.01]));
    assertEquals(q.scales[0], code, `${f.name} amax=${amax}`);
  }
  assertEquals(mxSharedExponent(2 ** -140, 2), -127); // clamped to the E8M0 range
  assertEquals(mxSharedExponent(2 ** 127, 0), 127);
  // saturation inside the block: 7.99 / 2^0 → 6; 1.999 · 64 → 127
  assertEquals(mxfp4.quantize(block([7.99])).codes[0], 0x7);
  assertEquals(mxint8.quantize(block([1.999])).codes[0], 0x7f);
  assertEquals(mxint8.quantize(block([-2])).codes[0], 0xc0); // −2 → scale 2, element −1
  assertEquals(mxfp8e4m3.dequantize(mxfp8e4m3.quantize(block([500])))[0], 448);
});

/** Expected dequantized value of x in a block with shared exponent s: brute-force nearest. */
function expected(el: ElementFormat, x: number, s: number): number {
  const X = 2 ** s;
  const codes: number[] = [];
  for (let c = 0; c < el.values.length; c++) {
    if (!el.reserved.includes(c) && Number.isFinite(el.values[c])) codes.push(c);
  }
  const y = Math.min(el.maxValue, Math.max(-el.maxValue, x / X));
  return el.values[nearestCode(y, { codes, value: (c) => el.values[c], tie: evenCode })] * X;
}

function refExponent(amax: number, emax: number): number {
  if (amax === 0) return -127;
  let e = Math.floor(Math.log2(amax));
  while (2 ** e > amax) e--;
  while (2 ** (e + 1) <= amax) e++;
  return Math.max(-127, Math.min(127, e - emax));
}

Deno.test("random Gaussian blocks (with a partial last block) match the brute-force rule", () => {
  const r = rng(77);
  for (const f of ALL) {
    const x = gaussianArray(r, 32 * 20 + 7, 0.02);
    for (let i = 0; i < x.length; i += 53) x[i] *= 40; // outliers
    const q = f.quantize(x);
    assertEquals(q.scales.length, 21);
    const y = f.dequantize(q);
    for (let b = 0; b < 21; b++) {
      const part = x.subarray(b * 32, b * 32 + 32);
      const s = refExponent(Math.max(...Array.from(part, Math.abs)), f.emax);
      assertEquals(q.scales[b], s + 127, `${f.name} block ${b}`);
      for (let i = b * 32; i < Math.min(x.length, b * 32 + 32); i++) {
        // === (not Object.is): minifloats keep the sign of zero, the brute force does not
        const want = Math.fround(expected(f.element, x[i], s));
        assert(y[i] === want, `${f.name} x[${i}]=${x[i]}: ${y[i]} !== ${want}`);
      }
    }
  }
});

Deno.test("all-zero block: scale code 0 (2^-127), zero codes, zeros back, no NaN", () => {
  for (const f of ALL) {
    const x = new Float32Array(64);
    x[40] = 3;
    const q = f.quantize(x);
    assertEquals(q.scales[0], 0);
    assert(q.codes.subarray(0, 32).every((c) => c === 0), f.name);
    const y = f.dequantize(q);
    assert(y.subarray(0, 32).every((v) => v === 0), f.name);
    assert(y.every(Number.isFinite));
  }
});

Deno.test("a single huge outlier flushes its block's small values to zero", () => {
  const x = block([1e30, 1, -1, 0.5, 1e26]);
  const q = mxfp4.quantize(x);
  assertEquals(q.scales[0], 127 + 99 - 2);
  const y = mxfp4.dequantize(q);
  assertEquals(y[0], 6 * 2 ** 97); // 1e30 / 2^97 = 6.3 saturates to 6
  assertEquals(Array.from(y.subarray(1, 4)), [0, -0, 0]); // e2m1 keeps the sign of zero
  assertEquals(y[4], 0); // 1e26 / 2^97 ≈ 6.3e-4 < 0.25
});

Deno.test("subnormal inputs: the clamped exponent −127 underflows e2m1 but not e4m3", () => {
  const tiny = Math.fround(1e-40); // an f32 subnormal
  const x = block([tiny, -tiny / 2]);
  assertEquals(mxfp4.quantize(x).scales[0], 0);
  assertEquals(Array.from(mxfp4.dequantize(mxfp4.quantize(x)).subarray(0, 2)), [0, -0]);
  const y = mxfp8e4m3.dequantize(mxfp8e4m3.quantize(x));
  assert(y[0] > 0 && Math.abs(y[0] - tiny) / tiny < 0.07, `${y[0]}`);
  assertEquals(y[0], e4m3.decode(e4m3.encode(tiny * 2 ** 127)) * 2 ** -127);
});

Deno.test("NaN/Inf input throws naming the index; wrong data is refused", () => {
  const x = block([1, 2]);
  x[37 - 32] = NaN;
  assertThrows(() => mxfp4.quantize(x), RangeError, "mxfp4[5] is NaN");
  assertThrows(() => mxfp8e4m3.quantize([1, -Infinity]), RangeError, "[1] is -Infinity");
  const q = mxfp4.quantize(block([1]));
  assertThrows(() => mxfp8e4m3.dequantize(q), TypeError);
  assertEquals(mxFormat("mxfp4_g16", e2m1, 16).bitsPerWeight, 4.5);
});
