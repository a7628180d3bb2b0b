/** The `strata` command, run for real as a child process (Node: cli/strata.js; Deno: cli/main.ts). */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import process from "node:process";
import { createTestDatabase } from "../support/databases.ts";
import { readMigrationFiles } from "../../db/migrate.ts";
import { openPgliteDb } from "../../db/pglite-db.ts";
import { startAdminServer } from "../../admin/server.ts";
import type { AdminSource } from "../../admin/source.ts";
import { createLogger } from "../../supervisors/observability/logger.ts";
import { freePort } from "../support/services.ts";
import { maskServiceUrl } from "../../config/redact.ts";

const repoRoot = path.resolve(path.dirname(new URL(import.meta.url).pathname), "../..");
const deno = (globalThis as { Deno?: { execPath(): string } }).Deno;

/** Run `strata …` with exactly `env` (plus PATH/HOME) and collect its output. */
function strata(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const cmd = deno ? [deno.execPath(), "run", "-A", "cli/main.ts", ...args] : [process.execPath, "cli/strata.js", ...args];
  return new Promise((resolve, reject) => {
    const child = spawn(cmd[0], cmd.slice(1), {
      cwd: repoRoot,
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? os.tmpdir(), ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout!.on("data", (d) => (stdout += d));
    child.stderr!.on("data", (d) => (stderr += d));
    child.on("error", reject);
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

test("strata migrate - applies every migration to a fresh PostgreSQL database, then nothing", async () => {
  const files = (await readMigrationFiles(path.join(repoRoot, "db/migrations"))).map((f) => f.name);
  const fresh = await createTestDatabase();
  try {
    const first = await strata(["migrate"], { DATABASE_URL: fresh.url });
    assert.is(first.code, 0, first.stderr);
    assert.is(first.stdout.trim(), `${maskServiceUrl(fresh.url)}: applied ${files.length} migrations: ${files.join(", ")}`);
    const rows = await fresh.db.query<{ name: string }>("SELECT name FROM strata_migrations ORDER BY version");
    assert.equal(rows.rows.map((r) => r.name), files);
    const second = await strata(["migrate", "--database-url", fresh.url]);
    assert.is(second.code, 0, second.stderr);
    assert.is(second.stdout.trim(), `${maskServiceUrl(fresh.url)}: up to date, no migration to apply`);
  } finally {
    await fresh.drop();
  }
});

test("strata migrate - embedded mode migrates PGlite under STRATA_DATA_DIR", async () => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "strata-cli-"));
  try {
    const res = await strata(["migrate"], { STRATA_DATA_DIR: dataDir });
    assert.is(res.code, 0, res.stderr);
    assert.match(res.stdout, `embedded PGlite at ${path.join(dataDir, "pglite")}: applied`);
    const db = await openPgliteDb(path.join(dataDir, "pglite"));
    try {
      const n = await db.query<{ n: string }>("SELECT count(*)::text AS n FROM strata_migrations");
      assert.ok(Number(n.rows[0].n) > 0);
    } finally {
      await db.close();
    }
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
});

test("strata - a bad argument exits 2 with one line naming it", async () => {
  const res = await strata(["migrate", "--bogus"]);
  assert.is(res.code, 2);
  assert.is(res.stderr, "strata migrate: Unknown option '--bogus'\n");
  const unknown = await strata(["frobnicate"]);
  assert.is(unknown.code, 2);
  assert.is(unknown.stderr, 'strata: unknown command "frobnicate" (commands: start, migrate, status, import, replay, payments, config)\n');
});

test("strata - a bad configuration value exits 1 naming the key", async () => {
  const res = await strata(["migrate"], { STRATA_PARTITIONS: "abc" });
  assert.is(res.code, 1);
  assert.is(res.stderr, 'strata migrate: STRATA_PARTITIONS: expected a positive integer, got "abc"\n');
  const db = await strata(["migrate"], { DATABASE_URL: "postgres://u:hunter2@127.0.0.1:1/x" });
  assert.is(db.code, 1);
  assert.is(db.stderr.split("\n").length, 2, db.stderr);
  assert.not.match(db.stderr, "hunter2");
});

test("strata status - unreachable admin endpoint exits 1 with a one-line reason", async () => {
  const port = await freePort();
  const res = await strata(["status"], { ADMIN_PORT: String(port) });
  assert.is(res.code, 1);
  assert.match(res.stderr, new RegExp(`^strata status: cannot reach the admin endpoint at http://127\\.0\\.0\\.1:${port} \\(.+\\)\\n$`));
});

test("strata status - prints dependencies and actors of a running admin endpoint", async () => {
  let natsOk = true;
  const source: AdminSource = {
    health: () => [{ name: "postgres", ok: true, detail: "embedded pglite" }, { name: "nats", ok: natsOk, detail: natsOk ? "in-process" : "connection refused" }],
    ready: () => [],
    metrics: () => "",
    actors: () => [{ kind: "vault-term", active: 3, mailboxDepth: 5, restarts: 1, failed: 0, deadLetters: 2, lastError: { message: "bad hex", at: 1, entityId: "0x01" } }],
    actor: () => undefined,
    restartActor: () => ({ ok: false, notFound: true }),
    stopActor: () => ({ ok: false, notFound: true }),
  };
  const server = await startAdminServer({ host: "127.0.0.1", port: 0, source, log: createLogger({ level: "silent" }) });
  try {
    const ok = await strata(["status", "--url", server.url]);
    assert.is(ok.code, 0, ok.stderr);
    const lines = ok.stdout.split("\n");
    assert.ok(lines.includes("postgres    yes  embedded pglite"), ok.stdout);
    assert.ok(lines.includes("kind        active  mailbox  restarts  failed  dead letters  last error"), ok.stdout);
    assert.ok(lines.includes("vault-term  3       5        1         0       2             0x01: bad hex"), ok.stdout);
    natsOk = false;
    const down = await strata(["status", "--admin-port", String(server.port)]);
    assert.is(down.code, 1);
    assert.is(down.stderr, "strata status: unhealthy: nats (connection refused)\n");
  } finally {
    await server.close();
  }
});

test("strata config - prints values with their source, secrets redacted, flags over env", async () => {
  const res = await strata(["config", "--admin-port", "9100"], { ADMIN_PORT: "9000", ADMIN_TOKEN: "tok-secret-5", DATABASE_URL: "postgres://a:pw-9@h/db", STRATA_PARTITON: "3" });
  assert.is(res.code, 0, res.stderr);
  assert.match(res.stdout, /^\[core\]$/m);
  assert.match(res.stdout, /^  ADMIN_PORT +9100 +flag$/m);
  assert.match(res.stdout, /^  STRATA_PARTITIONS +16 +default$/m);
  assert.match(res.stdout, /^  ADMIN_TOKEN +\[Redacted\] +env$/m);
  assert.match(res.stdout, /^  DATABASE_URL +postgres:\/\/\*\*\*@h\/db +env$/m);
  assert.match(res.stdout, /^\[payments\]$/m);
  assert.not.match(res.stdout + res.stderr, "tok-secret-5");
  assert.not.match(res.stdout + res.stderr, "pw-9");
  assert.is(res.stderr, "strata config: warning: STRATA_PARTITON is not a Strata setting (typo?)\n");
});

test.run();
