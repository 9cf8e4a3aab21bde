import { assert, assertAlmostEquals, assertEquals, assertThrows } from "@std/assert";
import { constantLr, oneCycle, warmupCosine } from "../../../train/optim/schedule.ts";

// fixtures/train_tiny_lr.json: lr_at of tools/train_tiny.py evaluated by Python 3 (math.cos)
// for four (lr, warmup, total, minRatio) settings, including warmup 0, warmup = total and
// steps past the end; written by this script:
//   def lr_at(step, lr, warmup, steps, min_lr_ratio):   # train_tiny.py's body
//       if step < warmup: return lr * (step + 1) / warmup
//       p = min(1.0, (step - warmup) / max(1, steps - warmup)); lo = lr * min_lr_ratio
//       return lo + 0.5 * (lr - lo) * (1 + math.cos(math.pi * p))
const FIXTURE = JSON.parse(
  await Deno.readTextFile(new URL("./fixtures/train_tiny_lr.json", import.meta.url)),
) as {
  cases: {
    lr: number;
    warmup: number;
    total: number;
    minRatio: number;
    steps: number[];
    lrs: number[];
  }[];
};

Deno.test("warmupCosine reproduces train_tiny.py's lr_at bit for bit", () => {
  let n = 0;
  for (const c of FIXTURE.cases) {
    const lr = warmupCosine(c);
    c.steps.forEach((s, i) => {
      assertEquals(lr(s), c.lrs[i], `step ${s} of ${JSON.stringify({ ...c, steps: 0, lrs: 0 })}`);
      n++;
    });
  }
  assert(n > 200, `${n} points`);
});

Deno.test("oneCycle follows OneCycleLR's cosine phases", () => {
  const maxLr = 0.1, total = 100;
  const lr = oneCycle({ maxLr, total });
  const initial = maxLr / 25, min = initial / 1e4;
  assertAlmostEquals(lr(0), initial, 1e-15);
  assertEquals(lr(29), maxLr); // end of the rise: pctStart·total − 1
  assertAlmostEquals(lr(99), min, 1e-15); // total − 1
  // halfway through the fall (29 → 99) the cosine is at its midpoint
  assertAlmostEquals(lr(64), (maxLr + min) / 2, 1e-15);
  for (let s = 1; s < 29; s++) assert(lr(s) > lr(s - 1), `rises at ${s}`);
  for (let s = 30; s < 100; s++) assert(lr(s) < lr(s - 1), `falls at ${s}`);
  // three phases: up to maxLr at 29, back to initial at 58, then to min at 99
  const three = oneCycle({ maxLr, total, threePhase: true });
  assertEquals(three(29), maxLr);
  assertAlmostEquals(three(58), initial, 1e-15);
  assertAlmostEquals(three(99), min, 1e-15);
  assertThrows(() => lr(101), RangeError, "[0, 100]");
});

Deno.test("schedules reject bad settings and steps with what to use", () => {
  assertThrows(() => constantLr(-1), RangeError, "lr");
  assertThrows(() => warmupCosine({ lr: 1, warmup: 1.5, total: 10 }), RangeError, "integers");
  assertThrows(() => warmupCosine({ lr: 1, warmup: 1, total: 10, minRatio: 2 }), RangeError);
  assertThrows(() => warmupCosine({ lr: 1, warmup: 1, total: 10 })(-1), RangeError, "from 0");
  assertThrows(() => oneCycle({ maxLr: 1, total: 0 }), RangeError, "≥ 1");
  assertThrows(() => oneCycle({ maxLr: 1, total: 10 })(2.5), RangeError, "integer");
  assertEquals(constantLr(0.5)(7), 0.5);
});
