/**
 * Writing a folder atomically: the content goes into a fresh temporary
 * folder next to the target (same file system), which is renamed into place
 * in one step, so a reader sees the old folder or the complete new one and
 * never a mix. A lock file `<target>.lock` (created exclusively) makes a
 * second concurrent writer fail at once, naming the lock.
 *
 * @example
 * ```ts
 * import { commitFolder } from "./atomic_folder.ts";
 * const target = `${await Deno.makeTempDir()}/out`;
 * await commitFolder(target, {}, (tmp) => Deno.writeTextFile(`${tmp}/a.txt`, "hi"));
 * console.log(await Deno.readTextFile(`${target}/a.txt`)); // hi
 * ```
 * @module
 */

async function entries(dir: string): Promise<string[] | null> {
  try {
    const names: string[] = [];
    for await (const e of Deno.readDir(dir)) names.push(e.name);
    return names;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return null;
    throw e;
  }
}

function suffix(): string {
  return `${Date.now().toString(36)}-${crypto.randomUUID().slice(0, 8)}`;
}

/**
 * Fills a fresh temporary folder with `write(tmp)` and moves it to `target`.
 * `target` must be absent or empty, unless `overwrite` (then the old folder
 * is moved aside, replaced, and removed). On any failure the temporary
 * folder is removed and the target is left as it was.
 */
export async function commitFolder(
  target: string,
  options: { overwrite?: boolean },
  write: (tmp: string) => Promise<void>,
): Promise<void> {
  const lock = `${target}.lock`;
  const parent = target.includes("/") ? target.slice(0, target.lastIndexOf("/")) || "/" : ".";
  await Deno.mkdir(parent, { recursive: true });
  let lockFile: Deno.FsFile;
  try {
    lockFile = await Deno.open(lock, { write: true, createNew: true });
  } catch (e) {
    if (e instanceof Deno.errors.AlreadyExists) {
      throw new Error(
        `save into ${target}: another save into this folder is in progress (lock file ${lock}); ` +
          `wait for it, or remove the lock file if no save is running`,
      );
    }
    throw e;
  }
  lockFile.close();
  const tmp = `${target}.tmp-${suffix()}`;
  try {
    const existing = await entries(target);
    if (existing && existing.length && !options.overwrite) {
      throw new Error(
        `save into ${target}: the folder is not empty (${existing.slice(0, 3).join(", ")}` +
          `${existing.length > 3 ? ", …" : ""}); choose a new folder or pass { overwrite: true }`,
      );
    }
    await Deno.mkdir(tmp);
    await write(tmp);
    if (existing) {
      // rename cannot replace a non-empty folder: move the old one aside first
      const old = `${target}.old-${suffix()}`;
      await Deno.rename(target, old);
      try {
        await Deno.rename(tmp, target);
      } catch (e) {
        await Deno.rename(old, target);
        throw e;
      }
      await Deno.remove(old, { recursive: true });
    } else {
      await Deno.rename(tmp, target);
    }
  } catch (e) {
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
    throw e;
  } finally {
    await Deno.remove(lock).catch(() => {});
  }
}
