import { assert, assertEquals, assertRejects, assertThrows } from "@std/assert";
import { Tensor } from "../../kernels/tensor.ts";
import { Rng } from "../../kernels/random.ts";
import { expectedTensorNames, type LlamaConfig, parseLlamaConfig } from "../../model/config.ts";
import { DenseLinear } from "../../model/linear.ts";
import { causalAttention } from "../../model/attention.ts";
import { LlamaModel, toTokenBatch } from "../../model/llama.ts";
import { loadModel, ModelLoadError } from "../../model/load.ts";
import { openSafetensors, writeSafetensors } from "../../model/safetensors.ts";
import { type CpuWeights, llamaForwardRef } from "../reference/llama.ts";
import { assertClose, gpuTest } from "../_helpers.ts";

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): { diff: number; max: number } {
  let diff = 0, max = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    max = Math.max(max, Math.abs(b[i]));
  }
  return { diff, max };
}

gpuTest("tiny model: logits match HF transformers' reference_logits (2 × 64)", async () => {
  using model = await loadModel();
  await using ref = await openSafetensors("data/tiny/reference_logits.safetensors");
  const ids = (await ref.read("input_ids")).data as Int32Array;
  const want = (await ref.read("logits")).data as Float32Array;
  const t0 = performance.now();
  using logits = model.forward(ids, { batch: 2 });
  assertEquals(logits.shape, [2, 64, 256]);
  assertEquals(logits.dtype, "f32");
  const got = await logits.data();
  const { diff, max } = maxAbsDiff(got, want);
  console.log(
    `  max |lowbit − HF| = ${diff.toExponential(2)} (max |logit| ${max.toFixed(2)}, ` +
      `relative ${(diff / max).toExponential(2)}); forward ${
        (performance.now() - t0).toFixed(0)
      } ms`,
  );
  assert(diff <= 1e-3 * max, `max abs diff ${diff} > 1e-3 × ${max}`);
});

gpuTest(
  "tiny model: rows given as number[][] equal the flat form; rows are independent",
  async () => {
    using model = await loadModel();
    const a = Array.from(new TextEncoder().encode("In the beginning"));
    const b = Array.from(new TextEncoder().encode("God created the "));
    using both = model.forward([a, b]);
    using onlyB = model.forward([b]);
    const all = await both.data();
    const second = all.slice(16 * 256);
    assertClose(second, await onlyB.data(), { atol: 1e-4, rtol: 0 }, "row 1 alone vs in a batch");
  },
);

gpuTest("tiny model in f16: logits close to f32", async () => {
  using m32 = await loadModel("data/tiny");
  using m16 = await loadModel("data/tiny", { dtype: "f16" });
  assertEquals(m16.dtype, "f16");
  const ids = [Array.from(new TextEncoder().encode("Paul, a servant of Jesus Christ"))];
  using l32 = m32.forward(ids);
  using l16 = m16.forward(ids);
  assertEquals(l16.dtype, "f32");
  const { diff, max } = maxAbsDiff(await l16.data(), await l32.data());
  console.log(`  f16 vs f32: max abs diff ${diff.toFixed(4)} (max |logit| ${max.toFixed(1)})`);
  assert(diff < 0.02 * max, `f16 logits differ by ${diff}`);
});

/** A random config's weights, on the CPU and as GPU tensors. */
function randomModel(
  config: LlamaConfig,
  seed: number,
): { cpu: CpuWeights; gpu: Map<string, Tensor> } {
  const cpu: CpuWeights = new Map();
  const rng = new Rng(seed);
  for (const { name, shape } of expectedTensorNames(config)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const isNorm = name.endsWith("norm.weight");
    cpu.set(
      name,
      isNorm ? rng.normal(n, 1, 0.1) : rng.normal(n, 0, name.includes("embed") ? 1 : 0.2),
    );
  }
  const gpu = new Map([...cpu].map(([name, data]) => {
    const shape = expectedTensorNames(config).find((t) => t.name === name)!.shape;
    return [name, Tensor.fromArray(data, shape)];
  }));
  return { cpu, gpu };
}

