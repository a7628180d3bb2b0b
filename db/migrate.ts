/**
 * Numbered SQL migrations, applied once and recorded.
 *
 * Every `NNNN_name.sql` file of the migrations folder (default: `db/migrations/` beside this
 * module) that `strata_migrations` does not record is applied in number order, each in its own
 * transaction together with its record row `(version, name, checksum, applied_at)`. Ranges:
 * 0001–0099 core, 0100–0199 vault-term, 0200–0299 worker-partition, 0300–0399 payments.
 *
 * - Idempotent: a second run applies nothing. A file numbered below an applied one is still applied.
 * - Two hosts migrating at once: on PostgreSQL every step holds `pg_advisory_xact_lock` and
 *   re-reads the record under it, so only one applies a file; PGlite is single-process.
 * - A recorded migration whose file changed (checksum of the text, line endings normalised)
 *   is refused with a MigrationError naming the file, before anything else is applied.
 */
import { readdir, readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { StrataError } from "../protocols/errors.ts";
import type { Db, Queryable } from "./db.ts";

/** Key of the advisory lock every migration step takes (ASCII "STRATAMI"). */
const MIGRATION_LOCK_KEY = "6004514643731631433";
const FILE_NAME = /^(\d{4})_([A-Za-z0-9_-]+)\.sql$/;

export class MigrationError extends StrataError {
  constructor(message: string, readonly file?: string) {
    super(message, { code: "migration", retryable: false });
  }
}

export interface MigrationFile {
  version: number;
  /** The file name, e.g. `0001_core.sql`. */
  name: string;
  sql: string;
  /** sha256 hex of the text with CRLF normalised to LF. */
  checksum: string;
}

export interface MigrateOptions {
  /** Folder of the migration files (path or file URL); default `db/migrations/` beside this module. */
  dir?: string | URL;
  /** Apply only files numbered up to this version (e.g. 99: the core tables alone). */
  maxVersion?: number;
}

export const defaultMigrationsDir: URL = new URL("./migrations/", import.meta.url);

const CREATE_TABLE = `CREATE TABLE IF NOT EXISTS strata_migrations (
  version    integer     PRIMARY KEY,
  name       text        NOT NULL,
  checksum   text        NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
)`;

export async function migrate(db: Db, opts: MigrateOptions = {}): Promise<{ applied: string[] }> {
  const files = (await readMigrationFiles(opts.dir ?? defaultMigrationsDir)).filter(
    (f) => opts.maxVersion === undefined || f.version <= opts.maxVersion,
  );
  await db.transaction(async (tx) => {
    await lock(db, tx);
    await tx.query(CREATE_TABLE);
  });

  // Refuse a changed file before applying anything.
  const recorded = await recordedMigrations(db);
  for (const file of files) {
    const row = recorded.get(file.version);
    if (row) checkSame(file, row);
  }

  const applied: string[] = [];
  for (const file of files) {
    if (recorded.has(file.version)) continue;
    const done = await db.transaction(async (tx) => {
      await lock(db, tx);
      // Another host may have applied it while we waited for the lock.
      const again = await tx.query<{ name: string; checksum: string }>(
        "SELECT name, checksum FROM strata_migrations WHERE version = $1",
        [file.version],
      );
      if (again.rows[0]) {
        checkSame(file, again.rows[0]);
        return false;
      }
      try {
        await tx.query(file.sql);
      } catch (err) {
        throw new MigrationError(`migration ${file.name} failed: ${(err as Error).message}`, file.name);
      }
      await tx.query("INSERT INTO strata_migrations (version, name, checksum) VALUES ($1, $2, $3)", [
        file.version,
        file.name,
        file.checksum,
      ]);
      return true;
    });
    if (done) applied.push(file.name);
  }
  return { applied };
}

/** The migration files of a folder, sorted by number; a malformed name or a repeated number is an error. */
export async function readMigrationFiles(dir: string | URL): Promise<MigrationFile[]> {
  const path = typeof dir === "string" ? dir : fileURLToPath(dir);
  const names = (await readdir(path)).filter((n) => n.endsWith(".sql")).sort();
  const files: MigrationFile[] = [];
  const seen = new Map<number, string>();
  for (const name of names) {
    const m = FILE_NAME.exec(name);
    if (!m) throw new MigrationError(`migration file ${name} in ${path}: expected NNNN_name.sql`, name);
    const version = Number(m[1]);
    const other = seen.get(version);
    if (other) throw new MigrationError(`migration files ${other} and ${name} share the number ${m[1]}`, name);
    seen.set(version, name);
    const sql = (await readFile(join(path, name), "utf8")).replace(/\r\n/g, "\n");
    files.push({ version, name, sql, checksum: await sha256Hex(sql) });
  }
  return files.sort((a, b) => a.version - b.version);
}

async function recordedMigrations(db: Queryable): Promise<Map<number, { name: string; checksum: string }>> {
  const res = await db.query<{ version: number; name: string; checksum: string }>(
    "SELECT version, name, checksum FROM strata_migrations",
  );
  return new Map(res.rows.map((r) => [Number(r.version), { name: r.name, checksum: r.checksum }]));
}

function checkSame(file: MigrationFile, row: { name: string; checksum: string }): void {
  if (row.checksum !== file.checksum) {
    throw new MigrationError(
      `migration ${file.name} was changed after it was applied (recorded as ${row.name} with checksum ${row.checksum.slice(0, 12)}…, ` +
        `file now ${file.checksum.slice(0, 12)}…): add a new numbered migration instead of editing an applied one`,
      file.name,
    );
  }
}

async function lock(db: Db, tx: Queryable): Promise<void> {
  if (db.dialect === "postgres") await tx.query("SELECT pg_advisory_xact_lock($1::bigint)", [MIGRATION_LOCK_KEY]);
}

async function sha256Hex(text: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}
