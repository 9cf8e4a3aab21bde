import { assert, assertEquals, assertRejects } from "@std/assert";
import { generate, type GenerateOptions } from "../../model/generate.ts";
import type { LlamaModel } from "../../model/llama.ts";
import { loadModel } from "../../model/load.ts";
import { randomLlama } from "../../model/random_llama.ts";
import { int } from "../../quant/quantizer.ts";
import { quantizeModel } from "../../quant/model.ts";
import { assertClose, gpuTest } from "../_helpers.ts";

const bytes = (s: string) => Array.from(new TextEncoder().encode(s));

/**
 * Runs `generate` with per-step logits, then recomputes every step without a cache
 * (`model.forward` over prompt + the tokens so far) and compares the last position's
 * logits. f32 tolerance: the two paths sum the same products in different orders
 * (decode GEMV vs tiled GEMM, scores over a cache vs a square block); the measured
 * gap on data/tiny is ~2e-5 on logits of magnitude ~10.
 */
async function checkAgainstRecompute(
  model: LlamaModel,
  prompts: number[][],
  options: GenerateOptions,
): Promise<number[][]> {
  const { tokens, logits } = await generate(model, prompts, { ...options, returnLogits: true });
  const V = model.config.vocabSize;
  assert(logits && logits.length === options.maxNewTokens, "one logits row per step");
  for (let s = 0; s < logits.length; s++) {
    const seqs = prompts.map((p, b) => [...p, ...tokens[b].slice(0, s)]);
    using full = model.forward(seqs);
    const all = await full.data() as Float32Array;
    const T = seqs[0].length;
    const want = new Float32Array(prompts.length * V);
    for (let b = 0; b < prompts.length; b++) {
      want.set(all.subarray((b * T + T - 1) * V, (b * T + T) * V), b * V);
    }
    assertClose(logits[s], want, { atol: 2e-4, rtol: 1e-4 }, `step ${s} logits (cached vs full)`);
  }
  return tokens;
}

gpuTest(
  "generate on data/tiny: cached logits equal a full recompute, batch of 2, greedy",
  async () => {
    using model = await loadModel();
    const prompts = [bytes("In the beginning"), bytes("And the LORD sai")];
    const tokens = await checkAgainstRecompute(model, prompts, { maxNewTokens: 10 });
    assertEquals(tokens.map((t) => t.length), [10, 10]);
    // greedy continuation of a verse the model has learned
    assert(
      new TextDecoder().decode(new Uint8Array(tokens[1])).startsWith("d unto"),
      `${tokens[1]}`,
    );
  },
);

gpuTest(
  "generate on a random GQA model with 3 heads / 1 kv head: cached = recompute, sampled",
  async () => {
    using model = randomLlama({
      hidden_size: 24,
      intermediate_size: 40,
      num_hidden_layers: 2,
      num_attention_heads: 3,
      num_key_value_heads: 1,
      vocab_size: 11,
      max_position_embeddings: 32,
      rope_theta: 100,
    }, { std: 0.4 });
    assertEquals([model.config.headDim, model.config.numKeyValueHeads], [8, 1]);
    const prompts = [[1, 2, 3, 4, 5], [10, 0, 7, 7, 2], [3, 3, 3, 3, 3]];
    const tokens = await checkAgainstRecompute(model, prompts, {
      maxNewTokens: 9,
      temperature: 1.5,
      seed: 3,
    });
    assertEquals(tokens.map((t) => t.length), [9, 9, 9]);
    // one-token prompts and a single sequence
    await checkAgainstRecompute(model, [[4]], { maxNewTokens: 4 });
  },
);

gpuTest(
  "generate with quantized linears (RTN int4, packed kernels): cached = recompute",
  async () => {
    using model = randomLlama({
      hidden_size: 32,
      intermediate_size: 64,
      num_hidden_layers: 2,
      num_attention_heads: 4,
      num_key_value_heads: 2,
      vocab_size: 13,
    }, { std: 0.3 });
    await quantizeModel(model, { method: "rtn", quantizer: int(4, { group: 16 }) });
    assert(![...model.linears().values()].some((l) => l.constructor.name === "DenseLinear"));
    await checkAgainstRecompute(model, [[1, 2, 3], [4, 5, 6]], { maxNewTokens: 5 });
  },
);

