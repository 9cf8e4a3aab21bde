/**
 * Helpers for the Jupyter display protocol of Deno's kernel.
 *
 * Deno's kernel renders any value that has a `[Symbol.for("Jupyter.display")]()`
 * method: the method returns a MIME bundle (`{"text/plain": …, "text/html": …}`)
 * and the front end picks the richest type it understands. The same symbol is
 * exposed as `Deno.jupyter.$display`. Outside a notebook, {@linkcode display}
 * prints the bundle's `text/plain` entry instead, so library code can call it
 * unconditionally.
 *
 * @example
 * ```ts
 * import { bundleOf, displayable } from "./display.ts";
 * const d = displayable({ "text/plain": "hi", "text/html": "<b>hi</b>" });
 * const b = await bundleOf(d);
 * if (b["text/html"] !== "<b>hi</b>") throw new Error("bundle lost");
 * ```
 * @module
 */

/** The symbol Deno's Jupyter kernel looks for; equal to `Deno.jupyter.$display`. */
export const JUPYTER_DISPLAY: unique symbol = Symbol.for("Jupyter.display") as never;

/**
 * A MIME bundle: MIME type → payload. Text types hold strings, JSON types
 * (`application/json`, `application/vnd.plotly.v1+json`, …) hold objects.
 */
export type MimeBundle = Record<string, string | object>;

/** Anything the kernel can render: it returns its own MIME bundle. */
export interface Displayable {
  /** Returns the MIME bundle that the kernel sends to the front end. */
  [JUPYTER_DISPLAY](): MimeBundle | Promise<MimeBundle>;
}

/**
 * Wraps a bundle (or a function that builds one lazily) as a displayable value.
 *
 * @example
 * ```ts
 * import { displayable, isDisplayable } from "./display.ts";
 * const d = displayable(() => ({ "text/plain": String(6 * 7) }));
 * if (!isDisplayable(d)) throw new Error("not displayable");
 * ```
 */
export function displayable(
  bundle: MimeBundle | (() => MimeBundle | Promise<MimeBundle>),
): Displayable {
  const make = typeof bundle === "function" ? bundle : () => bundle;
  return { [JUPYTER_DISPLAY]: make };
}

/**
 * True when `x` carries a `Symbol.for("Jupyter.display")` method.
 *
 * @example
 * ```ts
 * import { isDisplayable } from "./display.ts";
 * if (isDisplayable({})) throw new Error("plain objects are not displayable");
 * ```
 */
export function isDisplayable(x: unknown): x is Displayable {
  return typeof x === "object" && x !== null &&
    typeof (x as Record<symbol, unknown>)[JUPYTER_DISPLAY] === "function";
}

/**
 * Returns the MIME bundle of a displayable value; for any other value, a
 * bundle with `text/plain` from `Deno.inspect`.
 *
 * @example
 * ```ts
 * import { bundleOf } from "./display.ts";
 * const b = await bundleOf([1, 2]);
 * if (b["text/plain"] !== "[ 1, 2 ]") throw new Error(String(b["text/plain"]));
 * ```
 */
export async function bundleOf(x: unknown): Promise<MimeBundle> {
  if (isDisplayable(x)) return await x[JUPYTER_DISPLAY]();
  return { "text/plain": Deno.inspect(x, { colors: false }) };
}

/**
 * True inside Deno's Jupyter kernel (where `Deno.jupyter` exists). Never throws.
 *
 * @example
 * ```ts
 * import { inJupyter } from "./display.ts";
 * if (inJupyter()) throw new Error("doc tests do not run in a kernel");
 * ```
 */
export function inJupyter(): boolean {
  try {
    const j = (Deno as unknown as { jupyter?: { display?: unknown } }).jupyter;
    return typeof j?.display === "function";
  } catch {
    return false;
  }
}

/** Options of {@linkcode display}. */
export interface DisplayOptions {
  /** Jupyter display id: a later call with the same id and `update` replaces the output. */
  displayId?: string;
  /** Replace the output that has `displayId` instead of adding a new one. */
  update?: boolean;
}

/**
 * Shows a value: in a notebook through `Deno.jupyter.display` (honouring
 * display ids and updates); elsewhere by printing its `text/plain` form
 * (updates are printed as new lines).
 *
 * @example
 * ```ts
 * import { display, displayable } from "./display.ts";
 * await display(displayable({ "text/plain": "shown on stdout outside Jupyter" }));
 * ```
 */
export async function display(x: unknown, options: DisplayOptions = {}): Promise<void> {
  if (inJupyter()) {
    const bundle = await bundleOf(x);
    await Deno.jupyter.display(displayable(bundle), {
      display_id: options.displayId,
      update: options.update ?? false,
    });
    return;
  }
  console.log(String((await bundleOf(x))["text/plain"] ?? ""));
}

const ESCAPES: Record<string, string> = {
  "&": "&amp;",
  "<": "&lt;",
  ">": "&gt;",
  '"': "&quot;",
  "'": "&#39;",
};

/**
 * Escapes `&`, `<`, `>`, `"` and `'` for use in HTML text and attributes.
 *
 * @example
 * ```ts
 * import { escapeHtml } from "./display.ts";
 * if (escapeHtml("<a&b>") !== "&lt;a&amp;b&gt;") throw new Error("bad escape");
 * ```
 */
export function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ESCAPES[c]);
}

/**
 * A displayable HTML fragment with a plain-text alternative.
 *
 * @example
 * ```ts
 * import { bundleOf, html } from "./display.ts";
 * const b = await bundleOf(html("<p>ok</p>", "ok"));
 * if (b["text/plain"] !== "ok") throw new Error("wrong plain text");
 * ```
 */
export function html(fragment: string, plain = "[html]"): Displayable {
  return displayable({ "text/plain": plain, "text/html": fragment });
}
