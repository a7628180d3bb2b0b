/**
 * One process at a time on an embedded database folder. PGlite takes no lock of its own: two
 * processes opening one folder (`strata payments trigger` beside a running `strata start`) each
 * work on their own copy of the pages and lose each other's writes, or worse. The process that
 * opens the folder writes its pid to `strata.lock` in it (created exclusively) and removes it
 * when it closes the database or exits; another process is refused, naming the holder. A lock
 * left by a process that no longer runs (killed, crashed) is taken over.
 */
import process from "node:process";
import { closeSync, mkdirSync, openSync, readFileSync, unlinkSync, writeSync } from "node:fs";
import { join } from "node:path";

export const LOCK_FILE = "strata.lock";

export interface DataDirLock {
  /** Removes the lock (idempotent). */
  release(): void;
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

function holderOf(file: string): number | null {
  try {
    const pid = Number(readFileSync(file, "utf8").trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

/** Takes the folder's lock, or throws naming the process that holds it. */
export function lockDataDir(dir: string): DataDirLock {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, LOCK_FILE);
  for (let attempt = 0; ; attempt++) {
    let fd: number;
    try {
      fd = openSync(file, "wx");
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST" || attempt > 0) throw err;
      const holder = holderOf(file);
      if (holder !== null && running(holder)) {
        const who = holder === process.pid ? "this process (opened twice)" : `process ${holder}`;
        throw new Error(`embedded database ${dir} is in use by ${who} (${file}): stop it first, or use another STRATA_DATA_DIR`);
      }
      // Left by a process that ended without removing it.
      unlinkSync(file);
      continue;
    }
    try {
      writeSync(fd, `${process.pid}\n`);
    } finally {
      closeSync(fd);
    }
    let held = true;
    const release = () => {
      if (!held) return;
      held = false;
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
}
