import { assertEquals, assertRejects, assertThrows } from "@std/assert";
import {
  openCheckpoint,
  openSafetensors,
  parseSafetensors,
  type SafetensorsReader,
  type TensorInput,
  writeSafetensors,
  writeShardedSafetensors,
} from "../../model/safetensors.ts";
import { checkSliceBytes, planSlices } from "../../model/safetensors_slices.ts";

Deno.test("planSlices: neighbours merge up to sliceBytes, large tensors split at multiples of it", () => {
  const plan = planSlices([
    { name: "c", begin: 20, end: 21 }, // given out of order: planned in file order
    { name: "a", begin: 0, end: 6 },
    { name: "b", begin: 6, end: 20 },
    { name: "gap", begin: 24, end: 26 }, // bytes 21..24 belong to a tensor not asked for
    { name: "empty", begin: 26, end: 26 },
    { name: "big", begin: 26, end: 61 },
    { name: "z", begin: 61, end: 63 },
  ], 16);
  const summary = plan.map((s) => ({
    at: s.offset,
    len: s.length,
    parts: s.parts.map((p) => `${p.name}@${p.start}:${p.offset}+${p.length}/${p.total}`),
  }));
  assertEquals(summary, [
    { at: 0, len: 6, parts: ["a@0:0+6/6"] }, // a + b = 20 > 16
    { at: 6, len: 15, parts: ["b@0:0+14/14", "c@14:0+1/1"] },
    { at: 24, len: 2, parts: ["gap@0:0+2/2", "empty@2:0+0/0"] },
    { at: 26, len: 16, parts: ["big@0:0+16/35"] },
    { at: 42, len: 16, parts: ["big@0:16+16/35"] },
    { at: 58, len: 3, parts: ["big@0:32+3/35"] },
    { at: 61, len: 2, parts: ["z@0:0+2/2"] }, // nothing joins a split tensor's last part
  ]);
  // every byte asked for is covered exactly once
  const covered = plan.flatMap((s) => s.parts.map((p) => [s.offset + p.start, p.length]));
  assertEquals(covered.reduce((n, [, l]) => n + l, 0), 6 + 14 + 1 + 2 + 35 + 2);
});

Deno.test("checkSliceBytes: a positive multiple of 4, or the 64 MiB default", () => {
  assertEquals(checkSliceBytes(undefined, "f"), 64 * 2 ** 20);
  for (const bad of [0, 6, -4, 1.5, "8", NaN]) {
    assertThrows(() => checkSliceBytes(bad, "f"), RangeError, "not a positive multiple of 4");
  }
});

function tensors(): Record<string, TensorInput> {
  const out: Record<string, TensorInput> = {};
  for (let i = 0; i < 5; i++) {
    const n = 3 + 7 * i; // odd byte lengths for the 16-bit ones
    const data = new Float32Array(n).map((_, j) => i * 100 + j + 0.25);
    out[`t${i}.f32`] = { dtype: "F32", shape: [n], data };
    out[`t${i}.bf16`] = { dtype: "BF16", shape: [n], data };
    out[`t${i}.f16`] = { dtype: "F16", shape: [n], data };
  }
  return out;
}

/** Reassembles every tensor from the slices and compares it with `read(name, { as: "raw" })`. */
async function checkSlices(reader: SafetensorsReader, names: string[], sliceBytes: number) {
  const got = new Map<string, Uint8Array>();
  let slices = 0;
  for await (const s of reader.slices(names, { sliceBytes })) {
    slices++;
    if (s.bytes.length > sliceBytes) throw new Error(`slice of ${s.bytes.length} > ${sliceBytes}`);
    for (const p of s.parts) {
      const t = got.get(p.name) ?? new Uint8Array(p.total);
      t.set(s.bytes.subarray(p.start, p.start + p.length), p.offset);
      got.set(p.name, t);
    }
  }
  assertEquals([...got.keys()].sort(), [...new Set(names)].sort());
  for (const name of names) {
    assertEquals(got.get(name), (await reader.read(name, { as: "raw" })).data, name);
  }
  return slices;
}

Deno.test("slices give every byte of the tensors asked for (one file, in memory, sliced fine)", async () => {
  const dir = await Deno.makeTempDir();
  await writeSafetensors(`${dir}/m.safetensors`, tensors());
  await using file = await openSafetensors(`${dir}/m.safetensors`);
  const some = file.names.filter((n) => !n.startsWith("t2"));
  for (const sliceBytes of [4, 12, 64, 1 << 20]) {
    const n = await checkSlices(file, some, sliceBytes);
    // the file holds F32 t0…t4, then BF16 t0…t4, then F16 t0…t4: leaving out t2 makes 4 runs
    if (sliceBytes === 1 << 20) assertEquals(n, 4, "one read per run of neighbours");
  }
  await checkSlices(file, [...file.names, "t0.f32"], 8); // a name twice is read once
  const memory = parseSafetensors(await Deno.readFile(`${dir}/m.safetensors`));
  await checkSlices(memory, memory.names.slice(3), 20);
  await Deno.remove(dir, { recursive: true });
});

Deno.test("slices run across the shards of a checkpoint; unknown names fail at once", async () => {
  const dir = await Deno.makeTempDir();
  await writeShardedSafetensors(dir, tensors(), { maxShardBytes: 200 });
  await using ckpt = await openCheckpoint(dir);
  assertEquals(ckpt.files.length > 2, true);
  await checkSlices(ckpt, [...ckpt.names].reverse(), 16);
  await checkSlices(ckpt, [...ckpt.names], 1 << 16);
  assertThrows(() => ckpt.sliceJobs(["t0.f32", "nope"]), Error, "no such tensor");
  assertThrows(() => ckpt.slices(["t0.f32"], { sliceBytes: 10 }), RangeError, "sliceBytes 10");
  // stopping early leaves nothing dangling; the reader still works
  for await (const _ of ckpt.slices(ckpt.names, { sliceBytes: 8 })) break;
  assertEquals((await ckpt.read("t1.f32")).data.length, 10);
  ckpt.close();
  await assertRejects(
    async () => {
      for await (const _ of ckpt.slices(["t0.f32"])) { /* read */ }
    },
    Error,
    "closed",
  );
  await Deno.remove(dir, { recursive: true });
});
