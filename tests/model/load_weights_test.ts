import { assertEquals, assertRejects } from "@std/assert";
import { runtimeStats } from "../../kernels/runtime.ts";
import { Tensor } from "../../kernels/tensor.ts";
import { expectedTensorNames, loadLlamaConfig } from "../../model/config.ts";
import { LlamaModel } from "../../model/llama.ts";
import { loadModel, ModelLoadError } from "../../model/load.ts";
import { loadWeights } from "../../model/load_weights.ts";
import {
  openCheckpoint,
  openSafetensors,
  type SafetensorsReader,
  writeShardedSafetensors,
} from "../../model/safetensors.ts";
import type { TensorInput } from "../../model/safetensors.ts";
import { gpuTest } from "../_helpers.ts";

type Stored = "F32" | "F16" | "BF16";

/**
 * data/tiny rewritten as `stored` in shards of `maxShardBytes`, with edge values planted:
 * ±0, subnormals of f16 and bf16 (and of f32 when stored as F32), odd element counts are
 * covered by the norms (128) being split at odd slice sizes.
 */
async function tinyAs(stored: Stored, maxShardBytes: number): Promise<string> {
  const dir = await Deno.makeTempDir();
  await Deno.copyFile("data/tiny/config.json", `${dir}/config.json`);
  await using src = await openSafetensors("data/tiny/model.safetensors");
  const tensors: Record<string, TensorInput> = {};
  for (const name of src.names) {
    const data = (await src.read(name, { as: "f32" })).data as Float32Array;
    if (name === "model.layers.1.mlp.down_proj.weight") {
      data.set([-0, 0, 2 ** -24, -(2 ** -20), 2 ** -130, 1e-40, 3 * 2 ** -26, 65280, -65280], 11);
    }
    tensors[name] = { dtype: stored, shape: (await src.info(name)).shape, data };
  }
  await writeShardedSafetensors(dir, tensors, { maxShardBytes });
  return dir;
}

/** Bits of a float array, NaN as one marker. */
function bits(a: Float32Array | Float16Array): number[] {
  const u = a instanceof Float32Array
    ? new Uint32Array(a.buffer, a.byteOffset, a.length)
    : new Uint16Array(a.buffer, a.byteOffset, a.length);
  return Array.from(u, (b, i) => (Number.isNaN(a[i]) ? -1 : b));
}

/** The CPU path: every tensor read and converted in JS, then uploaded. */
async function cpuWeights(ckpt: SafetensorsReader, names: string[], dtype: "f32" | "f16") {
  const out = new Map<string, Tensor>();
  for (const name of names) {
    const t = await ckpt.read(name, { as: dtype });
    out.set(name, Tensor.fromArray(t.data as Float32Array | Float16Array, t.shape, dtype));
  }
  return out;
}

for (const stored of ["BF16", "F16", "F32"] as const) {
  gpuTest(`loadWeights: ${stored} → f32 and f16, bit-identical to the CPU conversion`, async () => {
    const dir = await tinyAs(stored, 300_000);
    const config = await loadLlamaConfig(dir);
    const expected = expectedTensorNames(config);
    await using ckpt = await openCheckpoint(dir);
    assertEquals(ckpt.files.length > 1, true, "several shards");
    for (const dtype of ["f32", "f16"] as const) {
      // 1 KiB + 4 splits every weight into odd parts; the default reads each shard at once
      for (const sliceBytes of [1028, undefined]) {
        const gpu = await loadWeights(ckpt, expected, { dtype, sliceBytes });
        assertEquals([...gpu.keys()], expected.map((e) => e.name), "in the order asked");
        for (const { name, shape } of expected) {
          const t = gpu.get(name)!;
          assertEquals([t.dtype, t.shape], [dtype, shape], name);
          const want = (await ckpt.read(name, { as: dtype })).data as Float32Array | Float16Array;
          assertEquals(bits(await t.data() as Float32Array | Float16Array), bits(want), name);
          t.dispose();
        }
      }
    }
    await Deno.remove(dir, { recursive: true });
  });
}

gpuTest(
  "loadModel from sliced bf16 shards: logits identical to the CPU-converted weights",
  async () => {
    const dir = await tinyAs("BF16", 200_000);
    const config = await loadLlamaConfig(dir);
    const names = expectedTensorNames(config).map((e) => e.name);
    await using ckpt = await openCheckpoint(dir);
    const ids = [Array.from(new TextEncoder().encode("And God said, Let there be light"))];
    for (const dtype of ["f32", "f16"] as const) {
      using fast = await loadModel(dir, { dtype, sliceBytes: 4096 });
      using slow = new LlamaModel(config, await cpuWeights(ckpt, names, dtype), dtype);
      using a = fast.forward(ids);
      using b = slow.forward(ids);
      assertEquals(bits(await a.data() as Float32Array), bits(await b.data() as Float32Array));
    }
    await assertRejects(
      () => loadModel(dir, { sliceBytes: 1000.5 }),
      RangeError,
      "loadModel: sliceBytes 1000.5 is not a positive multiple of 4",
    );
    await Deno.remove(dir, { recursive: true });
  },
);

gpuTest(
  "loadWeights: the first bad tensor in the order asked is named; nothing leaks",
  async () => {
    const dir = await Deno.makeTempDir();
    const t = (v: number[]) => ({
      dtype: "BF16" as const,
      shape: [2, 3],
      data: new Float32Array(v),
    });
    await writeShardedSafetensors(dir, {
      a: t([1, 2, 3, 4, 5, 6]),
      b: t([1, 2, 3, 4, NaN, 6]),
      c: t([1, -Infinity, 3, 4, 5, 6]),
      d: t([1, 2, 3, 4, 5, 1e6]), // finite in f32, beyond f16
    }, { maxShardBytes: 24 });
    await using ckpt = await openCheckpoint(dir);
    const shape = [2, 3];
    const live = runtimeStats().liveBytes;
    const e = await assertRejects(
      () =>
        loadWeights(ckpt, [{ name: "a", shape }, { name: "b", shape }, { name: "c", shape }], {
          dtype: "f32",
        }),
      ModelLoadError,
      "b[1, 1] = NaN; weights must be finite",
    );
    assertEquals((e as ModelLoadError).tensor, "b");
    // c comes after b in the file, but first in the order asked
    await assertRejects(
      () => loadWeights(ckpt, [{ name: "c", shape }, { name: "b", shape }], { dtype: "f32" }),
      ModelLoadError,
      "c[0, 1] = -Infinity; weights must be finite",
    );
    await assertRejects(
      () => loadWeights(ckpt, [{ name: "d", shape }], { dtype: "f16" }),
      ModelLoadError,
      "d[1, 2] = Infinity after conversion from BF16 to f16",
    );
    await assertRejects(
      () => loadWeights(ckpt, [{ name: "a", shape: [3, 3] }], { dtype: "f16" }),
      ModelLoadError,
      'tensor "a" holds 12 bytes but shape [3, 3] of BF16 needs 18',
    );
    assertEquals(runtimeStats().liveBytes, live, "every failed load freed what it allocated");
    const ok = await loadWeights(ckpt, [{ name: "d", shape }], { dtype: "f32" });
    assertEquals(await ok.get("d")!.data(), new Float32Array([1, 2, 3, 4, 5, 999424]));
    ok.get("d")!.dispose();
    await Deno.remove(dir, { recursive: true });
  },
);
