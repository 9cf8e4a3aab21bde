/**
 * Every ``Reference: `<path>` `` line that a comment cites names a file that
 * exists (paths are relative to the repository root). A cited reference that
 * is missing means a kernel claims a check that nobody can run.
 */
import { assert, assertEquals } from "@std/assert";

const ROOT = decodeURIComponent(new URL("../../", import.meta.url).pathname);
const SKIP = new Set(["node_modules", ".git", "site", "out", ".device", "data", "std"]);
const CITE = /^[ \t]*(?:\*|\/\/)[ \t]*Reference:[ \t]*`([^`]+)`/gm;

async function* sources(dir: string): AsyncGenerator<string> {
  for await (const e of Deno.readDir(dir)) {
    if (e.name.startsWith(".") || SKIP.has(e.name)) continue;
    const p = `${dir}/${e.name}`;
    if (e.isDirectory) yield* sources(p);
    else if (/\.(ts|js|md)$/.test(e.name)) yield p;
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

/** The paths cited in one file's text, with their line numbers. */
export function citations(text: string): { path: string; line: number }[] {
  const out: { path: string; line: number }[] = [];
  for (const m of text.matchAll(CITE)) {
    const path = m[1].trim();
    out.push({ path, line: text.slice(0, m.index).split("\n").length });
  }
  return out;
}

Deno.test("citations: the pattern finds a cited path and its line", () => {
  const text =
    "/**\n * Reference: `tests/reference/rope.ts`.\n */\n// Reference: E. Frantar (a paper)";
  assertEquals(citations(text), [{ path: "tests/reference/rope.ts", line: 2 }]);
});

Deno.test("citations: every `Reference:` path in a doc comment exists", async () => {
  const missing: string[] = [];
  let cited = 0;
  for await (const file of sources(ROOT.replace(/\/$/, ""))) {
    const text = await Deno.readTextFile(file);
    for (const { path, line } of citations(text)) {
      cited++;
      if (!(await exists(`${ROOT}${path}`))) {
        missing.push(`${file.slice(ROOT.length)}:${line} cites ${path}`);
      }
    }
  }
  assert(cited >= 10, `expected the kernels' references to be found, found ${cited}`);
  assertEquals(missing, [], `cited references that do not exist:\n${missing.join("\n")}`);
});
