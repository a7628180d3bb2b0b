/**
 * One process at a time on an embedded database folder (db/data-dir-lock.ts). Real processes:
 * a child holds the folder open while this process (and PGlite's opener) is refused; a holder
 * killed with SIGKILL leaves a lock that the next opener takes over.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { LOCK_FILE, lockDataDir } from "../../db/data-dir-lock.ts";
import { openPgliteDb } from "../../db/pglite-db.ts";
import { currentRuntime, runtimeCommand } from "../support/services.ts";
import { rejectionMessage } from "../support/rejection.ts";

const temps: string[] = [];
test.after(async () => {
  for (const dir of temps) await rm(dir, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "strata-lock-"));
  temps.push(dir);
  return dir;
}

/** A child process that takes the lock, says HELD, and waits to be killed. */
async function holder(dir: string): Promise<ChildProcess> {
  const code = `import { lockDataDir } from ${JSON.stringify(new URL("../../db/data-dir-lock.ts", import.meta.url).href)};
lockDataDir(${JSON.stringify(dir)});
console.log("HELD");
setInterval(() => {}, 1000);`;
  const script = join(dir, "..", `holder-${process.pid}-${Date.now()}.ts`);
  writeFileSync(script, code);
  temps.push(script);
  const [cmd, ...args] = runtimeCommand(currentRuntime(), script);
  const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "inherit"] });
  await new Promise<void>((resolve, reject) => {
    let out = "";
    child.stdout!.on("data", (d) => {
      out += String(d);
      if (out.includes("HELD")) resolve();
    });
    child.once("exit", (c) => reject(new Error(`holder exited (${c}) before taking the lock`)));
  });
  return child;
}

async function killed(child: ChildProcess): Promise<void> {
  const gone = new Promise((r) => child.once("exit", r));
  child.kill("SIGKILL");
  await gone;
}

test("data dir lock - a folder another process holds is refused, naming the holder; taken once it is released", async () => {
  const dir = await tempDir();
  const child = await holder(dir);
  try {
    assert.throws(() => lockDataDir(dir), (err: Error) => err.message.includes(`in use by process ${child.pid}`) && err.message.includes(LOCK_FILE));
    assert.match(await rejectionMessage(openPgliteDb(dir)), new RegExp(`in use by process ${child.pid}`));
  } finally {
    await killed(child);
  }
  // The holder was killed: its lock is left behind, and taken over.
  assert.is(readFileSync(join(dir, LOCK_FILE), "utf8").trim(), String(child.pid));
  const lock = lockDataDir(dir);
  assert.is(readFileSync(join(dir, LOCK_FILE), "utf8").trim(), String(process.pid));
  assert.throws(() => lockDataDir(dir), /in use by this process/);
  lock.release();
  assert.not.ok(existsSync(join(dir, LOCK_FILE)));
  lock.release(); // idempotent
});

test("data dir lock - PGlite holds its folder while open and frees it at close; a second open is refused", async () => {
  const dir = join(await tempDir(), "data");
  const db = await openPgliteDb(dir);
  try {
    await db.query("CREATE TABLE t (n int)");
    assert.is(readFileSync(join(dir, LOCK_FILE), "utf8").trim(), String(process.pid));
    assert.match(await rejectionMessage(openPgliteDb(dir)), /in use by this process/);
  } finally {
    await db.close();
  }
  assert.not.ok(existsSync(join(dir, LOCK_FILE)));
  const again = await openPgliteDb(dir);
  try {
    assert.equal((await again.query<{ n: number }>("SELECT count(*)::int AS n FROM t")).rows, [{ n: 0 }]);
  } finally {
    await again.close();
  }
});

test.run();
