/**
 * whenIdle() keeps the process alive while it waits: the runtime's timers on the system clock
 * (backoff, commit window) are unref'd, so a process that only awaits whenIdle (`strata import`)
 * ended while an actor waited in backoff — its message never applied (Node: exit 0 from a plain
 * promise, 13 under a top-level await; Deno: exit 0 from a plain promise). And once the system is
 * stopped, a whenIdle() still waiting (a drain that timed out) must not keep it alive. Real child
 * processes (idle-keepalive-child.ts) on the runtime running this test (Node or Deno).
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn } from "node:child_process";
import os from "node:os";
import process from "node:process";
import { repoRoot } from "../support/run-strata.ts";

const deno = (globalThis as { Deno?: { execPath(): string } }).Deno;
const CHILD = "test/supervisors/idle-keepalive-child.ts";

/** Runs the child; kills it (and says so) when it has not exited within `limitMs`. */
function runChild(mode: string, limitMs: number): Promise<{ code: number | null; stdout: string; stderr: string; killed: boolean; ms: number }> {
  const cmd = deno ? [deno.execPath(), "run", "-A", CHILD, mode] : [process.execPath, "--import", "tsx", CHILD, mode];
  const started = Date.now();
  const child = spawn(cmd[0], cmd.slice(1), { cwd: repoRoot, env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? os.tmpdir() }, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  let killed = false;
  child.stdout!.on("data", (d) => (stdout += String(d)));
  child.stderr!.on("data", (d) => (stderr += String(d)));
  const timer = setTimeout(() => {
    killed = true;
    child.kill("SIGKILL");
  }, limitMs);
  return new Promise((resolve) =>
    child.once("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr, killed, ms: Date.now() - started });
    }),
  );
}

test("whenIdle - a process that only awaits whenIdle stays alive through an actor's backoff and exits after", async () => {
  const run = await runChild("backoff", 60_000);
  assert.not.ok(run.killed, `the child did not exit within 60 s\n${run.stdout}${run.stderr}`);
  assert.match(run.stdout, "idle: applied [1]", `the process ended before the message was applied (exit ${run.code})\n${run.stdout}${run.stderr}`);
  assert.is(run.code, 0, run.stderr);
});

test("whenIdle - a whenIdle() still waiting when stop() is called (a handler that never returns) does not keep the process alive", async () => {
  const run = await runChild("stuck", 20_000);
  assert.match(run.stdout, "idle: false\nstopped: false\ngave up", run.stdout + run.stderr);
  assert.not.ok(run.killed, `the child was still alive 20 s after stop()\n${run.stdout}${run.stderr}`);
  assert.is(run.code, 0, run.stderr);
});

test.run();
