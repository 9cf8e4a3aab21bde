/**
 * GGUF bytes against fixtures built by hand from the GGUF spec and ggml's
 * block structs (independent of the writer), rounding edge cases of ggml's
 * quantizers, metadata round trips, malformed files, and the Llama mapping.
 * No GPU needed. llama.cpp itself reads the files in gguf_llama_cpp_test.ts.
 */
import { assert, assertEquals, assertRejects, assertThrows } from "@std/assert";
import { dequantizeBlocks, quantizeBlocks } from "../../model/gguf_blocks.ts";
import { GgufError } from "../../model/gguf_format.ts";
import { ggufToLlama } from "../../model/gguf_import.ts";
import {
  exportGguf,
  ggufName,
  hfName,
  permuteRope,
  unpermuteRope,
} from "../../model/gguf_llama.ts";
import { parseGguf, readGguf } from "../../model/gguf_read.ts";
import { encodeGguf, type GgufMetadata } from "../../model/gguf_write.ts";
import { openSafetensors } from "../../model/safetensors.ts";

/** Little-endian bytes assembled field by field, as the spec lists them. */
function spec(parts: ([string, number | bigint] | Uint8Array | string)[]): Uint8Array {
  const out: number[] = [];
  for (const p of parts) {
    if (p instanceof Uint8Array) out.push(...p);
    else if (typeof p === "string") out.push(...new TextEncoder().encode(p));
    else {
      const [kind, v] = p;
      const size = { u8: 1, u16: 2, u32: 4, u64: 8, f16: 2, f32: 4 }[kind]!;
      const dv = new DataView(new ArrayBuffer(size));
      if (kind === "u8") dv.setUint8(0, Number(v));
      if (kind === "u16") dv.setUint16(0, Number(v), true);
      if (kind === "u32") dv.setUint32(0, Number(v), true);
      if (kind === "u64") dv.setBigUint64(0, BigInt(v), true);
      if (kind === "f16") dv.setFloat16(0, Number(v), true);
      if (kind === "f32") dv.setFloat32(0, Number(v), true);
      out.push(...new Uint8Array(dv.buffer));
    }
  }
  return new Uint8Array(out);
}
const str = (s: string): [string, number][] => [["u64", new TextEncoder().encode(s).length]];

Deno.test("gguf blocks: Q8_0, Q4_0 and Q4_1 bytes equal ggml's structs built by hand", () => {
  // Q8_0: amax 127 → d = 1 (f16 0x3C00), q = round(x), halves away from zero (2.5 → 3, -2.5 → -3).
  const x8 = Float32Array.from(
    { length: 32 },
    (_, j) => (j === 0 ? 127 : j === 1 ? 2.5 : j === 2 ? -2.5 : 3 * j - 50),
  );
  const q8 = [127, 3, -3, ...Array.from({ length: 29 }, (_, k) => 3 * (k + 3) - 50)];
  assertEquals(
    quantizeBlocks("Q8_0", x8),
    spec([["f16", 1], new Uint8Array(Int8Array.from(q8).buffer)]),
  );
  // Q4_0: the largest magnitude is -8 → d = -8 / -8 = 1; q = x + 8; byte j = q[j] | q[j+16] << 4.
  const lo = Array.from({ length: 16 }, (_, j) => j);
  const hi = Array.from({ length: 16 }, (_, j) => 15 - j);
  const x4 = Float32Array.from([...lo, ...hi], (q) => q - 8);
  assertEquals(
    quantizeBlocks("Q4_0", x4),
    spec([["f16", 1], Uint8Array.from(lo, (q, j) => q | (hi[j] << 4))]),
  );
  assertEquals(dequantizeBlocks("Q4_0", quantizeBlocks("Q4_0", x4), 32), x4);
  // Q4_1: min 2, max 9.5 → d = 0.5 (f16 0x3800), m = 2 (0x4000), q = (x − 2) / 0.5.
  const x41 = Float32Array.from([...lo, ...hi], (q) => 2 + 0.5 * q);
  assertEquals(
    quantizeBlocks("Q4_1", x41),
    spec([["f16", 0.5], ["f16", 2], Uint8Array.from(lo, (q, j) => q | (hi[j] << 4))]),
  );
  assertEquals(dequantizeBlocks("Q4_1", quantizeBlocks("Q4_1", x41), 32), x41);
  assertEquals(dequantizeBlocks("Q8_0", quantizeBlocks("Q8_0", x8), 32)[1], 3);
});

