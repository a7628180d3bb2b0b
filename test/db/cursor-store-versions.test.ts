/** Source cursors with versions (migration 0003, S3 ETags) and attempts given back, on PostgreSQL and PGlite. */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { migrate } from "../../db/migrate.ts";
import { claimPending, confirm, knownVersions, listPending, recordVersions, unclaim } from "../../db/cursor-store.ts";
import { lazyDatabase, testEngines } from "../support/databases.ts";

for (const engine of testEngines) {
  const t = suite(engine.name);
  const fx = lazyDatabase(engine, (db) => migrate(db, { maxVersion: 99 }).then(() => {}));
  t.after(() => fx.drop());

  t("cursor versions - a confirmed key is claimed again only with another known version", async () => {
    const db = await fx.get();
    const source = "s3:bucket-v";
    const v = (m: Record<string, string | null>) => new Map(Object.entries(m));
    await db.transaction((tx) => claimPending(tx, source, ["a", "b", "c"], "batch-1", v({ a: '"1"', b: '"1"', c: null })));
    assert.equal((await listPending(db, source)).map((p) => [p.key, p.etag]), [["a", '"1"'], ["b", '"1"'], ["c", null]]);
    // Confirmed with the versions read (b was overwritten between the listing and the GET).
    await db.transaction((tx) => confirm(tx, source, ["a", "b", "c"], v({ b: '"2"' })));
    assert.equal(await knownVersions(db, source, ["a", "b", "c", "d"]), new Map([["a", { state: "confirmed", etag: '"1"' }], ["b", { state: "confirmed", etag: '"2"' }], ["c", { state: "confirmed", etag: null }]]));
    // Same version, no version given, or none recorded: left alone.
    assert.equal(await db.transaction((tx) => claimPending(tx, source, ["a", "b", "c"], "batch-2", v({ a: '"1"', b: null, c: '"9"' }))), []);
    assert.equal(await db.transaction((tx) => claimPending(tx, source, ["a", "b"], "batch-2b")), []);
    // Another version: claimed afresh, attempts 1.
    assert.equal(await db.transaction((tx) => claimPending(tx, source, ["a", "b"], "batch-3", v({ a: '"5"', b: '"2"' }))), ["a"]);
    assert.equal((await listPending(db, source)).map((p) => [p.key, p.batchId, p.attempts, p.etag]), [["a", "batch-3", 1, '"5"']]);
    // A key without a recorded version gets the one listed, and from then on its changes are seen.
    assert.is(await recordVersions(db, source, new Map([["c", '"7"'], ["a", '"8"']])), 1, "only a confirmed key without a version");
    assert.equal((await knownVersions(db, source, ["c"])).get("c"), { state: "confirmed", etag: '"7"' });
    assert.equal(await db.transaction((tx) => claimPending(tx, source, ["c"], "batch-4", v({ c: '"8"' }))), ["c"]);
  });

  t("cursor versions - unclaim gives back the attempt of a claim that failed for an outage", async () => {
    const db = await fx.get();
    const source = "s3:bucket-u";
    await db.transaction((tx) => claimPending(tx, source, ["x", "y"], "batch-1"));
    await db.transaction((tx) => claimPending(tx, source, ["x"], "batch-2"));
    assert.equal((await listPending(db, source)).map((p) => [p.key, p.attempts]), [["y", 1], ["x", 2]]);
    assert.is(await unclaim(db, source, "batch-2"), 1);
    assert.is(await unclaim(db, source, "batch-1"), 1, "only the keys still under that batch");
    assert.equal((await listPending(db, source)).map((p) => [p.key, p.attempts]).sort(), [["x", 1], ["y", 0]]);
    assert.is(await unclaim(db, source, "batch-1"), 0, "never below 0");
  });

  t.run();
}