for (
  const [label, raw] of [
    ["qwen2-like: GQA 6/2, head_dim 8 ≠ hidden/heads, q/k/v biases, untied head", {
      model_type: "qwen2",
      hidden_size: 32,
      intermediate_size: 48,
      num_hidden_layers: 2,
      num_attention_heads: 6,
      num_key_value_heads: 2,
      head_dim: 8,
      vocab_size: 40,
      rope_theta: 1000,
      rms_norm_eps: 1e-6,
    }],
    ["llama 3.1-like: llama3 RoPE scaling, attention and MLP biases, MHA, tied", {
      model_type: "llama",
      hidden_size: 32,
      intermediate_size: 64,
      num_hidden_layers: 2,
      num_attention_heads: 2,
      vocab_size: 50,
      attention_bias: true,
      mlp_bias: true,
      tie_word_embeddings: true,
      rope_theta: 500000,
      rope_scaling: {
        rope_type: "llama3",
        factor: 8,
        low_freq_factor: 1,
        high_freq_factor: 4,
        original_max_position_embeddings: 16,
      },
    }],
  ] as const
) {
  gpuTest(`random ${label}: matches a float64 CPU forward`, async () => {
    const config = parseLlamaConfig(raw);
    const { cpu, gpu } = randomModel(config, 5);
    using model = new LlamaModel(config, gpu);
    const rows = [[1, 7, 3, 9, 30, 2, 2, 11, 0, 25, 8, 4, 19], [
      5,
      5,
      5,
      1,
      2,
      3,
      4,
      6,
      7,
      8,
      9,
      10,
      12,
    ]];
    using logits = model.forward(rows);
    const got = await logits.data();
    const V = config.vocabSize;
    rows.forEach((row, r) => {
      const want = llamaForwardRef(config, cpu, row).logits;
      const { diff, max } = maxAbsDiff(
        got.slice(r * row.length * V, (r + 1) * row.length * V),
        want,
      );
      assert(
        diff <= 1e-4 * Math.max(1, max),
        `row ${r}: max abs diff ${diff} (max |logit| ${max})`,
      );
    });
  });
}

gpuTest(
  "linears(): HF names in execution order; setLinear swaps, checks shapes, disposes",
  async () => {
    using model = await loadModel();
    const names = [...model.linears().keys()];
    assertEquals(names.length, 28);
    assertEquals(names.slice(0, 7), [
      "layers.0.self_attn.q_proj",
      "layers.0.self_attn.k_proj",
      "layers.0.self_attn.v_proj",
      "layers.0.self_attn.o_proj",
      "layers.0.mlp.gate_proj",
      "layers.0.mlp.up_proj",
      "layers.0.mlp.down_proj",
    ]);
    assertEquals([...model.linears({ layer: 2 }).keys()].length, 7);
    assert(model.linears({ includeHead: true }).has("lm_head"));
    const k = model.getLinear("layers.1.self_attn.k_proj");
    assertEquals([k.inFeatures, k.outFeatures], [128, 64]);
    assertThrows(
      () => model.setLinear("layers.1.self_attn.k_proj", new DenseLinear(Tensor.zeros([128, 128]))),
      RangeError,
      "128 → 128 but the model needs 128 → 64",
    );
    assertThrows(() => model.getLinear("layers.9.mlp.up_proj"), RangeError, "no linear layer");
    // Replace lm_head by zeros: every logit becomes 0.
    const old = model.setLinear("lm_head", new DenseLinear(Tensor.zeros([256, 128])), {
      dispose: false,
    });
    using logits = model.forward([[1, 2]]);
    assert((await logits.data()).every((v) => v === 0));
    model.setLinear("lm_head", old); // the zero layer is disposed
    using again = model.forward([[1, 2]]);
    assert((await again.data()).some((v) => v !== 0));
    // A replaced dense layer is disposed by default.
    const q = model.getLinear("layers.0.self_attn.q_proj") as DenseLinear;
    model.setLinear("layers.0.self_attn.q_proj", new DenseLinear(Tensor.zeros([128, 128])));
    assert(q.weight.disposed);
  },
);

gpuTest("forward rejects bad ids with the position", async () => {
  using model = await loadModel();
  assertThrows(() => model.forward([[1, 256]]), RangeError, "token 256 at row 0, position 1");
  assertThrows(() => model.forward([[1, 2], [3]]), RangeError, "row 1 has 1 tokens");
  assertThrows(() => toTokenBatch([1, 2, 3], 256, 2), RangeError, "cannot be split into 2");
});

/** Copies data/tiny into a temp dir with the tensors changed by `edit`. */
async function brokenCheckpoint(
  edit: (t: Map<string, { dtype: "F32"; shape: number[]; data: Float32Array }>) => void,
): Promise<string> {
  const dir = await Deno.makeTempDir();
  await Deno.copyFile("data/tiny/config.json", `${dir}/config.json`);
  await using src = await openSafetensors("data/tiny/model.safetensors");
  const tensors = new Map<string, { dtype: "F32"; shape: number[]; data: Float32Array }>();
  for (const name of src.names) {
    const t = await src.read(name, { as: "f32" });
    tensors.set(name, { dtype: "F32", shape: t.shape, data: t.data as Float32Array });
  }
  edit(tensors);
  await writeSafetensors(`${dir}/model.safetensors`, Object.fromEntries(tensors));
  return dir;
}

gpuTest("loadModel: a missing tensor is named", async () => {
  const dir = await brokenCheckpoint((t) => t.delete("model.layers.2.mlp.up_proj.weight"));
  const e = await assertRejects(
    () => loadModel(dir),
    ModelLoadError,
    'tensor "model.layers.2.mlp.up_proj.weight" is missing (config.json implies shape [384, 128]',
  );
  assertEquals((e as ModelLoadError).tensor, "model.layers.2.mlp.up_proj.weight");
  await Deno.remove(dir, { recursive: true });
});

