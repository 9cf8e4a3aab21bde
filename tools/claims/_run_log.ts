/**
 * The stored-results file every claim sweep writes: each finished run is
 * appended and the whole file (script, date, adapter, settings, runs) is
 * rewritten at once, so an interrupted sweep keeps what it finished; each run
 * is also printed with the seconds elapsed, minus its bulky fields.
 * @module
 */

/** The runs so far, the logger that stores and prints one more, and the elapsed seconds. */
export interface RunLog {
  /** The runs stored so far, in order. */
  runs: Record<string, unknown>[];
  /** Appends `r`, rewrites the file, prints it without the `hidden` fields. */
  log(r: Record<string, unknown>): Promise<void>;
  /** Seconds since the log was opened. */
  seconds(): number;
}

/**
 * A run log writing `path` for `script`, with the sweep's `settings` and the
 * `adapter` it ran on; `hidden` fields are stored but not printed.
 */
export function runLog(
  script: string,
  path: string,
  adapter: string,
  settings: unknown,
  hidden: readonly string[] = [],
): RunLog {
  const runs: Record<string, unknown>[] = [];
  const t0 = performance.now();
  const seconds = () => (performance.now() - t0) / 1000;
  const log = async (r: Record<string, unknown>) => {
    runs.push(r);
    const out = { script, date: new Date().toISOString(), adapter, settings, runs };
    await Deno.writeTextFile(path, JSON.stringify(out, null, 1) + "\n");
    const shown = { ...r };
    for (const k of hidden) delete shown[k];
    console.log(`${seconds().toFixed(0)} s`, JSON.stringify(shown));
  };
  return { runs, log, seconds };
}
