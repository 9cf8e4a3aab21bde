import { assert, assertGreater, assertLess } from "@std/assert";
import {
  INDEX_FILE,
  openCheckpoint,
  parseSafetensors,
  SafetensorsError,
  writeShardedSafetensors,
} from "../../model/safetensors.ts";
import { isFloatDtype } from "../../model/safetensors_dtype.ts";
import { craft } from "./safetensors_helpers.ts";
import { below, byteMutations, pick, rng as seeded } from "../_fuzz.ts";

/** mulberry32: a small seeded generator, so a failure can be replayed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const SEEDS: Uint8Array[] = [
  craft({
    __metadata__: { format: "pt" },
    a: { dtype: "F32", shape: [2, 2], data_offsets: [0, 16] },
    b: { dtype: "BF16", shape: [3], data_offsets: [16, 22] },
    c: { dtype: "I8", shape: [2], data_offsets: [22, 24] },
  }, new Uint8Array(24).map((_, i) => i * 7)),
  craft({ x: { dtype: "F16", shape: [], data_offsets: [0, 2] } }, new Uint8Array([0, 60])),
  craft("{}", new Uint8Array(0)),
];

const JSON_BITS = [
  '"',
  "{",
  "}",
  "[",
  "]",
  ",",
  ":",
  "-",
  "1e309",
  "0",
  "9007199254740993",
  "null",
];

type Mutation = (b: Uint8Array, r: () => number) => Uint8Array;

/** The header text and the data bytes, reading the length field as far as the bytes allow. */
function split(b: Uint8Array): [string, Uint8Array] {
  if (b.length < 8) return ["", new Uint8Array(0)];
  const n = Math.min(
    Number(new DataView(b.buffer, b.byteOffset).getBigUint64(0, true)),
    b.length - 8,
  );
  return [new TextDecoder().decode(b.subarray(8, 8 + n)), b.subarray(8 + n)];
}

const MUTATIONS: Mutation[] = [
  // truncate anywhere
  (b, r) => b.slice(0, Math.floor(r() * b.length)),
  // flip a few bytes anywhere
  (b, r) => {
    const c = b.slice();
    for (let k = 1 + Math.floor(r() * 4); k > 0; k--) {
      c[Math.floor(r() * c.length)] ^= 1 << (r() * 8);
    }
    return c;
  },
  // random bytes over part of the header
  (b, r) => {
    const c = b.slice();
    const at = 8 + Math.floor(r() * Math.max(1, c.length - 8));
    for (let i = at; i < Math.min(c.length, at + 1 + r() * 8); i++) c[i] = Math.floor(r() * 256);
    return c;
  },
  // a huge or random header length
  (b, r) => {
    const c = b.slice();
    const v = [2n ** 64n - 1n, 2n ** 63n, BigInt(Math.floor(r() * 2 ** 40)), BigInt(c.length)];
    if (c.length >= 8) new DataView(c.buffer).setBigUint64(0, v[Math.floor(r() * v.length)], true);
    return c;
  },
  // splice a JSON token into the header and fix up the length field
  (b, r) => {
    const [text, data] = split(b);
    const at = Math.floor(r() * text.length);
    const cut = Math.floor(r() * 3);
    const json = text.slice(0, at) + JSON_BITS[Math.floor(r() * JSON_BITS.length)] +
      text.slice(at + cut);
    return craft(json, data);
  },
  // change a number in the header (shape or offset) and fix up the length field
  (b, r) => {
    const [text, data] = split(b);
    const nums = [...text.matchAll(/\d+/g)];
    if (nums.length === 0) return b;
    const m = nums[Math.floor(r() * nums.length)];
    const v = [0, 1, 2, 3, 4, 8, 16, 24, 25, 2 ** 53, 1e21][Math.floor(r() * 11)];
    return craft(
      text.slice(0, m.index) + v + text.slice(m.index! + m[0].length),
      data,
    );
  },
  // append or drop data bytes
  (b, r) => {
    if (r() < 0.5) return b.slice(0, Math.max(0, b.length - 1 - Math.floor(r() * 4)));
    const c = new Uint8Array(b.length + 1 + Math.floor(r() * 4));
    c.set(b);
    return c;
  },
];