gpuTest("generate: top-k 1 equals greedy; the same seed gives the same tokens", async () => {
  using model = randomLlama({ vocab_size: 12, num_attention_heads: 2 }, { std: 0.5 });
  const prompts = [[1, 2, 3], [9, 8, 7]];
  const greedy = await generate(model, prompts, { maxNewTokens: 12 });
  const top1 = await generate(model, prompts, {
    maxNewTokens: 12,
    temperature: 2,
    topK: 1,
    seed: 5,
  });
  assertEquals(top1.tokens, greedy.tokens);
  const opts = { maxNewTokens: 12, temperature: 1.5, seed: 11 };
  const a = await generate(model, prompts, opts);
  const b = await generate(model, prompts, opts);
  const c = await generate(model, prompts, { ...opts, seed: 12 });
  assertEquals(a.tokens, b.tokens);
  assert(JSON.stringify(a.tokens) !== JSON.stringify(c.tokens), "another seed, other tokens");
  assert(JSON.stringify(a.tokens) !== JSON.stringify(greedy.tokens), "sampling is not greedy");
  // top-k 3: every token is among the 3 most likely of its step
  const k3 = await generate(model, prompts, { ...opts, topK: 3, returnLogits: true });
  k3.logits!.forEach((row, s) => {
    for (let r = 0; r < 2; r++) {
      const l = row.subarray(r * 12, (r + 1) * 12);
      const t = k3.tokens[r][s];
      assert(
        l.filter((x) => x > l[t]).length < 3,
        `step ${s} row ${r}: token ${t} not in the top 3`,
      );
    }
  });
});

gpuTest(
  "generate: first tokens of 1000 identical prompts follow softmax(logits / T) (χ²)",
  async () => {
    using model = randomLlama({ vocab_size: 4 }, { std: 0.3 });
    const n = 1000, T = 0.6;
    const prompts = Array.from({ length: n }, () => [1, 3, 2]);
    const { tokens, logits } = await generate(model, prompts, {
      maxNewTokens: 1,
      temperature: T,
      seed: 21,
      returnLogits: true,
    });
    const l = Array.from(logits![0].subarray(0, 4));
    const probs = (temp: number) => {
      const w = l.map((x) => Math.exp((x - Math.max(...l)) / temp));
      return w.map((x) => x / w.reduce((a, b) => a + b, 0));
    };
    const counts = [0, 0, 0, 0];
    for (const t of tokens) counts[t[0]]++;
    const chiSquare = (p: number[]) =>
      counts.reduce((a, c, i) => a + (c - n * p[i]) ** 2 / (n * p[i]), 0);
    const p = probs(T);
    const chi = chiSquare(p);
    console.log(`  χ² ${chi.toFixed(2)}; against T = 1: ${chiSquare(probs(1)).toFixed(2)}`);
    // the check has power: the same draws are far from the distribution at T = 1
    assert(chiSquare(probs(1)) > 21.11, "a wrong temperature (1) would pass");
    assert(Math.min(...p) * n > 5, `expected counts ≥ 5 for χ² (p ${p})`);
    // upper 1e-4 quantile of χ² with 3 degrees of freedom
    assert(
      chi < 21.11,
      `χ² ${chi.toFixed(2)}: counts ${counts} vs expected ${p.map((x) => x * n)}`,
    );
    // every row decoded the same prompt: same logits
    assertClose(logits![0].subarray(4 * n - 4), logits![0].subarray(0, 4), {
      atol: 1e-5,
      rtol: 1e-5,
    });
  },
);

gpuTest(
  "generate: stop tokens end a sequence (kept), others go on; prompts are not modified",
  async () => {
    using model = await loadModel();
    const prompts = [bytes("In the beginning"), bytes("And the LORD sai")];
    const copy = prompts.map((p) => [...p]);
    const free = await generate(model, prompts, { maxNewTokens: 12 });
    const stop = free.tokens[0][2]; // a token sequence 0 emits at step 2
    const stopped = await generate(model, prompts, { maxNewTokens: 12, stop: [stop] });
    for (let b = 0; b < 2; b++) {
      const at = free.tokens[b].indexOf(stop);
      assertEquals(stopped.tokens[b], at < 0 ? free.tokens[b] : free.tokens[b].slice(0, at + 1));
    }
    assertEquals(stopped.tokens[0].at(-1), stop);
    assertEquals(prompts, copy);
    assertEquals((await generate(model, prompts, { maxNewTokens: 0 })).tokens, [[], []]);
  },
);

