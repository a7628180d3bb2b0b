/**
 * The embedded data folder's lock under races (db/data-dir-lock.ts), with real processes
 * (test/db/data-dir-lock-child.ts) paused at its internal hooks so that each race happens every
 * run:
 * - a process paused between writing its pid and putting the lock in place leaves no lock, and
 *   never an empty one: another process that takes the folder meanwhile holds it, and the paused
 *   one is then refused (before: the empty lock looked stale, was removed, and both held it);
 * - two processes that find the same stale lock at the same instant: exactly one takes it over,
 *   the other is refused naming it, 20 rounds out of 20 (before: both could hold it);
 * - the takeover token: a token left by a dead taker is removed; one held by a running process
 *   makes the opener wait, then refuses it naming that process.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { LOCK_FILE, lockDataDir } from "../../db/data-dir-lock.ts";
import { currentRuntime, runtimeCommand } from "../support/services.ts";

const TOKEN = `${LOCK_FILE}.takeover`;
const ROUNDS = 20;

const temps: string[] = [];
const children: ChildProcess[] = [];
test.after(async () => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
  for (const dir of temps) await rm(dir, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "strata-lock-race-"));
  temps.push(dir);
  return dir;
}

interface Answer {
  ready?: number;
  held?: true;
  error?: string;
  released?: true;
}

interface Child {
  pid: number;
  send(cmd: unknown): Promise<Answer>;
  stop(): Promise<void>;
}

/** A data-dir-lock-child.ts process, ready for commands. */
async function child(): Promise<Child> {
  const script = fileURLToPath(new URL("./data-dir-lock-child.ts", import.meta.url));
  const [cmd, ...args] = runtimeCommand(currentRuntime(), script);
  const proc = spawn(cmd, args, { stdio: ["pipe", "pipe", "inherit"] });
  children.push(proc);
  const answers: Answer[] = [];
  const waiting: ((a: Answer) => void)[] = [];
  let exited = false;
  createInterface({ input: proc.stdout! }).on("line", (line) => {
    const a = JSON.parse(line) as Answer;
    const w = waiting.shift();
    if (w) w(a);
    else answers.push(a);
  });
  const next = () =>
    new Promise<Answer>((resolve, reject) => {
      const a = answers.shift();
      if (a) return resolve(a);
      if (exited) return reject(new Error(`lock child ${proc.pid} exited`));
      waiting.push(resolve);
    });
  const gone = new Promise<void>((resolve) =>
    proc.once("exit", () => {
      exited = true;
      resolve();
    }),
  );
  const ready = await Promise.race([next(), gone.then(() => ({}) as Answer)]);
  if (ready.ready !== proc.pid) throw new Error(`lock child ${proc.pid} did not start`);
  return {
    pid: proc.pid!,
    send(command) {
      proc.stdin!.write(`${JSON.stringify(command)}\n`);
      return next();
    },
    async stop() {
      proc.stdin!.end();
      await gone;
    },
  };
}

/** The pid of a process that has exited. */
async function deadPid(): Promise<number> {
  const proc = spawn("true", [], { stdio: "ignore" });
  const pid = proc.pid!;
  await new Promise((r) => proc.once("exit", r));
  return pid;
}

