/**
 * Runs one notebook headless in a fresh Deno kernel (through
 * `tools/nb_execute.py`, i.e. nbclient) and reads the executed notebook back:
 * did it pass, which cell failed with what error, and did its claim cell pass.
 *
 * @example
 * ```ts
 * import { claimCell } from "./nb_run.ts";
 * const nb = { cells: [{ cell_type: "code", source: ["// claim: 1 < 2\n", "1 < 2"] }] };
 * if (claimCell(nb) !== 0) throw new Error("claim cell not found");
 * ```
 * @module
 */

import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { type ClaimRecord, type Outcome, readClaims, readExpected } from "../viz/claim.ts";
import { driverEnv } from "./driver_env.ts";

/** The first-line marker of a notebook's claim cell. */
export const CLAIM_MARKER = "// claim:";

/** A notebook cell output, as stored in `.ipynb` (only the fields used here). */
export interface NbOutput {
  /** "stream", "display_data", "execute_result" or "error". */
  output_type: string;
  /** Exception name (error outputs). */
  ename?: string;
  /** Exception message (error outputs). */
  evalue?: string;
  /** Traceback lines, may contain ANSI colours (error outputs). */
  traceback?: string[];
  /** MIME bundle (display outputs). */
  data?: Record<string, unknown>;
}

/** A notebook cell, as stored in `.ipynb`. */
export interface NbCell {
  /** "code", "markdown" or "raw". */
  cell_type: string;
  /** Source, a string or a list of lines. */
  source: string | string[];
  /** Outputs of code cells. */
  outputs?: NbOutput[];
  /** Set once the cell ran. */
  execution_count?: number | null;
}

/** A notebook, as stored in `.ipynb`. */
export interface Notebook {
  /** The cells in order. */
  cells: NbCell[];
  /** Notebook metadata. */
  metadata?: Record<string, unknown>;
}

/** Whether a notebook's claim cell ran clean. */
export type ClaimStatus = "passed" | "failed" | "not-run" | "missing";

/** Where and why a notebook failed. */
export interface NotebookFailure {
  /**
   * "error" (a cell threw), "timeout", "dead-kernel", "runner", "claim-missing", or "claims"
   * (the recorded claims are not exactly the expected ones with their expected outcomes).
   */
  reason: string;
  /** Index of the failing cell among all cells (null when none applies). */
  cell: number | null;
  /** First lines of the failing cell's source. */
  sourceHead: string;
  /** Exception name. */
  ename: string;
  /** Exception message. */
  evalue: string;
  /** Traceback without ANSI colours. */
  traceback: string[];
}

/** The outcome of running one notebook. */
export interface NotebookResult {
  /** File name without `.ipynb`. */
  name: string;
  /** Title: the first markdown heading, or the name. */
  title: string;
  /** True when every cell ran and the claim cell passed. */
  ok: boolean;
  /** Wall time of the run, kernel start-up included. */
  seconds: number;
  /** Status of the claim cell. */
  claim: ClaimStatus;
  /** Path of the executed notebook. */
  executed: string;
  /** What went wrong, when `ok` is false. */
  failure?: NotebookFailure;
  /** The claims the notebook recorded (`<outDir>/claims/<name>.arrow`), in order. */
  claims?: ClaimRecord[];
  /** The committed expected outcomes (`<notebooks>/claims/<name>.json`), when readable. */
  expected?: Record<string, Outcome>;
}

/** Options of {@linkcode runNotebook}. */
export interface RunOptions {
  /** Folder for the executed notebook (`<outDir>/<name>.ipynb`). */
  outDir: string;
  /** Time limit for the whole notebook in seconds (default 120). */
  limitS?: number;
  /** Jupyter kernel name (default "deno"). */
  kernel?: string;
  /** Python with nbclient (default $LOWBIT_PYTHON or /usr/bin/python3). */
  python?: string;
  /** The committed expected outcomes (default `<notebook's folder>/claims/<name>.json`). */
  expectedPath?: string;
}

