import { assert, assertEquals, assertThrows } from "@std/assert";
import {
  describe,
  elementFormat,
  fromJSON,
  int,
  MAX_KL_BINS,
  mxfp4,
  nf4,
  nvfp4,
  quantizer,
  ternary,
  withSettings,
} from "../../quant/quantizer.ts";

const good = JSON.parse(JSON.stringify(int(4, { group: 32 })));

/** Asserts that `fn` throws an error of `E` whose message holds every part. */
function throwsNaming(fn: () => unknown, E: typeof Error, ...parts: string[]) {
  const e = assertThrows(fn, E);
  for (const p of parts) assert(e.message.includes(p), `"${p}" missing from: ${e.message}`);
}

Deno.test("format names are own names only: inherited properties are unknown formats", () => {
  for (const name of ["constructor", "toString", "__proto__", "hasOwnProperty", "valueOf"]) {
    throwsNaming(() => elementFormat(name), RangeError, `unknown format "${name}"`);
    throwsNaming(() => quantizer(name), RangeError, `format is "${name}"; an unknown format`);
    throwsNaming(() => fromJSON(JSON.stringify({ ...good, format: name })), RangeError, "format");
  }
  assertEquals(elementFormat("int4").bits, 4);
  assertEquals(elementFormat("uint3").values.length, 8);
});

Deno.test("quantizer JSON round-trips every builder", () => {
  for (
    const q of [
      int(4, { group: 32 }),
      int(3, { symmetric: false, per: "channel-in" }),
      int(8, { per: "token", rounding: { kind: "stochastic", seed: 7 } }),
      int(8, { range: { kind: "kl", bins: 2048 } }),
      int(4, { range: { kind: "mse", grid: 20, minRatio: 0.5 } }),
      int(4, { range: { kind: "percentile", p: 99.9 } }),
      mxfp4(),
      nvfp4(),
      nf4(),
      ternary({ median: true }),
    ]
  ) {
    const back = fromJSON(JSON.stringify(q));
    assertEquals(back, q);
    assertEquals(describe(back), describe(q));
  }
});

Deno.test("quantizer JSON: every field is checked, and the error names it and the allowed values", () => {
  const bad = (o: unknown, E: typeof Error, ...parts: string[]) =>
    throwsNaming(() => fromJSON(JSON.stringify(o)), E, "quantizer JSON", ...parts);
  throwsNaming(() => fromJSON("null"), TypeError, "quantizer JSON", "expected an object", "null");
  throwsNaming(() => fromJSON("[1]"), TypeError, "expected an object");
  throwsNaming(() => fromJSON("7"), TypeError, "expected an object");
  throwsNaming(() => fromJSON("{"), SyntaxError, "not valid JSON");
  for (const field of ["format", "symmetric", "granularity", "rounding", "range", "scale"]) {
    bad({ ...good, [field]: undefined }, Error, `${field} is missing`);
    bad({ ...good, [field]: null }, Error, `${field} is null`);
  }
  bad({ ...good, extra: 1 }, TypeError, 'unknown field "extra"');
  bad({ ...good, format: 4 }, TypeError, "format is 4");
  bad(
    { ...good, format: "int9" },
    RangeError,
    'format is "int9"; an unknown format; allowed: int8',
  );
  bad({ ...good, symmetric: "yes" }, TypeError, 'symmetric is "yes"', "true or false");
  bad({ ...good, granularity: "group" }, TypeError, "granularity is", '"tensor", "channel"');
  bad({ ...good, granularity: { kind: "block" } }, RangeError, 'granularity.kind is "block"');
  bad({ ...good, granularity: { kind: "group" } }, RangeError, "granularity.size is missing");
  bad({ ...good, granularity: { kind: "group", size: 0 } }, RangeError, "granularity.size is 0");
  bad({ ...good, granularity: { kind: "group", size: 2.5 } }, RangeError, "size is 2.5");
  bad({ ...good, granularity: { kind: "channel", axis: 2 } }, RangeError, "axis is 2");
  bad({ ...good, granularity: { kind: "tensor", size: 4 } }, TypeError, 'no field "size"');
  bad(
    { ...good, rounding: { kind: "floor" } },
    RangeError,
    'rounding.kind is "floor"',
    '"nearest", "stochastic"',
  );
  bad({ ...good, rounding: { kind: "stochastic" } }, RangeError, "rounding.seed is missing");
  bad({ ...good, rounding: { kind: "stochastic", seed: -1 } }, RangeError, "rounding.seed is -1");
  bad({ ...good, rounding: { kind: "stochastic", seed: "1" } }, RangeError, 'rounding.seed is "1"');
  bad({ ...good, range: { kind: "entropy" } }, RangeError, 'range.kind is "entropy"', '"kl"');
  bad(
    { ...good, range: { kind: "kl", bins: 1e9 } },
    RangeError,
    "range.bins is 1000000000",
    `${MAX_KL_BINS}`,
  );
  bad({ ...good, range: { kind: "kl" } }, RangeError, "range.bins is missing");
  bad({ ...good, range: { kind: "percentile", p: 0 } }, RangeError, "range.p is 0");
  bad({ ...good, range: { kind: "mse", grid: 1e9, minRatio: 0.5 } }, RangeError, "range.grid");
  bad(
    { ...good, range: { kind: "mse", grid: 10, minRatio: 2 } },
    RangeError,
    "range.minRatio is 2",
  );
  bad({ ...good, scale: "bf16" }, RangeError, 'scale is "bf16"', '"f32", "f16", "e8m0", "e4m3"');
  bad({ ...good, format: "e2m1", symmetric: false }, RangeError, "integer format");
  bad({ ...good, scale: "e8m0", granularity: { kind: "tensor" } }, RangeError, "group granularity");
  // "constructor" as a kind, not just as a format
  bad({ ...good, range: { kind: "constructor" } }, RangeError, 'range.kind is "constructor"');
});

Deno.test("builders check the same schema: no unknown rounding can pass as stochastic", () => {
  const floor = { kind: "floor" } as unknown as { kind: "nearest" };
  throwsNaming(() => int(4, { rounding: floor }), RangeError, 'rounding.kind is "floor"');
  throwsNaming(() => withSettings(int(4), { rounding: floor }), RangeError, "rounding.kind");
  assert(
    describe(int(4, { rounding: { kind: "stochastic", seed: 3 } })).includes("stochastic (seed 3)"),
  );
  // the quantizer keeps its own copy: changing the options afterwards changes nothing
  const rounding = { kind: "stochastic" as const, seed: 3 };
  const q = int(4, { rounding });
  rounding.seed = 4;
  assertEquals(q.rounding, { kind: "stochastic", seed: 3 });
});
