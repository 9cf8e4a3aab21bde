import { assert, assertEquals, assertThrows } from "@std/assert";
import { log2x4, logFormat, logsqrt2x4 } from "../../../quant/formats/log2.ts";
import { evenCode, nearestCode } from "./_brute.ts";
import { inputsFor, rng } from "./_rng.ts";

Deno.test("power-of-two table: ±{0, 2^-6, …, 1}, −0 code reserved", () => {
  assertEquals(Array.from(log2x4.values.slice(0, 8)), [
    0,
    2 ** -6,
    2 ** -5,
    2 ** -4,
    0.125,
    0.25,
    0.5,
    1,
  ]);
  assertEquals(log2x4.decode(15), -1);
  assertEquals(log2x4.reserved, [8]);
  assertThrows(() => logFormat(1), RangeError);
});

Deno.test("power-of-√2 table: levels 2^(−k/2), rounded to f32", () => {
  const v = logsqrt2x4.values;
  assertEquals(v[7], 1);
  assertEquals(v[6], Math.fround(Math.SQRT1_2));
  assertEquals(v[5], 0.5);
  assertEquals(v[1], 0.125); // 2^-3
  assertEquals(v[2], Math.fround(2 ** -2.5));
  for (let m = 2; m < 8; m++) assert(Math.abs(v[m] / v[m - 1] - Math.SQRT2) < 1e-6);
});

function bruteLog(f: ReturnType<typeof logFormat>, x: number): number {
  const half = f.values.length / 2;
  const codes = Array.from({ length: half }, (_, c) => c);
  const a = Math.min(Math.abs(x), 1);
  let m: number;
  if (f.rounding === "linear") {
    m = nearestCode(a, { codes, value: (c) => f.values[c], tie: evenCode });
  } else {
    // zero sits one ratio step below the smallest level in the log domain
    const logv = (
      c: number,
    ) => (c === 0 ? Math.log2(f.values[1] / f.ratio) : Math.log2(f.values[c]));
    m = nearestCode(a, {
      codes,
      value: (c) => c,
      dist: (y, c) => (y === 0 ? (c === 0 ? 0 : Infinity) : Math.abs(Math.log2(y) - logv(c))),
      tie: evenCode,
    });
  }
  return m === 0 ? 0 : m | (x < 0 ? half : 0);
}

Deno.test("log and linear rounding match brute-force nearest (log: away from threshold roundoff)", () => {
  const r = rng(21);
  for (
    const f of [
      log2x4,
      logsqrt2x4,
      logFormat(4, { rounding: "linear" }),
      logFormat(4, { base: "sqrt2", rounding: "linear" }),
      logFormat(3),
      logFormat(8, { base: "sqrt2" }),
    ]
  ) {
    for (let c = 0; c < f.values.length; c++) {
      if (!f.reserved.includes(c)) assertEquals(f.encode(f.decode(c)), c, `${f.name} ${c}`);
    }
    let n = 0;
    for (const x of inputsFor(f.values, r, 1000)) {
      const a = Math.abs(x);
      // in the log domain, skip inputs within 1e−12 (relative) of a threshold: binary64 log2 noise
      if (
        f.rounding === "log" && Array.from(f.thresholds).some((t) => Math.abs(a - t) <= 1e-12 * t)
      ) {
        continue;
      }
      assertEquals(f.encode(x), bruteLog(f, x), `${f.name} x=${x}`);
      n++;
    }
    assert(n > 2000);
  }
});

Deno.test("thresholds: log uses geometric means, linear uses midpoints; ties to even", () => {
  assertEquals(log2x4.thresholds[6], Math.SQRT1_2); // between 0.5 and 1
  assertEquals(log2x4.thresholds[0], 2 ** -6 / Math.SQRT2);
  const lin = logFormat(4, { rounding: "linear" });
  assertEquals(lin.thresholds[6], 0.75);
  assertEquals(lin.encode(0.75), 6); // tie between m = 6 and 7 → 6
  assertEquals(lin.encode(0.375), 6); // tie between m = 5 and 6 → 6
  assertEquals(lin.encode(2 ** -7), 0); // tie between 0 and 2^-6 → 0
  assertEquals(log2x4.encode(-0.72), 15);
  assertEquals(log2x4.encode(-1e-9), 0);
  assertEquals(log2x4.encode(5), 7);
  assertThrows(() => log2x4.encode(NaN), RangeError);
});
