/**
 * The whole test suite, as CI runs it: `deno test --doc` over the tree (unit
 * tests, GPU kernels against references, and every JSDoc example), then every
 * notebook through Jupyter. Prints one closing line `N passed, N failed`
 * summing both, and exits non-zero if anything failed.
 *
 * Usage: `deno task test [--no-notebooks] [paths…]`
 * @module
 */

const args = [...Deno.args];
const noNotebooks = args.includes("--no-notebooks");
const paths = args.filter((a) => !a.startsWith("--"));

/** Runs a command, streaming its output, and returns everything it printed. */
async function run(cmd: string, cmdArgs: string[]): Promise<{ code: number; out: string }> {
  const child = new Deno.Command(cmd, {
    args: cmdArgs,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).spawn();
  let out = "";
  const decoder = new TextDecoder();
  const pump = async (stream: ReadableStream<Uint8Array>, sink: (b: Uint8Array) => void) => {
    for await (const chunk of stream) {
      out += decoder.decode(chunk, { stream: true });
      sink(chunk);
    }
  };
  const enc = (b: Uint8Array) => Deno.stdout.writeSync(b);
  const err = (b: Uint8Array) => Deno.stderr.writeSync(b);
  await Promise.all([pump(child.stdout, enc), pump(child.stderr, err)]);
  const { code } = await child.status;
  return { code, out };
}

let passed = 0;
let failed = 0;
let ok = true;

const unit = await run(Deno.execPath(), ["test", "-A", "--doc", ...paths]);
const m = unit.out.match(/(?:ok|FAILED) \| (\d+) passed(?: \((\d+) steps?\))? \| (\d+) failed/);
if (m) {
  passed += Number(m[1]);
  failed += Number(m[3]);
} else {
  console.error("tools/run_tests.ts: could not read deno test's summary line");
  failed += 1;
}
if (unit.code !== 0) ok = false;

const notebooks = [];
try {
  for (const e of Deno.readDirSync("notebooks")) {
    if (e.name.endsWith(".ipynb") && !e.name.startsWith("_")) notebooks.push(e.name);
  }
} catch { /* no notebooks folder */ }
if (!noNotebooks && paths.length === 0 && notebooks.length > 0) {
  const nb = await run(Deno.execPath(), ["run", "-A", "tools/notebooks.ts"]);
  const n = [...nb.out.matchAll(/^(\d+) passed, (\d+) failed$/gm)].at(-1);
  if (n) {
    passed += Number(n[1]);
    failed += Number(n[2]);
  } else {
    console.error("tools/run_tests.ts: the notebook runner printed no summary line");
    failed += 1;
  }
  if (nb.code !== 0) ok = false;
}

if (!ok && failed === 0) failed = 1; // a runner failed without counting a test
console.log(`${passed} passed, ${failed} failed`);
Deno.exit(failed ? 1 : 0);
