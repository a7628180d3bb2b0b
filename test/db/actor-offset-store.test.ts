/** Actor offsets on PostgreSQL and PGlite: written with state in one transaction, batched. */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { migrate } from "../../db/migrate.ts";
import { loadOffsets, saveOffsets } from "../../db/actor-offset-store.ts";
import type { Db, Queryable } from "../../db/db.ts";
import { lazyDatabase, testEngines } from "../support/databases.ts";
import { rejectionMessage } from "../support/rejection.ts";

/** A stand-in for a kind's state table, written in the same transaction as the offsets. */
async function prepare(db: Db): Promise<void> {
  await migrate(db, { maxVersion: 99 });
  await db.query("CREATE TABLE test_counter_state (entity_id text PRIMARY KEY, total integer NOT NULL)");
}

async function saveState(tx: Queryable, entries: { entityId: string; total: number; offset: number }[]): Promise<void> {
  await tx.query(
    `INSERT INTO test_counter_state (entity_id, total) SELECT * FROM unnest($1::text[], $2::int[])
     ON CONFLICT (entity_id) DO UPDATE SET total = EXCLUDED.total`,
    [entries.map((e) => e.entityId), entries.map((e) => e.total)],
  );
  await saveOffsets(tx, "k-counter", entries);
}

async function totals(db: Db): Promise<Record<string, number>> {
  const r = await db.query<{ entity_id: string; total: number }>("SELECT entity_id, total FROM test_counter_state ORDER BY entity_id");
  return Object.fromEntries(r.rows.map((x) => [x.entity_id, x.total]));
}

for (const engine of testEngines) {
  const t = suite(engine.name);
  const fx = lazyDatabase(engine, prepare);
  t.after(() => fx.drop());

  t("offsets - saved in the transaction that saves state, both visible after commit", async () => {
    const db = await fx.get();
    await db.transaction((tx) => saveState(tx, [{ entityId: "a", total: 10, offset: 3 }, { entityId: "b", total: 20, offset: 7 }]));
    assert.equal(await totals(db), { a: 10, b: 20 });
    assert.equal([...(await loadOffsets(db, "k-counter", ["a", "b", "never-saved"])).entries()].sort(), [["a", 3], ["b", 7]]);
  });

  t("offsets - a failing transaction rolls back state and offsets together", async () => {
    const db = await fx.get();
    const failed = db.transaction(async (tx) => {
      await saveState(tx, [{ entityId: "a", total: 11, offset: 4 }, { entityId: "c", total: 30, offset: 1 }]);
      throw new Error("commit of the batch failed");
    });
    assert.match(await rejectionMessage(failed), /commit of the batch failed/);
    assert.equal(await totals(db), { a: 10, b: 20 });
    const offsets = await loadOffsets(db, "k-counter", ["a", "b", "c"]);
    assert.equal([...offsets.entries()].sort(), [["a", 3], ["b", 7]]);
  });

  t("offsets - overwrite, last entry per entity wins, bigint and string inputs, kinds apart", async () => {
    const db = await fx.get();
    await db.transaction((tx) =>
      saveOffsets(tx, "k-other", [
        { entityId: "x", offset: 1 },
        { entityId: "y", offset: 5n },
        { entityId: "x", offset: "9" },
      ]),
    );
    assert.equal([...(await loadOffsets(db, "k-other", ["x", "y", "x"])).entries()].sort(), [["x", 9], ["y", 5]]);
    await db.transaction((tx) => saveOffsets(tx, "k-other", [{ entityId: "y", offset: 2 }]));
    assert.is((await loadOffsets(db, "k-other", ["y"])).get("y"), 2, "an offset may move back (a replay resets it)");
    assert.is((await loadOffsets(db, "k-counter", ["x"])).size, 0);
    assert.equal(await loadOffsets(db, "k-other", []), new Map());
  });

  t("offsets - a negative or non-integer offset is refused", async () => {
    const db = await fx.get();
    assert.match(await rejectionMessage(db.transaction((tx) => saveOffsets(tx, "k-other", [{ entityId: "z", offset: -1 }]))), /negative/);
    assert.match(await rejectionMessage(db.transaction((tx) => saveOffsets(tx, "k-other", [{ entityId: "z", offset: 1.5 }]))), /not a safe integer/);
    assert.is((await loadOffsets(db, "k-other", ["z"])).size, 0);
  });

  t("offsets - one batch of 5,000 entities in one statement", async () => {
    const db = await fx.get();
    const entries = Array.from({ length: 5000 }, (_, i) => ({ entityId: `bulk-${i}`, offset: i }));
    await db.transaction((tx) => saveOffsets(tx, "k-bulk", entries));
    const loaded = await loadOffsets(db, "k-bulk", entries.map((e) => e.entityId));
    assert.is(loaded.size, 5000);
    assert.is(loaded.get("bulk-4321"), 4321);
  });

  t.run();
}
