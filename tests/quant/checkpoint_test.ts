import { assert, assertEquals, assertRejects } from "@std/assert";
import { loadModel } from "../../model/load.ts";
import { int, nvfp4 } from "../../quant/quantizer.ts";
import { rtn } from "../../quant/methods/rtn.ts";
import { loadQuantized, saveQuantized } from "../../quant/checkpoint.ts";
import { QuantLinear } from "../../quant/linear.ts";
import { gpuTest } from "../_helpers.ts";

const ids = [Array.from(new TextEncoder().encode("In the beginning God created the heaven and"))];

async function sha(path: string): Promise<string> {
  const d = await crypto.subtle.digest("SHA-256", await Deno.readFile(path));
  return Array.from(new Uint8Array(d), (b) => b.toString(16).padStart(2, "0")).join("");
}

gpuTest(
  "RTN int4 (and mixed formats) round trip through safetensors: identical logits",
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
    using logits = model.forward(ids);
    const expected = await logits.data();
    const dir = await Deno.makeTempDir();
    try {
      const qc = await saveQuantized(model, dir);
      assertEquals(Object.keys(qc.layers).length, 28);
      const size = (await Deno.stat(`${dir}/model.safetensors`)).size;
      const dense = (await Deno.stat(srcFile)).size;
      console.log(`quantized checkpoint ${size} bytes vs f32 ${dense} bytes`);
      assert(size < dense * 0.6, "packed codes make the file smaller");
      using again = await loadQuantized(dir);
      assert(again.getLinear("layers.0.mlp.up_proj") instanceof QuantLinear);
      using logits2 = again.forward(ids);
      assertEquals(await logits2.data(), expected, "logits after save/load");
      // nothing half-written next to the outputs, and the source is unchanged
      const names = [];
      for await (const e of Deno.readDir(dir)) {
        names.push(e.name);
      }
      assertEquals(names.sort(), ["config.json", "model.safetensors"]);
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
    assertEquals(await sha(srcFile), before, "the source checkpoint is never modified");
  },
);

gpuTest("saving refuses to overwrite the source folder", async () => {
  using model = await loadModel();
  await assertRejects(() => saveQuantized(model, model.source!), RangeError, "source checkpoint");
});
