import { assert, assertEquals, assertThrows } from "@std/assert";
import { Tensor } from "../../kernels/tensor.ts";
import { KVCache } from "../../model/kv_cache.ts";
import { loadModel } from "../../model/load.ts";
import { randomLlama } from "../../model/random_llama.ts";
import { assertClose, gpuTest } from "../_helpers.ts";

const DIMS = { numHiddenLayers: 2, numKeyValueHeads: 3, headDim: 2 };

gpuTest("KVCache.write puts each sequence's rows at its positions; advance and reset", async () => {
  using cache = new KVCache(DIMS, { batch: 2, maxLength: 5 });
  assertEquals(cache.keys(1).shape, [2, 5, 6]);
  const rows = (base: number, n: number) =>
    Tensor.fromArray(Float32Array.from({ length: n * 6 }, (_, i) => base + i), [n, 6]);
  // two tokens per sequence, then one more at position 2
  using k1 = rows(100, 4);
  using v1 = rows(200, 4);
  cache.write(1, k1, v1);
  cache.advance(2);
  using k2 = rows(300, 2);
  cache.write(1, k2, k2);
  cache.advance(1);
  assertEquals(cache.length, 3);
  const want = new Float32Array(2 * 5 * 6);
  want.set((await k1.data() as Float32Array).subarray(0, 12), 0); // sequence 0, positions 0–1
  want.set((await k2.data() as Float32Array).subarray(0, 6), 12); // sequence 0, position 2
  want.set((await k1.data() as Float32Array).subarray(12), 30); // sequence 1, positions 0–1
  want.set((await k2.data() as Float32Array).subarray(6), 42); // sequence 1, position 2
  assertEquals(await cache.keys(1).data(), want);
  assertEquals(
    Array.from(await cache.keys(0).data()).every((x) => x === 0),
    true,
    "layer 0 untouched",
  );
  assertEquals(Array.from(await cache.values(1).data()).slice(30, 36), [
    212,
    213,
    214,
    215,
    216,
    217,
  ]);
  assertEquals(Array.from(await k1.data()).slice(0, 2), [100, 101], "inputs unchanged");
  cache.reset();
  assertEquals(cache.length, 0);
});

gpuTest("KVCache rejects bad sizes, overflow, wrong shapes and use after dispose", () => {
  assertThrows(() => new KVCache(DIMS, { batch: 0, maxLength: 4 }), RangeError, "batch 0");
  assertThrows(() => new KVCache(DIMS, { batch: 1, maxLength: 2.5 }), RangeError, "maxLength 2.5");
  const cache = new KVCache(DIMS, { batch: 2, maxLength: 3 });
  using k = Tensor.zeros([8, 6]);
  assertThrows(() => cache.write(0, k, k), RangeError, "maxLength ≥ 4");
  using odd = Tensor.zeros([3, 6]);
  assertThrows(() => cache.write(0, odd, odd), RangeError, "not a whole number of tokens");
  using narrow = Tensor.zeros([2, 4]);
  assertThrows(() => cache.write(0, narrow, narrow), RangeError, "[batch·seq, 6]");
  using k16 = Tensor.zeros([2, 6], "f16");
  assertThrows(() => cache.write(0, k16, k16), TypeError, "must be f32");
  assertThrows(() => cache.write(2, k, k), RangeError, "layer 2 does not exist");
  assertThrows(() => cache.checkFits(3, 1, "f32"), RangeError, "{ batch: 3 }");
  assertThrows(() => cache.advance(4), RangeError, "[0, 3]");
  cache.dispose();
  cache.dispose();
  assertThrows(() => cache.keys(0), Error, "after dispose");
});

gpuTest("forward with a cache in chunks (5 + 3 + 1 tokens) equals one full forward", async () => {
  using model = randomLlama({
    hidden_size: 30,
    intermediate_size: 36,
    num_hidden_layers: 2,
    num_attention_heads: 5,
    num_key_value_heads: 1,
    vocab_size: 9,
  }, { std: 0.4 });
  const ids = [[1, 2, 3, 4, 5, 6, 7, 8, 0], [8, 7, 6, 5, 4, 3, 2, 1, 0]];
  using full = model.forward(ids);
  const want = await full.data() as Float32Array;
  using cache = new KVCache(model.config, { batch: 2, maxLength: 10 });
  const got = new Float32Array(want.length);
  for (const [start, n] of [[0, 5], [5, 3], [8, 1]]) {
    using part = model.forward(ids.map((r) => r.slice(start, start + n)), { cache });
    assertEquals(cache.length, start + n);
    const d = await part.data() as Float32Array;
    for (let b = 0; b < 2; b++) {
      got.set(d.subarray(b * n * 9, (b + 1) * n * 9), (b * 9 + start) * 9);
    }
  }
  assertClose(got, want, { atol: 1e-5, rtol: 1e-4 }, "chunked logits");
  // a reset cache gives the same logits again
  cache.reset();
  using again = model.forward(ids, { cache });
  assertClose(await again.data(), want, { atol: 1e-5, rtol: 1e-4 }, "after reset");
});

gpuTest("forward with a cache: mismatched caches are refused before anything runs", async () => {
  using model = await loadModel();
  using small = new KVCache(model.config, { batch: 1, maxLength: 3 });
  assertThrows(() => model.forward([[1, 2, 3, 4]], { cache: small }), RangeError, "maxLength ≥ 4");
  assertThrows(() => model.forward([[1], [2]], { cache: small }), RangeError, "{ batch: 2 }");
  assertThrows(
    () => model.forwardHidden([[1]], { cache: small, layers: 2 }),
    RangeError,
    "needs every layer",
  );
  using other = new KVCache({ ...model.config, numKeyValueHeads: 4 }, { batch: 1, maxLength: 3 });
  assertThrows(() => model.forward([[1]], { cache: other }), RangeError, "does not fit");
  using half = new KVCache(model.config, { batch: 1, maxLength: 3, dtype: "f16" });
  assertThrows(() => model.forward([[1]], { cache: half }), TypeError, "cache is f16");
  assertEquals(small.length, 0);
  assert(small.toString().includes("0/3 positions"));
});
