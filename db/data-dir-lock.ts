/**
 * One process at a time on an embedded database folder. PGlite takes no lock of its own: two
 * processes opening one folder (`strata payments trigger` beside a running `strata start`) each
 * work on their own copy of the pages and lose each other's writes, or worse. The process that
 * opens the folder holds `strata.lock` in it, naming its pid, and removes it when it closes the
 * database or exits; another process is refused, naming the holder. A lock left by a process
 * that no longer runs (killed, crashed) is taken over.
 *
 * Two races are closed:
 * - The lock appears with its content, never empty: the pid is written to a temp file of this
 *   process in the folder, which is then hard-linked to `strata.lock` (link fails with EEXIST
 *   when a lock exists, like an exclusive create) and unlinked. An empty lock, read by another
 *   opener between create and write, used to look stale: it was removed and both proceeded.
 * - One taker per stale lock: a process that finds the holder dead first takes the takeover
 *   token `strata.lock.takeover` (created the same way, naming its pid). Only the token holder
 *   re-reads the lock and, when it still names the same dead process, replaces it (unlink +
 *   link), then removes the token. Without it, two takers could each unlink the lock the other
 *   had just created. A process that finds the token held by a running process waits briefly
 *   and starts again, and after about a second is refused.
 *
 * Residual risk, accepted: a token whose holder no longer runs (killed in the microseconds of a
 * takeover) is itself stale and removed without a token of its own; two processes removing
 * the same stale token at the same instant could, as before this token existed, both take the
 * lock. That needs a crash mid-takeover and two openers racing right after it.
 */
import process from "node:process";
import { linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";

export const LOCK_FILE = "strata.lock";
/** Held by the one process replacing a stale lock. */
const TAKEOVER_FILE = `${LOCK_FILE}.takeover`;
/** Rounds of `lockDataDir` before giving up, and the pause while another process takes over. */
const MAX_ATTEMPTS = 40;
const TAKEOVER_WAIT_MS = 25;

export interface DataDirLock {
  /** Removes the lock (idempotent). */
  release(): void;
}

/**
 * @internal Pauses between steps, for tests that make the races deterministic with real
 * processes. Not for production use.
 */
export interface DataDirLockHooks {
  /** The pid is in this process's temp file; `strata.lock` is about to be linked to it. */
  beforeLink?(): void;
  /** The lock names a process that no longer runs; the takeover token is about to be taken. */
  beforeTakeover?(): void;
}

/** Whether a process with this pid runs (signal 0 checks without sending anything). */
function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it runs, under another user.
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

function code(err: unknown): string | undefined {
  return (err as NodeJS.ErrnoException).code;
}

/** The file's text, or null when there is no such file. */
function contentOf(file: string): string | null {
  try {
    return readFileSync(file, "utf8");
  } catch (err) {
    if (code(err) === "ENOENT") return null;
    throw err;
  }
}

/** The pid a lock or token names, or null when its text is not one. */
function pidIn(text: string | null): number | null {
  if (text === null) return null;
  const pid = Number(text.trim());
  return text.trim() !== "" && Number.isInteger(pid) && pid > 0 ? pid : null;
}

function holderOf(file: string): number | null {
  try {
    return pidIn(contentOf(file));
  } catch {
    return null;
  }
}

function removeIfThere(file: string): void {
  try {
    unlinkSync(file);
  } catch (err) {
    if (code(err) !== "ENOENT") throw err;
  }
}

let tempSeq = 0;

/**
 * Creates `target` already holding this process's pid: written to a temp file of this process
 * first, then hard-linked (never an empty `target`). False when `target` exists.
 */
function createWithPid(dir: string, target: string, beforeLink?: () => void): boolean {
  const temp = join(dir, `${LOCK_FILE}.${process.pid}.${++tempSeq}.${Math.random().toString(36).slice(2, 10)}.tmp`);
  writeFileSync(temp, `${process.pid}\n`, { flag: "wx" });
  try {
    beforeLink?.();
    linkSync(temp, target);
    return true;
  } catch (err) {
    if (code(err) === "EEXIST") return false;
    throw err;
  } finally {
    removeIfThere(temp);
  }
}

function sleepSync(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function inUse(dir: string, file: string, holder: number): Error {
  const who = holder === process.pid ? "this process (opened twice)" : `process ${holder}`;
  return new Error(`embedded database ${dir} is in use by ${who} (${file}): stop it first, or use another STRATA_DATA_DIR`);
}

function held(file: string): DataDirLock {
  let isHeld = true;
  const release = () => {
    if (!isHeld) return;
    isHeld = false;
    process.off("exit", release);
    try {
      if (holderOf(file) === process.pid) unlinkSync(file);
    } catch {
      // already gone
    }
  };
  process.on("exit", release);
  return { release };
}

/** Takes the folder's lock, or throws naming the process that holds it. */
export function lockDataDir(dir: string, hooks: DataDirLockHooks = {}): DataDirLock {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, LOCK_FILE);
  const token = join(dir, TAKEOVER_FILE);
  let taker: number | null = null;
  for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
    taker = null;
    if (createWithPid(dir, file, hooks.beforeLink)) return held(file);
    const seen = contentOf(file);
    if (seen === null) continue; // released in between
    const holder = pidIn(seen);
    if (holder !== null && running(holder)) throw inUse(dir, file, holder);
    // Left by a process that ended without removing it: taken over by one process at a time.
    hooks.beforeTakeover?.();
    if (!createWithPid(dir, token)) {
      const tokenText = contentOf(token);
      if (tokenText === null) continue; // its holder just finished
      taker = pidIn(tokenText);
      if (taker !== null && running(taker)) {
        sleepSync(TAKEOVER_WAIT_MS);
      } else {
        // A taker that ended mid-takeover (the residual risk in the header comment).
        removeIfThere(token);
        taker = null;
      }
      continue;
    }
    try {
      // Still the same dead holder? Otherwise it was replaced or released meanwhile: start again.
      if (contentOf(file) === seen) {
        removeIfThere(file);
        if (createWithPid(dir, file, hooks.beforeLink)) return held(file);
      }
    } finally {
      removeIfThere(token);
    }
  }
  throw new Error(
    taker !== null
      ? `embedded database ${dir}: process ${taker} is taking over a stale lock (${token}) and has not finished; try again, or remove ${token} if that process is not a strata process`
      : `embedded database ${dir}: could not take its lock (${file}) after ${MAX_ATTEMPTS} attempts; try again`,
  );
}
