/**
 * Fresh databases for tests, on both engines (STYLE.md habit 3: one suite, every engine).
 *
 * createTestDatabase()       — a new database `strata_test_<unique>` on the PostgreSQL server at
 *                              testEnv.databaseUrl; drop() closes the pool, terminates leftover
 *                              connections and drops it.
 * createPgliteTestDatabase() — an in-memory PGlite. A cold start runs initdb (~3.6 s); the first
 *                              one also caches an empty data directory tarball in the OS temp
 *                              folder, and later ones (in any test process) load it (~0.5 s).
 * testEngines                — both, for `for (const engine of testEngines) { … }` suites.
 * Migrations are not applied: call migrate(db) (db/migrate.ts) in the suite.
 */
import pg from "pg";
import { readFile, rename, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openPgDb } from "../../db/pg-db.ts";
import { dumpEmptyPgliteDataDir, openPgliteDb } from "../../db/pglite-db.ts";
import type { Db } from "../../db/db.ts";
import { testEnv, uniqueName } from "./env.ts";

export interface TestDatabase {
  db: Db;
  drop(): Promise<void>;
}

export interface TestEngine {
  name: "postgres" | "pglite";
  create(): Promise<TestDatabase>;
}

async function withAdmin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: testEnv.databaseUrl, application_name: "strata-test-admin" });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

export async function createTestDatabase(): Promise<TestDatabase & { url: string; name: string }> {
  const name = uniqueName("strata_test");
  await withAdmin((admin) => admin.query(`CREATE DATABASE ${name}`));
  const url = new URL(testEnv.databaseUrl);
  url.pathname = "/" + name;
  const db = openPgDb(url.toString(), { max: 8, applicationName: name });
  let dropped = false;
  return {
    db,
    url: url.toString(),
    name,
    async drop() {
      if (dropped) return;
      dropped = true;
      await db.close().catch(() => {});
      await withAdmin((admin) => admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`));
    },
  };
}

const EMPTY_DUMP_FILE = join(tmpdir(), "strata-test-pglite-empty.tar.gz");
let emptyDump: Promise<Blob> | undefined;

/** The empty-data-directory tarball: from this process, from the temp-folder cache, or made now. */
function emptyPgliteDump(): Promise<Blob> {
  emptyDump ??= (async () => {
    const file = EMPTY_DUMP_FILE;
    try {
      return new Blob([await readFile(file)]);
    } catch {
      const blob = await dumpEmptyPgliteDataDir();
      // Written under a private name then renamed: concurrent test processes never read half a file.
      const partial = `${file}.${uniqueName("part")}`;
      await writeFile(partial, new Uint8Array(await blob.arrayBuffer()));
      await rename(partial, file);
      return blob;
    }
  })();
  return emptyDump;
}

export async function createPgliteTestDatabase(): Promise<TestDatabase> {
  let db: Db;
  try {
    db = await openPgliteDb(undefined, { loadDataDir: await emptyPgliteDump() });
  } catch {
    // A damaged or foreign-version cache file: forget it (the next run makes a new one), start cold.
    emptyDump = undefined;
    await unlink(EMPTY_DUMP_FILE).catch(() => {});
    db = await openPgliteDb();
  }
  let dropped = false;
  return {
    db,
    async drop() {
      if (dropped) return;
      dropped = true;
      await db.close();
    },
  };
}

export const testEngines: readonly TestEngine[] = [
  { name: "postgres", create: createTestDatabase },
  { name: "pglite", create: createPgliteTestDatabase },
];

/**
 * One database per suite, created on first use. Create it in the tests, not in a uvu `before`
 * hook: uvu swallows an error thrown by a hook and reports the suite as passed.
 *   const fx = lazyDatabase(engine, (db) => migrate(db).then(() => {}));
 *   t("…", async () => { const db = await fx.get(); … });
 *   t.after(() => fx.drop());
 */
export function lazyDatabase(engine: TestEngine, prepare?: (db: Db) => Promise<void>): { get(): Promise<Db>; drop(): Promise<void> } {
  let made: Promise<TestDatabase> | undefined;
  return {
    get() {
      made ??= (async () => {
        const fx = await engine.create();
        try {
          if (prepare) await prepare(fx.db);
        } catch (err) {
          await fx.drop().catch(() => {});
          throw err;
        }
        return fx;
      })();
      return made.then((fx) => fx.db);
    },
    async drop() {
      if (!made) return;
      const fx = await made.catch(() => undefined);
      await fx?.drop();
    },
  };
}
