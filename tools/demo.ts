/**
 * The demo (`deno task demo`): runs the code cells of
 * `notebooks/00-quickstart.ipynb` as one script on the embedded model —
 * GPU detection, the stored RTN sweep checked against a live recomputation,
 * perplexity and bits per weight of nine formats, weight histograms,
 * calibration statistics saved as Arrow IPC, and the notebook's claims
 * (printed as a scorecard) and conclusion. Charts are built but not shown on
 * a terminal; `deno task notebooks` renders them to `site/`.
 * @module
 */
/**
 * What a notebook displays as a cell's last expression, a script prints: a
 * last line `x;` becomes `console.log(String(x));` and `lb.markdown(x);`
 * becomes `console.log(x);`.
 */
function printLast(cell: string): string {
  const lines = cell.trimEnd().split("\n");
  const last = lines.at(-1) ?? "";
  const md = last.match(/^lb\.markdown\(([A-Za-z_$][\w$]*)\);$/);
  const id = last.match(/^([A-Za-z_$][\w$]*);$/);
  if (md) lines[lines.length - 1] = `console.log(${md[1]});`;
  else if (id) lines[lines.length - 1] = `console.log(String(${id[1]}));`;
  return lines.join("\n");
}

const root = new URL("..", import.meta.url);
const nbPath = new URL("notebooks/00-quickstart.ipynb", root);
const nb = JSON.parse(await Deno.readTextFile(nbPath));
const code = (nb.cells as { cell_type: string; source: string[] | string }[])
  .filter((c) => c.cell_type === "code")
  .map((c) => printLast(Array.isArray(c.source) ? c.source.join("") : c.source))
  .join("\n\n");
const outDir = new URL("out/", root);
await Deno.mkdir(outDir, { recursive: true });
const script = new URL("quickstart-demo.ts", outDir);
const tmp = new URL("quickstart-demo.ts.tmp", outDir);
await Deno.writeTextFile(
  tmp,
  `// generated from notebooks/00-quickstart.ipynb by tools/demo.ts\n${code}\n`,
);
await Deno.rename(tmp, script);
const child = new Deno.Command(Deno.execPath(), {
  args: ["run", "-A", script.pathname],
  cwd: outDir.pathname,
  stdout: "inherit",
  stderr: "inherit",
}).spawn();
const { code: status } = await child.status;
Deno.exit(status);
