import { assertEquals, assertRejects, assertStringIncludes } from "@std/assert";
import {
  INDEX_FILE,
  openCheckpoint,
  SafetensorsError,
  SINGLE_FILE,
  type TensorInput,
  writeSafetensors,
  writeShardedSafetensors,
} from "../../model/safetensors.ts";

async function listDir(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) names.push(e.name);
  return names.sort();
}

function model(layers: number): Record<string, TensorInput> {
  const out: Record<string, TensorInput> = {};
  out["model.embed_tokens.weight"] = {
    dtype: "F32",
    shape: [4, 2],
    data: new Float32Array(8).map((_, i) => i),
  };
  for (let l = 0; l < layers; l++) {
    out[`model.layers.${l}.qweight`] = {
      dtype: "I32",
      shape: [2, 2],
      data: new Int32Array([l, -l, 1000 * l, 7]),
    };
    out[`model.layers.${l}.scales`] = {
      dtype: "BF16",
      shape: [2],
      data: new Float32Array([l + 0.5, -l]),
    };
  }
  return out;
}

Deno.test("a sharded checkpoint round-trips and its index lists every tensor", async () => {
  const dir = await Deno.makeTempDir();
  const tensors = model(5);
  const out = await writeShardedSafetensors(dir, tensors, {
    maxShardBytes: 40,
    metadata: { format: "pt" },
  });
  // embed 32 B | l0 16+4 B, l1 16 B | l1 scales 4, l2 16+4 | … : greedy, in the order given
  assertEquals(out.files.length > 2, true);
  assertEquals(out.index, `${dir}/${INDEX_FILE}`);
  const n = out.files.length;
  assertEquals(
    await listDir(dir),
    [
      ...out.files.map((f) => f.slice(dir.length + 1)),
      INDEX_FILE,
    ].sort(),
  );
  assertEquals(out.files[0], `${dir}/model-00001-of-${String(n).padStart(5, "0")}.safetensors`);
  const index = JSON.parse(await Deno.readTextFile(out.index!));
  assertEquals(Object.keys(index.weight_map).sort(), Object.keys(tensors).sort());
  assertEquals(index.metadata.total_size, 32 + 5 * (16 + 4));

  await using ckpt = await openCheckpoint(dir);
  assertEquals([...ckpt.names].sort(), Object.keys(tensors).sort());
  assertEquals(ckpt.files, out.files);
  assertEquals(ckpt.metadata, { format: "pt" });
  assertEquals(ckpt.indexMetadata, { total_size: 132 });
  for (const [name, t] of Object.entries(tensors)) {
    const got = await ckpt.read(name, t.dtype === "BF16" ? { as: "f32" } : {});
    assertEquals(got.data, t.data, name);
    assertEquals(ckpt.info(name).shape, t.shape);
  }
  // Opening the index file itself works too.
  await using viaIndex = await openCheckpoint(out.index!);
  assertEquals(viaIndex.names.length, ckpt.names.length);
});

Deno.test("one shard's worth writes model.safetensors and removes a stale index and shards", async () => {
  const dir = await Deno.makeTempDir();
  await writeShardedSafetensors(dir, model(3), { maxShardBytes: 40 });
  assertEquals((await listDir(dir)).includes(INDEX_FILE), true);
  await Deno.writeTextFile(`${dir}/notes.txt`, "keep me");
  const out = await writeShardedSafetensors(dir, model(1), { maxShardBytes: 1 << 20 });
  assertEquals(out, { files: [`${dir}/${SINGLE_FILE}`], index: null });
  assertEquals(await listDir(dir), [SINGLE_FILE, "notes.txt"]);
  await using ckpt = await openCheckpoint(dir);
  assertEquals(ckpt.names.length, 3);
});

Deno.test("a tensor bigger than maxShardBytes gets a shard of its own", async () => {
  const dir = await Deno.makeTempDir();
  const big = { dtype: "U8" as const, shape: [100], data: new Uint8Array(100).fill(3) };
  const small = { dtype: "U8" as const, shape: [1], data: new Uint8Array([1]) };
  const out = await writeShardedSafetensors(dir, { a: small, big, c: small }, {
    maxShardBytes: 10,
  });
  assertEquals(out.files.length, 3);
  await using ckpt = await openCheckpoint(dir);
  assertEquals((await ckpt.read("big")).data, big.data);
});