/**
 * A cell's source as one string.
 *
 * @example
 * ```ts
 * import { sourceOf } from "./nb_run.ts";
 * if (sourceOf({ cell_type: "code", source: ["a\n", "b"] }) !== "a\nb") throw new Error("join");
 * ```
 */
export function sourceOf(cell: NbCell): string {
  return Array.isArray(cell.source) ? cell.source.join("") : cell.source;
}

/**
 * Index of the claim cell: the first code cell whose first non-empty line
 * starts with `// claim:`; -1 when there is none.
 *
 * @example
 * ```ts
 * import { claimCell } from "./nb_run.ts";
 * if (claimCell({ cells: [{ cell_type: "code", source: "1" }] }) !== -1) throw new Error("found");
 * ```
 */
export function claimCell(nb: Notebook): number {
  return nb.cells.findIndex((c) =>
    c.cell_type === "code" &&
    (sourceOf(c).split("\n").find((l) => l.trim() !== "") ?? "").trim().startsWith(CLAIM_MARKER)
  );
}

/**
 * Removes ANSI escape sequences (Deno colours its tracebacks).
 *
 * @example
 * ```ts
 * import { stripAnsi } from "./nb_run.ts";
 * if (stripAnsi("\x1b[31merror\x1b[0m") !== "error") throw new Error("not stripped");
 * ```
 */
export function stripAnsi(s: string): string {
  // deno-lint-ignore no-control-regex
  return s.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, "");
}

/**
 * The notebook's title: the text of its first markdown heading.
 *
 * @example
 * ```ts
 * import { notebookTitle } from "./nb_run.ts";
 * const t = notebookTitle({ cells: [{ cell_type: "markdown", source: "# GPTQ\ntext" }] }, "x");
 * if (t !== "GPTQ") throw new Error(t);
 * ```
 */
