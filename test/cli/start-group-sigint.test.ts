/**
 * Ctrl-C on `strata start` sends SIGINT to the whole process group: the embedded s3rver and
 * anvil (in the host's group, so a killed host takes them along) get it too and exit before the
 * host stops them. That exit is expected: no error line (level 50), the host exits 0.
 * The host runs in a process group of its own here (detached), so the test signals only it.
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

test("strata start - SIGINT to the host's process group (Ctrl-C): children's exits are no errors, exit 0", async () => {
  if (process.platform === "win32") return console.log("skipped: process groups");
  const dataDir = await mkdtemp(path.join(os.tmpdir(), "strata-sigint-"));
  const cmd = deno ? [deno.execPath(), "run", "-A", "cli/main.ts", "start"] : [process.execPath, "cli/strata.js", "start"];
  const env = { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? os.tmpdir(), STRATA_DATA_DIR: dataDir, ADMIN_PORT: "0" };
  const child = spawn(cmd[0], cmd.slice(1), { cwd: repoRoot, env, stdio: ["ignore", "pipe", "pipe"], detached: true });
  let stdout = "";
  let stderr = "";
  child.stderr!.on("data", (d) => (stderr += String(d)));
  // "close", not "exit": the log lines written before exiting are all read.
  const exited = new Promise<number | null>((resolve) => child.once("close", (code) => resolve(code)));
  try {
    await new Promise<void>((resolve, reject) => {
      child.stdout!.on("data", (d) => {
        stdout += String(d);
        if (stdout.includes("strata host ready: admin at")) resolve();
      });
      void exited.then((code) => reject(new Error(`strata start exited with ${code} before it was ready:\n${stderr}\n${stdout.slice(-3000)}`)));
    });
    assert.match(stdout, "s3: embedded s3rver at");
    assert.match(stdout, "eth: DEV CHAIN");
    // The S3 sensor's first batch (the bundled samples) done: a batch still reading from the
    // s3rver the SIGINT stops is another matter (the sensor logs its failure) than this test's.
    const admin = /"url":"([^"]+)"[^\n]*strata host ready: admin at/.exec(stdout)![1];
    for (const deadline = Date.now() + 30_000; ; ) {
      const ready = (await (await fetch(`${admin}/ready`)).json()) as { checks: { name: string; lastProgressAt: number | null }[] };
      if (ready.checks.find((c) => c.name === "ingress:worker-partition-s3")?.lastProgressAt != null) break;
      assert.ok(Date.now() < deadline, `the S3 sensor's first batch: ${JSON.stringify(ready.checks)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    process.kill(-child.pid!, "SIGINT");
    const code = await exited;
    assert.is(code, 0, stderr);
    assert.match(stderr, "strata start: SIGINT, stopping");
    const lines = stdout.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l) as { level: number; msg: string });
    assert.equal(lines.filter((l) => l.level >= 50).map((l) => l.msg), []);
    // A child that exited on its SIGINT before the host stopped it says so at info (usually both;
    // a host that stops fast enough stops them itself first, and nothing is logged).
    const childExits = lines.filter((l) => /^embedded (s3rver|anvil) exited/.test(l.msg));
    assert.ok(childExits.every((l) => l.level === 30 && /exited after SIGINT \(the host is stopping\)$/.test(l.msg)), JSON.stringify(childExits));
    assert.ok(lines.some((l) => l.msg === "strata host stopped"), stdout.slice(-2000));
  } finally {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(-child.pid!, "SIGKILL");
      } catch {
        // already gone
      }
      await exited;
    }
    await rm(dataDir, { recursive: true, force: true });
  }
});

test.run();
