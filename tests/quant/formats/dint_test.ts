import { assertEquals, assertThrows } from "@std/assert";
import { dint4, dintFormat } from "../../../quant/formats/dint.ts";
import { nearestCode } from "./_brute.ts";
import { inputsFor, rng } from "./_rng.ts";

Deno.test("dint4 table: ±{0, 0.5, 1, …, 6}, −0 reserved", () => {
  assertEquals(Array.from(dint4.values.slice(0, 8)), [0, 0.5, 1, 2, 3, 4, 5, 6]);
  assertEquals(Array.from(dint4.values.slice(9)), [-0.5, -1, -2, -3, -4, -5, -6]);
  assertEquals(dint4.maxValue, 6);
  assertEquals(dint4.reserved, [8]);
  assertThrows(() => dintFormat(2), RangeError);
  assertThrows(() => dintFormat(4, 1), RangeError);
});

/** Nearest; ties prefer an integer value, and among integers the even one. */
function brute(f: typeof dint4, x: number): number {
  const half = f.values.length / 2;
  const codes = Array.from({ length: half }, (_, c) => c);
  const v = (c: number) => f.values[c];
  const rank = (c: number) => (Number.isInteger(v(c)) ? (v(c) % 2 === 0 ? 0 : 1) : 2);
  const m = nearestCode(Math.min(Math.abs(x), f.maxValue), {
    codes,
    value: v,
    tie: (a, b) => (rank(a) <= rank(b) ? a : b),
  });
  return m === 0 ? 0 : m | (x < 0 ? half : 0);
}

Deno.test("dint encode matches brute force (ties: integers as INT, 0.25 → 0, 0.75 → 1)", () => {
  const r = rng(31);
  for (const f of [dint4, dintFormat(3), dintFormat(8), dintFormat(4, 0.25)]) {
    for (let c = 0; c < f.values.length; c++) {
      if (!f.reserved.includes(c)) assertEquals(f.encode(f.decode(c)), c, `${f.name} ${c}`);
    }
    for (const x of inputsFor(f.values, r, 1000)) {
      assertEquals(f.encode(x), brute(f, x), `${f.name} x=${x}`);
    }
  }
  assertEquals(dint4.encode(0.25), 0);
  assertEquals(dint4.encode(0.75), 2); // value 1
  assertEquals(dint4.decode(dint4.encode(2.5)), 2);
  assertEquals(dint4.decode(dint4.encode(-100)), -6);
  assertThrows(() => dint4.encode(NaN), RangeError);
});
