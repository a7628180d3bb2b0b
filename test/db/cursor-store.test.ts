/** Source cursors on PostgreSQL and PGlite: pending → confirmed, failed batches retried, never skipped. */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { migrate } from "../../db/migrate.ts";
import { claimPending, confirm, isKnown, listPending } from "../../db/cursor-store.ts";
import { appendToJournal, readJournal } from "../../db/journal-store.ts";
import { lazyDatabase, testEngines } from "../support/databases.ts";
import { rejectionMessage } from "../support/rejection.ts";

for (const engine of testEngines) {
  const t = suite(engine.name);
  const fx = lazyDatabase(engine, (db) => migrate(db, { maxVersion: 99 }).then(() => {}));
  t.after(() => fx.drop());

  t("cursor - keys go pending when claimed and confirmed with the work's commit", async () => {
    const db = await fx.get();
    const source = "s3:bucket-a";
    const keys = ["eu/transcode/2.json", "eu/transcode/1.json"];
    assert.equal(await isKnown(db, source, keys), new Map());
    const claimed = await db.transaction((tx) => claimPending(tx, source, keys, "batch-1"));
    assert.equal(claimed, ["eu/transcode/1.json", "eu/transcode/2.json"]);
    assert.equal(await isKnown(db, source, [...keys, "eu/transcode/3.json"]), new Map([["eu/transcode/1.json", "pending"], ["eu/transcode/2.json", "pending"]]));
    const pending = await listPending(db, source);
    assert.equal(pending.map((p) => [p.key, p.batchId, p.attempts]), [["eu/transcode/1.json", "batch-1", 1], ["eu/transcode/2.json", "batch-1", 1]]);
    assert.ok(pending[0].claimedAt instanceof Date);

    const confirmed = await db.transaction(async (tx) => {
      await appendToJournal(tx, "k-cursor", [{ partition: 0, entityId: "w", naturalKey: "eu/transcode/1.json#0", eventType: "e", payload: {} }]);
      return confirm(tx, source, keys);
    });
    assert.is(confirmed, 2);
    assert.equal(await listPending(db, source), []);
    assert.equal(await isKnown(db, source, keys), new Map([["eu/transcode/1.json", "confirmed"], ["eu/transcode/2.json", "confirmed"]]));
  });

  t("cursor - a failed batch stays pending, is listed again and retried, never skipped", async () => {
    const db = await fx.get();
    const source = "s3:bucket-b";
    await db.transaction((tx) => claimPending(tx, source, ["f1", "f2"], "batch-1"));
    // The work and the confirmation share a transaction; the work fails, so nothing is confirmed.
    const failed = db.transaction(async (tx) => {
      await appendToJournal(tx, "k-cursor-b", [{ partition: 0, entityId: "w", naturalKey: "f1#0", eventType: "e", payload: {} }]);
      await confirm(tx, source, ["f1", "f2"]);
      throw new Error("S3 read failed half way");
    });
    assert.match(await rejectionMessage(failed), /S3 read failed/);
    assert.equal(await readJournal(db, "k-cursor-b", { limit: 10 }), []);
    // A restarted sensor finds the batch and claims it again.
    const pending = await listPending(db, source);
    assert.equal(pending.map((p) => [p.key, p.batchId]), [["f1", "batch-1"], ["f2", "batch-1"]]);
    const reclaimed = await db.transaction((tx) => claimPending(tx, source, pending.map((p) => p.key), "batch-2"));
    assert.equal(reclaimed, ["f1", "f2"]);
    assert.equal((await listPending(db, source)).map((p) => [p.key, p.batchId, p.attempts]), [["f1", "batch-2", 2], ["f2", "batch-2", 2]]);
    await db.transaction((tx) => confirm(tx, source, ["f1", "f2"]));
    assert.equal(await listPending(db, source), []);
  });

  t("cursor - a confirmed key is never claimed or confirmed again", async () => {
    const db = await fx.get();
    const source = "redis:intuition-events";
    await db.transaction((tx) => confirm(tx, source, ["1700000000000-0"]));
    assert.equal(await db.transaction((tx) => claimPending(tx, source, ["1700000000000-0", "1700000000001-0"], "batch-9")), ["1700000000001-0"]);
    assert.equal((await listPending(db, source)).map((p) => p.key), ["1700000000001-0"]);
    assert.is(await db.transaction((tx) => confirm(tx, source, ["1700000000000-0", "1700000000001-0"])), 1);
    assert.is(await db.transaction((tx) => confirm(tx, source, ["1700000000001-0"])), 0);
  });

  t("cursor - sources are independent and duplicate keys in a call count once", async () => {
    const db = await fx.get();
    assert.equal(await db.transaction((tx) => claimPending(tx, "src-one", ["k", "k", "j"], "b")), ["j", "k"]);
    assert.equal(await db.transaction((tx) => claimPending(tx, "src-two", ["k"], "b")), ["k"]);
    await db.transaction((tx) => confirm(tx, "src-one", ["k"]));
    assert.equal(await isKnown(db, "src-two", ["k"]), new Map([["k", "pending"]]));
    assert.equal((await listPending(db, "src-one")).map((p) => p.key), ["j"]);
    assert.equal(await db.transaction((tx) => claimPending(tx, "src-one", [], "b")), []);
  });

  t.run();
}
