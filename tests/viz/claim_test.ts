import { assert, assertEquals, assertStringIncludes, assertThrows } from "@std/assert";
import { tableFromIPC } from "apache-arrow";
import {
  checkStored,
  type ClaimSpec,
  judgeClaim,
  type Outcome,
  readClaims,
  readExpected,
  Scorecard,
} from "../../viz/claim.ts";
import { bundleOf } from "../../viz/display.ts";

/** A claim whose paired advantages are exactly `d` (lower is better, baseline 10). */
function spec(d: readonly number[], o: Partial<ClaimSpec> = {}): ClaimSpec {
  return {
    id: "m-beats-b",
    statement: "M beats B",
    metric: "perplexity",
    better: "lower",
    method: { name: "M", bits: 4.5, values: d.map((x) => 10 - x) },
    baseline: { name: "B", bits: 4.5, values: d.map(() => 10) },
    seeds: d.map((_, i) => i),
    evaluation: "4096 bytes of valid.txt",
    ...o,
  };
}

Deno.test("judgeClaim: margin is the mean paired advantage, spread its sample std", () => {
  const r = judgeClaim(spec([1, 2, 3]), "nb");
  assertEquals(r.notebook, "nb");
  assertEquals(r.margin, 2);
  assertEquals(r.spread, 1);
  assertEquals(r.methodMean, 8);
  assertEquals(r.baselineMean, 10);
  assertEquals(r.baselineSpread, 0);
  assertEquals(r.outcome, "inconclusive"); // 2 is not > 2·1
});

Deno.test("judgeClaim: holds / fails / inconclusive at the 2·spread boundary", () => {
  // d = m + s·(−1, 0, 1): mean m, sample std exactly s
  const at = (m: number, s: number) => judgeClaim(spec([m - s, m, m + s])).outcome;
  assertEquals(at(2.5, 1), "holds");
  assertEquals(at(2, 1), "inconclusive"); // margin = 2·spread exactly: not beyond
  assertEquals(at(1.5, 1), "inconclusive");
  assertEquals(at(-1.5, 1), "inconclusive");
  assertEquals(at(-2, 1), "inconclusive");
  assertEquals(at(-2.5, 1), "fails");
  // no spread: any strict difference decides, none is inconclusive
  assertEquals(at(1e-9, 0), "holds");
  assertEquals(at(-1e-9, 0), "fails");
  assertEquals(at(0, 0), "inconclusive");
});

Deno.test("judgeClaim: higher-is-better flips the sign of the advantage", () => {
  const s = spec([0, 0, 0], {
    better: "higher",
    metric: "SQNR (dB)",
    method: { name: "M", bits: 4, values: [20, 21, 22] },
    baseline: { name: "B", bits: 4, values: [10, 11, 12] },
  });
  const r = judgeClaim(s);
  assertEquals([r.margin, r.spread, r.outcome], [10, 0, "holds"]);
  const rev = judgeClaim({ ...s, method: s.baseline, baseline: s.method });
  assertEquals([rev.margin, rev.outcome], [-10, "fails"]);
});

Deno.test("judgeClaim: pairing by seed, not pooled spreads", () => {
  // both sides vary a lot across seeds but the method wins every pair by 0.1
  const r = judgeClaim(spec([0, 0, 0], {
    method: { name: "M", bits: 3, values: [3.0, 4.0, 5.0] },
    baseline: { name: "B", bits: 3, values: [3.1, 4.1, 5.1] },
  }));
  assert(r.methodSpread > 0.9 && r.baselineSpread > 0.9);
  assert(r.spread < 1e-12, `paired spread ${r.spread}`);
  assertEquals(r.outcome, "holds");
});

