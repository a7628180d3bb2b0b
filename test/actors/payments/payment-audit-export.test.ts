/**
 * Regression for seed 003 defect 21 (audit files not durable): every payment state change is in
 * the audit table and copied to S3 as JSON, once, readable back. Export is tracked per row
 * (0302 migration): a row committed out of id order is still exported, and the old cursor is
 * carried over on PostgreSQL and PGlite.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { GetObjectCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { migrate } from "../../../db/migrate.ts";
import { exportAudit, s3AuditStore } from "../../../actors/worker-partition/payments/payment-audit-export.ts";
import type { AuditObjectStore } from "../../../actors/worker-partition/payments/payment-audit-export.ts";
import { runPayments } from "../../../actors/worker-partition/payments/payment-run.ts";
import { appendAudit, listAudit, listWalEntries } from "../../../actors/worker-partition/payments/payment-store.ts";
import { createTestDatabase, testEngines } from "../../support/databases.ts";
import { startS3rver } from "../../support/s3rver.ts";
import { ETH, paymentFixture, randomAddress, settle } from "./support.ts";

test("payments audit - every state change of a real payment lands in S3 as JSON, exported once", async () => {
  const fx = await paymentFixture();
  const s3 = await startS3rver({ buckets: ["audit"] });
  try {
    const client = s3.client();
    const a = randomAddress();
    await fx.earn(a, 2n * ETH / 100n);
    await settle(runPayments(fx.deps(), fx.partition, { trigger: "admin" }), fx.clock);
    const store = s3AuditStore(client, "audit");
    const rows = await listAudit(fx.db, fx.partition);
    assert.is(await exportAudit(fx.db, store, fx.partition), rows.length);
    assert.is(await exportAudit(fx.db, store, fx.partition), 0, "nothing twice");
    const [nodeType, region] = fx.partition.split("|");
    const listed = await client.send(new ListObjectsV2Command({ Bucket: "audit", Prefix: `payments/${nodeType}/${region}/` }));
    const keys = (listed.Contents ?? []).map((o) => o.Key!).sort();
    assert.is(keys.length, rows.length);
    const [payment] = await listWalEntries(fx.db, fx.partition);
    const paymentKeys = keys.filter((k) => k.includes(`/${payment.paymentId}/`));
    assert.equal(paymentKeys.map((k) => k.replace(/^.*\/\d{12}-/, "")), ["wal_written.json", "broadcast.json", "credited.json"]);
    const got = await client.send(new GetObjectCommand({ Bucket: "audit", Key: paymentKeys[2] }));
    const body = JSON.parse(await got.Body!.transformToString());
    assert.is(body.paymentId, payment.paymentId);
    assert.is(body.toStatus, "credited");
    assert.is(body.detail.txHash, payment.txHash);
  } finally {
    await s3.stop();
    await fx.close();
  }
});

/** An object store in memory: key → body. */
function memoryStore(): AuditObjectStore & { objects: Map<string, string> } {
  const objects = new Map<string, string>();
  return { objects, put: async (key, body) => void objects.set(key, body) };
}
const eventsOf = (store: { objects: Map<string, string> }) => [...store.objects.values()].map((b) => (JSON.parse(b) as { event: string }).event).sort();

test("payments audit - a row committed after a higher id was exported is still exported (two writers, one partition)", async () => {
  const t = await createTestDatabase();
  try {
    await migrate(t.db);
    const partition = "transcode|us-west";
    const store = memoryStore();
    // Writer 1 (a run) inserts its row and is slow to commit; writer 2 (an admin resolution)
    // inserts a row with a higher id and commits first; the exporter runs in between.
    let inserted!: () => void;
    const rowWritten = new Promise<void>((r) => (inserted = r));
    let commit!: () => void;
    const mayCommit = new Promise<void>((r) => (commit = r));
    const slow = t.db.transaction(async (tx) => {
      await appendAudit(tx, { partitionId: partition, event: "run_writer" });
      inserted();
      await mayCommit;
    });
    await rowWritten;
    await appendAudit(t.db, { partitionId: partition, event: "admin_writer" });
    assert.is(await exportAudit(t.db, store, partition), 1);
    assert.equal(eventsOf(store), ["admin_writer"]);
    commit();
    await slow;
    const ids = (await t.db.query<{ id: string; event: string }>(`SELECT id::text AS id, event FROM payment_audit ORDER BY id`)).rows;
    assert.equal(ids.map((r) => r.event), ["run_writer", "admin_writer"], "the late commit has the lower id");
    assert.is(await exportAudit(t.db, store, partition), 1, "the lower id committed last is exported");
    assert.equal(eventsOf(store), ["admin_writer", "run_writer"]);
    assert.is(await exportAudit(t.db, store, partition), 0, "nothing twice");
  } finally {
    await t.drop();
  }
});

for (const engine of testEngines) {
  test(`payments audit (${engine.name}) - the 0302 migration carries the old export cursor over to the rows`, async () => {
    const t = await engine.create();
    try {
      await migrate(t.db, { maxVersion: 301 });
      for (const [partition, event] of [["p1", "a"], ["p1", "b"], ["p2", "c"], ["p1", "d"]]) await appendAudit(t.db, { partitionId: partition, event });
      // The cursor of p1 had passed its first two rows (ids 1, 2); p2 had never been exported.
      await t.db.query(`INSERT INTO payment_audit_export (partition_id, last_id) VALUES ('p1', 2)`);
      await migrate(t.db);
      const rows = await t.db.query<{ event: string; exported: boolean }>(`SELECT event, exported_at IS NOT NULL AS exported FROM payment_audit ORDER BY id`);
      assert.equal(rows.rows.map((r) => [r.event, r.exported]), [["a", true], ["b", true], ["c", false], ["d", false]]);
      const store = memoryStore();
      assert.is(await exportAudit(t.db, store, "p1"), 1);
      assert.is(await exportAudit(t.db, store, "p2"), 1);
      assert.equal(eventsOf(store), ["c", "d"]);
      assert.is(await exportAudit(t.db, store, "p1", { batch: 1 }), 0);
    } finally {
      await t.drop();
    }
  });
}

test.run();
