import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { join } from "node:path";
import { checkClaims, judge, runNotebook } from "../../tools/nb_run.ts";
import { Scorecard } from "../../viz/claim.ts";
import { parseArgs, selectNotebooks } from "../../tools/notebooks.ts";

const FIXTURES = new URL("./fixtures/", import.meta.url).pathname;

Deno.test("judge: a thrown claim cell fails with its cell and error", () => {
  const nb = {
    cells: [
      { cell_type: "code", source: "x = 1", execution_count: 1, outputs: [] },
      {
        cell_type: "code",
        source: "// claim: x is 2\nif (x !== 2) throw new Error('x is 1')",
        execution_count: 2,
        outputs: [{
          output_type: "error",
          ename: "Error",
          evalue: "x is 1",
          traceback: ["\x1b[31mError\x1b[0m: x is 1", "    at <anonymous>:2:1"],
        }],
      },
    ],
  };
  const r = judge(nb, {
    ok: false,
    seconds: 1,
    cell: 1,
    reason: "error",
    ename: "Error",
    evalue: "x is 1",
  });
  assertEquals(r.ok, false);
  assertEquals(r.claim, "failed");
  assertEquals(r.failure?.cell, 1);
  assertEquals(r.failure?.traceback[0], "Error: x is 1");
  assertStringIncludes(r.failure!.sourceHead, "// claim: x is 2");
});

Deno.test("judge: an earlier failure leaves the claim not run; a timeout names its cell", () => {
  const nb = {
    cells: [
      { cell_type: "code", source: "await forever()", execution_count: 1, outputs: [] },
      { cell_type: "code", source: "// claim: later", execution_count: null, outputs: [] },
    ],
  };
  const r = judge(nb, {
    ok: false,
    seconds: 3,
    cell: 0,
    reason: "timeout",
    ename: "Timeout",
    evalue: "notebook time limit of 3 s reached in cell 0",
  });
  assertEquals([r.ok, r.claim, r.failure?.reason, r.failure?.cell], [
    false,
    "not-run",
    "timeout",
    0,
  ]);
});

Deno.test("runner selection and options", () => {
  const files = ["00-quickstart.ipynb", "12-gptq.ipynb", "_smoke.ipynb"];
  assertEquals(selectNotebooks(files, parseArgs([])), ["00-quickstart.ipynb", "12-gptq.ipynb"]);
  assertEquals(selectNotebooks(files, parseArgs(["_smoke"])), ["_smoke.ipynb"]);
  assertEquals(selectNotebooks(files, parseArgs(["notebooks/12-gptq.ipynb"])), ["12-gptq.ipynb"]);
  assertEquals(parseArgs([], { LOWBIT_NB_LIMIT: "30" }).limitS, 30);
});