export function notebookTitle(nb: Notebook, fallback: string): string {
  for (const c of nb.cells) {
    if (c.cell_type !== "markdown") continue;
    const h = sourceOf(c).split("\n").find((l) => /^#{1,6}\s/.test(l));
    if (h) return h.replace(/^#+\s*/, "").trim();
  }
  return fallback;
}

function head(source: string, lines = 3): string {
  const all = source.split("\n");
  return all.slice(0, lines).join("\n") + (all.length > lines ? "\n…" : "");
}

/** The status line that nb_execute.py prints last. */
export interface ExecStatus {
  /** All cells ran. */
  ok: boolean;
  /** Seconds spent executing. */
  seconds: number;
  /** The cell being run when it stopped. */
  cell: number | null;
  /** "error", "timeout", "dead-kernel", "runner" or null. */
  reason: string | null;
  /** Exception name. */
  ename: string | null;
  /** Exception message. */
  evalue: string | null;
}

/**
 * Judges an executed notebook: the failing cell and its error, and the claim
 * status. A notebook without a claim cell fails.
 *
 * @example
 * ```ts
 * import { judge } from "./nb_run.ts";
 * const nb = { cells: [{ cell_type: "code", source: "// claim: ok\n", execution_count: 1, outputs: [] }] };
 * const r = judge(nb, { ok: true, seconds: 1, cell: null, reason: null, ename: null, evalue: null });
 * if (!r.ok || r.claim !== "passed") throw new Error(JSON.stringify(r));
 * ```
 */
export function judge(
  nb: Notebook,
  status: ExecStatus,
): { ok: boolean; claim: ClaimStatus; failure?: NotebookFailure } {
  const ci = claimCell(nb);
  let failure: NotebookFailure | undefined;
  const errIndex = nb.cells.findIndex((c) =>
    (c.outputs ?? []).some((o) => o.output_type === "error")
  );
  if (errIndex >= 0) {
    const o = nb.cells[errIndex].outputs!.find((o) => o.output_type === "error")!;
    failure = {
      reason: "error",
      cell: errIndex,
      sourceHead: head(sourceOf(nb.cells[errIndex])),
      ename: o.ename ?? "Error",
      evalue: stripAnsi(o.evalue ?? ""),
      traceback: (o.traceback ?? []).map(stripAnsi),
    };
  } else if (!status.ok) {
    const cell = status.cell;
    failure = {
      reason: status.reason ?? "runner",
      cell,
      sourceHead: cell === null ? "" : head(sourceOf(nb.cells[cell])),
      ename: status.ename ?? "Error",
      evalue: stripAnsi(status.evalue ?? ""),
      traceback: [],
    };
  }
  let claim: ClaimStatus;
  if (ci < 0) claim = "missing";
  else if (failure && failure.cell === ci) claim = "failed";
  else if (nb.cells[ci].execution_count == null) claim = "not-run";
  else claim = "passed";
  if (!failure && claim === "missing") {
    failure = {
      reason: "claim-missing",
      cell: null,
      sourceHead: "",
      ename: "MissingClaim",
      evalue: `no code cell starts with "${CLAIM_MARKER}"`,
      traceback: [],
    };
  }
  return { ok: !failure && claim === "passed", claim, failure };
}

const EXECUTOR = fileURLToPath(new URL("./nb_execute.py", import.meta.url));

/**
 * Executes `path` in a fresh kernel, writes `<outDir>/<name>.ipynb`, and judges it.
 * The kernel's working directory is the notebook's folder.
 *
 * @example
 * ```ts ignore
 * import { runNotebook } from "./nb_run.ts";
 * const r = await runNotebook("notebooks/00-quickstart.ipynb", { outDir: "site" });
 * console.log(r.ok, r.claim, r.seconds);
 * ```
 */
export async function runNotebook(path: string, options: RunOptions): Promise<NotebookResult> {
  const name = basename(path).replace(/\.ipynb$/, "");
  const executed = join(options.outDir, `${name}.ipynb`);
  const limit = options.limitS ?? 120;
  const python = options.python ?? Deno.env.get("LOWBIT_PYTHON") ?? "/usr/bin/python3";
  await Deno.mkdir(options.outDir, { recursive: true });
  // the kernel's Scorecard writes <outDir>/claims/<name>.arrow; a stale file must not count
  const claimsDir = resolve(options.outDir, "claims");
  const claimsFile = join(claimsDir, `${name}.arrow`);
  await Deno.remove(claimsFile).catch(() => {});
  // a private XDG_RUNTIME_DIR when the machine has none keeps driver noise out of cell outputs
  const quiet = await driverEnv();
  const t0 = performance.now();
  const child = new Deno.Command(python, {
    env: { LOWBIT_CLAIMS_OUT: claimsDir, ...quiet.env },
    args: [
      EXECUTOR,
      path,
      executed,
      "--kernel",
      options.kernel ?? "deno",
      "--limit",
      String(limit),
      "--cwd",
      resolve(dirname(path)),
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  // nb_execute.py enforces the limit itself; this guards against a hung runner.
  const guard = setTimeout(() => child.kill("SIGKILL"), (limit + 60) * 1000);
  const out = await child.output().finally(() => {
    clearTimeout(guard);
    return quiet.cleanup();
  });
  const seconds = (performance.now() - t0) / 1000;
  const stdout = new TextDecoder().decode(out.stdout).trim();
  const stderr = new TextDecoder().decode(out.stderr);
  let status: ExecStatus;
  try {
    status = JSON.parse(stdout.split("\n").at(-1) ?? "");
  } catch {
    const why = stderr.includes("No module named") ? ` (${python} lacks nbclient/nbformat)` : "";
    const failure: NotebookFailure = {
      reason: "runner",
      cell: null,
      sourceHead: "",
      ename: "RunnerError",
      evalue: `nb_execute.py exited with code ${out.code}${why}`,
      traceback: stderr.trim().split("\n").slice(-15),
    };
    return { name, title: name, ok: false, seconds, claim: "not-run", executed, failure };
  }
  const nb: Notebook = JSON.parse(await Deno.readTextFile(executed));
  const result: NotebookResult = {
    name,
    title: notebookTitle(nb, name),
    seconds,
    executed,
    ...judge(nb, status),
  };
  const expectedPath = options.expectedPath ?? join(dirname(path), "claims", `${name}.json`);
  const c = checkClaims(name, claimsFile, expectedPath);
  result.claims = c.claims;
  result.expected = c.expected;
  if (c.problem && result.ok) {
    result.ok = false;
    result.failure = {
      reason: "claims",
      cell: claimCell(nb) < 0 ? null : claimCell(nb),
      sourceHead: "",
      ename: "ClaimsMismatch",
      evalue: c.problem,
      traceback: [],
    };
  }
  return result;
}

/** What {@linkcode checkClaims} found. */
export interface ClaimsCheck {
  /** The recorded claims (empty when the file is missing). */
  claims: ClaimRecord[];
  /** The expected outcomes, when readable. */
  expected?: Record<string, Outcome>;
  /** Why the claims do not pass, or undefined when they do. */
  problem?: string;
}

/**
 * Compares a notebook's recorded claims (its Arrow file) with its committed
 * expected outcomes: they must hold exactly the same ids, each with the
 * expected outcome, and there must be at least one. A notebook without
 * claims fails.
 *
 * @example
 * ```ts
 * import { checkClaims } from "./nb_run.ts";
 * const c = checkClaims("x", "/no/such.arrow", "/no/such.json");
 * if (!c.problem?.includes("expected outcomes")) throw new Error(c.problem);
 * ```
 */
export function checkClaims(name: string, arrowPath: string, expectedPath: string): ClaimsCheck {
  let expected: Record<string, Outcome> | undefined;
  let claims: ClaimRecord[] = [];
  const problems: string[] = [];
  try {
    expected = readExpected(name, expectedPath);
  } catch (e) {
    problems.push((e as Error).message);
  }
  let exists = false;
  try {
    exists = Deno.statSync(arrowPath).isFile;
  } catch { /* not written */ }
  if (exists) {
    try {
      claims = readClaims(arrowPath);
    } catch (e) {
      problems.push((e as Error).message);
    }
  } else {
    problems.push(
      `no claims were recorded (${arrowPath} is missing): the claim cell must call ` +
        `card.claim(...) on a new lb.Scorecard("${name}")`,
    );
  }
  if (expected) {
    const ids = Object.keys(expected);
    if (ids.length === 0) problems.push(`${expectedPath} lists no claims; a notebook needs one`);
    const made = new Map(claims.map((r) => [r.id, r]));
    const notMade = ids.filter((id) => !made.has(id));
    if (exists && notMade.length) {
      problems.push(`expected claim(s) not made: ${notMade.join(", ")}`);
    }
    const extra = claims.filter((r) => !Object.hasOwn(expected!, r.id)).map((r) => r.id);
    if (extra.length) {
      problems.push(`claim(s) not in ${expectedPath}: ${extra.join(", ")}`);
    }
    for (const r of claims) {
      const want = Object.hasOwn(expected, r.id) ? expected[r.id] : undefined;
      if (want && r.outcome !== want) {
        problems.push(`"${r.id}" ${r.outcome}, expected ${want}`);
      }
    }
  }
  return { claims, expected, problem: problems.length ? problems.join("; ") : undefined };
}

/**
 * A readable multi-line report of a failure.
 *
 * @example
 * ```ts
 * import { describeFailure } from "./nb_run.ts";
 * const s = describeFailure("x", {
 *   reason: "error", cell: 2, sourceHead: "throw 1", ename: "Error", evalue: "1", traceback: [],
 * });
 * if (!s.includes("cell 2")) throw new Error(s);
 * ```
 */
export function describeFailure(name: string, f: NotebookFailure): string {
  const where = f.cell === null ? "" : ` in cell ${f.cell}`;
  const lines = [`✗ ${name}: ${f.reason}${where}: ${f.ename}: ${f.evalue}`];
  if (f.sourceHead) lines.push(...f.sourceHead.split("\n").map((l) => `    │ ${l}`));
  const tb = f.traceback.join("\n").split("\n").filter((l) => l.trim() !== "").slice(0, 12);
  lines.push(...tb.map((l) => `    ${l}`));
  return lines.join("\n");
}
