import { assert, assertAlmostEquals, assertEquals, assertRejects, assertThrows } from "@std/assert";
import { Tensor } from "../../kernels/tensor.ts";
import { compareModels, klPerPosition, perplexity, planWindows } from "../../model/eval.ts";
import { loadModel } from "../../model/load.ts";
import { openSafetensors } from "../../model/safetensors.ts";
import { gpuTest } from "../_helpers.ts";

const reference = JSON.parse(await Deno.readTextFile("data/tiny/reference.json"));

gpuTest(
  "perplexity: first 4096 bytes of valid.txt reproduce reference.json (3.300741)",
  async () => {
    using model = await loadModel();
    const bytes = (await Deno.readFile("data/corpus/valid.txt")).subarray(0, 4096);
    const t0 = performance.now();
    const r = await perplexity(model, bytes, { seqLen: 256, batchSize: 8 });
    const want = reference.perplexity.valid_first_4096_bytes;
    console.log(
      `  perplexity ${r.perplexity.toFixed(6)} (reference ${want.ppl.toFixed(6)}, ` +
        `rel. diff ${((r.perplexity / want.ppl - 1) * 100).toExponential(2)} %), mean NLL ` +
        `${r.meanNll.toFixed(6)}; ${r.windows} windows, ${r.tokens} predictions, ` +
        `${((performance.now() - t0) / 1000).toFixed(1)} s`,
    );
    assertEquals(r.windows, 16);
    assertEquals(r.tokens, want.tokens_scored);
    assert(Math.abs(r.perplexity / want.ppl - 1) <= 0.005, `perplexity ${r.perplexity}`);
    assertAlmostEquals(r.meanNll, want.mean_nll, 1e-4);
  },
);

Deno.test("planWindows: non-overlapping and sliding windows score each target once", () => {
  assertEquals(planWindows(4096, 256).length, 16);
  assert(planWindows(4096, 256).every((w) => w.scoreFrom === 0));
  assertEquals(planWindows(300, 256), [{ start: 0, scoreFrom: 0 }]); // trailing part dropped
  for (const [n, L, S] of [[100, 16, 5], [64, 8, 8], [50, 10, 1], [33, 7, 3]]) {
    const seen = new Array(n).fill(0);
    let lastEnd = 0;
    for (const { start, scoreFrom } of planWindows(n, L, S)) {
      for (let t = scoreFrom; t < L - 1; t++) seen[start + t + 1]++;
      lastEnd = start + L;
    }
    assertEquals(seen[0], 0);
    for (let p = 1; p < lastEnd; p++) {
      // With stride = seqLen the first token of each window has no context there: never scored.
      const want = S === L && p % L === 0 ? 0 : 1;
      assertEquals(seen[p], want, `n ${n} L ${L} S ${S}: target ${p}`);
    }
  }
  assertThrows(() => planWindows(10, 4, 5), RangeError, "stride 5");
  assertThrows(() => planWindows(10, 1), RangeError, "seqLen 1");
});

gpuTest(
  "perplexity: text input, sliding windows and rows agree with their definitions",
  async () => {
    using model = await loadModel();
    const text = (await Deno.readTextFile("data/corpus/valid.txt")).slice(0, 160);
    // Sliding: windows of 32 every 16 → 9 windows; targets 1..159 each scored once.
    const s = await perplexity(model, text, { seqLen: 32, stride: 16 });
    assertEquals([s.windows, s.tokens], [9, 159]);
    // Rows are windows as given: the same as a flat stream cut at the same places.
    const bytes = new TextEncoder().encode(text);
    const rows = [bytes.slice(0, 32), bytes.slice(32, 64)];
    const a = await perplexity(model, rows);
    const b = await perplexity(model, bytes.slice(0, 64), { seqLen: 32 });
    assertEquals(a.tokens, 62);
    assertAlmostEquals(a.meanNll, b.meanNll, 1e-9);
    // More context helps: the sliding protocol is no worse than non-overlapping windows.
    const n = await perplexity(model, text, { seqLen: 32 });
    assert(s.perplexity < n.perplexity, `sliding ${s.perplexity} vs plain ${n.perplexity}`);
  },
);

