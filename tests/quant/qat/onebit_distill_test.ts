import { assert, assertEquals, assertLess, assertRejects } from "@std/assert";
import { randomLlama } from "../../../model/random_llama.ts";
import { QuantLinear } from "../../../quant/linear.ts";
import { OneBitLinear } from "../../../quant/qat/onebit_linear.ts";
import {
  distillOneBit,
  exportOneBit,
  oneBitParameters,
  oneBitStudent,
} from "../../../quant/qat/onebit_distill.ts";
import { gpuTest } from "../../_helpers.ts";

const CONFIG = { num_hidden_layers: 1 }; // the tiny random config: hidden 16, vocab 16
const corpus = new Uint8Array(300).map((_, i) => (i * 5 + (i >> 3)) % 16);

gpuTest(
  "distillOneBit: the KD loss falls, the same seed gives the same bits, the teacher is untouched",
  async () => {
    using teacher = randomLlama(CONFIG);
    const before = await teacher.forward([[1, 2, 3]]).data();
    const run = async () => {
      const student = randomLlama(CONFIG);
      const names = await oneBitStudent(student);
      assertEquals(names.length, 7);
      assert(student.getLinear(names[0]) instanceof OneBitLinear);
      assertEquals(oneBitParameters(student).size, 21); // weight, a, b per layer
      const r = await distillOneBit(teacher, student, corpus, {
        steps: 12,
        batch: 2,
        seqLen: 8,
        lr: 5e-3,
      });
      return { student, r };
    };
    const a = await run();
    const b = await run();
    try {
      assertEquals(a.r.losses, b.r.losses, "same seed, same bits");
      assertLess(
        a.r.losses.at(-1)!,
        a.r.losses[0],
        `losses ${a.r.losses.map((x) => x.toFixed(3))}`,
      );
      for (let i = 0; i < a.r.losses.length; i++) {
        assertLess(Math.abs(a.r.ce[i] + a.r.mse[i] - a.r.losses[i]), 1e-4 * (1 + a.r.losses[i]));
      }
      assertEquals(await teacher.forward([[1, 2, 3]]).data(), before);
      // the exported model computes what the trained student computes (a, b rounded to f16)
      const ids = [[3, 1, 4, 1, 5, 9, 2, 6]];
      using y0 = a.student.forward(ids);
      const rep = await exportOneBit(a.student, { packed: true });
      assertEquals(rep.layers.length, 7);
      assert(a.student.getLinear("layers.0.mlp.up_proj") instanceof QuantLinear);
      using y1 = a.student.forward(ids);
      const [p, q] = [await y0.data(), await y1.data()];
      for (let i = 0; i < p.length; i++) {
        assertLess(Math.abs(p[i] - q[i]), 1e-2 * (1 + Math.abs(p[i])));
      }
    } finally {
      a.student.dispose();
      b.student.dispose();
    }
  },
);

gpuTest(
  "distillOneBit: rejects a student without OneBit layers and a student of another depth",
  async () => {
    using teacher = randomLlama(CONFIG);
    using plain = randomLlama(CONFIG);
    await assertRejects(
      () => distillOneBit(teacher, plain, corpus, { steps: 1 }),
      RangeError,
      "oneBitStudent",
    );
    using deep = randomLlama({ num_hidden_layers: 2 });
    await assertRejects(
      () => distillOneBit(teacher, deep, corpus, { steps: 1 }),
      RangeError,
      "the student 2",
    );
  },
);
