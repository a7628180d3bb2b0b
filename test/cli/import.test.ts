/**
 * `strata import`: the bundled samples through the real command (a child process) and in
 * process, on PostgreSQL and on embedded PGlite (a temp STRATA_DATA_DIR); a malformed line is
 * dead-lettered while the rest commits; a bad kind or path exits non-zero with one line.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createTestDatabase } from "../support/databases.ts";
import { importCommand } from "../../cli/commands/import.ts";
import type { ImportResult } from "../../cli/commands/import.ts";
import type { CliIo } from "../../cli/commands/command.ts";
import { openDb } from "../../db/open-db.ts";
import { runStrata } from "../support/run-strata.ts";

const repoRoot = fileURLToPath(new URL("../../", import.meta.url));
const VAULT_SAMPLE = path.join(repoRoot, "samples/vault-term/events.jsonl");
const WORKER_SAMPLES = path.join(repoRoot, "samples/worker-partition");

/** Runs a command in process; returns its exit code and what it printed. */
async function runInProcess(args: { values?: Record<string, string | boolean | undefined>; positionals: string[] }, env: Record<string, string>) {
  const out: string[] = [];
  const err: string[] = [];
  const io: CliIo = { env, out: (l) => out.push(l), err: (l) => err.push(l), stopSignal: new Promise(() => {}) };
  const code = await importCommand.run({ values: args.values ?? {}, positionals: args.positionals }, io);
  return { code, out, err };
}

const count = async (db: { query: (sql: string) => Promise<{ rows: { n: string }[] }> }, table: string) => Number((await db.query(`SELECT count(*)::text AS n FROM ${table}`)).rows[0].n);

test("import - vault-term sample through the real command gives the expected counts and tables", async () => {
  const fx = await createTestDatabase();
  try {
    const run = await runStrata(["import", "vault-term", "samples/vault-term/events.jsonl"], { DATABASE_URL: fx.url });
    assert.is(run.code, 0, run.stderr);
    assert.is(run.stdout.trim(), "imported vault-term from samples/vault-term/events.jsonl: 445 lines, 445 events, 445 fresh, 0 duplicates, 0 dead-lettered, 60 terms");
    assert.is(await count(fx.db, "term"), 60);
    assert.is(await count(fx.db, "atom"), 30);
    assert.is(await count(fx.db, "triple"), 15);
    assert.is(await count(fx.db, "vault"), 103);
    assert.is(await count(fx.db, "position"), 379);
    // Every actor was idle before the command returned: the analytics queue is drained.
    assert.is(await count(fx.db, "term_update_queue WHERE processed_at IS NULL"), 0);
    assert.is(await count(fx.db, "triple_term"), 15);
    // Importing again changes nothing: the journal dedupes.
    const again = await runInProcess({ values: { json: true }, positionals: ["vault-term", VAULT_SAMPLE] }, { DATABASE_URL: fx.url });
    const r = JSON.parse(again.out[0]) as ImportResult;
    assert.equal([r.units, r.fresh, r.duplicates, r.deadLettered], [445, 0, 445, 0]);
    assert.is(await count(fx.db, "vault"), 103);
  } finally {
    await fx.drop();
  }
});

test("import - worker-partition sample folder gives the earnings of samples/worker-partition/expected.json", async () => {
  const fx = await createTestDatabase();
  try {
    const run = await runInProcess({ values: { json: true }, positionals: ["worker-partition", WORKER_SAMPLES] }, { DATABASE_URL: fx.url });
    assert.is(run.code, 0);
    const r = JSON.parse(run.out[0]) as ImportResult;
    assert.equal(
      { units: r.units, events: r.events, fresh: r.fresh, duplicates: r.duplicates, deadLettered: r.deadLettered, entities: r.entities, ignored: r.ignored },
      { units: 15, events: 570, fresh: 570, duplicates: 0, deadLettered: 0, entities: 5, ignored: 1 },
    );
    const expected = JSON.parse(await readFile(path.join(WORKER_SAMPLES, "expected.json"), "utf8")) as Record<string, { events: number; earnings: Record<string, string> }>;
    const res = await fx.db.query<{ partition_id: string; eth_address: string; earned_wei: string }>("SELECT partition_id, eth_address, earned_wei::text AS earned_wei FROM worker_fee_ledger ORDER BY 1, 2");
    const got: Record<string, Record<string, string>> = {};
    for (const row of res.rows) (got[row.partition_id] ??= {})[row.eth_address] = row.earned_wei;
    const want = Object.fromEntries(Object.entries(expected).map(([p, e]) => [p, e.earnings]));
    assert.equal(got, want);
    const journaled = await fx.db.query<{ n: string }>("SELECT count(*)::text AS n FROM worker_processed_jobs");
    assert.ok(Number(journaled.rows[0].n) > 0);
  } finally {
    await fx.drop();
  }
});

test("import - a malformed line is dead-lettered while the rest commits (embedded PGlite)", async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), "strata-import-"));
  try {
    const lines = (await readFile(VAULT_SAMPLE, "utf8")).split("\n").filter((l) => l.trim() !== "").slice(0, 3);
    const file = path.join(dir, "events.jsonl");
    await writeFile(file, [lines[0], "{not json", lines[1], JSON.stringify({ event_name: "Deposited", event_data: { nonsense: true } }), lines[2], ""].join("\n"));
    const run = await runInProcess({ values: { json: true }, positionals: ["vault-term", file] }, { STRATA_DATA_DIR: dir });
    assert.is(run.code, 0);
    const r = JSON.parse(run.out[0]) as ImportResult;
    assert.equal([r.units, r.fresh, r.deadLettered], [5, 3, 2]);
    const db = await openDb({ dataDir: path.join(dir, "pglite") });
    try {
      assert.is(await count(db, "atom"), 3);
      const letters = await db.query<{ source: string; error: string }>("SELECT source, error FROM strata_dead_letter ORDER BY id");
      assert.is(letters.rows.length, 2);
      assert.ok(letters.rows[0].source.endsWith(":2"), letters.rows[0].source);
      assert.match(letters.rows[0].error, /not valid JSON/);
      assert.ok(letters.rows[1].source.endsWith(":4"), letters.rows[1].source);
    } finally {
      await db.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test("import - an unknown kind or a missing path exits non-zero with a one-line reason", async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), "strata-import-"));
  try {
    const bad = await runStrata(["import", "dragons", "x.jsonl"], { STRATA_DATA_DIR: dir });
    assert.is(bad.code, 2);
    assert.is(bad.stderr.trim(), 'strata import: unknown or unsupported kind "dragons" (this build imports: vault-term, worker-partition)');
    let missing: unknown;
    try {
      await runInProcess({ positionals: ["vault-term", path.join(dir, "nope.jsonl")] }, { STRATA_DATA_DIR: dir });
    } catch (err) {
      missing = err;
    }
    assert.instance(missing, Error);
    assert.match((missing as Error).message, /cannot read .*nope\.jsonl: no such file or folder/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test.run();
