/**
 * Progress bars for long work (calibration, layer-by-layer quantization).
 *
 * - In Jupyter: one output, updated in place through a display id
 *   (`Deno.jupyter.display(…, {display_id, update: true})`).
 * - On a terminal: one line rewritten with `\r`.
 * - Elsewhere (logs, CI): at most about 20 lines in all.
 *
 * Each shows done/total, percent, elapsed time and the ETA.
 *
 * @example
 * ```ts
 * import { progress } from "./progress.ts";
 * let sum = 0;
 * for (const x of progress([1, 2, 3], { label: "sum", out: () => {} })) sum += x;
 * if (sum !== 6) throw new Error("items lost");
 * ```
 * @module
 */

import { display, displayable, escapeHtml, inJupyter } from "./display.ts";

/** Where a progress bar draws: chosen automatically unless given. */
export type ProgressMode = "jupyter" | "terminal" | "log";

/** Options of {@linkcode Progress} and {@linkcode progress}. */
export interface ProgressOptions {
  /** What is being done (shown first). */
  label?: string;
  /** Number of steps; taken from the iterable's `length`/`size` when omitted. */
  total?: number;
  /** Force a mode instead of detecting it. */
  mode?: ProgressMode;
  /** Minimum milliseconds between redraws (default 100; log mode uses 5% steps). */
  intervalMs?: number;
  /** Text sink for terminal/log modes (default: stdout). Tests pass a collector. */
  out?: (text: string) => void;
}

/**
 * Formats seconds as `12.3s`, `4m05s` or `1h02m`.
 *
 * @example
 * ```ts
 * import { formatSeconds } from "./progress.ts";
 * if (formatSeconds(245) !== "4m05s") throw new Error(formatSeconds(245));
 * ```
 */
export function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return "?";
  if (s < 60) return `${s.toFixed(1)}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(Math.floor(s % 60)).padStart(2, "0")}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, "0")}m`;
}

let nextId = 0;
const encoder = new TextEncoder();

function detectMode(): ProgressMode {
  if (inJupyter()) return "jupyter";
  try {
    if (Deno.stdout.isTerminal()) return "terminal";
  } catch { /* no stdout access */ }
  return "log";
}

/** A progress bar; call {@linkcode Progress.tick} per step and {@linkcode Progress.finish} once. */
export class Progress {
  /** Label shown first. */
  readonly label: string;
  /** Total steps (undefined: unknown). */
  readonly total?: number;
  /** Steps done so far. */
  done = 0;
  /** Where it draws. */
  readonly mode: ProgressMode;
  readonly #start = performance.now();
  readonly #interval: number;
  readonly #out: (text: string) => void;
  readonly #id = `lowbit-progress-${Date.now().toString(36)}-${nextId++}`;
  #lastDraw = -Infinity;
  #lastLogStep = -1;
  #lastLogDone = -1;
  #shown = false;
  #finished = false;
  #pending: Promise<void> = Promise.resolve();

  /**
   * Starts a bar (the clock starts now); nothing is drawn before the first tick.
   *
   * @param options label, total, mode
   */
  constructor(options: ProgressOptions = {}) {
    this.label = options.label ?? "progress";
    this.total = options.total;
    this.mode = options.mode ?? detectMode();
    this.#interval = options.intervalMs ?? 100;
    this.#out = options.out ??
      ((t) => Deno.stdout.writeSync(encoder.encode(t)));
  }