gpuTest(
  "compareModels: against HF's reference logits, KL ≈ 0, top-1 = 1, NLL as reference.json",
  async () => {
    using model = await loadModel();
    await using file = await openSafetensors("data/tiny/reference_logits.safetensors");
    const ids = (await file.read("input_ids")).data as Int32Array;
    const logits = (await file.read("logits")).data as Float32Array;
    using ref = Tensor.fromArray(logits, [2, 64, 256]);
    const rows = [ids.slice(0, 64), ids.slice(64)];
    const r = await compareModels(ref, model, rows);
    const nll = reference.reference_logits.mean_nll_next_byte as number[];
    console.log(`  KL ${r.kl.toExponential(2)} nats, top-1 ${r.top1}, tokens ${r.tokens}`);
    assertEquals(r.tokens, 126);
    assert(r.kl >= -1e-7 && r.kl < 1e-7, `KL ${r.kl}`);
    assertEquals(r.top1, 1);
    assertAlmostEquals(Math.log(r.refPerplexity), (nll[0] + nll[1]) / 2, 1e-6);
    assertAlmostEquals(Math.log(r.perplexity), (nll[0] + nll[1]) / 2, 1e-5);
  },
);

gpuTest(
  "klPerPosition matches the definition; an f16 model is close but not identical",
  async () => {
    using p = Tensor.fromArray([[[1, 2, 3], [0, 0, 0]]]);
    using q = Tensor.fromArray([[[3, 2, 1], [0, 0, 5]]]);
    using kl = klPerPosition(p, q);
    const want = [[1, 2, 3], [0, 0, 0]].map((pr, i) => {
      const qr = [[3, 2, 1], [0, 0, 5]][i];
      const lse = (v: number[]) => Math.log(v.reduce((s, x) => s + Math.exp(x), 0));
      const lp = pr.map((x) => x - lse(pr)), lq = qr.map((x) => x - lse(qr));
      return lp.reduce((s, x, j) => s + Math.exp(x) * (x - lq[j]), 0);
    });
    const got = await kl.data();
    assertAlmostEquals(got[0], want[0], 1e-5);
    assertAlmostEquals(got[1], want[1], 1e-5);

    using m32 = await loadModel();
    using m16 = await loadModel(undefined, { dtype: "f16" });
    const text = (await Deno.readTextFile("data/corpus/valid.txt")).slice(0, 256);
    const r = await compareModels(m32, m16, text, { seqLen: 128 });
    console.log(`  f16 vs f32: KL ${r.kl.toExponential(2)}, top-1 ${r.top1.toFixed(4)}`);
    assert(r.kl > 0 && r.kl < 1e-3, `KL ${r.kl}`);
    assert(r.top1 > 0.95, `top-1 ${r.top1}`);
  },
);

gpuTest("NaN in a weight: perplexity and compareModels name it", async () => {
  const text = (await Deno.readTextFile("data/corpus/valid.txt")).slice(0, 128);
  using ref = await loadModel();
  using model = await loadModel();
  const norm = Float32Array.from(await model.layerNorm(1, "input").data());
  norm[17] = NaN;
  model.setLayerNorm(1, "input", Tensor.fromArray(norm));
  for (
    const run of [
      () => perplexity(model, text, { seqLen: 64 }),
      () => compareModels(ref, model, text, { seqLen: 64 }),
    ]
  ) {
    await assertRejects(
      run,
      RangeError,
      "the model gives a non-finite log-probability at window 0, position 0: its weight " +
        "model.layers.1.input_layernorm.weight[17] = NaN",
    );
  }
  await assertRejects(
    () => compareModels(model, ref, text, { seqLen: 64 }),
    RangeError,
    "the reference gives a non-finite",
  );
  // precomputed reference logits with an Inf: the error says so
  const rows = [[...new TextEncoder().encode(text.slice(0, 64))]];
  using logits = ref.forward(rows);
  const bad = Float32Array.from(await logits.data());
  bad[3 * 256 + 5] = Infinity;
  using badT = Tensor.fromArray(bad, logits.shape);
  await assertRejects(
    () => compareModels(badT, ref, rows),
    RangeError,
    "the reference gives a non-finite log-probability at window 0, position 3; the reference " +
      "logits hold NaN or ±Inf there",
  );
  assertEquals(await ref.findNonFinite(), undefined);
});

gpuTest("perplexity: rows too short to score anything are refused, not NaN", async () => {
  using model = await loadModel();
  await assertRejects(() => perplexity(model, [[5]]), RangeError, "row 0 has 1 tokens");
  await assertRejects(() => perplexity(model, [[5, 6], []]), RangeError, "row 1 has 0 tokens");
  await assertRejects(() => perplexity(model, []), RangeError, "fewer than one window");
  const r = await perplexity(model, [[80, 97]]);
  assert(Number.isFinite(r.perplexity) && r.tokens === 1);
});
