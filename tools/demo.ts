/**
 * The demo (`deno task demo`): runs the code cells of
 * `notebooks/00-quickstart.ipynb` as one script on the embedded model —
 * GPU detection, the stored RTN sweep checked against a live recomputation,
 * perplexity and bits per weight of nine formats, weight histograms,
 * calibration statistics saved as Arrow IPC, and the notebook's claims
 * (printed as a scorecard) and conclusion. Charts are built but not shown on
 * a terminal; `deno task notebooks` renders them to `site/`.
 *
 * The script runs with a private `XDG_RUNTIME_DIR` when the machine has none
 * (`tools/driver_env.ts`), so the Vulkan loader prints no error before the
 * first line. Importing this module runs nothing; `deno run tools/demo.ts` does.
 *
 * @example
 * ```ts
 * import { demoScript } from "./demo.ts";
 * const nb = { cells: [{ cell_type: "code", source: ["const x = 1;\n", "x;"] }] };
 * console.log(demoScript(nb).includes("console.log(String(x));")); // true
 * ```
 * @module
 */

import { driverEnv } from "./driver_env.ts";

/**
 * What a notebook displays as a cell's last expression, a script prints: a
 * last line `x;` becomes `console.log(String(x));` and `lb.markdown(x);`
 * becomes `console.log(x);`.
 *
 * @example
 * ```ts
 * import { printLast } from "./demo.ts";
 * console.log(printLast("y;")); // console.log(String(y));
 * ```
 */
export function printLast(cell: string): string {
  const lines = cell.trimEnd().split("\n");
  const last = lines.at(-1) ?? "";
  const md = last.match(/^lb\.markdown\(([A-Za-z_$][\w$]*)\);$/);
  const id = last.match(/^([A-Za-z_$][\w$]*);$/);
  if (md) lines[lines.length - 1] = `console.log(${md[1]});`;
  else if (id) lines[lines.length - 1] = `console.log(String(${id[1]}));`;
  return lines.join("\n");
}

/** A notebook as far as the demo reads it. */
export interface DemoNotebook {
  /** Its cells; only the code cells are used. */
  cells: { cell_type: string; source: string[] | string }[];
}

/**
 * The notebook's code cells as one script, each cell's last expression printed.
 *
 * @example
 * ```ts
 * import { demoScript } from "./demo.ts";
 * const nb = { cells: [{ cell_type: "markdown", source: "# t" }, { cell_type: "code", source: "1;" }] };
 * console.log(demoScript(nb).split("\n")[0]); // // generated from notebooks/00-quickstart.ipynb by tools/demo.ts
 * ```
 */
export function demoScript(nb: DemoNotebook): string {
  const code = nb.cells
    .filter((c) => c.cell_type === "code")
    .map((c) => printLast(Array.isArray(c.source) ? c.source.join("") : c.source))
    .join("\n\n");
  return `// generated from notebooks/00-quickstart.ipynb by tools/demo.ts\n${code}\n`;
}

/** Writes the script to `out/quickstart-demo.ts` and runs it; returns its exit code. */
async function main(): Promise<number> {
  const root = new URL("..", import.meta.url);
  const nb = JSON.parse(
    await Deno.readTextFile(new URL("notebooks/00-quickstart.ipynb", root)),
  );
  const outDir = new URL("out/", root);
  await Deno.mkdir(outDir, { recursive: true });
  const script = new URL("quickstart-demo.ts", outDir);
  const tmp = new URL("quickstart-demo.ts.tmp", outDir);
  await Deno.writeTextFile(tmp, demoScript(nb));
  await Deno.rename(tmp, script);
  const quiet = await driverEnv();
  try {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", script.pathname],
      cwd: outDir.pathname,
      env: quiet.env,
      stdout: "inherit",
      stderr: "inherit",
    }).spawn();
    return (await child.status).code;
  } finally {
    await quiet.cleanup();
  }
}

if (import.meta.main) Deno.exit(await main());
