import {
  assert,
  assertEquals,
  assertRejects,
  assertStringIncludes,
  assertThrows,
} from "@std/assert";
import {
  openSafetensors,
  parseSafetensors,
  type SafetensorsDType,
  SafetensorsError,
  type TensorInput,
  writeSafetensors,
} from "../../model/safetensors.ts";
import { bf16ToF32, f32ToBf16, f32ToF16 } from "../../model/safetensors_dtype.ts";
import { bytesOf, craft } from "./safetensors_helpers.ts";

async function listDir(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) names.push(e.name);
  return names.sort();
}

const EVERY_DTYPE: Record<string, TensorInput> = {
  f64: { dtype: "F64", shape: [2], data: new Float64Array([Math.PI, -1e300]) },
  f32: { dtype: "F32", shape: [2, 2], data: new Float32Array([1.5, -2, 1e-30, 3e38]) },
  f16: { dtype: "F16", shape: [3], data: new Float16Array([0.5, -65504, 6e-8]) },
  bf16: { dtype: "BF16", shape: [2], data: new Uint16Array([0x3f80, 0xc2f7]) },
  i64: { dtype: "I64", shape: [2], data: new BigInt64Array([-(2n ** 62n), 7n]) },
  i32: { dtype: "I32", shape: [3], data: new Int32Array([-2147483648, 0, 2147483647]) },
  i16: { dtype: "I16", shape: [1], data: new Int16Array([-300]) },
  i8: { dtype: "I8", shape: [4], data: new Int8Array([-128, -1, 0, 127]) },
  u64: { dtype: "U64", shape: [1], data: new BigUint64Array([2n ** 64n - 1n]) },
  u32: { dtype: "U32", shape: [1], data: new Uint32Array([0xdeadbeef]) },
  u16: { dtype: "U16", shape: [1], data: new Uint16Array([65535]) },
  u8: { dtype: "U8", shape: [2, 1], data: new Uint8Array([0, 255]) },
  bool: { dtype: "BOOL", shape: [2], data: new Uint8Array([1, 0]) },
  fp8: { dtype: "F8_E4M3", shape: [2], data: new Uint8Array([0x38, 0xb8]) },
  fp8b: { dtype: "F8_E5M2", shape: [1], data: new Uint8Array([0x3c]) },
  scalar: { dtype: "F32", shape: [], data: new Float32Array([42]) },
  empty: { dtype: "F32", shape: [0, 5], data: new Float32Array(0) },
};

Deno.test("every dtype round-trips through a file with its native typed array", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/all.safetensors`;
  await writeSafetensors(path, EVERY_DTYPE, { format: "pt" });
  await using file = await openSafetensors(path);
  assertEquals([...file.names].sort(), Object.keys(EVERY_DTYPE).sort());
  for (const [name, t] of Object.entries(EVERY_DTYPE)) {
    const got = await file.read(name);
    assertEquals(got.dtype, t.dtype, name);
    assertEquals(got.shape, t.shape, name);
    assertEquals(got.data, t.data, name);
    assertEquals(file.info(name).byteLength, t.data.byteLength, name);
    assertEquals((await file.read(name, { as: "raw" })).data, bytesOf(t.data), name);
  }
  assertEquals(file.metadata, { format: "pt" });
});

Deno.test("floats convert on read: as f32 and as f16", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/f.safetensors`;
  const values = new Float32Array([1, -0.5, 3.140625, 65504]);
  await writeSafetensors(path, {
    h: { dtype: "F16", shape: [4], data: values },
    b: { dtype: "BF16", shape: [4], data: values },
    d: { dtype: "F64", shape: [4], data: new Float64Array(values) },
  });
  await using file = await openSafetensors(path);
  for (const name of ["h", "b", "d"]) {
    const f32 = await file.read(name, { as: "f32" });
    assert(f32.data instanceof Float32Array, name);
    const f16 = await file.read(name, { as: "f16" });
    assert(f16.data instanceof Float16Array, name);
  }
  assertEquals((await file.read("h", { as: "f32" })).data, values); // all exact in f16
  assertEquals((await file.read("d", { as: "f32" })).data, values);
  // bf16 keeps 8 significant bits: 3.140625 -> 3.140625, 65504 -> 65536
  assertEquals(
    (await file.read("b", { as: "f32" })).data,
    new Float32Array([1, -0.5, 3.140625, 65536]),
  );
  assertEquals((await file.read("b")).data, f32ToBf16(values));
});