Deno.test("gguf blocks: Q4_K bytes equal block_q4_K built by hand from get_scale_min_k4", () => {
  // sub-block j holds sc[j]·q − m[j] for q = l mod 16; the largest sc and m are 63, so d = dmin = 1.
  const sc = [1, 2, 3, 4, 20, 33, 47, 63];
  const m = [0, 1, 2, 3, 18, 40, 5, 63];
  const x = Float32Array.from({ length: 256 }, (_, i) => sc[i >> 5] * (i % 16) - m[i >> 5]);
  // scales[0..3] = sc[0..3] | (sc[4..7] >> 4) << 6; scales[4..7] = m[0..3] | (m[4..7] >> 4) << 6;
  // scales[8..11] = (sc[4..7] & 15) | (m[4..7] & 15) << 4.
  const scales = Uint8Array.from([65, 130, 131, 196, 64, 129, 2, 195, 36, 129, 95, 255]);
  const qs = Uint8Array.from({ length: 128 }, (_, i) => (i % 16) * 17);
  const bytes = quantizeBlocks("Q4_K", x);
  assertEquals(bytes, spec([["f16", 1], ["f16", 1], scales, qs]));
  assertEquals(dequantizeBlocks("Q4_K", bytes, 256), x);
  assertThrows(() => quantizeBlocks("Q4_K", new Float32Array(128)), RangeError, "256");
});

Deno.test("gguf blocks: TQ2_0 bytes equal block_tq2_0 built by hand", () => {
  // t = +1, 0, −1, +1 for the four 32-weight groups n of each 128 (q = t + 1 in bits 2n..2n+1),
  // so every byte is 2 | 1 << 2 | 0 << 4 | 2 << 6 = 134; d = max|x| = 1 follows the 64 bytes.
  const x = Float32Array.from({ length: 256 }, (_, i) => [1, 0, -1, 1][(i % 128) >> 5]);
  x[32] = 0.5; // half away from zero: t = 1, byte 0 gets q = 2 at n = 1 → 138
  x[65] = -0.49; // t = 0, byte 1 gets q = 1 at n = 2 → 150
  const qs = new Uint8Array(64).fill(134);
  qs[0] = 138;
  qs[1] = 150;
  assertEquals(quantizeBlocks("TQ2_0", x), spec([qs, ["f16", 1]]));
  const y = dequantizeBlocks("TQ2_0", quantizeBlocks("TQ2_0", x), 256);
  assertEquals([y[0], y[32], y[64], y[65], y[96]], [1, 1, -1, 0, 1]);
});

Deno.test("gguf blocks: zeros stay zeros, one-row and error bounds hold, NaN is refused", () => {
  for (const t of ["F16", "Q8_0", "Q4_0", "Q4_1", "Q4_K", "TQ2_0"] as const) {
    assertEquals(
      dequantizeBlocks(t, quantizeBlocks(t, new Float32Array(256)), 256),
      new Float32Array(256),
    );
    assertThrows(
      () => quantizeBlocks(t, new Float32Array(256).fill(NaN)),
      RangeError,
      "element 0 is NaN",
    );
  }
  assertThrows(
    () => quantizeBlocks("Q4_0", new Float32Array(48)),
    RangeError,
    "not a whole number",
  );
  let s = 1;
  const rand = () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;
  const x = Float32Array.from({ length: 96 }, rand);
  for (const [t, levels] of [["Q8_0", 254], ["Q4_0", 15], ["Q4_1", 15]] as const) {
    const y = dequantizeBlocks(t, quantizeBlocks(t, x), 96);
    for (let b = 0; b < 3; b++) {
      const blk = x.subarray(b * 32, b * 32 + 32);
      const range = t === "Q4_1"
        ? Math.max(...blk) - Math.min(...blk)
        : 2 * Math.max(...blk.map(Math.abs));
      const step = range / levels;
      for (let j = 0; j < 32; j++) {
        // half a step, plus the f16 rounding of the scale (and Q4_0's asymmetric −8..7 grid: one step)
        const bound = (t === "Q4_0" ? 1 : 0.5) * step * 1.002 + 1e-3 * Math.abs(blk[j]);
        assert(Math.abs(y[b * 32 + j] - blk[j]) <= bound, `${t} block ${b} element ${j}`);
      }
    }
  }
});