Deno.test("fuzz: every mutated file either parses and reads, or throws a SafetensorsError", async () => {
  const r = rng(20240611);
  const start = performance.now();
  let valid = 0;
  let rejected = 0;
  const outcomes = new Map<string, number>();
  for (let i = 0; i < 4000; i++) {
    let bytes = SEEDS[Math.floor(r() * SEEDS.length)];
    for (let k = 1 + Math.floor(r() * 2); k > 0; k--) {
      bytes = MUTATIONS[Math.floor(r() * MUTATIONS.length)](bytes, r);
    }
    try {
      const file = parseSafetensors(bytes, "fuzz.safetensors");
      for (const name of file.names) {
        const info = file.info(name);
        const t = await file.read(name);
        assert(t.data.byteLength === info.byteLength, `case ${i}: ${name} byte length`);
        if (isFloatDtype(info.dtype)) await file.read(name, { as: "f32" });
      }
      valid++;
    } catch (e) {
      if (!(e instanceof SafetensorsError)) {
        throw new Error(`case ${i}: ${Deno.inspect(bytes.slice(0, 200))} threw ${e}`);
      }
      assert(e.message.startsWith("fuzz.safetensors: "), e.message);
      const key = e.field ?? "other";
      outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
      rejected++;
    }
  }
  // Both outcomes must occur, or the mutations are not exercising the parser.
  assertGreater(valid, 100);
  assertGreater(rejected, 1000);
  for (const field of ["header length", "header", "dtype", "shape", "data_offsets"]) {
    assertGreater(outcomes.get(field) ?? 0, 10, `few rejections for ${field}: ${[...outcomes]}`);
  }
  assertLess(performance.now() - start, 5000);
});

Deno.test("fuzz: a damaged sharded checkpoint on disk opens and reads, or fails naming its file", async () => {
  const dir = await Deno.makeTempDir();
  try {
    // a sharded checkpoint: F32, BF16, F16 and I8 tensors
    const out = await writeShardedSafetensors(dir, {
      "model.a": {
        dtype: "F32",
        shape: [4, 3],
        data: Float32Array.from({ length: 12 }, (_, i) => i),
      },
      "model.b": { dtype: "BF16", shape: [5], data: new Float32Array([1, -2, 3.5, 0, 8]) },
      "model.c": { dtype: "F16", shape: [2, 2], data: new Float32Array([0.5, 1, 2, 4]) },
      "model.d": { dtype: "I8", shape: [6], data: new Int8Array([1, -1, 2, -2, 3, -3]) },
    }, { maxShardBytes: 24 });
    const shards = out.files.map((f) => f.split("/").pop()!);
    assert(shards.length >= 2, `${shards.length} shards`);
    const original = new Map<string, Uint8Array>();
    for (const f of [...shards, INDEX_FILE]) original.set(f, await Deno.readFile(`${dir}/${f}`));
    const index = JSON.parse(new TextDecoder().decode(original.get(INDEX_FILE)!));
    const indexEdits: ((r: () => number) => string)[] = [
      (r) => { // a shard name changed or pointed outside the folder
        const j = structuredClone(index);
        const t = pick(r, Object.keys(j.weight_map));
        j.weight_map[t] = pick(r, [
          "missing.safetensors",
          "../x.safetensors",
          "",
          7,
          null,
          shards[0],
        ]);
        return JSON.stringify(j);
      },
      (r) =>
        JSON.stringify(
          pick(r, [null, [], { weight_map: [] }, { metadata: {} }, { weight_map: "x" }]),
        ),
      (r) => { // a token spliced in, or cut short
        const t = JSON.stringify(index);
        const at = below(r, t.length);
        return r() < 0.5
          ? t.slice(0, at)
          : t.slice(0, at) + pick(r, ['"', "}", ",", "null"]) + t.slice(at);
      },
    ];
    const bytes = byteMutations(0);
    const r = seeded(99);
    let opened = 0, rejected = 0, slowest = 0;
    const start = performance.now();
    let damaged = INDEX_FILE;
    for (let i = 0; i < 300; i++) {
      await Deno.writeFile(`${dir}/${damaged}`, original.get(damaged)!); // undo the last case
      let what: string;
      if (r() < 0.25) {
        await Deno.writeTextFile(`${dir}/${INDEX_FILE}`, pick(r, indexEdits)(r));
        what = damaged = INDEX_FILE;
      } else {
        const f = damaged = pick(r, shards);
        const [name, mutate] = pick(r, bytes);
        await Deno.writeFile(
          `${dir}/${f}`,
          mutate(original.get(f)!, r, original.get(pick(r, shards))!),
        );
        what = `${f}: ${name}`;
      }
      const t0 = performance.now();
      try {
        await using ckpt = await openCheckpoint(dir);
        for (const name of ckpt.names) {
          const info = ckpt.info(name);
          const t = await ckpt.read(name);
          assert(t.data.byteLength === info.byteLength, `case ${i} (${what}): ${name}`);
          if (isFloatDtype(info.dtype)) await ckpt.read(name, { as: "f32" });
        }
        opened++;
      } catch (e) {
        assert(e instanceof SafetensorsError, `case ${i} (${what}) threw ${e}`);
        assert(
          e.message.startsWith(`${dir}/`) && e.file.startsWith(`${dir}/`),
          `case ${i} (${what}) does not name the file: ${e.message}`,
        );
        rejected++;
      }
      slowest = Math.max(slowest, performance.now() - t0);
    }
    const ms = performance.now() - start;
    console.log(
      `300 cases: ${opened} opened and read, ${rejected} rejected; slowest ${
        slowest.toFixed(0)
      } ms, all ${ms.toFixed(0)} ms`,
    );
    assertGreater(opened, 20);
    assertGreater(rejected, 150);
    assertLess(slowest, 2000); // no case hangs
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