Deno.test("bf16 rounding is round-to-nearest-even; NaN, Inf and -0 survive", () => {
  const f = (bits: number) => new Float32Array(new Uint32Array([bits]).buffer)[0];
  const cases: [number, number][] = [
    [0x3f808000, 0x3f80], // 1 + 2^-8: exactly halfway, rounds to even (down)
    [0x3f818000, 0x3f82], // halfway between 0x3f81 and 0x3f82: to even (up)
    [0x3f808001, 0x3f81], // just above halfway: up
    [0x3f807fff, 0x3f80], // just below halfway: down
    [0x7f7fffff, 0x7f80], // FLT_MAX rounds past the largest bf16: +Inf
    [0xff800000, 0xff80], // -Inf
    [0x80000000, 0x8000], // -0
    [0x00000001, 0x0000], // smallest subnormal rounds to 0
  ];
  const input = new Float32Array(cases.map(([b]) => f(b)));
  assertEquals([...f32ToBf16(input)], cases.map(([, want]) => want));
  const nan = f32ToBf16(new Float32Array([NaN, f(0x7f800001)]));
  assert(Number.isNaN(bf16ToF32(nan)[0]) && Number.isNaN(bf16ToF32(nan)[1]));
  const h = new Uint16Array(
    f32ToF16(new Float32Array([1 + 2 ** -11, 1 + 3 * 2 ** -11, 65520])).buffer,
  );
  assertEquals([...h], [0x3c00, 0x3c02, 0x7c00]); // ties to even, overflow to Inf
});

Deno.test("a file laid out exactly as the Python reference writes it is parsed, and written identically", async () => {
  // safetensors.torch.save_file({"a": zeros(2, 2), "b": arange(3, int32)}, metadata={"format": "pt"})
  const json =
    '{"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},' +
    '"b":{"dtype":"I32","shape":[3],"data_offsets":[16,28]}}';
  assertEquals(json.length, 143);
  const padded = json + " "; // 144 = next multiple of 8
  const bytes = new Uint8Array(8 + 144 + 28);
  bytes.set([144, 0, 0, 0, 0, 0, 0, 0], 0);
  bytes.set(new TextEncoder().encode(padded), 8);
  bytes.set([0, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0], 8 + 144 + 16); // b = [0, 1, 2], little-endian
  const file = parseSafetensors(bytes, "reference.safetensors");
  assertEquals(file.names, ["a", "b"]);
  assertEquals(file.metadata, { format: "pt" });
  assertEquals((await file.read("a")).data, new Float32Array(4));
  assertEquals((await file.read("b")).data, new Int32Array([0, 1, 2]));

  const dir = await Deno.makeTempDir();
  await writeSafetensors(`${dir}/m.safetensors`, {
    b: { dtype: "I32", shape: [3], data: new Int32Array([0, 1, 2]) },
    a: { dtype: "F32", shape: [2, 2], data: new Float32Array(4) },
  }, { format: "pt" });
  assertEquals(await Deno.readFile(`${dir}/m.safetensors`), bytes);
});

Deno.test("an unpadded header from another writer is accepted", async () => {
  const bytes = craft(
    { w: { dtype: "U8", shape: [3], data_offsets: [0, 3] } },
    new Uint8Array([1, 2, 3]),
  );
  assertEquals((await parseSafetensors(bytes).read("w")).data, new Uint8Array([1, 2, 3]));
});

