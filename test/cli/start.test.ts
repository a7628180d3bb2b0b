/**
 * `strata start` for real: the command as a child process (Node: cli/strata.js; Deno:
 * cli/main.ts) in embedded mode with a temp STRATA_DATA_DIR and ADMIN_PORT=0 (the host binds any
 * free port and logs it: a port picked here and handed over could be taken by the host's own
 * embedded anvil, which also asks the kernel for a free port, before the admin server binds it). The test
 * waits for the host's "ready" log line (no sleeping), checks /health and /actors, sends SIGTERM
 * and expects exit code 0 and the embedded child processes gone.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";

const repoRoot = fileURLToPath(new URL("../../", import.meta.url));
const deno = (globalThis as { Deno?: { execPath(): string } }).Deno;

async function refused(url: string): Promise<boolean> {
  try {
    const res = await fetch(url);
    await res.body?.cancel();
    return false;
  } catch {
    return true;
  }
}

interface Started {
  child: ReturnType<typeof spawn>;
  exited: Promise<number | null>;
  admin: string;
  output(): { stdout: string; stderr: string };
  /** Endpoints of the embedded s3rver and anvil, from the start log. */
  s3: string;
  anvil: string;
}

/** Spawns `strata start` with exactly these variables (no service URL from the test runner leaks in) and waits for its ready line. */
async function startStrata(dataDir: string): Promise<Started> {
  const cmd = deno ? [deno.execPath(), "run", "-A", "cli/main.ts", "start"] : [process.execPath, "cli/strata.js", "start"];
  const env = { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? os.tmpdir(), STRATA_DATA_DIR: dataDir, ADMIN_PORT: "0" };
  const child = spawn(cmd[0], cmd.slice(1), { cwd: repoRoot, env, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stderr!.on("data", (d) => (stderr += String(d)));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on("data", (d) => {
      stdout += String(d);
      if (stdout.includes("strata host ready: admin at")) resolve();
    });
    void exited.then((code) => reject(new Error(`strata start exited with ${code} before it was ready:\n${stderr}\n${stdout.slice(-3000)}`)));
  });
  const lines = stdout.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as { msg: string; endpoint?: string; url?: string });
  return {
    child,
    exited,
    admin: lines.find((l) => l.msg.startsWith("strata host ready: admin at"))!.url!,
    output: () => ({ stdout, stderr }),
    s3: lines.find((l) => l.msg.startsWith("s3: embedded s3rver"))!.endpoint!,
    anvil: lines.find((l) => l.msg.startsWith("eth: DEV CHAIN"))!.url!,
  };
}

async function killHard(s: Started): Promise<void> {
  if (s.child.exitCode === null && s.child.signalCode === null) {
    process.kill(s.child.pid!, "SIGKILL");
    await s.exited;
  }
}

/** Waits (bounded) until nothing listens at `url` any more: an orphan reaped by its guard. */
async function becomesRefused(url: string, withinMs: number): Promise<boolean> {
  const deadline = Date.now() + withinMs;
  for (;;) {
    if (await refused(url)) return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
}

test("strata start - embedded host answers /health and /actors, and exits 0 on SIGTERM", async () => {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), "strata-start-"));
  let started: Started | null = null;
  try {
    const s = (started = await startStrata(dataDir));
    const health = await fetch(`${s.admin}/health`);
    const healthBody = (await health.json()) as { status: string; dependencies: { name: string; ok: boolean }[] };
    assert.is(health.status, 200, JSON.stringify(healthBody));
    assert.equal(healthBody.dependencies.map((d) => [d.name, d.ok]), [["pglite", true], ["transport", true], ["s3", true], ["eth-rpc", true]]);

    const actors = (await (await fetch(`${s.admin}/actors`)).json()) as { kinds: { kind: string }[] };
    assert.equal(actors.kinds.map((k) => k.kind).sort(), ["vault-term", "vault-term-analytics", "worker-partition"]);

    // process.kill, not child.kill: Deno's node:child_process reports a child it signalled itself
    // as killed (code null) even when the child handled the signal and exited 0.
    process.kill(s.child.pid!, "SIGTERM");
    const code = await s.exited;
    const { stdout, stderr } = s.output();
    assert.is(code, 0, stderr);
    assert.match(stderr, "strata start: SIGTERM, stopping");
    assert.ok(stdout.includes('"msg":"strata host stopped"'));
    assert.ok(await refused(`${s.admin}/health`), "admin closed");
    assert.ok(await refused(s.s3), "embedded s3rver gone");
    assert.ok(await refused(s.anvil), "embedded anvil gone");
  } finally {
    if (started) await killHard(started);
    await rm(dataDir, { recursive: true, force: true });
  }
});

test("strata start - a host killed with SIGKILL leaves no embedded process behind and starts again on the same data", async () => {
  const dataDir = await mkdtemp(path.join(os.tmpdir(), "strata-start-"));
  let first: Started | null = null;
  let second: Started | null = null;
  try {
    first = await startStrata(dataDir);
    await killHard(first);
    assert.ok(await becomesRefused(first.s3, 10_000), "embedded s3rver exits with its host");
    assert.ok(await becomesRefused(first.anvil, 10_000), "embedded anvil exits with its host");

    second = await startStrata(dataDir);
    const health = (await (await fetch(`${second.admin}/health`)).json()) as { dependencies: { name: string; ok: boolean; detail: string }[] };
    assert.equal(health.dependencies.map((d) => [d.name, d.ok]), [["pglite", true], ["transport", true], ["s3", true], ["eth-rpc", true]], JSON.stringify(health));
    assert.match(second.output().stdout, "migrations: up to date");
    process.kill(second.child.pid!, "SIGTERM");
    assert.is(await second.exited, 0, second.output().stderr);
  } finally {
    if (first) await killHard(first);
    if (second) await killHard(second);
    await rm(dataDir, { recursive: true, force: true });
  }
});

test.run();
