import { assertEquals, assertRejects, assertStringIncludes, assertThrows } from "@std/assert";
import {
  MAX_HEADER_BYTES,
  openSafetensors,
  parseSafetensors,
  SafetensorsError,
} from "../../model/safetensors.ts";
import { craft } from "./safetensors_helpers.ts";

const w = (dtype: unknown, shape: unknown, offsets: unknown) => ({
  dtype,
  shape,
  data_offsets: offsets,
});
const d = (n: number) => new Uint8Array(n);

/** [case, bytes, field the error must name, text the message must contain] */
const MALFORMED: [string, Uint8Array, string, string][] = [
  ["empty file", d(0), "header length", "too short"],
  ["truncated header length", d(5), "header length", "too short"],
  ["header length larger than the file", craft("{}", d(0), 100n), "header length", "only 2 bytes"],
  [
    "header length over the bound",
    craft("{}", d(0), BigInt(MAX_HEADER_BYTES + 1)),
    "header length",
    "over the 100000000-byte limit",
  ],
  ["header length near 2^64", craft("{}", d(0), 2n ** 64n - 1n), "header length", "limit"],
  ["not JSON", craft("{nope", d(0)), "header", "not valid JSON"],
  ["not UTF-8", craft('{"\xff"}', d(0)).map((b, i) => (i === 10 ? 0xff : b)), "header", "UTF-8"],
  ["JSON array", craft("[1, 2]", d(0)), "header", 'expected "{"'],
  ["JSON null", craft("null", d(0)), "header", 'expected "{"'],
  ["entry not an object", craft({ w: 5 }, d(0)), "entry", "expected an object"],
  ["missing dtype", craft({ w: { shape: [1], data_offsets: [0, 4] } }, d(4)), "dtype", "missing"],
  ["unknown dtype", craft({ w: w("F33", [1], [0, 4]) }, d(4)), "dtype", '"F33" is not supported'],
  ["lowercase dtype", craft({ w: w("f32", [1], [0, 4]) }, d(4)), "dtype", "not supported"],
  ["dtype not a string", craft({ w: w(4, [1], [0, 4]) }, d(4)), "dtype", "not supported"],
  ["missing shape", craft({ w: { dtype: "F32", data_offsets: [0, 4] } }, d(4)), "shape", "missing"],
  ["negative shape", craft({ w: w("F32", [-1], [0, 4]) }, d(4)), "shape", "non-negative"],
  ["float shape", craft({ w: w("F32", [1.5], [0, 4]) }, d(4)), "shape", "non-negative integers"],
  ["shape not a list", craft({ w: w("F32", 4, [0, 4]) }, d(4)), "shape", "non-negative integers"],
  ["string in shape", craft({ w: w("F32", ["1"], [0, 4]) }, d(4)), "shape", "non-negative"],
  ["missing offsets", craft({ w: { dtype: "F32", shape: [1] } }, d(4)), "data_offsets", "missing"],
  ["three offsets", craft({ w: w("F32", [1], [0, 4, 8]) }, d(4)), "data_offsets", "pair"],
  ["negative offset", craft({ w: w("F32", [1], [-4, 0]) }, d(4)), "data_offsets", "non-negative"],
  ["begin after end", craft({ w: w("F32", [0], [4, 0]) }, d(4)), "data_offsets", "begin > end"],
  [
    "offsets out of bounds",
    craft({ w: w("F32", [2], [0, 8]) }, d(4)),
    "data_offsets",
    "ends past the data section, which is 4 bytes",
  ],
  [
    "wrong byte length",
    craft({ w: w("F32", [3], [0, 10]) }, d(10)),
    "data_offsets",
    "[0, 10] has 10 bytes but dtype F32 × shape [3] needs 12",
  ],
  [
    "overlapping tensors",
    craft({ a: w("F32", [2], [0, 8]), b: w("F32", [2], [4, 12]) }, d(12)),
    "data_offsets",
    'overlap tensor "a"',
  ],
  [
    "same bytes twice",
    craft({ a: w("U8", [4], [0, 4]), b: w("U8", [4], [0, 4]) }, d(4)),
    "data_offsets",
    "overlap",
  ],
  [
    "gap between tensors",
    craft({ a: w("F32", [1], [0, 4]), b: w("F32", [1], [8, 12]) }, d(12)),
    "data_offsets",
    "gap: bytes 4..8",
  ],
  ["gap at the start", craft({ a: w("U8", [2], [2, 4]) }, d(4)), "data_offsets", "gap: bytes 0..2"],
  [
    "trailing bytes no tensor owns",
    craft({ a: w("U8", [2], [0, 2]) }, d(5)),
    "data_offsets",
    "3 trailing bytes",
  ],
  [
    "metadata value not a string",
    craft({ __metadata__: { bits: 4 }, a: w("U8", [1], [0, 1]) }, d(1)),
    "__metadata__",
    '"bits" is number 4',
  ],
  ["metadata a list", craft({ __metadata__: ["x"] }, d(0)), "__metadata__", "an array"],
];

for (const [name, bytes, field, text] of MALFORMED) {
  Deno.test(`malformed: ${name} -> SafetensorsError naming ${field}`, () => {
    const e = assertThrows(() => parseSafetensors(bytes, "bad.safetensors"), SafetensorsError);
    assertEquals((e as SafetensorsError).field, field, e.message);
    assertStringIncludes(e.message, "bad.safetensors: ");
    assertStringIncludes(e.message, text);
    assertStringIncludes(e.message, field === "entry" ? "w" : field.split(" ")[0]);
  });
}

Deno.test("malformed files on disk fail the same way through openSafetensors, and close their handle", async () => {
  const dir = await Deno.makeTempDir();
  for (const [name, bytes, field] of MALFORMED.slice(0, 12)) {
    const path = `${dir}/case.safetensors`;
    await Deno.writeFile(path, bytes);
    const e = await assertRejects(() => openSafetensors(path), SafetensorsError);
    assertEquals((e as SafetensorsError).field, field, `${name}: ${e.message}`);
    assertStringIncludes(e.message, path);
  }
  // The resource sanitizer of Deno.test fails this test if any handle stayed open.
});

Deno.test("valid edge cases: no tensors, zero-size tensors, null metadata", async () => {
  assertEquals(parseSafetensors(craft("{}", d(0))).names, []);
  const zero = parseSafetensors(
    craft({ __metadata__: null, e: w("F32", [0, 3], [0, 0]), u: w("U8", [2], [0, 2]) }, d(2)),
  );
  assertEquals(zero.names, ["e", "u"]);
  assertEquals((await zero.read("e")).data, new Float32Array(0));
  assertEquals(zero.metadata, {});
});