gpuTest("generate: bad prompts and options are refused with the fix", async () => {
  using model = randomLlama({ max_position_embeddings: 8 });
  const go = (ids: number[] | number[][], o: Partial<GenerateOptions>) =>
    generate(model, ids, { maxNewTokens: 3, ...o });
  await assertRejects(() => go([], {}), RangeError, "the prompt is empty");
  await assertRejects(() => go([[]], {}), RangeError, "the prompt is empty");
  await assertRejects(
    () => go([1, 2, 3, 4, 5], { maxNewTokens: 4 }),
    RangeError,
    "prompt (5) + maxNewTokens (4) = 9 positions exceed max_position_embeddings 8",
  );
  await assertRejects(() => go([1, 2], { maxNewTokens: -1 }), RangeError, "maxNewTokens -1");
  await assertRejects(() => go([1, 2], { maxNewTokens: 1.5 }), RangeError, "maxNewTokens 1.5");
  await assertRejects(() => go([1, 2], { temperature: -0.5 }), RangeError, "temperature -0.5");
  await assertRejects(() => go([1, 2], { topK: 0 }), RangeError, "topK 0");
  await assertRejects(() => go([1, 2], { stop: 16 }), RangeError, "stop token 16");
  await assertRejects(() => go([[1, 2], [3]], {}), RangeError, "equal lengths");
  await assertRejects(() => go([1, 300], {}), RangeError, "outside the vocabulary");
  // the longest allowed run fits exactly
  const r = await go([1, 2, 3, 4, 5], { maxNewTokens: 3 });
  assertEquals(r.tokens[0].length, 3);
});

interface GenerateReference {
  prompts: { byte_offset: number; ids: number[] }[];
  tokens: number[][];
  margins: number[][];
  settings: { max_new_tokens: number; prompt_bytes: number };
}

/**
 * lowbit's greedy tokens for the reference's prompts (one batch) equal the reference's,
 * except that after a step where the reference's top-2 logits are within f32 noise
 * (margin < 1e-3) the two may take different, equally valid paths.
 */
async function compareWithReference(file: string, maker: string): Promise<void> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
    throw new Error(
      `${file} is missing: run \`python3 ${maker}\` from the repository root and commit it`,
    );
  }
  const ref = JSON.parse(text) as GenerateReference;
  const valid = await Deno.readFile("data/corpus/valid.txt");
  for (const p of ref.prompts) {
    assertEquals(p.ids, Array.from(valid.subarray(p.byte_offset, p.byte_offset + p.ids.length)));
  }
  using model = await loadModel();
  const { tokens } = await generate(model, ref.prompts.map((p) => p.ids), {
    maxNewTokens: ref.settings.max_new_tokens,
  });
  let compared = 0;
  for (let b = 0; b < ref.prompts.length; b++) {
    for (let s = 0; s < ref.tokens[b].length; s++) {
      if (tokens[b][s] === ref.tokens[b][s]) {
        compared++;
        continue;
      }
      assert(
        ref.margins[b][s] < 1e-3,
        `${file}: prompt ${b} step ${s}: lowbit chose ${tokens[b][s]}, the reference ` +
          `${ref.tokens[b][s]} with a top-2 margin of ${ref.margins[b][s]}`,
      );
      break; // a near-tie: the paths may differ from here on
    }
  }
  const total = ref.tokens.flat().length;
  console.log(`  ${file}: ${compared}/${total} greedy tokens equal`);
  assert(compared >= total / 2, `only ${compared}/${total} tokens compared`);
}

gpuTest("generate on data/tiny: greedy tokens equal a float64 numpy full recompute", async () => {
  await compareWithReference(
    "data/tiny/generate_reference_numpy.json",
    "tools/generate_reference_numpy.py",
  );
});

// data/tiny/generate_reference.json is made by `python3 tools/generate_reference.py` on a
// machine with torch + transformers; this test fails until that file is committed.
gpuTest(
  "generate on data/tiny: greedy tokens equal HF transformers' (use_cache=True)",
  async () => {
    await compareWithReference(
      "data/tiny/generate_reference.json",
      "tools/generate_reference.py (needs torch + transformers)",
    );
  },
);