Deno.test("sharded writer: bad options and bad tensors leave the directory untouched", async () => {
  const dir = await Deno.makeTempDir();
  for (const maxShardBytes of [0, -5, 1.5, NaN]) {
    const e = await assertRejects(
      () => writeShardedSafetensors(dir, model(1), { maxShardBytes }),
      SafetensorsError,
    );
    assertStringIncludes(e.message, "maxShardBytes");
  }
  const bad = {
    ...model(2),
    "x": { dtype: "F32" as const, shape: [3], data: new Float32Array(2) },
  };
  const e = await assertRejects(
    () => writeShardedSafetensors(dir, bad, { maxShardBytes: 20 }),
    SafetensorsError,
  );
  assertStringIncludes(e.message, 'tensor "x": data has 2 elements but shape [3] needs 3');
  assertEquals(await listDir(dir), []);
});

async function shardedFixture(): Promise<string> {
  const dir = await Deno.makeTempDir();
  await writeShardedSafetensors(dir, model(3), { maxShardBytes: 40 });
  return dir;
}

Deno.test("openCheckpoint: an index naming a missing shard is rejected, naming both", async () => {
  const dir = await shardedFixture();
  const shards = (await listDir(dir)).filter((f) => f.startsWith("model-"));
  await Deno.remove(`${dir}/${shards[1]}`);
  const e = await assertRejects(() => openCheckpoint(dir), SafetensorsError);
  assertStringIncludes(e.message, INDEX_FILE);
  assertStringIncludes(e.message, `shard "${shards[1]}"`);
  assertStringIncludes(e.message, "does not exist");
  assertEquals((e as SafetensorsError).field, "weight_map");
});

Deno.test("openCheckpoint: a tensor missing from the shard the index names is rejected", async () => {
  const dir = await shardedFixture();
  const indexPath = `${dir}/${INDEX_FILE}`;
  const index = JSON.parse(await Deno.readTextFile(indexPath));
  const [, second] = (await listDir(dir)).filter((f) => f.startsWith("model-"));
  index.weight_map["model.embed_tokens.weight"] = second; // it really lives in the first
  await Deno.writeTextFile(indexPath, JSON.stringify(index));
  const e = await assertRejects(() => openCheckpoint(dir), SafetensorsError);
  assertStringIncludes(e.message, 'tensor "model.embed_tokens.weight"');
  assertStringIncludes(e.message, `places this tensor in "${second}"`);
});

Deno.test("openCheckpoint: malformed indexes and empty directories give clear errors", async () => {
  const cases: [string, string][] = [
    ["{not json", "not valid JSON"],
    ["[]", "weight_map"],
    ['{"metadata": {}}', "weight_map is missing"],
    ['{"weight_map": {"w": "../model.safetensors"}}', "plain name"],
    ['{"weight_map": {"w": 3}}', "plain name"],
  ];
  for (const [text, want] of cases) {
    const dir = await Deno.makeTempDir();
    await Deno.writeTextFile(`${dir}/${INDEX_FILE}`, text);
    const e = await assertRejects(() => openCheckpoint(dir), SafetensorsError);
    assertStringIncludes(e.message, want);
    assertStringIncludes(e.message, INDEX_FILE);
  }
  const empty = await Deno.makeTempDir();
  await Deno.writeTextFile(`${empty}/other.safetensors`, "");
  const e = await assertRejects(() => openCheckpoint(empty), SafetensorsError);
  assertStringIncludes(e.message, `holds neither ${SINGLE_FILE} nor ${INDEX_FILE}`);
  assertStringIncludes(e.message, "found other.safetensors");
  await assertRejects(() => openCheckpoint(`${empty}/nothing`), SafetensorsError, "does not exist");
});

Deno.test("openCheckpoint: a single file, by directory or by path; a corrupt shard names its file", async () => {
  const dir = await Deno.makeTempDir();
  await writeSafetensors(`${dir}/${SINGLE_FILE}`, model(1));
  await using a = await openCheckpoint(dir);
  await using b = await openCheckpoint(`${dir}/${SINGLE_FILE}`);
  assertEquals(a.names, b.names);
  assertEquals(a.indexMetadata, {});
  const s = await shardedFixture();
  const shard = (await listDir(s)).find((f) => f.startsWith("model-00002"))!;
  await Deno.truncate(`${s}/${shard}`, 30);
  const e = await assertRejects(() => openCheckpoint(s), SafetensorsError);
  assertStringIncludes(e.message, `${s}/${shard}: header length`);
});
