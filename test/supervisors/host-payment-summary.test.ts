/**
 * Regression (review R1 of seed 002 A2.8, "the summary export is re-run after every successful
 * payment run"): worker_summary and `worker_summary.json` were written only after a sensor batch
 * with files; after a payment run they kept the old total_fees_paid / pending_fees / payment_due
 * until a new event file arrived — for a quiet partition, for ever.
 * Now a host's payment run that ends asks the partition actor to rewrite its summary and exports
 * it again. Real PostgreSQL, a private anvil chain, s3rver (services mode S3), no event file.
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
import { DEV_ACCOUNTS, startAnvil } from "../support/anvil.ts";

const repoRoot = fileURLToPath(new URL("../../", import.meta.url));
const AI = "ai|us-central";
const TOKEN = "host-payment-summary-token";

/** Every worker paid what it earned: nothing pending, nobody due. */
function assertAllPaid(s: PartitionSummary, what: string): void {
  assert.ok(s.workers.length > 0, `${what}: workers listed`);
  for (const w of s.workers) {
    assert.is(w.total_fees_paid, w.worker_earnings, `${what}: ${w.eth_address} paid its earnings`);
    assert.is(w.pending_fees, "0", `${what}: ${w.eth_address} has nothing pending`);
    assert.is(w.payment_due, false, `${what}: ${w.eth_address} is not due`);
  }
  assert.is(s.aggregates.total_pending_fees, "0", `${what}: total pending`);
  assert.is(s.aggregates.total_fees_paid, s.aggregates.total_worker_earnings, `${what}: total paid`);
  assert.is(s.aggregates.workers_eligible_for_payment, 0, `${what}: eligible`);
}

test("host payment summary - a payment run that pays rewrites worker_summary and its S3 export, with no new event file", async () => {
  const database = await createTestDatabase();
  const s3 = await startS3rver({ buckets: ["events", "metrics"] });
  const anvil = await startAnvil();
  const dataDir = await mkdtemp(path.join(tmpdir(), "strata-host-pay-summary-"));
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
      ETH_RPC_ENDPOINT: anvil.url,
      ETH_PRIVATE_KEY: DEV_ACCOUNTS[0].privateKey,
      CHAIN_ID: String(anvil.chainId),
      PAYMENT_THRESHOLD_WEI: "1",
      // No scheduled run and no second poll during the test: the admin trigger is the only run.
      PAYMENT_SENSOR_INTERVAL_SECONDS: "3600",
      S3_SENSOR_INTERVAL_SECONDS: "3600",
    };
    // The sample partition, imported before the host starts (its summary: everything pending).
    const io = { env, out: () => {}, err: () => {}, stopSignal: new Promise<string>(() => {}) };
    assert.is(await importCommand.run({ values: {}, positionals: ["worker-partition", path.join(repoRoot, "samples/worker-partition/us-central/ai")] }, io), 0);
    const stored = async (): Promise<PartitionSummary> =>
      (await database.db.query<{ summary: PartitionSummary }>("SELECT summary FROM worker_summary WHERE partition_id = $1", [AI])).rows[0].summary;
    const before = await stored();
    assert.ok(BigInt(before.aggregates.total_pending_fees) > 0n, "imported: fees pending");
    assert.is(before.aggregates.total_fees_paid, "0");

    host = await startHost(loadConfig(env, { sections: KIND_SECTIONS }), { log: createLogger({ level: "silent" }) });
    const res = await fetch(`${host.adminUrl}/payments/${encodeURIComponent(AI)}/trigger`, { method: "POST", headers: { authorization: `Bearer ${TOKEN}` } });
    const run = (await res.json()) as { outcome: string; results: unknown[] };
    assert.is(res.status, 200, JSON.stringify(run));
    assert.is(run.outcome, "done", JSON.stringify(run));
    assert.is(run.results.length, before.workers.filter((w) => w.payment_due).length, "every worker due was paid");

    // When the trigger has answered, the table and the export say so.
    const after = await stored();
    assertAllPaid(after, "worker_summary");
    assert.equal(after.workers.map((w) => w.worker_earnings), before.workers.map((w) => w.worker_earnings), "earnings unchanged");
    assert.is(after.aggregates.events_applied, before.aggregates.events_applied, "no new event");

    const client = s3.client();
    const get = async (key: string) => JSON.parse(await (await client.send(new GetObjectCommand({ Bucket: "metrics", Key: key }))).Body!.transformToString());
    const exported = (await get(metricsKeys(AI).summary)) as { export_timestamp: string; data: PartitionSummary };
    assertAllPaid(exported.data, "worker_summary.json");
    assert.equal(exported.data, after, "the export is the stored summary");
    const performance = (await get(metricsKeys(AI).performance)) as { node_type: string; region: string };
    assert.equal([performance.node_type, performance.region], ["ai", "us-central"]);
    const events = await client.send(new ListObjectsV2Command({ Bucket: "events" }));
    assert.is(events.KeyCount ?? 0, 0, "no event file anywhere");
  } finally {
    await host?.stop();
    await anvil.stop();
    await s3.stop();
    await database.drop();
    await rm(dataDir, { recursive: true, force: true });
  }
});

test.run();
