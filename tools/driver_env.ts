/**
 * A quiet environment for the processes the project starts (the demo's
 * script, notebook kernels).
 *
 * On a machine without a desktop session, the Vulkan loader's window-system
 * layer (libwayland-client, loaded while the adapter is requested) prints
 * `error: XDG_RUNTIME_DIR is invalid or not set in the environment.` to stderr,
 * once per probe, before the first line of output. No window is ever opened,
 * so any private directory satisfies it: {@linkcode driverEnv} returns a
 * fresh `0700` temporary directory as `XDG_RUNTIME_DIR` when the current one is
 * missing or invalid (not an absolute path to a directory only its owner may
 * enter), and nothing otherwise. A valid setting is never replaced.
 *
 * @example
 * ```ts
 * import { driverEnv } from "./driver_env.ts";
 * const env = await driverEnv({ XDG_RUNTIME_DIR: undefined });
 * console.log(Object.keys(env.env)); // [ "XDG_RUNTIME_DIR" ]
 * await env.cleanup();
 * ```
 * @module
 */

/** What {@linkcode driverEnv} gives: variables for the child, and a cleanup. */
export interface DriverEnv {
  /** Variables to add to the child's environment (empty when nothing is needed). */
  env: Record<string, string>;
  /** Removes the private directory, if one was made (safe to call twice). */
  cleanup(): Promise<void>;
}

/**
 * Whether `dir` is a usable `XDG_RUNTIME_DIR`: an absolute path to a directory
 * that only its owner may enter (mode `0700`), as the XDG base-directory spec asks.
 *
 * @example
 * ```ts
 * import { validRuntimeDir } from "./driver_env.ts";
 * console.log(validRuntimeDir(undefined), validRuntimeDir("relative/dir")); // false false
 * ```
 */
export function validRuntimeDir(dir: string | undefined): boolean {
  if (!dir || !dir.startsWith("/")) return false;
  try {
    const st = Deno.statSync(dir);
    if (!st.isDirectory) return false;
    return st.mode === null || (st.mode & 0o077) === 0;
  } catch {
    return false;
  }
}

/**
 * The environment a child needs so the GPU driver stays quiet; `current`
 * defaults to this process's `XDG_RUNTIME_DIR`.
 *
 * @example
 * ```ts
 * import { driverEnv } from "./driver_env.ts";
 * const dir = await Deno.makeTempDir();
 * await Deno.chmod(dir, 0o700);
 * const env = await driverEnv({ XDG_RUNTIME_DIR: dir });
 * console.log(env.env); // {}
 * await Deno.remove(dir);
 * ```
 */
export async function driverEnv(
  current: { XDG_RUNTIME_DIR: string | undefined } = {
    XDG_RUNTIME_DIR: Deno.env.get("XDG_RUNTIME_DIR"),
  },
): Promise<DriverEnv> {
  if (validRuntimeDir(current.XDG_RUNTIME_DIR)) {
    return {
      env: {},
      cleanup: () => Promise.resolve(),
    };
  }
  const dir = await Deno.makeTempDir({ prefix: "lowbit-xdg-" });
  await Deno.chmod(dir, 0o700);
  return {
    env: { XDG_RUNTIME_DIR: dir },
    cleanup: () => Deno.remove(dir, { recursive: true }).catch(() => {}),
  };
}
