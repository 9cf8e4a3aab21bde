import { assert, assertEquals } from "@std/assert";
import * as lb from "../mod.ts";

/** The names mod.ts exports, read from its export statements (types included). */
function exportedNames(src: string): string[] {
  const names: string[] = [];
  for (const m of src.matchAll(/^export (?:type )?\{([^}]*)\}/gm)) {
    for (const part of m[1].split(",")) {
      const name = part.trim().replace(/^type\s+/, "").split(/\s+as\s+/).pop()!.trim();
      if (name) names.push(name);
    }
  }
  for (const m of src.matchAll(/^export \* as (\w+)/gm)) names.push(m[1]);
  assert(!/^export \* from/m.test(src), "mod.ts re-exports by explicit name only");
  return names;
}

Deno.test("mod.ts: at most 60 names, each exported explicitly, no duplicates", async () => {
  const names = exportedNames(await Deno.readTextFile(new URL("../mod.ts", import.meta.url)));
  assert(names.length <= 60, `mod.ts exports ${names.length} names; the public face allows 60`);
  assertEquals(new Set(names).size, names.length, "a name is exported twice");
  // Every runtime export is one of the listed names (types vanish at run time).
  for (const k of Object.keys(lb)) assert(names.includes(k), `${k} is exported but not listed`);
  assert(names.length >= 40, `only ${names.length} names: the parser missed export statements`);
});
