/**
 * Regression for seed 003 defect 21 (audit files not durable): every payment state change is in
 * the audit table and copied to S3 as JSON, once, readable back.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { GetObjectCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { exportAudit, s3AuditStore } from "../../../actors/worker-partition/payments/payment-audit-export.ts";
import { runPayments } from "../../../actors/worker-partition/payments/payment-run.ts";
import { listAudit, listWalEntries } from "../../../actors/worker-partition/payments/payment-store.ts";
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

test.run();