Deno.test("a notebook over its time limit is stopped and reported", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const nb = {
      cells: [
        { cell_type: "code", metadata: {}, execution_count: null, outputs: [], source: "1" },
        {
          cell_type: "code",
          metadata: {},
          execution_count: null,
          outputs: [],
          source: "await new Promise((r) => setTimeout(r, 60000));",
        },
      ],
      metadata: { kernelspec: { name: "deno", display_name: "Deno", language: "typescript" } },
      nbformat: 4,
      nbformat_minor: 5,
    };
    await Deno.writeTextFile(join(dir, "slow.ipynb"), JSON.stringify(nb));
    const t0 = performance.now();
    const r = await runNotebook(join(dir, "slow.ipynb"), { outDir: join(dir, "out"), limitS: 4 });
    assert(performance.now() - t0 < 30000, "not stopped in time");
    assertEquals([r.ok, r.failure?.reason, r.failure?.cell, r.claim], [
      false,
      "timeout",
      1,
      "missing",
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno task notebooks end to end on the fixtures: run, report, export, browser", async () => {
  const out = await Deno.makeTempDir();
  try {
    const cmd = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", "tools/notebooks.ts", `--dir=${FIXTURES}`, `--out=${out}`, "--limit=60"],
      cwd: new URL("../../", import.meta.url).pathname,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder().decode(cmd.stdout);
    const lines = text.trim().split("\n");
    assertEquals(cmd.code, 1, text);
    assertEquals(lines.at(-1), "1 passed, 3 failed", text);
    // the failing claim is reported with its cell, source and error
    assertStringIncludes(
      text,
      "✗ fail_claim: error in cell 2: Error: claim failed: mse 0.5 is not below 0.1",
    );
    assertStringIncludes(text, "│ // claim: the error is below 0.1");
    assertStringIncludes(text, "✗ no_claim: claim-missing");
    assertStringIncludes(text, "✓ pass (");
    assertStringIncludes(text, "claim passed, 1 claim)");
    // a claim cell that runs clean but records other claims than the committed file fails
    assertStringIncludes(text, "✗ wrong_claims: claims");
    assertStringIncludes(text, "expected claim(s) not made: vanished");
    // the scorecard lists the recorded claims; the index links it with per-notebook counts
    const card = await Deno.readTextFile(join(out, "scorecard.html"));
    assertStringIncludes(card, "2 claims: 2 ✓ · 0 ✗ · 0 not reproduced");
    assertStringIncludes(card, "int4 has a lower error than int3");
    assertStringIncludes(card, "No claims recorded by: fail_claim, no_claim");
    assertStringIncludes(text, `✓ page ${join(out, "scorecard.html")}`);
    // executed notebooks, pages, index and screenshot
    const executed = JSON.parse(await Deno.readTextFile(join(out, "fail_claim.ipynb")));
    assertEquals(executed.cells[3].execution_count, null); // stopped at the claim
    const page = await Deno.readTextFile(join(out, "pass.html"));
    assert(!/<script[^>]+src="(https?:|file:)/.test(page), "page loads a script from outside");
    assertStringIncludes(page, '<script src="plotly.min.js"></script>');
    assertStringIncludes(text, "✓ page");
    assertStringIncludes(text, "pass.html: 1/1 charts");
    const index = await Deno.readTextFile(join(out, "index.html"));
    assertStringIncludes(index, "1 passed, 3 failed");
    assertStringIncludes(index, '<a href="scorecard.html">scorecard</a>');
    assertStringIncludes(index, "1 ✓ · 0 ✗ · 0 not reproduced");
    assertStringIncludes(index, "claim failed: mse 0.5");
    const png = await Deno.readFile(join(out, "screenshot.png"));
    assertEquals(Array.from(png.subarray(1, 4)), [0x50, 0x4e, 0x47]); // "PNG"
    assert(png.length > 5000, "screenshot too small to hold a chart");
  } finally {
    await Deno.remove(out, { recursive: true });
  }
});

Deno.test("checkClaims: exactly the committed ids, each with its committed outcome", () => {
  const dir = Deno.makeTempDirSync();
  try {
    const card = new Scorecard("nb", { expected: { a: "holds", b: "fails" }, out: dir });
    const side = (v: number) => ({ name: `x${v}`, bits: 4, values: [v, v, v] });
    const base = { statement: "s", metric: "m", better: "lower" as const, evaluation: "e" };
    card.claim({ ...base, id: "a", method: side(1), baseline: side(2), seeds: [0, 1, 2] });
    card.claim({ ...base, id: "b", method: side(2), baseline: side(1), seeds: [0, 1, 2] });
    const arrow = join(dir, "nb.arrow"), json = join(dir, "nb.json");
    const check = (expected: unknown) => {
      Deno.writeTextFileSync(json, JSON.stringify(expected));
      return checkClaims("nb", arrow, json);
    };
    const ok = check({ a: "holds", b: "fails" });
    assertEquals([ok.problem, ok.claims.length], [undefined, 2]);
    assertStringIncludes(check({ a: "holds", b: "holds" }).problem!, `"b" fails, expected holds`);
    assertStringIncludes(check({ a: "holds" }).problem!, "claim(s) not in");
    assertStringIncludes(
      check({ a: "holds", b: "fails", c: "holds" }).problem!,
      "expected claim(s) not made: c",
    );
    assertStringIncludes(check({}).problem!, "lists no claims");
    assertStringIncludes(
      checkClaims("nb", join(dir, "none.arrow"), json).problem!,
      "no claims were recorded",
    );
    assertStringIncludes(
      checkClaims("nb", arrow, join(dir, "none.json")).problem!,
      "cannot read the expected outcomes",
    );
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});
