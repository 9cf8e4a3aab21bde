import { assert, assertEquals, assertThrows } from "@std/assert";
import { randomWindows, replayWindows } from "../../train/data.ts";

const corpus = Uint8Array.from({ length: 300 }, (_, i) => (i * 7) % 256);

Deno.test("randomWindows: windows in range, targets shifted by one, same seed same starts", () => {
  const a = randomWindows(corpus, { batch: 5, seqLen: 9, seed: 3 });
  const b = randomWindows(corpus, { batch: 5, seqLen: 9, seed: 3 });
  const c = randomWindows(corpus, { batch: 5, seqLen: 9, seed: 4 });
  let seenLast = false;
  for (let k = 0; k < 200; k++) {
    const x = a.next();
    assertEquals(x.starts, b.next().starts);
    for (const [i, s] of x.starts.entries()) {
      assert(Number.isInteger(s) && s >= 0 && s < 300 - 9 - 1, `start ${s}`);
      seenLast ||= s === 300 - 11;
      for (let t = 0; t < 9; t++) {
        assertEquals(x.inputs[i * 9 + t], corpus[s + t]);
        assertEquals(x.targets[i * 9 + t], corpus[s + t + 1]);
      }
    }
  }
  assert(seenLast, "the largest start is reachable");
  assert(a.next().starts.join() !== c.next().starts.join());
});

Deno.test("randomWindows/replayWindows: restore continues where the position was", () => {
  const a = randomWindows(corpus, { batch: 2, seqLen: 4, seed: 9 });
  for (let k = 0; k < 5; k++) a.next();
  const pos = JSON.parse(JSON.stringify(a.position()));
  const b = randomWindows(corpus, { batch: 2, seqLen: 4, seed: 9 });
  b.restore(pos);
  assertEquals(b.next().starts, a.next().starts);
  assertThrows(
    () => randomWindows(corpus, { batch: 2, seqLen: 4, seed: 8 }).restore(pos),
    RangeError,
  );

  const r = replayWindows(corpus, [1, 2, 3, 4], { batch: 2, seqLen: 4 });
  assertEquals(r.next().starts, [1, 2]);
  const r2 = replayWindows(corpus, [1, 2, 3, 4], { batch: 2, seqLen: 4 });
  r2.restore(r.position());
  assertEquals(r2.next().starts, [3, 4]);
  assertThrows(() => r2.next(), RangeError, "all 2 batches");
});

Deno.test("data sources reject bad input", () => {
  assertThrows(() => randomWindows(corpus, { batch: 0, seqLen: 4 }), RangeError, "batch");
  assertThrows(() => randomWindows(corpus.subarray(0, 5), { batch: 1, seqLen: 4 }), RangeError);
  assertThrows(() => replayWindows(corpus, [1, 2, 3], { batch: 2, seqLen: 4 }), RangeError);
  assertThrows(
    () => replayWindows(corpus, [296], { batch: 1, seqLen: 4 }),
    RangeError,
    "start 296",
  );
});
