/**
 * Regression (seed 002 A2.8, after fb32a5f): a person's resolution of an ambiguous payment as paid
 * (`POST /payments/:paymentId/resolve`) credits the paid ledger outside any payment run, and the
 * host left worker_summary and `worker_summary.json` with the worker's old paid / pending amounts
 * until the partition's next event file. Now the route, before answering, has the partition actor
 * rewrite the summary (`refresh-summary`) and exports it again. Real PostgreSQL, s3rver (services
 * mode S3), payments off on the host (no ETH_RPC_ENDPOINT: resolving needs no chain), no event file.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { GetObjectCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { loadConfig } from "../../config/load-config.ts";
import { KIND_SECTIONS } from "../../cli/commands/kind-sections.ts";
import { importCommand } from "../../cli/commands/import.ts";
import { startHost } from "../../supervisors/host.ts";
import { createLogger } from "../../supervisors/observability/logger.ts";
import { metricsKeys } from "../../actors/ingress/s3-metrics-export.ts";
import type { PartitionSummary } from "../../actors/worker-partition/summary.ts";
import { createTestDatabase } from "../support/databases.ts";
import { startS3rver } from "../support/s3rver.ts";

const repoRoot = fileURLToPath(new URL("../../", import.meta.url));
const AI = "ai|us-central";
const TOKEN = "host-resolve-summary-token";

test("host resolve summary - resolving an ambiguous payment as paid rewrites worker_summary and its S3 export, with no new event file", async () => {
  const database = await createTestDatabase();
  const s3 = await startS3rver({ buckets: ["events", "metrics"] });
  const dataDir = await mkdtemp(path.join(tmpdir(), "strata-host-resolve-summary-"));
  let host: Awaited<ReturnType<typeof startHost>> | null = null;
  try {
    const env = {
      STRATA_DATA_DIR: dataDir,
      ADMIN_PORT: "0",
      ADMIN_TOKEN: TOKEN,
      DATABASE_URL: database.url,
      STRATA_KINDS: "worker-partition",
      S3_ENDPOINT: s3.endpoint,
      AWS_ACCESS_KEY_ID: s3.accessKeyId,
      AWS_SECRET_ACCESS_KEY: s3.secretAccessKey,
      S3_BUCKET: "events",
      S3_METRICS_BUCKET: "metrics",
      // No second poll during the test.
      S3_SENSOR_INTERVAL_SECONDS: "3600",
    };
    const io = { env, out: () => {}, err: () => {}, stopSignal: new Promise<string>(() => {}) };
    assert.is(await importCommand.run({ values: {}, positionals: ["worker-partition", path.join(repoRoot, "samples/worker-partition/us-central/ai")] }, io), 0);
    const stored = async (): Promise<PartitionSummary> =>
      (await database.db.query<{ summary: PartitionSummary }>("SELECT summary FROM worker_summary WHERE partition_id = $1", [AI])).rows[0].summary;
    const before = await stored();
    const worker = before.workers.find((w) => BigInt(w.worker_earnings) > 0n);
    assert.ok(worker, "imported: a worker with earnings");
    assert.is(worker.total_fees_paid, "0");
    const amount = BigInt(worker.worker_earnings);
    // As test/admin/payments-routes.test.ts seedAmbiguous: the whole earnings, ambiguous.
    await database.db.query(
      `INSERT INTO payment_wal (payment_id, run_id, partition_id, eth_address, amount_wei, from_address, chain_id, nonce,
         max_fee_per_gas, max_priority_fee_per_gas, gas_limit, raw_tx, tx_hash, status, note)
       VALUES ('pay_x', 'pmt_20250301_bbbbbb', $1, $2, $3, '0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266',
         31337, 0, 2000000000, 1000000000, 100000, '0x02', $4, 'ambiguous', 'nonce used by another transaction')`,
      [AI, worker.eth_address, amount.toString(), "0x" + "b".repeat(64)],
    );

    host = await startHost(loadConfig(env, { sections: KIND_SECTIONS }), { log: createLogger({ level: "silent" }) });
    const res = await fetch(`${host.adminUrl}/payments/pay_x/resolve`, {
      method: "POST",
      headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
      body: JSON.stringify({ as: "paid", note: "found on the explorer", by: "alice" }),
    });
    const answer = (await res.json()) as { ok: boolean; payment: { status: string; note: string } };
    assert.is(res.status, 200, JSON.stringify(answer));
    assert.equal([answer.ok, answer.payment.status, answer.payment.note], [true, "resolved_paid", "paid by admin:alice: found on the explorer"]);

    // When the route has answered, the table and the export say so.
    const after = await stored();
    const row = after.workers.find((w) => w.eth_address === worker.eth_address)!;
    assert.equal([row.total_fees_paid, row.pending_fees, row.payment_due], [amount.toString(), "0", false], "the resolved payment counts as paid");
    assert.is(after.aggregates.total_fees_paid, amount.toString());
    assert.is(after.aggregates.total_pending_fees, (BigInt(before.aggregates.total_pending_fees) - amount).toString());
    assert.is(after.aggregates.events_applied, before.aggregates.events_applied, "no new event");

    const client = s3.client();
    const exported = JSON.parse(await (await client.send(new GetObjectCommand({ Bucket: "metrics", Key: metricsKeys(AI).summary }))).Body!.transformToString()) as {
      data: PartitionSummary;
    };
    assert.equal(exported.data, after, "the export is the stored summary");
    const events = await client.send(new ListObjectsV2Command({ Bucket: "events" }));
    assert.is(events.KeyCount ?? 0, 0, "no event file anywhere");
  } finally {
    await host?.stop();
    await s3.stop();
    await database.drop();
    await rm(dataDir, { recursive: true, force: true });
  }
});

test.run();
