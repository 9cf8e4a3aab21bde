import { assertAlmostEquals, assertEquals, assertRejects, assertThrows } from "@std/assert";
import {
  ConfigError,
  expectedTensorNames,
  loadLlamaConfig,
  parseLlamaConfig,
  ropeFrequencies,
} from "../../model/config.ts";

const TINY = {
  model_type: "llama",
  hidden_size: 64,
  intermediate_size: 172,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  vocab_size: 256,
  tie_word_embeddings: true,
};

/** Shaped like meta-llama/Llama-3.1-8B's config.json. */
const LLAMA31_8B = {
  architectures: ["LlamaForCausalLM"],
  attention_bias: false,
  attention_dropout: 0.0,
  bos_token_id: 128000,
  eos_token_id: 128001,
  hidden_act: "silu",
  hidden_size: 4096,
  initializer_range: 0.02,
  intermediate_size: 14336,
  max_position_embeddings: 131072,
  mlp_bias: false,
  model_type: "llama",
  num_attention_heads: 32,
  num_hidden_layers: 32,
  num_key_value_heads: 8,
  pretraining_tp: 1,
  rms_norm_eps: 1e-05,
  rope_scaling: {
    factor: 8.0,
    low_freq_factor: 1.0,
    high_freq_factor: 4.0,
    original_max_position_embeddings: 8192,
    rope_type: "llama3",
  },
  rope_theta: 500000.0,
  tie_word_embeddings: false,
  torch_dtype: "bfloat16",
  vocab_size: 128256,
};

/** Shaped like Qwen/Qwen2-0.5B's config.json. */
const QWEN2 = {
  architectures: ["Qwen2ForCausalLM"],
  hidden_act: "silu",
  hidden_size: 896,
  intermediate_size: 4864,
  max_position_embeddings: 131072,
  max_window_layers: 24,
  model_type: "qwen2",
  num_attention_heads: 14,
  num_hidden_layers: 24,
  num_key_value_heads: 2,
  rms_norm_eps: 1e-06,
  rope_theta: 1000000.0,
  sliding_window: 131072,
  tie_word_embeddings: true,
  use_sliding_window: false,
  vocab_size: 151936,
};

Deno.test("a tiny llama config gets HF's defaults", () => {
  const c = parseLlamaConfig(TINY);
  assertEquals(c, {
    modelType: "llama",
    hiddenSize: 64,
    intermediateSize: 172,
    numHiddenLayers: 2,
    numAttentionHeads: 4,
    numKeyValueHeads: 4,
    headDim: 16,
    vocabSize: 256,
    rmsNormEps: 1e-6,
    ropeTheta: 10000,
    ropeScaling: null,
    maxPositionEmbeddings: 2048,
    tieWordEmbeddings: true,
    qkvBias: false,
    oBias: false,
    mlpBias: false,
    slidingWindow: null,
    hiddenAct: "silu",
  });
  const names = expectedTensorNames(c);
  assertEquals(names.length, 1 + 2 * 9 + 1);
  assertEquals(names[0], { name: "model.embed_tokens.weight", shape: [256, 64] });
  assertEquals(names.at(-1), { name: "model.norm.weight", shape: [64] });
  assertEquals(names.find((t) => t.name === "model.layers.1.mlp.down_proj.weight")?.shape, [
    64,
    172,
  ]);
});

Deno.test("Llama-3.1-8B: GQA shapes, lm_head, and llama3 RoPE frequencies from the formula", () => {
  const c = parseLlamaConfig(LLAMA31_8B, "llama3/config.json");
  assertEquals([c.numKeyValueHeads, c.headDim, c.ropeTheta, c.rmsNormEps], [8, 128, 500000, 1e-5]);
  assertEquals(c.ropeScaling, {
    ropeType: "llama3",
    factor: 8,
    lowFreqFactor: 1,
    highFreqFactor: 4,
    originalMaxPositionEmbeddings: 8192,
  });
  const names = new Map(expectedTensorNames(c).map((t) => [t.name, t.shape]));
  assertEquals(names.size, 1 + 32 * 9 + 2);
  assertEquals(names.get("model.layers.31.self_attn.q_proj.weight"), [4096, 4096]);
  assertEquals(names.get("model.layers.31.self_attn.k_proj.weight"), [1024, 4096]);
  assertEquals(names.get("model.layers.0.self_attn.o_proj.weight"), [4096, 4096]);
  assertEquals(names.get("model.layers.0.mlp.gate_proj.weight"), [14336, 4096]);
  assertEquals(names.get("lm_head.weight"), [128256, 4096]);
  assertEquals(names.has("model.layers.0.self_attn.q_proj.bias"), false);

  // Independently, per element, as in Meta's reference apply_scaling().
  const got = ropeFrequencies(c);
  assertEquals(got.length, 64);
  let low = 0, mid = 0, high = 0;
  for (let i = 0; i < 64; i++) {
    const base = 1 / 500000 ** ((2 * i) / 128);
    const wavelen = 2 * Math.PI / base;
    let want: number;
    if (wavelen < 8192 / 4) {
      want = base;
      high++;
    } else if (wavelen > 8192 / 1) {
      want = base / 8;
      low++;
    } else {
      const smooth = (8192 / wavelen - 1) / (4 - 1);
      want = (1 - smooth) * base / 8 + smooth * base;
      mid++;
    }
    assertAlmostEquals(got[i], want, Math.abs(want) * 1e-6, `pair ${i}`);
  }
  // All three regimes are exercised for this config.
  assertEquals(high > 0 && mid > 0 && low > 0, true, `${high} ${mid} ${low}`);
  assertEquals(got[0], 1);
  assertAlmostEquals(got[63], 1 / 500000 ** (126 / 128) / 8, 1e-12);
});

