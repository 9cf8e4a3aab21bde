import { assert, assertEquals, assertNotEquals, assertThrows } from "@std/assert";
import { Tensor } from "../../kernels/tensor.ts";
import {
  calibrationSequences,
  captureLayerInputs,
  type ObserverLike,
} from "../../model/capture.ts";
import { DenseLinear } from "../../model/linear.ts";
import { loadModel } from "../../model/load.ts";
import { openSafetensors } from "../../model/safetensors.ts";
import { rmsNormRef } from "../reference/norm.ts";
import { assertClose, gpuTest } from "../_helpers.ts";

const train = await Deno.readFile("data/corpus/train.txt");

/** RMSNorm(embedding(ids)) with the given norm weight, on the CPU from the checkpoint. */
async function normedEmbedding(ids: Int32Array[], normName: string): Promise<Float64Array> {
  await using f = await openSafetensors("data/tiny/model.safetensors");
  const emb = (await f.read("model.embed_tokens.weight", { as: "f32" })).data as Float32Array;
  const w = (await f.read(normName, { as: "f32" })).data as Float32Array;
  const x = new Float32Array(ids.length * ids[0].length * 128);
  let r = 0;
  for (const seq of ids) {
    for (const id of seq) x.set(emb.subarray(id * 128, id * 128 + 128), 128 * r++);
  }
  return rmsNormRef(x, w, 1e-5);
}

Deno.test("calibrationSequences: seeded, in range, equal lengths", () => {
  const a = calibrationSequences(train, { n: 5, seqLen: 32, seed: 1 });
  const b = calibrationSequences(train, { n: 5, seqLen: 32, seed: 1 });
  const c = calibrationSequences(train, { n: 5, seqLen: 32, seed: 2 });
  assertEquals(a.length, 5);
  assert(a.every((s) => s.length === 32 && s.every((v) => v >= 0 && v < 256)));
  assertEquals(a, b);
  assertNotEquals(a, c);
  // each window is a contiguous slice of the source
  const text = new TextDecoder().decode(train);
  assert(text.includes(new TextDecoder().decode(Uint8Array.from(a[0]))));
  assertThrows(() => calibrationSequences("short", { n: 1, seqLen: 10 }), RangeError, "fewer than");
});

gpuTest(
  "capture: layer 0 q_proj inputs equal RMSNorm(embedding) computed independently",
  async () => {
    using model = await loadModel();
    const seqs = calibrationSequences(train, { n: 3, seqLen: 32, seed: 3 });
    const chunks: Float32Array[] = [];
    const names: string[] = [];
    let qkvShared = true;
    let lastQ: Tensor | undefined;
    const t0 = performance.now();
    await captureLayerInputs(model, seqs, {
      batchSize: 2,
      progress: false,
      onLinearInput: async (name, x, { layer }) => {
        if (layer === 0) names.push(name);
        if (name === "layers.0.self_attn.q_proj") {
          chunks.push((await x.data()) as Float32Array);
          lastQ = x;
        }
        if (name === "layers.0.self_attn.v_proj" && x !== lastQ) qkvShared = false;
      },
    });
    console.log(
      `  capture of 3 × 32 tokens through 4 layers: ${(performance.now() - t0).toFixed(0)} ms`,
    );
    assertEquals(chunks.length, 2); // chunks of 2 and 1 sequences
    assertEquals(chunks[0].length, 2 * 32 * 128);
    assert(qkvShared, "q/k/v should receive the same tensor");
    assertEquals(names.slice(0, 7), [...model.linears({ layer: 0 }).keys()]);
    const got = new Float32Array([...chunks[0], ...chunks[1]]);
    const want = await normedEmbedding(seqs, "model.layers.0.input_layernorm.weight");
    assertClose(got, want, { atol: 1e-5, rtol: 1e-5 }, "layer 0 q_proj input");
  },
);

gpuTest(
  "capture: afterLayer that changes nothing reproduces the plain forward's hidden states",
  async () => {
    using model = await loadModel();
    const seqs = calibrationSequences(train, { n: 3, seqLen: 32, seed: 4 });
    const seen: number[] = [];
    const r = await captureLayerInputs(model, seqs, {
      batchSize: 2,
      keepHidden: true,
      progress: false,
      afterLayer: (i) => void seen.push(i),
    });
    assertEquals(seen, [0, 1, 2, 3]);
    assertEquals(r.hidden!.length, 2);
    for (const [c, rows] of [[0, seqs.slice(0, 2)], [1, seqs.slice(2)]] as const) {
      using want = model.forwardHidden(rows);
      using got = r.hidden![c];
      assertEquals(got.shape, want.shape);
      assertClose(await got.data(), await want.data(), { atol: 1e-5, rtol: 1e-5 }, `chunk ${c}`);
    }
  },
);

gpuTest("capture: afterLayer's replacements are used for the next layer's inputs", async () => {
  const seqs = calibrationSequences(train, { n: 2, seqLen: 16, seed: 5 });
  const want = await normedEmbedding(seqs, "model.layers.1.input_layernorm.weight");
  for (const recompute of [true, false]) {
    using model = await loadModel();
    let layer1Input: Float32Array | undefined;
    let downInputAbs = 0;
    await captureLayerInputs(model, seqs, {
      layers: 2,
      recompute,
      progress: false,
      onLinearInput: async (name, x) => {
        if (name === "layers.1.self_attn.q_proj") layer1Input = (await x.data()) as Float32Array;
        if (name === "layers.0.mlp.down_proj") {
          for (const v of await x.data()) downInputAbs = Math.max(downInputAbs, Math.abs(v));
        }
      },
      // "Quantize" layer 0 to nothing: with o_proj and down_proj zero, the
      // layer passes the embeddings through unchanged.
      afterLayer: (i, m) => {
        if (i !== 0) return;
        m.setLinear("layers.0.self_attn.o_proj", new DenseLinear(Tensor.zeros([128, 128])));
        m.setLinear("layers.0.mlp.down_proj", new DenseLinear(Tensor.zeros([128, 384])));
      },
    });
    assert(downInputAbs > 0, "layer 0 was captured with its original weights");
    if (recompute) {
      assertClose(
        layer1Input!,
        want,
        { atol: 1e-5, rtol: 1e-5 },
        "layer 1 input after replacement",
      );
    } else {
      let d = 0;
      for (let i = 0; i < want.length; i++) d = Math.max(d, Math.abs(layer1Input![i] - want[i]));
      assert(d > 0.1, `without recompute layer 1 should see the original layer 0 (diff ${d})`);
    }
  }
});

gpuTest("capture: observers from a factory see every chunk of every linear", async () => {
  using model = await loadModel();
  const seqs = calibrationSequences(train, { n: 5, seqLen: 16, seed: 6 });
  class Count implements ObserverLike {
    tokens = 0;
    channels = 0;
    observe(x: Tensor): void {
      this.tokens += x.shape[0];
      this.channels = x.shape[1];
    }
  }
  const r = await captureLayerInputs(model, seqs, {
    batchSize: 2,
    progress: false,
    observers: (name) => name.endsWith("down_proj") ? new Count() : undefined,
  });
  assertEquals([...r.observers.keys()], [0, 1, 2, 3].map((i) => `layers.${i}.mlp.down_proj`));
  for (const o of r.observers.values()) {
    assertEquals([(o as Count).tokens, (o as Count).channels], [80, 384]);
  }
  assertEquals([r.layers, r.sequences, r.seqLen, r.hidden], [4, 5, 16, undefined]);
});
