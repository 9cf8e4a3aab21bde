import { assert, assertEquals } from "@std/assert";
import { driverEnv, validRuntimeDir } from "../../tools/driver_env.ts";

Deno.test("validRuntimeDir: absolute, a directory, owner-only", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.chmod(dir, 0o700);
    assert(validRuntimeDir(dir));
    await Deno.chmod(dir, 0o755);
    assert(!validRuntimeDir(dir), "a directory others may enter is not valid");
    const file = `${dir}/f`;
    await Deno.writeTextFile(file, "");
    assert(!validRuntimeDir(file));
    assert(!validRuntimeDir(`${dir}/missing`));
    assert(!validRuntimeDir(""));
    assert(!validRuntimeDir(undefined));
    assert(!validRuntimeDir("tmp"));
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("driverEnv: a private 0700 directory when missing, removed by cleanup; a valid one kept", async () => {
  const made = await driverEnv({ XDG_RUNTIME_DIR: undefined });
  const dir = made.env.XDG_RUNTIME_DIR;
  assert(dir && validRuntimeDir(dir), dir);
  await made.cleanup();
  await made.cleanup(); // twice is safe
  assert(!validRuntimeDir(dir), "cleanup left the directory");
  const own = await Deno.makeTempDir();
  try {
    await Deno.chmod(own, 0o700);
    assertEquals((await driverEnv({ XDG_RUNTIME_DIR: own })).env, {});
  } finally {
    await Deno.remove(own);
  }
});

Deno.test("driverEnv: a child that requests a GPU adapter prints nothing on stderr", async () => {
  const quiet = await driverEnv({ XDG_RUNTIME_DIR: undefined });
  try {
    const env = { ...Deno.env.toObject(), ...quiet.env };
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "eval",
        "const a = await navigator.gpu.requestAdapter(); console.log(a ? 'adapter' : 'none');",
      ],
      env,
      clearEnv: true,
      stdout: "piped",
      stderr: "piped",
    }).output();
    const stderr = new TextDecoder().decode(out.stderr);
    assertEquals(stderr, "", "driver noise on stderr");
    assertEquals(new TextDecoder().decode(out.stdout).trim(), "adapter");
  } finally {
    await quiet.cleanup();
  }
});
