/** Migrations on PostgreSQL and PGlite: applied once and recorded, changed files refused. */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { cp, mkdtemp, readdir, rm, writeFile, appendFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { defaultMigrationsDir, migrate, MigrationError, readMigrationFiles } from "../../db/migrate.ts";
import { openPgDb } from "../../db/pg-db.ts";
import type { Db } from "../../db/db.ts";
import { createTestDatabase, lazyDatabase, testEngines } from "../support/databases.ts";
import { rejectionOf } from "../support/rejection.ts";

const CORE_TABLES = ["strata_actor_offset", "strata_dead_letter", "strata_journal", "strata_journal_head", "strata_migrations", "strata_source_cursor"];

async function tableNames(db: Db): Promise<string[]> {
  const r = await db.query<{ table_name: string }>(
    "SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() ORDER BY table_name",
  );
  return r.rows.map((x) => x.table_name);
}

async function recorded(db: Db): Promise<string[]> {
  return (await db.query<{ name: string }>("SELECT name FROM strata_migrations ORDER BY version")).rows.map((r) => r.name);
}

/** A private copy of the real migrations folder (a test may add or change files in it). */
async function copyOfMigrations(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "strata-migrations-"));
  await cp(fileURLToPath(defaultMigrationsDir), dir, { recursive: true });
  return dir;
}

const allFiles = (await readdir(fileURLToPath(defaultMigrationsDir))).filter((n) => n.endsWith(".sql")).sort();

for (const engine of testEngines) {
  const t = suite(engine.name);
  const fx = lazyDatabase(engine);
  const temps: string[] = [];
  t.after(async () => {
    await fx.drop();
    for (const dir of temps) await rm(dir, { recursive: true, force: true });
  });

  t("migrate - applies every file of the folder once, in order, and records it", async () => {
    const db = await fx.get();
    const { applied } = await migrate(db);
    assert.ok(allFiles.includes("0001_core.sql"));
    assert.equal(applied, allFiles);
    assert.equal(await recorded(db), allFiles);
    const tables = await tableNames(db);
    for (const name of CORE_TABLES) assert.ok(tables.includes(name), `table ${name} exists`);
    const row = (await db.query<{ checksum: string; applied_at: Date }>("SELECT checksum, applied_at FROM strata_migrations WHERE version = 1")).rows[0];
    assert.match(row.checksum, /^[0-9a-f]{64}$/);
    assert.ok(row.applied_at instanceof Date);
  });

  t("migrate - a second run applies nothing", async () => {
    const db = await fx.get();
    assert.equal(await migrate(db), { applied: [] });
    assert.equal(await recorded(db), allFiles);
  });

  t("migrate - a new file numbered below applied ones is still applied, and only it", async () => {
    const db = await fx.get();
    const dir = await copyOfMigrations();
    temps.push(dir);
    await writeFile(join(dir, "0050_test_extra.sql"), "CREATE TABLE test_extra (id integer PRIMARY KEY);\nINSERT INTO test_extra VALUES (1), (2);\n");
    assert.equal(await migrate(db, { dir }), { applied: ["0050_test_extra.sql"] });
    assert.is((await db.query<{ n: number }>("SELECT count(*)::int AS n FROM test_extra")).rows[0].n, 2);
    assert.equal(await migrate(db, { dir }), { applied: [] });
  });

  t("migrate - a failing file rolls back whole, names the file and is not recorded", async () => {
    const db = await fx.get();
    const dir = await copyOfMigrations();
    temps.push(dir);
    await writeFile(join(dir, "0060_broken.sql"), "CREATE TABLE test_half (id integer);\nSELECT no_such_column FROM test_half;\n");
    const err = await rejectionOf(migrate(db, { dir }));
    assert.ok(err instanceof MigrationError);
    assert.match((err as Error).message, /0060_broken\.sql/);
    assert.not.ok((await tableNames(db)).includes("test_half"));
    assert.not.ok((await recorded(db)).includes("0060_broken.sql"));
  });

  t("migrate - an applied file whose text changed is refused, naming it, before anything is applied", async () => {
    const db = await fx.get();
    const dir = await copyOfMigrations();
    temps.push(dir);
    await appendFile(join(dir, "0001_core.sql"), "\n-- edited after it was applied\n");
    await writeFile(join(dir, "0070_after_edit.sql"), "CREATE TABLE test_after_edit (id integer);\n");
    const err = await rejectionOf(migrate(db, { dir }));
    assert.ok(err instanceof MigrationError, `expected MigrationError, got ${String(err)}`);
    assert.is((err as MigrationError).file, "0001_core.sql");
    assert.match((err as Error).message, /0001_core\.sql was changed after it was applied/);
    assert.not.ok((await tableNames(db)).includes("test_after_edit"));
  });

  t("migrate - CRLF line endings do not change the checksum", async () => {
    const db = await fx.get();
    const dir = await copyOfMigrations();
    temps.push(dir);
    const files = await readMigrationFiles(dir);
    const core = files.find((f) => f.name === "0001_core.sql")!;
    await writeFile(join(dir, "0001_core.sql"), core.sql.replace(/\n/g, "\r\n"));
    assert.equal(await migrate(db, { dir, maxVersion: 1 }), { applied: [] });
  });

  t.run();
}

const files = suite("migration files");
const fileTemps: string[] = [];
files.after(async () => {
  for (const dir of fileTemps) await rm(dir, { recursive: true, force: true });
});

files("migrate - a malformed file name or a repeated number is an error naming the file", async () => {
  const bad = await mkdtemp(join(tmpdir(), "strata-migrations-"));
  fileTemps.push(bad);
  await writeFile(join(bad, "1_core.sql"), "SELECT 1;");
  assert.match(String(await rejectionOf(readMigrationFiles(bad))), /1_core\.sql.*expected NNNN_name\.sql/);
  const twice = await mkdtemp(join(tmpdir(), "strata-migrations-"));
  fileTemps.push(twice);
  await writeFile(join(twice, "0002_a.sql"), "SELECT 1;");
  await writeFile(join(twice, "0002_b.sql"), "SELECT 1;");
  assert.match(String(await rejectionOf(readMigrationFiles(twice))), /0002_a\.sql and 0002_b\.sql share the number 0002/);
});

files("migrate - files are ordered by number and every range's files are found", async () => {
  const list = await readMigrationFiles(defaultMigrationsDir);
  assert.equal(list.map((f) => f.name), allFiles);
  const versions = list.map((f) => f.version);
  assert.equal(versions, [...versions].sort((a, b) => a - b));
});

files.run();

// Two hosts at once need two real connections to one server.
const hosts = suite("postgres two hosts");
let hostsFx: Awaited<ReturnType<typeof createTestDatabase>> | undefined;
const extraDbs: Db[] = [];
hosts.after(async () => {
  for (const db of extraDbs) await db.close();
  await hostsFx?.drop();
});

hosts("migrate - two hosts migrating one database at once apply each file exactly once", async () => {
  hostsFx = await createTestDatabase();
  const hostA = openPgDb(hostsFx.url, { max: 2 });
  const hostB = openPgDb(hostsFx.url, { max: 2 });
  const hostC = openPgDb(hostsFx.url, { max: 2 });
  extraDbs.push(hostA, hostB, hostC);
  const results = await Promise.all([migrate(hostA), migrate(hostB), migrate(hostC)]);
  const appliedByAll = results.flatMap((r) => r.applied).sort();
  assert.equal(appliedByAll, allFiles, "every file applied by exactly one host");
  assert.equal(await recorded(hostsFx.db), allFiles);
});

hosts.run();
