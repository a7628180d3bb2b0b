/**
 * Payments wired for a host (payments-service.ts, what `strata start` runs): on the embedded
 * anvil dev chain, an admin trigger pays one partition, the schedule pays the other one interval
 * later and starts no run for a partition with nothing due, and every run's audit lands in S3
 * (seed 003 defect 21) without anyone calling the exporter — also a resolution made outside any
 * run, within one PAYMENT_AUDIT_EXPORT_INTERVAL_SECONDS.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import pino from "pino";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { ListObjectsV2Command } from "@aws-sdk/client-s3";
import type { S3Client } from "@aws-sdk/client-s3";
import { migrate } from "../../../db/migrate.ts";
import { SimulatedClock } from "../../../supervisors/clock.ts";
import { startEmbeddedAnvil } from "../../../supervisors/embedded/anvil.ts";
import { loadSection } from "../../../config/section.ts";
import { paymentsConfig } from "../../../actors/worker-partition/payments/config.ts";
import { s3AuditStore } from "../../../actors/worker-partition/payments/payment-audit-export.ts";
import { listAudit, resolvePayment } from "../../../actors/worker-partition/payments/payment-store.ts";
import { FAILED_PREFIX, startPaymentsService } from "../../../actors/worker-partition/payments/payments-service.ts";
import { freePort } from "../../../supervisors/embedded/free-port.ts";
import { createRpcClient } from "../../../actors/worker-partition/payments/rpc-client.ts";
import { createTestDatabase } from "../../support/databases.ts";
import { startS3rver } from "../../support/s3rver.ts";
import { DEV_ACCOUNTS, startAnvil } from "../../support/anvil.ts";
import { randomAddress, settle } from "./support.ts";

async function auditKeys(client: S3Client, partition: string): Promise<string[]> {
  const [nodeType, region] = partition.split("|");
  const listed = await client.send(new ListObjectsV2Command({ Bucket: "metrics", Prefix: `payments/${nodeType}/${region}/` }));
  return (listed.Contents ?? []).map((o) => o.Key!);
}

test("payments service - pays on the dev chain by admin trigger and by schedule, and copies each run's audit to S3", async () => {
  const t = await createTestDatabase();
  const s3 = await startS3rver({ buckets: ["metrics"] });
  const anvilDir = await mkdtemp(path.join(os.tmpdir(), "strata-anvil-"));
  const log = pino({ level: "silent" });
  const clock = new SimulatedClock(1_700_000_000_000);
  const chain = await startEmbeddedAnvil({ directory: anvilDir, log });
  const [AI, TRANSCODE, IDLE] = ["ai|us-central", "transcode|oceania", "transcode|eu-central"];
  try {
    await migrate(t.db);
    const client = s3.client();
    const values = loadSection(paymentsConfig, { flags: {}, env: { PAYMENT_SENSOR_INTERVAL_SECONDS: "3600", GAS_LIMIT: "21000" } }).values;
    const svc = await startPaymentsService({
      db: t.db, log, clock, owner: "host-1", values, rpcUrl: chain.url, chainId: chain.chainId, payerKey: chain.devPayerKey,
      partitions: [AI, TRANSCODE, IDLE], auditStore: s3AuditStore(client, "metrics"),
    });
    try {
      const rpc = createRpcClient(svc.rpcUrl);
      const a = randomAddress();
      const b = randomAddress();
      const under = randomAddress();
      await t.db.query(
        `INSERT INTO worker_fee_ledger (partition_id, eth_address, earned_wei) VALUES ($1, $4, '20000000000000000'), ($2, $5, '30000000000000000'), ($3, $6, '1')`,
        [AI, TRANSCODE, IDLE, a, b, under],
      );
      const report = await settle(svc.trigger(AI), clock);
      assert.is(report.outcome, "done");
      assert.is(await rpc.balance(a), 2n * 10n ** 16n);
      assert.is(await rpc.balance(b), 0n, "only the triggered partition");
      const aiAudit = await listAudit(t.db, AI);
      assert.ok(aiAudit.length >= 3, "run start, WAL, broadcast, credit, run end");
      assert.is((await auditKeys(client, AI)).length, aiAudit.length, "the admin run's audit is in S3 when the trigger returns");

      // The schedule pays the other partition one interval after it first looks (ticks do real I/O:
      // move simulated time a poll at a time and give each tick real time to finish).
      for (let i = 0; i < 200 && (await rpc.balance(b)) === 0n; i++) {
        await clock.advance(60_000);
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.is(await rpc.balance(b), 3n * 10n ** 16n);
      // The run may still be between receipt polls (simulated 2/4/8 s waits): keep time moving until it has ended and been copied.
      const copied = async () => (await listAudit(t.db, TRANSCODE)).some((x) => x.event === "run_done") && (await auditKeys(client, TRANSCODE)).length === (await listAudit(t.db, TRANSCODE)).length;
      for (let i = 0; i < 200 && !(await copied()); i++) {
        await clock.advance(1000);
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.is((await auditKeys(client, TRANSCODE)).length, (await listAudit(t.db, TRANSCODE)).length, "the scheduled run's audit is in S3");
      assert.is((await listAudit(t.db, IDLE)).length, 0, "a partition under the threshold gets no run from the schedule");
      assert.is(await rpc.balance(under), 0n);
    } finally {
      await svc.stop();
    }
  } finally {
    await chain.stop();
    await s3.stop();
    await rm(anvilDir, { recursive: true, force: true });
    await t.drop();
  }
});

test("payments service - a resolution made outside any run reaches S3 within one export interval", async () => {
  const t = await createTestDatabase();
  const s3 = await startS3rver({ buckets: ["metrics"] });
  const clock = new SimulatedClock(1_700_000_000_000);
  const P = "transcode|us-west";
  try {
    await migrate(t.db);
    const client = s3.client();
    // An ambiguous payment an earlier run left for a person (its audit already in S3: marked exported).
    await t.db.query(
      `INSERT INTO payment_wal (payment_id, run_id, partition_id, eth_address, amount_wei, from_address, chain_id, nonce,
         max_fee_per_gas, max_priority_fee_per_gas, gas_limit, raw_tx, tx_hash, status, note)
       VALUES ('pmt_x-1', 'pmt_x', $1, $2, 20000000000000000, $3, 31337, 0, 2000000000, 1000000000, 21000, '0x02', '0xabc', 'ambiguous', 'nonce 0 used')`,
      [P, randomAddress(), DEV_ACCOUNTS[0].address],
    );
    const values = loadSection(paymentsConfig, { flags: {}, env: { PAYMENT_AUDIT_EXPORT_INTERVAL_SECONDS: "30" } }).values;
    // No chain is asked anything: nothing is open or due (the RPC URL is never called).
    const svc = await startPaymentsService({
      db: t.db, log: pino({ level: "silent" }), clock, owner: "host-1", values, rpcUrl: "http://127.0.0.1:9", chainId: 31337,
      payerKey: DEV_ACCOUNTS[0].privateKey, partitions: [P], auditStore: s3AuditStore(client, "metrics"),
    });
    try {
      assert.is(await svc.exportAudit(), 0, "the start-up copy is done and found nothing");
      // A person resolves it (admin route / `strata payments resolve`): no run follows.
      assert.ok(await resolvePayment(t.db, "pmt_x-1", "unpaid", "ops@pool", "manual transfer"));
      assert.equal(await auditKeys(client, P), [], "not copied yet");
      await clock.advance(30_000);
      for (let i = 0; i < 200 && (await auditKeys(client, P)).length === 0; i++) await new Promise((r) => setTimeout(r, 10));
      const keys = await auditKeys(client, P);
      assert.is(keys.length, 1);
      assert.match(keys[0], /\/pmt_x-1\/\d{12}-resolved\.json$/);
      assert.is(await svc.exportAudit(), 0, "copied once");
      // And the timer keeps going.
      assert.ok(await t.db.query(`INSERT INTO payment_audit (partition_id, event) VALUES ($1, 'note')`, [P]));
      await clock.advance(30_000);
      for (let i = 0; i < 200 && (await auditKeys(client, P)).length === 1; i++) await new Promise((r) => setTimeout(r, 10));
      assert.is((await auditKeys(client, P)).length, 2);
    } finally {
      await svc.stop();
    }
  } finally {
    await s3.stop();
    await t.drop();
  }
});

test("payments service - a run that throws (its database failed) is marked failed in lastRuns until a later run ends", async () => {
  const t = await createTestDatabase();
  const anvil = await startAnvil();
  const clock = new SimulatedClock(1_700_000_000_000);
  const P = "ai|us-west";
  try {
    await migrate(t.db);
    await t.db.query(`INSERT INTO worker_fee_ledger (partition_id, eth_address, earned_wei) VALUES ($1, $2, '20000000000000000')`, [P, randomAddress()]);
    const values = loadSection(paymentsConfig, { flags: {}, env: { PAYMENT_RPC_RETRY_DELAYS_MS: "10,10", GAS_LIMIT: "21000" } }).values;
    const svc = await startPaymentsService({
      db: t.db, log: pino({ level: "silent" }), clock, owner: "host-1", values, rpcUrl: anvil.url, chainId: anvil.chainId,
      payerKey: DEV_ACCOUNTS[0].privateKey, partitions: [P], schedule: false,
    });
    try {
      // A real fault: the table the run persists its machine in is gone.
      await t.db.query("ALTER TABLE payment_runs RENAME TO payment_runs_away");
      const err = await settle(svc.trigger(P), clock).then(() => null, (e: Error) => e);
      assert.ok(err, "the run threw");
      assert.ok(svc.lastRuns().get(P)!.startsWith(FAILED_PREFIX), svc.lastRuns().get(P));
      assert.match(svc.lastRuns().get(P)!, "payment_runs");
      await t.db.query("ALTER TABLE payment_runs_away RENAME TO payment_runs");
      const report = await settle(svc.trigger(P), clock);
      assert.is(report.outcome, "done", JSON.stringify(report));
      assert.is(svc.lastRuns().get(P), "done");
    } finally {
      await svc.stop();
    }
  } finally {
    await anvil.stop();
    await t.drop();
  }
});

test("payments service - a node that does not answer eth_chainId: the run fails (not a stop) and nothing is touched", async () => {
  const t = await createTestDatabase();
  const clock = new SimulatedClock(1_700_000_000_000);
  const P = "ai|us-west";
  try {
    await migrate(t.db);
    await t.db.query(`INSERT INTO worker_fee_ledger (partition_id, eth_address, earned_wei) VALUES ($1, $2, '20000000000000000')`, [P, randomAddress()]);
    const values = loadSection(paymentsConfig, { flags: {}, env: { PAYMENT_RPC_RETRY_DELAYS_MS: "10,10" } }).values;
    const svc = await startPaymentsService({
      db: t.db, log: pino({ level: "silent" }), clock, owner: "host-1", values, rpcUrl: `http://127.0.0.1:${await freePort()}`, chainId: 31337,
      payerKey: DEV_ACCOUNTS[0].privateKey, partitions: [P], schedule: false,
    });
    try {
      const err = await settle(svc.trigger(P), clock).then(() => null, (e: Error) => e);
      assert.match(err?.message ?? "no error", /^eth_chainId: RPC endpoint unreachable/);
      assert.match(svc.lastRuns().get(P)!, /^failed: eth_chainId: RPC endpoint unreachable/);
      assert.is(svc.startProblem(), null, "a node that does not answer is not a node of another chain");
      const runs = await t.db.query<{ n: string }>("SELECT count(*)::text AS n FROM payment_runs");
      assert.is(runs.rows[0].n, "0");
    } finally {
      await svc.stop();
    }
  } finally {
    await t.drop();
  }
});

test.run();
