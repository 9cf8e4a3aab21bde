import { assert, assertEquals, assertGreater, assertLess } from "@std/assert";
import {
  binary,
  bitsPerWeight,
  describe,
  fromJSON,
  int,
  mx,
  nf4,
  nvfp4,
  quantizer,
  ternary,
} from "../../quant/quantizer.ts";
import { below, pick, rng } from "../_fuzz.ts";

const SEEDS = [
  int(4, { group: 32 }),
  int(3, { symmetric: false, per: "channel-in", scale: "f32" }),
  int(8, { per: "token", rounding: { kind: "stochastic", seed: 9 } }),
  int(8, { range: { kind: "kl", bins: 2048 } }),
  int(4, { range: { kind: "mse", grid: 20, minRatio: 0.5 } }),
  int(6, { range: { kind: "percentile", p: 99.9 }, per: "tensor" }),
  mx("e4m3"),
  nvfp4(),
  nf4(),
  ternary({ median: true }),
  binary({ per: "channel" }),
  quantizer("log2_4", { group: 64 }),
].map((q) => JSON.parse(JSON.stringify(q)) as Record<string, unknown>);

/** Values that are the wrong kind, out of range, or prototype names. */
const WRONG: unknown[] = [
  null,
  true,
  0,
  -1,
  2.5,
  1e308,
  2 ** 53 + 2,
  -0,
  "",
  "null",
  "constructor",
  "toString",
  "__proto__",
  "hasOwnProperty",
  [],
  [1],
  {},
  { kind: "constructor" },
];
/** Tokens spliced into the JSON text. */
const TOKENS = ['"', "{", "}", "[", "]", ",", ":", "1e999", "-", "null", "NaN", "\\u0000"];

type Json = Record<string, unknown>;

/** Every path to a value in a JSON object: ["granularity", "size"], … */
function paths(o: Json, prefix: string[] = []): string[][] {
  return Object.entries(o).flatMap(([k, v]) =>
    v !== null && typeof v === "object" && !Array.isArray(v)
      ? [[...prefix, k], ...paths(v as Json, [...prefix, k])]
      : [[...prefix, k]]
  );
}

function edit(o: Json, path: string[], f: (parent: Json, key: string) => void): Json {
  const c = structuredClone(o);
  let parent = c;
  for (const k of path.slice(0, -1)) parent = parent[k] as Json;
  f(parent, path.at(-1)!);
  return c;
}

const MUTATIONS: [string, (o: Json, r: () => number) => string][] = [
  [
    "wrong value",
    (o, r) => JSON.stringify(edit(o, pick(r, paths(o)), (p, k) => (p[k] = pick(r, WRONG)))),
  ],
  ["field removed", (o, r) => JSON.stringify(edit(o, pick(r, paths(o)), (p, k) => delete p[k]))],
  [
    "field added",
    (o, r) =>
      JSON.stringify(
        edit(o, [...pick(r, paths(o)), pick(r, ["size", "seed", "bits", "x"])], (p, k) => {
          if (p !== null && typeof p === "object") p[k] = pick(r, WRONG);
        }),
      ),
  ],
  ["kind swapped", (o, r) => {
    const setting = pick(r, ["granularity", "rounding", "range"]);
    const kind = pick(r, [
      "tensor",
      "channel",
      "group",
      "token",
      "nearest",
      "stochastic",
      "minmax",
      "kl",
      "mse",
      "percentile",
      "absmean",
    ]);
    return JSON.stringify(edit(o, [setting, "kind"], (p, k) => (p[k] = kind)));
  }],
  [
    "number nudged",
    (o, r) =>
      JSON.stringify(o).replace(
        /-?\d+(\.\d+)?/g,
        (m) => (r() < 0.3 ? String(pick(r, [0, -1, 1e9, 1e21, 0.5, 65537, 4294967296])) : m),
      ),
  ],
  ["token spliced", (o, r) => {
    const s = JSON.stringify(o);
    const at = below(r, s.length);
    return s.slice(0, at) + pick(r, TOKENS) + s.slice(at + below(r, 3));
  }],
  ["truncated", (o, r) => JSON.stringify(o).slice(0, below(r, JSON.stringify(o).length))],
  ["byte flipped", (o, r) => {
    const b = new TextEncoder().encode(JSON.stringify(o));
    b[below(r, b.length)] ^= 1 << below(r, 7);
    return new TextDecoder().decode(b);
  }],
  ["not an object", (_o, r) => JSON.stringify(pick(r, [null, 7, "int4", [1, 2], true]))],
];

Deno.test("fuzz: quantizer JSON either loads a quantizer that round-trips or fails naming the field", () => {
  const r = rng(7);
  const start = performance.now();
  let loaded = 0, rejected = 0;
  const fields = new Map<string, number>();
  for (let i = 0; i < 600; i++) {
    const [name, mutate] = pick(r, MUTATIONS);
    const text = mutate(pick(r, SEEDS), r);
    try {
      const q = fromJSON(text);
      // a loaded quantizer is whole: it prints, sizes itself, and survives another round trip
      assertEquals(fromJSON(JSON.stringify(q)), q, `case ${i} (${name}): ${text}`);
      assert(describe(q).length > 0);
      const bits = bitsPerWeight(q, [64, 64]);
      assert(Number.isFinite(bits) && bits > 0, `case ${i}: ${bits} bits per weight`);
      loaded++;
    } catch (e) {
      assert(
        e instanceof TypeError || e instanceof RangeError || e instanceof SyntaxError,
        `case ${i} (${name}): ${text} threw ${e}`,
      );
      assert(e.message.startsWith("quantizer JSON"), `case ${i} (${name}): ${e.message}`);
      const field = /^quantizer JSON: ([a-z.A-Z]+) /.exec(e.message)?.[1] ??
        (e instanceof SyntaxError ? "syntax" : "other");
      fields.set(field, (fields.get(field) ?? 0) + 1);
      rejected++;
    }
  }
  console.log(
    `600 cases: ${loaded} loaded, ${rejected} rejected by ${
      [...fields].map(([k, v]) => `${k} ${v}`).join(", ")
    }`,
  );
  assertGreater(loaded, 30);
  assertGreater(rejected, 300);
  for (
    const f of ["format", "granularity.kind", "rounding.kind", "range.kind", "scale", "syntax"]
  ) {
    assertGreater(fields.get(f) ?? 0, 2, `few rejections naming ${f}: ${[...fields]}`);
  }
  assertLess(performance.now() - start, 3000);
});