Deno.test("Qwen2: q/k/v biases but no o_proj bias, tied embeddings, no sliding window", () => {
  const c = parseLlamaConfig(QWEN2);
  assertEquals([c.qkvBias, c.oBias, c.tieWordEmbeddings, c.slidingWindow], [
    true,
    false,
    true,
    null,
  ]);
  assertEquals(c.headDim, 64);
  const names = expectedTensorNames(c);
  const n = new Map(names.map((t) => [t.name, t.shape]));
  assertEquals(n.get("model.layers.0.self_attn.q_proj.bias"), [896]);
  assertEquals(n.get("model.layers.0.self_attn.k_proj.bias"), [128]);
  assertEquals(n.get("model.layers.23.self_attn.v_proj.bias"), [128]);
  assertEquals(n.has("model.layers.0.self_attn.o_proj.bias"), false);
  assertEquals(n.has("lm_head.weight"), false);
  assertEquals(names.length, 1 + 24 * 12 + 1);
  const f = ropeFrequencies(c);
  assertEquals(f[1], Math.fround(1 / 1e6 ** (2 / 64)));
});

Deno.test("llama with attention_bias has biases on all four projections; mistral has a window", () => {
  const b = parseLlamaConfig({ ...TINY, attention_bias: true, mlp_bias: true });
  const names = expectedTensorNames(b).map((t) => t.name).filter((x) => x.endsWith(".bias"));
  assertEquals(names.filter((x) => x.startsWith("model.layers.0.")).length, 7);
  const m = parseLlamaConfig({ ...TINY, model_type: "mistral", sliding_window: 4096 });
  assertEquals([m.slidingWindow, m.qkvBias, m.maxPositionEmbeddings], [4096, false, 131072]);
});

Deno.test("rope scaling: 'type' key, linear, default, and transformers v5 rope_parameters", () => {
  const legacy = parseLlamaConfig({
    ...TINY,
    rope_scaling: { ...LLAMA31_8B.rope_scaling, rope_type: undefined, type: "llama3" },
  });
  assertEquals(legacy.ropeScaling?.ropeType, "llama3");
  const linear = parseLlamaConfig({ ...TINY, rope_scaling: { type: "linear", factor: 2 } });
  assertEquals(ropeFrequencies(linear)[0], 0.5);
  assertEquals(
    parseLlamaConfig({ ...TINY, rope_scaling: { rope_type: "default" } }).ropeScaling,
    null,
  );
  const v5 = parseLlamaConfig({
    ...TINY,
    rope_parameters: { rope_type: "default", rope_theta: 500000 },
  });
  assertEquals([v5.ropeTheta, v5.ropeScaling], [500000, null]);
});

Deno.test("bad configs name the file, the field and the expected value", () => {
  const cases: [Record<string, unknown>, string, string][] = [
    [{ ...TINY, model_type: "gpt2" }, "model_type", '"gpt2"'],
    [{ ...TINY, model_type: undefined }, "model_type", "undefined"],
    [{ ...TINY, hidden_act: "gelu" }, "hidden_act", '"silu"'],
    [{ ...TINY, vocab_size: undefined }, "vocab_size", "is missing; expected a positive integer"],
    [{ ...TINY, hidden_size: "64" }, "hidden_size", 'is "64"; expected a positive integer'],
    [{ ...TINY, num_hidden_layers: 1.5 }, "num_hidden_layers", "1.5"],
    [{ ...TINY, num_key_value_heads: 3 }, "num_key_value_heads", "must divide"],
    [{ ...TINY, hidden_size: 66 }, "head_dim", "not a multiple"],
    [{ ...TINY, head_dim: 15 }, "head_dim", "even"],
    [{ ...TINY, rms_norm_eps: -1 }, "rms_norm_eps", "positive number"],
    [{ ...TINY, tie_word_embeddings: "yes" }, "tie_word_embeddings", "true or false"],
    [{ ...TINY, rope_scaling: { rope_type: "yarn", factor: 4 } }, "rope_scaling.rope_type", "yarn"],
    [
      { ...TINY, rope_scaling: { rope_type: "llama3", factor: 8 } },
      "rope_scaling.low_freq_factor",
      "is missing",
    ],
    [{ ...TINY, rope_scaling: [1] }, "rope_scaling", "expected null or an object"],
  ];
  for (const [json, field, text] of cases) {
    const e = assertThrows(() => parseLlamaConfig(json, "m/config.json"), ConfigError);
    assertEquals((e as ConfigError).field, field, e.message);
    assertEquals(e.message.startsWith(`m/config.json: ${field} `), true, e.message);
    assertEquals(e.message.includes(text), true, `${e.message} lacks ${text}`);
  }
  assertThrows(() => parseLlamaConfig([1, 2]), ConfigError, "not a JSON object");
});

Deno.test("loadLlamaConfig reads a file or a directory and reports unreadable JSON", async () => {
  const dir = await Deno.makeTempDir();
  await Deno.writeTextFile(`${dir}/config.json`, JSON.stringify(QWEN2));
  assertEquals((await loadLlamaConfig(dir)).modelType, "qwen2");
  assertEquals((await loadLlamaConfig(`${dir}/config.json`)).vocabSize, 151936);
  await Deno.writeTextFile(`${dir}/bad.json`, "{oops");
  await assertRejects(() => loadLlamaConfig(`${dir}/bad.json`), ConfigError, "not valid JSON");
  await assertRejects(() => loadLlamaConfig(`${dir}/none.json`), ConfigError, "cannot be read");
});