Deno.test("judgeClaim refuses unequal bits, fewer than 3 runs and bad input", () => {
  assertThrows(
    () =>
      judgeClaim(spec([1, 1, 1], {
        method: { name: "LQER W3 + rank 8", bits: 5.08, values: [1, 1, 1] },
        baseline: { name: "RTN W3 g32", bits: 3.5, values: [2, 2, 2] },
      })),
    RangeError,
    "unequal bits",
  );
  // within the slack, and a baseline with more bits, are fine
  judgeClaim(spec([1, 1, 1], {
    method: { name: "M", bits: 4.505, values: [1, 1, 1] },
    baseline: { name: "B", bits: 4.5, values: [2, 2, 2] },
  }));
  judgeClaim(spec([1, 1, 1], {
    method: { name: "M", bits: 3.5, values: [1, 1, 1] },
    baseline: { name: "B", bits: 5.1, values: [2, 2, 2] },
  }));
  assertThrows(() => judgeClaim(spec([1, 1])), RangeError, "at least 3 seeds");
  assertThrows(() => judgeClaim(spec([1])), RangeError, "at least 3 seeds");
  assertThrows(
    () => judgeClaim(spec([1, 1, 1], { seeds: [0, 1, 2, 3] })),
    RangeError,
    "4 seeds",
  );
  assertThrows(
    () => judgeClaim(spec([1, 1, 1], { method: { name: "M", bits: 4, values: [1, NaN, 1] } })),
    RangeError,
    "finite",
  );
  assertThrows(() => judgeClaim(spec([1, 1, 1], { id: "Not Kebab" })), TypeError, "kebab-case");
  assertThrows(
    () => judgeClaim(spec([1, 1, 1], { better: "smaller" as "lower" })),
    TypeError,
    "better",
  );
});

Deno.test("Scorecard: the expected outcome must match, in either direction", () => {
  const card = new Scorecard("nb", {
    expected: { "a-holds": "holds", "b-fails": "fails", "c-none": "inconclusive" },
    out: null,
  });
  const r = card.claim(spec([1, 1.1, 0.9], { id: "a-holds" }));
  assertEquals([r.outcome, r.expected], ["holds", "holds"]);
  // measured holds, expected fails: throws, and names the file to update
  const e1 = assertThrows(() => card.claim(spec([1, 1.1, 0.9], { id: "b-fails" })));
  assertStringIncludes((e1 as Error).message, `"b-fails" was expected to be fails but holds`);
  assertStringIncludes((e1 as Error).message, "notebooks/claims/nb.json");
  // measured fails, expected inconclusive: throws too
  const e2 = assertThrows(() => card.claim(spec([-1, -1.1, -0.9], { id: "c-none" })));
  assertStringIncludes((e2 as Error).message, "expected to be inconclusive but fails");
  // the failed claims are still recorded, so the scorecard shows them
  assertEquals(card.records.map((x) => [x.id, x.outcome, x.expected]), [
    ["a-holds", "holds", "holds"],
    ["b-fails", "holds", "fails"],
    ["c-none", "fails", "inconclusive"],
  ]);
});

Deno.test("Scorecard: an unknown id, a repeated id and a vanished claim throw", () => {
  const card = new Scorecard("nb", { expected: { "a": "holds", "b": "fails" }, out: null });
  const e = assertThrows(() => card.claim(spec([1, 1, 1], { id: "zzz" })));
  assertStringIncludes((e as Error).message, `add "zzz": "holds"`);
  card.claim(spec([1, 1, 1], { id: "a" }));
  assertThrows(() => card.claim(spec([1, 1, 1], { id: "a" })), Error, "made twice");
  assertThrows(() => card.finish(), Error, "expected claim(s) b were not made");
  card.claim(spec([-1, -1, -1], { id: "b" }));
  card.finish();
});