Deno.test("gguf file: header, metadata, tensor infos and aligned data equal the spec's layout", () => {
  const meta: GgufMetadata = {
    "general.architecture": { type: "string", value: "llama" },
    "a.n": { type: "u32", value: 7 },
  };
  const data = new Float32Array([1, -2]);
  const got = encodeGguf(meta, [
    { name: "x", dims: [2], type: "F32", data },
    { name: "y", dims: [2], type: "F16", data },
  ]);
  const header = spec([
    "GGUF",
    ["u32", 3],
    ["u64", 2],
    ["u64", 2],
    ...str("general.architecture"),
    "general.architecture",
    ["u32", 8],
    ...str("llama"),
    "llama",
    ...str("a.n"),
    "a.n",
    ["u32", 4],
    ["u32", 7],
    ...str("x"),
    "x",
    ["u32", 1],
    ["u64", 2],
    ["u32", 0],
    ["u64", 0],
    ...str("y"),
    "y",
    ["u32", 1],
    ["u64", 2],
    ["u32", 1],
    ["u64", 32],
  ]);
  const start = Math.ceil(header.length / 32) * 32;
  const want = new Uint8Array(start + 64); // each tensor padded to the alignment, the last too
  want.set(header);
  want.set(spec([["f32", 1], ["f32", -2]]), start);
  want.set(spec([["f16", 1], ["f16", -2]]), start + 32);
  assertEquals(got, want);
});

Deno.test("gguf file: every metadata type round-trips; tensors read back", () => {
  const meta: GgufMetadata = {
    u8: { type: "u8", value: 255 },
    i8: { type: "i8", value: -128 },
    u16: { type: "u16", value: 65535 },
    i16: { type: "i16", value: -32768 },
    u32: { type: "u32", value: 2 ** 32 - 1 },
    i32: { type: "i32", value: -(2 ** 31) },
    f32: { type: "f32", value: 0.5 },
    f64: { type: "f64", value: Math.PI },
    u64: { type: "u64", value: 2n ** 64n - 1n },
    i64: { type: "i64", value: -(2n ** 63n) },
    bool: { type: "bool", value: true },
    s: { type: "string", value: "héllo ✓" },
    arr: { type: "array", itemType: "string", value: ["a", "", "<0xFF>"] },
    nums: { type: "array", itemType: "i32", value: [6, -1] },
  };
  const x = Float32Array.from({ length: 64 }, (_, i) => i / 8 - 4);
  const file = parseGguf(encodeGguf(meta, [{ name: "w", dims: [32, 2], type: "Q4_1", data: x }]));
  assertEquals(Object.fromEntries(file.metadata), meta);
  assertEquals(file.tensors[0].dims, [32, 2]);
  assertEquals(file.read("w"), dequantizeBlocks("Q4_1", quantizeBlocks("Q4_1", x), 64));
  assertThrows(() => file.read("nope"), GgufError, 'has no tensor "nope"');
});

Deno.test("gguf file: malformed files get a GgufError naming the problem", () => {
  const good = encodeGguf({ k: { type: "u32", value: 1 } }, [
    { name: "w", dims: [32], type: "Q8_0", data: new Float32Array(32) },
  ]);
  // every truncation is reported as such, never a RangeError from a DataView
  const end = good.length - 30; // the last tensor's 34 bytes end 30 bytes before the padded end
  for (let n = 0; n < end; n++) assertThrows(() => parseGguf(good.slice(0, n)), GgufError);
  parseGguf(good.slice(0, end));
  const edit = (at: number, v: number) => {
    const b = good.slice();
    new DataView(b.buffer).setUint32(at, v, true);
    return b;
  };
  assertThrows(() => parseGguf(edit(0, 0x4c4d4747)), GgufError, "not a GGUF file");
  assertThrows(() => parseGguf(edit(4, 2)), GgufError, "version 2");
  const keyType = 24 + 8 + 1;
  assertThrows(() => parseGguf(edit(keyType, 13)), GgufError, "value type 13");
  const typeAt = keyType + 4 + 4 + 8 + 1 + 4 + 8;
  assertThrows(() => parseGguf(edit(typeAt, 13)), GgufError, "ggml type 13");
  assertThrows(() => parseGguf(edit(typeAt + 4, 16)), GgufError, "not a multiple of the alignment");
  assertThrows(() => parseGguf(edit(typeAt - 8, 48)), GgufError, "block size 32");
  const two = encodeGguf({}, [
    { name: "a", dims: [32], type: "F32", data: new Float32Array(32) },
    { name: "b", dims: [32], type: "F32", data: new Float32Array(32) },
  ]);
  const bOffset = 24 + (8 + 1 + 4 + 8 + 4 + 8) * 2 - 8;
  const overlap = two.slice();
  new DataView(overlap.buffer).setBigUint64(bOffset, 96n, true);
  assertThrows(() => parseGguf(overlap), GgufError, "overlap");
});