gpuTest("loadModel: a wrong shape is named with both shapes", async () => {
  const dir = await brokenCheckpoint((t) => {
    t.set("model.layers.1.self_attn.k_proj.weight", {
      dtype: "F32",
      shape: [128, 128],
      data: new Float32Array(128 * 128),
    });
  });
  await assertRejects(
    () => loadModel(dir),
    ModelLoadError,
    'tensor "model.layers.1.self_attn.k_proj.weight" has shape [128, 128] but config.json',
  );
  await Deno.remove(dir, { recursive: true });
});

gpuTest(
  "loadModel: num_hidden_layers is checked against the layers the checkpoint holds",
  async () => {
    const dir = await brokenCheckpoint(() => {});
    const config = JSON.parse(await Deno.readTextFile("data/tiny/config.json"));
    const withLayers = (n: number) =>
      Deno.writeTextFile(`${dir}/config.json`, JSON.stringify({ ...config, num_hidden_layers: n }));
    // too few: the 4th layer would be left out silently
    await withLayers(3);
    await assertRejects(
      () => loadModel(dir),
      ModelLoadError,
      "num_hidden_layers 3 but the checkpoint holds 4 decoder layers (model.layers.0 … " +
        "model.layers.3); layers model.layers.3 would be left out; set num_hidden_layers to 4",
    );
    // too many, and absurdly many: refused at once from the names, nothing allocated
    await withLayers(6);
    await assertRejects(
      () => loadModel(dir),
      ModelLoadError,
      "missing layers model.layers.4, model.layers.5;",
    );
    await withLayers(1e9);
    const t0 = performance.now();
    await assertRejects(() => loadModel(dir), ModelLoadError, "(999999996 in all)");
    assert(performance.now() - t0 < 2000);
    await Deno.remove(dir, { recursive: true });
    // a hole: layer 1 gone entirely
    const holed = await brokenCheckpoint((t) => {
      for (const name of [...t.keys()]) if (name.startsWith("model.layers.1.")) t.delete(name);
    });
    await assertRejects(
      () => loadModel(holed),
      ModelLoadError,
      "missing layers model.layers.1; the checkpoint is incomplete",
    );
    await Deno.remove(holed, { recursive: true });
  },
);

gpuTest("loadModel: NaN or ±Inf in a weight is named with its element", async () => {
  const nan = await brokenCheckpoint((t) => {
    t.get("model.embed_tokens.weight")!.data[65 * 128 + 3] = NaN;
    t.get("model.layers.2.post_attention_layernorm.weight")!.data[9] = -Infinity;
  });
  const e = await assertRejects(
    () => loadModel(nan),
    ModelLoadError,
    "model.embed_tokens.weight[65, 3] = NaN; weights must be finite",
  );
  assertEquals((e as ModelLoadError).tensor, "model.embed_tokens.weight");
  const inf = await brokenCheckpoint((t) => {
    t.get("model.layers.2.post_attention_layernorm.weight")!.data[9] = -Infinity;
  });
  await assertRejects(
    () => loadModel(inf),
    ModelLoadError,
    "model.layers.2.post_attention_layernorm.weight[9] = -Infinity",
  );
  // a finite f32 value beyond the f16 range: the fix is to load in f32
  const big = await brokenCheckpoint((t) => {
    t.get("model.layers.0.mlp.up_proj.weight")!.data[130] = 1e6;
  });
  await assertRejects(
    () => loadModel(big, { dtype: "f16" }),
    ModelLoadError,
    "model.layers.0.mlp.up_proj.weight[1, 2] = Infinity after conversion from F32 to f16: the " +
      'value exceeds the f16 range (±65504); load with { dtype: "f32" }',
  );
  (await loadModel(big)).dispose();
  for (const dir of [nan, inf, big]) await Deno.remove(dir, { recursive: true });
});

gpuTest("loadModel: a directory without a checkpoint or config says so", async () => {
  const dir = await Deno.makeTempDir();
  await assertRejects(() => loadModel(dir), Error, "config.json");
  await Deno.copyFile("data/tiny/config.json", `${dir}/config.json`);
  await assertRejects(() => loadModel(dir), Error, "model.safetensors");
  await Deno.remove(dir, { recursive: true });
});

gpuTest(
  "causalAttention: splitting the batch into passes (score budget) changes nothing",
  async () => {
    const dims = { batch: 3, seq: 20, heads: 4, kvHeads: 2, headDim: 8 };
    using q = Tensor.randn([60, 32], { seed: 1 });
    using k = Tensor.randn([60, 16], { seed: 2 });
    using v = Tensor.randn([60, 16], { seed: 3 });
    using all = causalAttention(q, k, v, dims);
    using split = causalAttention(q, k, v, { ...dims, maxScoresBytes: 20 * 20 * 4 });
    assertClose(
      await split.data(),
      await all.data(),
      { atol: 0, rtol: 0 },
      "one sequence per pass",
    );
  },
);
