import { assert, assertRejects } from "@std/assert";
import { loadModel } from "../../../model/load.ts";
import { captureLayerInputs } from "../../../model/capture.ts";
import { gptqModel } from "../../../quant/methods/gptq_model.ts";
import { int } from "../../../quant/quantizer.ts";
import { gpuTest } from "../../_helpers.ts";

gpuTest(
  "gptqModel: bad calibration sequences are refused before any work, naming the fault",
  async () => {
    using model = await loadModel();
    const q = int(4, { group: 32 });
    const cases: [unknown, string][] = [
      [[], "no calibration sequences given"],
      [[[]], "sequence 0 has 0 tokens; calibration needs at least 2"],
      [[[5]], "sequence 0 has 1 tokens; calibration needs at least 2"],
      [[[1, 2, 3], [1, 2]], "sequence 1 has 2 tokens but sequence 0 has 3"],
      [[[1, 2, 300]], "token 300 at sequence 0, position 2 is outside the vocabulary [0, 256)"],
      [[[1, -1]], "token -1 at sequence 0, position 1"],
      [[[1, 2.5]], "token 2.5 at sequence 0, position 1"],
      [[null], "sequence 0 is null"],
    ];
    for (const [seqs, part] of cases) {
      const e = await assertRejects(() =>
        gptqModel(model, q, seqs as number[][], { progress: false })
      );
      assert(e instanceof Error && e.message.startsWith("gptqModel: "), String(e));
      assert(e.message.includes(part), `"${part}" missing from: ${e.message}`);
      assert(!e.message.includes("Infinity"), e.message);
    }
    // nothing was quantized
    assert([...model.linears().values()].every((l) => l.constructor.name === "DenseLinear"));
    // the capture every method builds on says the same, not "batchSize Infinity"
    await assertRejects(
      () => captureLayerInputs(model, [[]], { progress: false }),
      RangeError,
      "captureLayerInputs: sequence 0 has 0 tokens",
    );
  },
);