  /** Seconds since the bar was created. */
  get elapsed(): number {
    return (performance.now() - this.#start) / 1000;
  }

  /**
   * The status line, e.g. `calib [######----] 6/10 60% 1.2s, ETA 0.8s`.
   *
   * @example
   * ```ts
   * import { Progress } from "./progress.ts";
   * const p = new Progress({ label: "layers", total: 4, out: () => {} });
   * p.tick(2);
   * if (!p.text().startsWith("layers [##########----------] 2/4 50%")) throw new Error(p.text());
   * ```
   */
  text(): string {
    const t = this.elapsed;
    if (this.total === undefined || this.total <= 0) {
      return `${this.label} ${this.done} done, ${formatSeconds(t)}`;
    }
    const f = Math.min(1, this.done / this.total);
    const bar = "#".repeat(Math.round(f * 20)).padEnd(20, "-");
    const eta = this.done > 0 ? (t / this.done) * (this.total - this.done) : NaN;
    const tail = this.#finished || this.done >= this.total
      ? `in ${formatSeconds(t)}`
      : `${formatSeconds(t)}, ETA ${formatSeconds(eta)}`;
    return `${this.label} [${bar}] ${this.done}/${this.total} ${Math.floor(f * 100)}% ${tail}`;
  }

  #html(): string {
    const f = this.total ? Math.min(1, this.done / this.total) : 0;
    return `<div class="lowbit-progress" style="font-family:monospace;font-size:90%">` +
      `<div style="display:inline-block;width:200px;height:10px;background:#e5e5e5;` +
      `vertical-align:middle;margin-right:8px"><div style="width:${(f * 100).toFixed(1)}%;` +
      `height:100%;background:#1f77b4"></div></div>${escapeHtml(this.text())}</div>`;
  }

  /** Advances by `n` steps (default 1) and redraws when due. */
  tick(n = 1): void {
    this.done += n;
    this.#draw(false);
  }

  /** Marks the work finished, draws the final state, and waits for the Jupyter update. */
  async finish(): Promise<void> {
    if (this.#finished) return;
    this.#finished = true;
    this.#draw(true);
    await this.#pending;
  }

  #draw(force: boolean): void {
    const now = performance.now();
    if (this.mode === "log") {
      const step = this.total ? Math.floor((20 * this.done) / this.total) : this.done;
      if (force ? this.done === this.#lastLogDone : step === this.#lastLogStep) return;
      if (!force && !this.total && now - this.#lastDraw < 5000) return;
      this.#lastLogStep = step;
      this.#lastLogDone = this.done;
      this.#lastDraw = now;
      this.#out(this.text() + "\n");
      return;
    }
    if (!force && now - this.#lastDraw < this.#interval) return;
    this.#lastDraw = now;
    if (this.mode === "terminal") {
      this.#out(`\r\x1b[2K${this.text()}${this.#finished ? "\n" : ""}`);
      return;
    }
    const bundle = { "text/plain": this.text(), "text/html": this.#html() };
    const update = this.#shown;
    this.#shown = true;
    this.#pending = this.#pending.then(() =>
      display(displayable(bundle), { displayId: this.#id, update })
    );
  }
}

/** An iterable wrapped by {@linkcode progress}: iterate it with `for` or `for await`. */
export interface ProgressIterable<T> extends AsyncIterable<T>, Iterable<T> {
  /** The bar being driven. */
  readonly bar: Progress;
}

function sizeOf(x: unknown): number | undefined {
  const o = x as { length?: unknown; size?: unknown };
  if (typeof o.length === "number") return o.length;
  if (typeof o.size === "number") return o.size;
  return undefined;
}

/**
 * Wraps an iterable (sync or async) so that iterating it drives a progress bar.
 * `for … of` works for sync sources; `for await` for both.
 *
 * @example
 * ```ts
 * import { progress } from "./progress.ts";
 * async function* layers() { yield "q"; yield "k"; }
 * const seen: string[] = [];
 * const lines: string[] = [];
 * for await (const l of progress(layers(), { label: "quantize", total: 2, out: (t) => lines.push(t) })) {
 *   seen.push(l);
 * }
 * if (seen.join() !== "q,k" || !lines.at(-1)!.includes("2/2 100%")) throw new Error(lines.join());
 * ```
 */
export function progress<T>(
  source: Iterable<T> | AsyncIterable<T>,
  options: ProgressOptions = {},
): ProgressIterable<T> {
  const bar = new Progress({ ...options, total: options.total ?? sizeOf(source) });
  return {
    bar,
    *[Symbol.iterator]() {
      const it = source as Iterable<T>;
      if (typeof it[Symbol.iterator] !== "function") {
        throw new TypeError("progress: this source is async; iterate it with `for await`");
      }
      bar.tick(0);
      try {
        for (const x of it) {
          yield x;
          bar.tick();
        }
      } finally {
        void bar.finish();
      }
    },
    async *[Symbol.asyncIterator]() {
      bar.tick(0);
      try {
        for await (const x of source) {
          yield x;
          bar.tick();
        }
      } finally {
        await bar.finish();
      }
    },
  };
}
