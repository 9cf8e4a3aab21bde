/**
 * Authoring helper: turns a "percent-format" TypeScript script into a Deno
 * Jupyter notebook. Cells are separated by lines `// %%` (code) and
 * `// %% [markdown]` (markdown; each line's leading `// ` is removed).
 *
 * Usage: `deno run -A tools/nb_from_script.ts notebooks/src/12-gptq.ts notebooks/12-gptq.ipynb`
 * @module
 */

/** A notebook cell as nbformat 4 stores it. */
interface Cell {
  cell_type: "code" | "markdown";
  metadata: Record<string, never>;
  source: string[];
  execution_count?: null;
  outputs?: never[];
}

/**
 * Splits percent-format text into notebook cells.
 *
 * @example
 * ```ts
 * import { cellsFromScript } from "./nb_from_script.ts";
 * const cells = cellsFromScript("// %% [markdown]\n// # Title\n// %%\nconsole.log(1);\n");
 * console.log(cells.length, cells[0].cell_type, cells[0].source.join("")); // 2 markdown # Title
 * ```
 */
export function cellsFromScript(text: string): Cell[] {
  const cells: Cell[] = [];
  let kind: "code" | "markdown" | null = null;
  let lines: string[] = [];
  const push = () => {
    if (kind === null) return;
    while (lines.length && lines[lines.length - 1].trim() === "") lines.pop();
    while (lines.length && lines[0].trim() === "") lines.shift();
    if (lines.length === 0) return;
    const source = lines.map((l, i) => (i < lines.length - 1 ? l + "\n" : l));
    cells.push(
      kind === "code"
        ? { cell_type: "code", metadata: {}, source, execution_count: null, outputs: [] }
        : { cell_type: "markdown", metadata: {}, source },
    );
  };
  for (const line of text.split("\n")) {
    const m = /^\/\/ %%( \[markdown\])?\s*$/.exec(line);
    if (m) {
      push();
      kind = m[1] ? "markdown" : "code";
      lines = [];
      continue;
    }
    if (kind === "markdown") lines.push(line.replace(/^\/\/ ?/, ""));
    else if (kind === "code") lines.push(line);
  }
  push();
  return cells;
}

/**
 * A complete nbformat-4 notebook for the Deno kernel.
 *
 * @example
 * ```ts
 * import { notebookFromScript } from "./nb_from_script.ts";
 * const nb = notebookFromScript("// %%\n1 + 1\n");
 * console.log(nb.metadata.kernelspec.name, nb.cells.length); // deno 1
 * ```
 */
export function notebookFromScript(text: string) {
  return {
    cells: cellsFromScript(text),
    metadata: {
      kernelspec: { display_name: "Deno", language: "typescript", name: "deno" },
      language_info: {
        codemirror_mode: "typescript",
        file_extension: ".ts",
        mimetype: "text/x.typescript",
        name: "typescript",
        nbconvert_exporter: "script",
        pygments_lexer: "typescript",
        version: "5",
      },
    },
    nbformat: 4,
    nbformat_minor: 5,
  };
}

if (import.meta.main) {
  const [src, dst] = Deno.args;
  if (!src || !dst) {
    console.error("usage: nb_from_script.ts SCRIPT.ts NOTEBOOK.ipynb");
    Deno.exit(2);
  }
  const nb = notebookFromScript(await Deno.readTextFile(src));
  const tmp = `${dst}.tmp`;
  await Deno.writeTextFile(tmp, JSON.stringify(nb, null, 1) + "\n");
  await Deno.rename(tmp, dst);
  console.log(`${dst}: ${nb.cells.length} cells`);
}