Deno.test("gguf llama: names and the RoPE permutation invert; an F32 export imports exactly", async () => {
  for (
    const n of [
      "model.embed_tokens.weight",
      "model.norm.weight",
      "lm_head.weight",
      "model.layers.11.mlp.up_proj.weight",
    ]
  ) {
    assertEquals(hfName(ggufName(n)!), n);
  }
  assertEquals(ggufName("model.layers.0.self_attn.rotary_emb.inv_freq"), undefined);
  const w = Float32Array.from({ length: 4 * 8 * 3 }, (_, i) => i);
  const p = permuteRope(w, 4, 3);
  // head 1, HF row 8 + 4 (second half, i = 0) lands on ggml row 8 + 1
  assertEquals([...p.subarray(9 * 3, 10 * 3)], [36, 37, 38]);
  assertEquals(unpermuteRope(p, 4, 3), w);
  assertThrows(() => permuteRope(w, 5, 3), RangeError, "heads");

  const path = (await Deno.makeTempDir()) + "/tiny.gguf";
  await exportGguf("data/tiny", path, { type: "F32" });
  const { config, weights } = ggufToLlama(await readGguf(path), path);
  assertEquals([config.numHiddenLayers, config.numKeyValueHeads, config.ropeTheta], [4, 2, 10000]);
  await using src = await openSafetensors("data/tiny/model.safetensors");
  for (const name of src.names) {
    const { shape, data } = await src.read(name, { as: "f32" });
    assertEquals(weights.get(name)?.shape, shape, name);
    assertEquals(weights.get(name)?.data, data, name);
  }
  const q4 = (await Deno.makeTempDir()) + "/tiny-q4.gguf";
  await exportGguf("data/tiny", q4, { type: "Q4_0" });
  const file = await readGguf(q4);
  assertEquals(file.metadata.get("tokenizer.ggml.model")?.value, "gpt2");
  assertEquals(file.tensors.find((t) => t.name === "blk.0.attn_norm.weight")?.type, "F32");
  const up = (await src.read("model.layers.0.mlp.up_proj.weight", { as: "f32" }))
    .data as Float32Array;
  assertEquals(
    ggufToLlama(file, q4).weights.get("model.layers.0.mlp.up_proj.weight")?.data,
    dequantizeBlocks("Q4_0", quantizeBlocks("Q4_0", up), up.length),
  );
  await Deno.remove(path);
  await Deno.remove(q4);
});

Deno.test("gguf llama: clear errors for a wrong architecture, a missing tensor, a bad block fit", async () => {
  const notLlama = parseGguf(
    encodeGguf({ "general.architecture": { type: "string", value: "gpt2" } }, []),
  );
  assertThrows(() => ggufToLlama(notLlama), GgufError, 'not "llama"');
  const path = (await Deno.makeTempDir()) + "/tiny.gguf";
  await exportGguf("data/tiny", path, { type: "F16" });
  const full = await readGguf(path);
  const meta = Object.fromEntries(full.metadata);
  const tensors = full.tensors
    .filter((t) => t.name !== "blk.2.ffn_up.weight")
    .map((t) => ({ name: t.name, dims: t.dims, type: t.type, data: full.read(t.name) }));
  assertThrows(
    () => ggufToLlama(parseGguf(encodeGguf(meta, tensors))),
    GgufError,
    "lacks the tensor for model.layers.2.mlp.up_proj.weight",
  );
  // data/tiny's rows of 128 do not fill Q4_K's blocks of 256: refused, nothing written
  const q4k = path.replace("tiny.gguf", "q4k.gguf");
  await assertRejects(
    () => exportGguf("data/tiny", q4k, { type: "Q4_K" }),
    RangeError,
    "block size 256",
  );
  await assertRejects(() => Deno.stat(q4k), Deno.errors.NotFound);
  await Deno.remove(path);
});