async function until(done: () => boolean, what: string): Promise<void> {
  const start = Date.now();
  while (!done()) {
    if (Date.now() - start > 20_000) throw new Error(`waited too long for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

function contentOf(file: string): string | null {
  return existsSync(file) ? readFileSync(file, "utf8") : null;
}

test("data dir lock races - a process paused before its lock is in place leaves none (never an empty one): another takes the folder, the paused one is refused", async () => {
  const root = await tempDir();
  const dir = join(root, "data");
  const paused = join(root, "paused");
  const go = join(root, "go");
  const taker = await child();
  try {
    const answer = taker.send({ take: dir, pauseBeforeLink: { paused, go } });
    await until(() => existsSync(paused), "the child to pause before linking");
    // The child has written its pid (to its own temp file) and not yet put the lock in place.
    const atPause = contentOf(join(dir, LOCK_FILE));
    let mine: ReturnType<typeof lockDataDir> | null = null;
    let refused: string | null = null;
    try {
      mine = lockDataDir(dir);
    } catch (err) {
      refused = (err as Error).message;
    }
    writeFileSync(go, "");
    const theirs = await answer;
    try {
      assert.ok((mine !== null) !== (theirs.held === true), `exactly one holds the folder (this process: ${mine !== null ? "held" : refused}; the child: ${theirs.held ? "held" : theirs.error})`);
      assert.ok(atPause === null || /^\d+\n$/.test(atPause), `no lock, or a complete one, while its creator was paused (found ${JSON.stringify(atPause)})`);
      // The lock appears whole and at once: the paused child finds it taken and is refused.
      assert.ok(mine !== null, `this process took the folder while the child was paused (${refused})`);
      assert.match(theirs.error ?? "", `in use by process ${process.pid}`);
      assert.is(contentOf(join(dir, LOCK_FILE)), `${process.pid}\n`);
      assert.equal(readdirSync(dir), [LOCK_FILE], "no temp file left");
    } finally {
      mine?.release();
    }
    assert.not.ok(existsSync(join(dir, LOCK_FILE)));
  } finally {
    await taker.stop();
  }
});

test(`data dir lock races - two processes finding the same stale lock at the same instant: exactly one takes it over, ${ROUNDS} rounds out of ${ROUNDS}`, async () => {
  const root = await tempDir();
  const [a, b] = await Promise.all([child(), child()]);
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const dir = join(root, `data-${round}`);
      const barrier = join(root, `barrier-${round}`);
      mkdirSync(dir);
      mkdirSync(barrier);
      const dead = await deadPid();
      writeFileSync(join(dir, LOCK_FILE), `${dead}\n`);
      // Both find the holder dead, wait for each other, then take over at once.
      const answers = await Promise.all([a, b].map((c) => c.send({ take: dir, barrier: { dir: barrier, n: 2 } })));
      const holders = [a, b].filter((_, i) => answers[i].held);
      const detail = `round ${round}: ${JSON.stringify(answers)}`;
      assert.is(readdirSync(barrier).length, 2, `both found the stale lock (${detail})`);
      assert.is(holders.length, 1, `exactly one holds the folder (${detail})`);
      const [winner] = holders;
      const loser = winner === a ? b : a;
      assert.match(answers[winner === a ? 1 : 0].error ?? "", `in use by process ${winner.pid}`, detail);
      assert.is(contentOf(join(dir, LOCK_FILE)), `${winner.pid}\n`, detail);
      assert.equal(readdirSync(dir), [LOCK_FILE], `no token or temp file left (${detail})`);
      assert.equal(await winner.send({ release: true }), { released: true });
      assert.not.ok(existsSync(join(dir, LOCK_FILE)), detail);
      assert.equal(await loser.send({ release: true }), { released: true });
      rmSync(dir, { recursive: true });
      rmSync(barrier, { recursive: true });
    }
  } finally {
    await Promise.all([a.stop(), b.stop()]);
  }
});

test("data dir lock races - a takeover token left by a taker that died is stale: removed, and the stale lock taken over", async () => {
  const dir = await tempDir();
  writeFileSync(join(dir, LOCK_FILE), `${await deadPid()}\n`);
  writeFileSync(join(dir, TOKEN), `${await deadPid()}\n`);
  const lock = lockDataDir(dir);
  try {
    assert.is(contentOf(join(dir, LOCK_FILE)), `${process.pid}\n`);
    assert.equal(readdirSync(dir), [LOCK_FILE]);
  } finally {
    lock.release();
  }
});

test("data dir lock races - a takeover token held by a running process: the opener waits, then is refused naming it; taken over once the token is gone", async () => {
  const dir = await tempDir();
  const other = await child();
  try {
    writeFileSync(join(dir, LOCK_FILE), `${await deadPid()}\n`);
    writeFileSync(join(dir, TOKEN), `${other.pid}\n`);
    const start = Date.now();
    assert.throws(
      () => lockDataDir(dir),
      (err: Error) => err.message.includes(`process ${other.pid} is taking over a stale lock`) && err.message.includes(TOKEN),
    );
    assert.ok(Date.now() - start >= 500, `waited for the token's holder (${Date.now() - start} ms)`);
    assert.is(contentOf(join(dir, TOKEN)), `${other.pid}\n`, "a running taker's token is left alone");
    rmSync(join(dir, TOKEN));
    const lock = lockDataDir(dir);
    try {
      assert.is(contentOf(join(dir, LOCK_FILE)), `${process.pid}\n`);
      assert.equal(readdirSync(dir), [LOCK_FILE]);
    } finally {
      lock.release();
    }
  } finally {
    await other.stop();
  }
});

test.run();