Deno.test("readExpected validates the committed file", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const p = `${dir}/x.json`;
    Deno.writeTextFileSync(p, JSON.stringify({ a: "holds", b: "inconclusive" }));
    assertEquals(
      readExpected("x", p),
      { a: "holds", b: "inconclusive" } as Record<string, Outcome>,
    );
    Deno.writeTextFileSync(p, JSON.stringify({ a: "passes" }));
    assertThrows(() => readExpected("x", p), TypeError, `"a" is "passes"`);
    Deno.writeTextFileSync(p, "[1]");
    assertThrows(() => readExpected("x", p), TypeError, "must hold an object");
    Deno.writeTextFileSync(p, "{");
    assertThrows(() => readExpected("x", p), Error, "is not JSON");
    assertThrows(() => readExpected("x", `${dir}/none.json`), Error, "cannot read");
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("Scorecard writes one Arrow file that round-trips with every column", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const card = new Scorecard("round-trip", {
      expected: { "one": "holds", "two": "fails" },
      out: dir,
    });
    card.claim(spec([0.2, 0.21, 0.19], { id: "one", note: "a note" }));
    card.claim(spec([-0.2, -0.21, -0.19], {
      id: "two",
      better: "higher",
      metric: "top-1",
      method: { name: "X", bits: 3.5, values: [0.5, 0.6, 0.7] },
      baseline: { name: "Y", bits: 5.1, values: [0.6, 0.7, 0.8] },
      seeds: [3, 4, 5],
    }));
    card.finish();
    const bytes = Deno.readFileSync(`${dir}/round-trip.arrow`);
    const t = tableFromIPC(bytes);
    assertEquals(t.numRows, 2);
    assertEquals(t.schema.fields.map((f) => f.name), [
      "notebook",
      "id",
      "statement",
      "metric",
      "better",
      "method",
      "method_bits",
      "method_mean",
      "method_spread",
      "method_values",
      "baseline",
      "baseline_bits",
      "baseline_mean",
      "baseline_spread",
      "baseline_values",
      "margin",
      "spread",
      "runs",
      "seeds",
      "evaluation",
      "outcome",
      "expected",
      "note",
    ]);
    const row = (i: number) => t.get(i)!.toJSON() as Record<string, unknown>;
    const r0 = row(0), r1 = row(1);
    const [c0, c1] = card.records;
    assertEquals(r0.notebook, "round-trip");
    assertEquals([r0.id, r0.statement, r0.metric, r0.better], [
      "one",
      "M beats B",
      "perplexity",
      "lower",
    ]);
    assertEquals([r0.method, r0.method_bits, r0.baseline, r0.baseline_bits], ["M", 4.5, "B", 4.5]);
    assertEquals(r0.method_mean, c0.methodMean);
    assertEquals(r0.method_spread, c0.methodSpread);
    assertEquals(r0.baseline_mean, c0.baselineMean);
    assertEquals(r0.baseline_spread, c0.baselineSpread);
    assertEquals(JSON.parse(r0.method_values as string), c0.method.values);
    assertEquals(JSON.parse(r0.baseline_values as string), c0.baseline.values);
    assertEquals([r0.margin, r0.spread], [c0.margin, c0.spread]);
    assertEquals([r0.runs, r0.seeds, r0.evaluation], [3, "0,1,2", "4096 bytes of valid.txt"]);
    assertEquals([r0.outcome, r0.expected, r0.note], ["holds", "holds", "a note"]);
    assertEquals([r1.better, r1.metric, r1.seeds, r1.note], ["higher", "top-1", "3,4,5", ""]);
    assertEquals([r1.method_bits, r1.baseline_bits, r1.outcome], [3.5, 5.1, "fails"]);
    assertEquals(r1.margin, c1.margin);
    // readClaims gives the records back
    const back = readClaims(`${dir}/round-trip.arrow`);
    assertEquals(back.map((r) => [r.id, r.outcome, r.expected]), [
      ["one", "holds", "holds"],
      ["two", "fails", "fails"],
    ]);
    assertEquals(back[1].baseline.values, [0.6, 0.7, 0.8]);
    assertEquals(back[1].seeds, [3, 4, 5]);
    // no temporary file is left behind
    assertEquals([...Deno.readDirSync(dir)].map((e) => e.name), ["round-trip.arrow"]);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("readClaims names the file when it is missing or not a claims table", () => {
  const dir = Deno.makeTempDirSync();
  try {
    assertThrows(() => readClaims(`${dir}/none.arrow`), Error, "none.arrow");
    Deno.writeFileSync(`${dir}/junk.arrow`, new Uint8Array([1, 2, 3, 4, 5]));
    assertThrows(() => readClaims(`${dir}/junk.arrow`), Error, "junk.arrow");
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("the scorecard displays ✓ / ✗ / does not reproduce", async () => {
  const card = new Scorecard("nb", {
    expected: { a: "holds", b: "fails", c: "inconclusive" },
    out: null,
  });
  card.claim(spec([1, 1, 1], { id: "a" }));
  card.claim(spec([-1, -1, -1], { id: "b" }));
  card.claim(spec([1, -1, 0], { id: "c" }));
  const b = await bundleOf(card);
  assertStringIncludes(b["text/html"] as string, "<table");
  const text = b["text/plain"] as string;
  assertEquals(text.split("\n").map((l) => l.split(" ")[0]), ["✓", "✗", "does"]);
  assertStringIncludes(text, "does not reproduce at this scale");
});

Deno.test("checkStored passes within the tolerance and names what differs", () => {
  checkStored("ppl", 3.2750, 3.2751);
  checkStored("ppl", 3.2750, 3.2760, { rel: 1e-3 });
  const e = assertThrows(() => checkStored("RTN W4 g32", 3.275, 3.5));
  assertStringIncludes((e as Error).message, "RTN W4 g32: the live run gives 3.5");
  assertThrows(() => checkStored("nan", 3.275, NaN), Error, "live run gives NaN");
});
