/** openDb: a pg.Pool for a URL, PGlite persisted under a data folder or in memory. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openDb } from "../../db/open-db.ts";
import { migrate } from "../../db/migrate.ts";
import { appendToJournal, readJournal } from "../../db/journal-store.ts";
import { createTestDatabase } from "../support/databases.ts";

const temps: string[] = [];
test.after(async () => {
  for (const dir of temps) await rm(dir, { recursive: true, force: true });
});

test("openDb - a database URL opens PostgreSQL through a pool", async () => {
  const fx = await createTestDatabase();
  try {
    const db = await openDb({ databaseUrl: fx.url, poolSize: 2 });
    try {
      assert.is(db.dialect, "postgres");
      const r = await db.query<{ db: string; big: string }>("SELECT current_database() AS db, 9007199254740993::int8 AS big");
      assert.equal(r.rows[0], { db: fx.name, big: "9007199254740993" });
    } finally {
      await db.close();
    }
  } finally {
    await fx.drop();
  }
});

test("openDb - PGlite under a data folder keeps its data across reopen", async () => {
  const dir = await mkdtemp(join(tmpdir(), "strata-open-db-"));
  temps.push(dir);
  const dataDir = join(dir, "nested", "data");
  const first = await openDb({ dataDir });
  try {
    assert.is(first.dialect, "pglite");
    await migrate(first, { maxVersion: 99 });
    await first.transaction((tx) => appendToJournal(tx, "k-persist", [{ partition: 0, entityId: "e", naturalKey: "n1", eventType: "t", payload: { a: 1 } }]));
  } finally {
    await first.close();
  }
  const again = await openDb({ dataDir });
  try {
    assert.equal(await migrate(again, { maxVersion: 99 }), { applied: [] });
    assert.equal((await readJournal(again, "k-persist", { limit: 10 })).map((e) => [e.seq, e.payload]), [[1, { a: 1 }]]);
    const r = await again.query<{ big: string; n: number }>("SELECT 9007199254740993::int8 AS big, 1 AS n");
    assert.equal(r.rows[0], { big: "9007199254740993", n: 1 }, "INT8 as a string, as pg returns it");
  } finally {
    await again.close();
  }
});

test("openDb - ':memory:' is an in-memory PGlite", async () => {
  const db = await openDb({ dataDir: ":memory:" });
  try {
    assert.is(db.dialect, "pglite");
    assert.equal((await db.query("SELECT current_setting('data_directory') <> '' AS ok")).rows, [{ ok: true }]);
  } finally {
    await db.close();
  }
});

test("openDb - neither a URL nor a data folder is an error naming both", async () => {
  let message = "";
  try {
    await openDb({});
  } catch (err) {
    message = (err as Error).message;
  }
  assert.match(message, /databaseUrl.*dataDir/);
});

test.run();
