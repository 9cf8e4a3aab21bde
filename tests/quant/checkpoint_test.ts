import { assert, assertEquals, assertRejects } from "@std/assert";
import { loadModel, ModelLoadError } from "../../model/load.ts";
import { int, nvfp4 } from "../../quant/quantizer.ts";
import { rtn } from "../../quant/methods/rtn.ts";
import { loadQuantized, packModel, saveQuantized } from "../../quant/checkpoint.ts";
import { QuantLinear } from "../../quant/linear.ts";
import { assertClose, gpuTest } from "../_helpers.ts";

const ids = [Array.from(new TextEncoder().encode("In the beginning God created the heaven and"))];

async function sha(path: string): Promise<string> {
  const d = await crypto.subtle.digest("SHA-256", await Deno.readFile(path));
  return Array.from(new Uint8Array(d), (b) => b.toString(16).padStart(2, "0")).join("");
}

async function tempTarget(): Promise<{ dir: string; [Symbol.asyncDispose](): Promise<void> }> {
  const root = await Deno.makeTempDir();
  return {
    dir: `${root}/q`,
    [Symbol.asyncDispose]: () => Deno.remove(root, { recursive: true }),
  };
}

gpuTest(
  "RTN int4 (and mixed formats) round trip: identical logits on the packed kernels",
  async () => {
    const srcFile = new URL("../../data/tiny/model.safetensors", import.meta.url).pathname;
    const before = await sha(srcFile);
    using model = await loadModel();
    // most layers int4 g32; down_proj asymmetric uint3 per channel; layer 3's q_proj NVFP4
    await rtn(
      model,
      (name) =>
        name === "layers.3.self_attn.q_proj"
          ? nvfp4()
          : name.endsWith("down_proj")
          ? int(3, { symmetric: false })
          : int(4, { group: 32 }),
    );
    using fake = model.forward(ids);
    packModel(model);
    using packed = model.forward(ids);
    // the packed kernels and the dense matmul of the fake-quantized weights agree
    assertClose(await packed.data(), await fake.data(), { atol: 2e-3, rtol: 1e-3 }, "packed");
    await using t = await tempTarget();
    const qc = await saveQuantized(model, t.dir);
    assertEquals(Object.keys(qc.layers).length, 28);
    const size = (await Deno.stat(`${t.dir}/model.safetensors`)).size;
    const dense = (await Deno.stat(srcFile)).size;
    console.log(`quantized checkpoint ${size} bytes vs f32 ${dense} bytes`);
    assert(size < dense * 0.6, "packed codes make the file smaller");
    using again = await loadQuantized(t.dir);
    for (const lin of again.linears().values()) assert(lin instanceof QuantLinear && lin.packed);
    using logits2 = again.forward(ids);
    assertEquals(await logits2.data(), await packed.data(), "logits after save/load");
    // only the checkpoint's files, nothing half-written next to it
    const names = [];
    for await (const e of Deno.readDir(t.dir)) names.push(e.name);
    assertEquals(names.sort(), ["config.json", "model.safetensors"]);
    const siblings = [];
    for await (const e of Deno.readDir(`${t.dir}/..`)) siblings.push(e.name);
    assertEquals(siblings, ["q"]);
    // the HF convention: quantization_config in config.json
    const cfg = JSON.parse(await Deno.readTextFile(`${t.dir}/config.json`));
    assertEquals(cfg.quantization_config.quant_method, "lowbit");
    assertEquals(cfg.hidden_size, 128);
    assertEquals(await sha(srcFile), before, "the source checkpoint is never modified");
  },
);

gpuTest("W4A8 keeps its activation quantizer through save and load", async () => {
  using model = await loadModel();
  const a8 = int(8, { per: "token" });
  await rtn(model, int(4, { group: 32 }), { act: a8 });
  packModel(model);
  using ref = model.forward(ids);
  await using t = await tempTarget();
  await saveQuantized(model, t.dir);
  using again = await loadQuantized(t.dir);
  const l = again.getLinear("layers.1.mlp.down_proj");
  assert(l instanceof QuantLinear && l.act?.format === "int8" && l.packed, String(l));
  using got = again.forward(ids);
  assertEquals(await got.data(), await ref.data());
});

gpuTest("saving refuses the source folder and a non-empty target, unless asked", async () => {
  using model = await loadModel();
  await assertRejects(() => saveQuantized(model, model.source!), RangeError, "source checkpoint");
  await rtn(model, int(4, { group: 32 }));
  await using t = await tempTarget();
  // an older sharded checkpoint in the target: refused, and left as it was
  await Deno.mkdir(t.dir);
  await Deno.writeTextFile(`${t.dir}/model.safetensors.index.json`, '{"weight_map": {}}');
  await Deno.writeTextFile(`${t.dir}/config.json`, "{}");
  await assertRejects(() => saveQuantized(model, t.dir), Error, "not empty");
  assertEquals(await Deno.readTextFile(`${t.dir}/config.json`), "{}");
  // with overwrite, the stale index cannot hide the new weights: the folder is replaced whole
  await saveQuantized(model, t.dir, { overwrite: true });
  const names = [];
  for await (const e of Deno.readDir(t.dir)) names.push(e.name);
  assertEquals(names.sort(), ["config.json", "model.safetensors"]);
  using again = await loadQuantized(t.dir);
  assertEquals(again.linears().size, 28);
  // a quantized checkpoint is not a dense one: loadModel says so
  await assertRejects(() => loadModel(t.dir), ModelLoadError, "loadQuantized");
});

gpuTest("two concurrent saves into one folder: one wins, the other fails clearly", async () => {
  using model = await loadModel();
  await rtn(model, int(4, { group: 32 }));
  await using t = await tempTarget();
  const results = await Promise.allSettled([
    saveQuantized(model, t.dir),
    saveQuantized(model, t.dir),
  ]);
  assertEquals(results.map((r) => r.status).sort(), ["fulfilled", "rejected"]);
  const err = (results.find((r) => r.status === "rejected") as PromiseRejectedResult).reason;
  assert(/in progress|not empty/.test(String(err)), String(err));
  using again = await loadQuantized(t.dir);
  assertEquals(again.linears().size, 28);
});

gpuTest("a wrong stored bit width is detected on load, naming the layer", async () => {
  using model = await loadModel();
  await rtn(model, int(4, { group: 32 }));
  await using t = await tempTarget();
  await saveQuantized(model, t.dir);
  const cfg = JSON.parse(await Deno.readTextFile(`${t.dir}/config.json`));
  cfg.quantization_config.layers["model.layers.2.mlp.up_proj"].bits = 3;
  await Deno.writeTextFile(`${t.dir}/config.json`, JSON.stringify(cfg));
  await assertRejects(
    () => loadQuantized(t.dir),
    RangeError,
    "model.layers.2.mlp.up_proj: stored bit width 3",
  );
  // the quantizer itself says 3 bits: the code words no longer fit the shape
  cfg.quantization_config.layers["model.layers.2.mlp.up_proj"].quantizer = int(3, { group: 32 });
  await Deno.writeTextFile(`${t.dir}/config.json`, JSON.stringify(cfg));
  await assertRejects(() => loadQuantized(t.dir), RangeError, "code words do not hold");
});
