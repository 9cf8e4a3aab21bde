/**
 * The matmul generators know no format by name: a format reaches them only
 * through the storage (and its codegen) that a weight carries. This checks
 * the generator sources for any built-in format name in code (comments and
 * doc examples aside), so a branch like `format === "int4"` cannot creep back.
 */
import { assertEquals } from "@std/assert";

const KERNELS = new URL("../../../kernels/", import.meta.url);
/** The generators, and the low-bit files that plan, upload and run a weight for them. */
const LOWBIT = ["kernel.ts", "dense.ts", "w8a8.ts", "layout.ts"].map((f) => `lowbit/${f}`);
const NAMES = [
  ...Array.from({ length: 7 }, (_, i) => `int${i + 2}`),
  ...Array.from({ length: 8 }, (_, i) => `codebook${i + 1}`),
  "ternary",
  "ternary5",
  "binary",
  "fp4",
  "nvfp4",
  "mxfp4",
  "nf4",
];

/** Code lines of a TS source: comment lines and block comments removed. */
function codeOnly(text: string): string {
  return text.replace(/\/\*[\s\S]*?\*\//g, "").split("\n").filter((l) => !/^\s*\/\//.test(l))
    .join("\n");
}

Deno.test("kernels/gemm and the low-bit matmul: no code names a format", async () => {
  const hits: string[] = [];
  const paths = [...LOWBIT];
  for await (const e of Deno.readDir(new URL("gemm/", KERNELS))) {
    if (e.name.endsWith(".ts")) paths.push(`gemm/${e.name}`);
  }
  const files = paths.length - LOWBIT.length;
  for (const p of paths) {
    const code = codeOnly(await Deno.readTextFile(new URL(p, KERNELS)));
    for (const n of NAMES) {
      if (new RegExp(`["'\`]${n}["'\`]`).test(code)) hits.push(`${p}: "${n}"`);
    }
  }
  assertEquals(files >= 5, true, `expected the generator files, found ${files}`);
  assertEquals(hits, []);
});

Deno.test("format-blind check: the pattern would catch a name branch", () => {
  const code = codeOnly('/** "int4" in a doc */\nif (f === "int4") x();');
  assertEquals(/["'`]int4["'`]/.test(code), true);
  assertEquals(/["'`]int4["'`]/.test(codeOnly('/** "int4" */\nx();')), false);
});
