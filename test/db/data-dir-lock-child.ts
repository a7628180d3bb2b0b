/**
 * A child process for test/db/data-dir-lock-races.test.ts: takes and releases an embedded data
 * folder's lock (db/data-dir-lock.ts) on command, one JSON line per command on stdin, one JSON
 * line per answer on stdout. It prints {"ready":pid} first.
 *
 * - {"take":dir, "pauseBeforeLink"?:{paused,go}, "barrier"?:{dir,n}} → {"held":true} or {"error":message}.
 *   pauseBeforeLink: at the beforeLink hook, creates the file `paused` and waits until `go` exists.
 *   barrier: at the beforeTakeover hook, creates `<dir>/<pid>` and waits until n files are there.
 * - {"release":true} → {"released":true}
 */
import process from "node:process";
import { existsSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { lockDataDir, type DataDirLock, type DataDirLockHooks } from "../../db/data-dir-lock.ts";

interface Take {
  take: string;
  pauseBeforeLink?: { paused: string; go: string };
  barrier?: { dir: string; n: number };
}

const WAIT_LIMIT_MS = 20_000;

/** Blocks (the hooks are synchronous) until `done()`, polling every `pollMs` (0: spins). */
function waitUntil(done: () => boolean, pollMs: number, what: string): void {
  const cell = new Int32Array(new SharedArrayBuffer(4));
  const start = Date.now();
  while (!done()) {
    if (Date.now() - start > WAIT_LIMIT_MS) throw new Error(`data-dir-lock-child: waited too long for ${what}`);
    if (pollMs > 0) Atomics.wait(cell, 0, 0, pollMs);
  }
}

function answer(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

let lock: DataDirLock | null = null;

function take(cmd: Take): void {
  const hooks: DataDirLockHooks = {};
  const pause = cmd.pauseBeforeLink;
  if (pause) {
    hooks.beforeLink = () => {
      writeFileSync(pause.paused, String(process.pid));
      waitUntil(() => existsSync(pause.go), 5, pause.go);
    };
  }
  const barrier = cmd.barrier;
  if (barrier) {
    hooks.beforeTakeover = () => {
      writeFileSync(join(barrier.dir, String(process.pid)), "");
      // Spins: both takers leave the barrier within microseconds of each other.
      waitUntil(() => readdirSync(barrier.dir).length >= barrier.n, 0, "the other takers");
    };
  }
  try {
    lock = lockDataDir(cmd.take, hooks);
    answer({ held: true });
  } catch (err) {
    answer({ error: (err as Error).message });
  }
}

answer({ ready: process.pid });
const lines = createInterface({ input: process.stdin });
lines.on("line", (line) => {
  const cmd = JSON.parse(line) as Take | { release: true };
  if ("take" in cmd) take(cmd);
  else {
    lock?.release();
    lock = null;
    answer({ released: true });
  }
});
lines.on("close", () => process.exit(0));
