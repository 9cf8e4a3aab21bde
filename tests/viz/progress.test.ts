import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import { formatSeconds, Progress, progress } from "../../viz/progress.ts";

Deno.test("log mode prints at most ~20 lines and ends at 100%", async () => {
  const lines: string[] = [];
  let n = 0;
  for await (
    const _ of progress(new Array(1000).fill(0), {
      mode: "log",
      out: (t) => lines.push(t),
    })
  ) n++;
  assertEquals(n, 1000);
  assert(lines.length <= 22, `${lines.length} lines`);
  assertStringIncludes(lines.at(-1)!, "1000/1000 100%");
  assert(lines.every((l) => l.endsWith("\n")));
});

Deno.test("terminal mode rewrites one line with \\r and ends with a newline", async () => {
  const out: string[] = [];
  const bar = new Progress({ total: 3, mode: "terminal", intervalMs: 0, out: (t) => out.push(t) });
  bar.tick();
  bar.tick(2);
  await bar.finish();
  assert(out.every((t) => t.startsWith("\r")));
  assert(out.at(-1)!.endsWith("\n"));
  assertStringIncludes(out.at(-1)!, "3/3 100% in");
});

Deno.test("ETA is proportional to the remaining work", () => {
  const bar = new Progress({ total: 4, mode: "log", out: () => {} });
  bar.tick();
  const m = bar.text().match(/ETA ([\d.]+)s/);
  assert(m, bar.text());
  assert(Math.abs(Number(m[1]) - 3 * bar.elapsed) < 0.15, bar.text());
});

Deno.test("unknown total and early exit still finish", () => {
  const lines: string[] = [];
  function* gen() {
    for (let i = 0; i < 10; i++) yield i;
  }
  for (const i of progress(gen(), { mode: "log", out: (t) => lines.push(t) })) if (i === 4) break;
  assertStringIncludes(lines.at(-1)!, "4 done");
  assertEquals(formatSeconds(3725), "1h02m");
});