Deno.test("lazy reads go to the disk for each tensor, one tensor's bytes at a time", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/lazy.safetensors`;
  await writeSafetensors(path, {
    a: { dtype: "F32", shape: [2], data: new Float32Array([1, 2]) },
    b: { dtype: "F32", shape: [2], data: new Float32Array([3, 4]) },
    c: { dtype: "F32", shape: [2], data: new Float32Array([5, 6]) },
  });
  const file = await openSafetensors(path);
  // Overwrite b's bytes on disk after opening: a read of b sees them, a and c do not change.
  const bytes = await Deno.readFile(path);
  const dataStart = bytes.length - 24;
  const h = await Deno.open(path, { write: true });
  await h.seek(dataStart + 8, Deno.SeekMode.Start);
  await h.write(bytesOf(new Float32Array([30, 40])));
  h.close();
  assertEquals((await file.read("a")).data, new Float32Array([1, 2]));
  assertEquals((await file.read("b")).data, new Float32Array([30, 40]));
  assertEquals((await file.read("c")).data, new Float32Array([5, 6]));
  // Reads issued together each get their own bytes.
  const all = await Promise.all(["c", "a", "b", "c", "a"].map((n) => file.read(n)));
  assertEquals(all.map((t) => [...t.data as Float32Array]), [[5, 6], [1, 2], [30, 40], [5, 6], [
    1,
    2,
  ]]);
  // Truncating the file under an open reader gives a clear error, not garbage.
  await Deno.truncate(path, dataStart + 20);
  const e = await assertRejects(() => file.read("c"), SafetensorsError);
  assertStringIncludes(e.message, "ended 4 bytes early");
  file.close();
  file.close();
  const closed = await assertRejects(() => file.read("a"), SafetensorsError);
  assertStringIncludes(closed.message, "closed");
});

Deno.test("unknown tensors and impossible conversions name the tensor and the fix", async () => {
  const file = parseSafetensors(
    craft({ codes: { dtype: "I8", shape: [1], data_offsets: [0, 1] } }, new Uint8Array([1])),
    "q.safetensors",
  );
  const missing = assertThrows(() => file.info("nope"), SafetensorsError);
  assertStringIncludes(missing.message, 'q.safetensors: tensor "nope": no such tensor');
  assertStringIncludes(missing.message, '"codes"');
  const conv = await assertRejects(() => file.read("codes", { as: "f32" }), SafetensorsError);
  assertStringIncludes(conv.message, 'as: "f32"');
  assertEquals((conv as SafetensorsError).field, "as");
  const bad = await assertRejects(
    () => file.read("codes", { as: "f8" as "f32" }),
    SafetensorsError,
  );
  assertStringIncludes(bad.message, '"f8"');
});

Deno.test("metadata round-trips, including a JSON quantization_config", async () => {
  const dir = await Deno.makeTempDir();
  const qc = JSON.stringify({ quant_method: "gptq", bits: 4, group_size: 128, sym: true });
  const meta = { format: "pt", quantization_config: qc, "unicode ключ": "значение ✓" };
  await writeSafetensors(`${dir}/q.safetensors`, {
    "layer.qweight": { dtype: "I32", shape: [2, 1], data: new Int32Array([0x12345678, -1]) },
    "layer.scales": { dtype: "F16", shape: [1], data: new Float16Array([0.25]) },
  }, meta);
  await using file = await openSafetensors(`${dir}/q.safetensors`);
  assertEquals(file.metadata, meta);
  assertEquals(JSON.parse(file.metadata.quantization_config).bits, 4);
});

Deno.test("writing never modifies the input arrays", async () => {
  const dir = await Deno.makeTempDir();
  const values = new Float32Array([1.1, 2.2, 3.3, 4.4]);
  const before = values.slice();
  await writeSafetensors(`${dir}/x.safetensors`, {
    b: { dtype: "BF16", shape: [4], data: values },
    h: { dtype: "F16", shape: [4], data: values },
    f: { dtype: "F32", shape: [4], data: values },
  });
  assertEquals(values, before);
});

Deno.test("a bad tensor throws before anything is written, naming tensor and field", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/bad.safetensors`;
  const cases: [Record<string, TensorInput>, string, string][] = [
    [{ w: { dtype: "F32", shape: [2, 3], data: new Float32Array(5) } }, "data", "needs 6"],
    [{ w: { dtype: "F32", shape: [3], data: new Int32Array(3) } }, "data", "Float32Array"],
    [{ w: { dtype: "I32", shape: [2], data: new Uint8Array(7) } }, "data", "needs 8"],
    [
      { w: { dtype: "F17" as SafetensorsDType, shape: [1], data: new Float32Array(1) } },
      "dtype",
      "F17",
    ],
    [{ w: { dtype: "F32", shape: [-1], data: new Float32Array(1) } }, "shape", "non-negative"],
    [{ w: { dtype: "F32", shape: [1.5], data: new Float32Array(1) } }, "shape", "non-negative"],
    [{ __metadata__: { dtype: "F32", shape: [1], data: new Float32Array(1) } }, "name", "reserved"],
  ];
  for (const [tensors, field, text] of cases) {
    const e = await assertRejects(() => writeSafetensors(path, tensors), SafetensorsError);
    assertEquals((e as SafetensorsError).field, field, e.message);
    assertStringIncludes(e.message, text);
    assertStringIncludes(e.message, "bad.safetensors");
    assertEquals(await listDir(dir), [], `left a file behind after: ${e.message}`);
  }
  const meta = await assertRejects(
    () => writeSafetensors(path, {}, { bits: 4 as unknown as string }),
    SafetensorsError,
  );
  assertStringIncludes(meta.message, '__metadata__ key "bits"');
  assertEquals(await listDir(dir), []);
});

Deno.test("a failed rename removes the temporary file", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.mkdir(`${dir}/taken.safetensors/inner`, { recursive: true });
  const e = await assertRejects(
    () =>
      writeSafetensors(`${dir}/taken.safetensors`, {
        w: { dtype: "U8", shape: [1], data: new Uint8Array([1]) },
      }),
    SafetensorsError,
  );
  assertStringIncludes(e.message, "cannot move the finished file into place");
  assertEquals(await listDir(dir), ["taken.safetensors"]);
  const missing = await assertRejects(
    () => writeSafetensors(`${dir}/no/such/dir/x.safetensors`, {}),
    SafetensorsError,
  );
  assertStringIncludes(missing.message, "directory exists");
});

Deno.test("rewriting a file that a reader has open leaves the reader on the old bytes", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/m.safetensors`;
  await writeSafetensors(path, { w: { dtype: "F32", shape: [1], data: new Float32Array([1]) } });
  await using old = await openSafetensors(path);
  await writeSafetensors(path, { w: { dtype: "F32", shape: [1], data: new Float32Array([2]) } });
  assertEquals((await old.read("w")).data, new Float32Array([1]));
  await using fresh = await openSafetensors(path);
  assertEquals((await fresh.read("w")).data, new Float32Array([2]));
});

Deno.test("opening a missing file or a directory gives a SafetensorsError naming the path", async () => {
  const dir = await Deno.makeTempDir();
  const a = await assertRejects(() => openSafetensors(`${dir}/none.safetensors`), SafetensorsError);
  assertStringIncludes(a.message, "none.safetensors: cannot open");
  const b = await assertRejects(() => openSafetensors(dir), SafetensorsError);
  assertStringIncludes(b.message, "openCheckpoint");
});
