/**
 * Regression (review R1, seed 002 A2.8): a payment credits workers in payment_ledger, but the
 * partition actor rewrote worker_summary only when it applied something new (or owed a summary):
 * `notify` / `catch-up` after a payment with no new event left the old paid / pending amounts.
 * `refresh-summary` rewrites it from the paid ledger though no event is new.
 * Real Postgres and PGlite.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { testEngines } from "../../support/databases.ts";
import { migrate } from "../../../db/migrate.ts";
import type { Db } from "../../../db/db.ts";
import { parseWorkerEvent } from "../../../actors/worker-partition/events.ts";
import { journalWorkerEvents } from "../../../actors/worker-partition/journal.ts";
import { createWorkerPartitionKind, type CatchUpReply } from "../../../actors/worker-partition/kind.ts";
import type { PartitionSummary } from "../../../actors/worker-partition/summary.ts";
import { readSummary } from "../../../actors/worker-partition/store.ts";
import { KindHarness } from "./kind-harness.ts";
import { W1, W2, transcodeJob } from "./events-fixture.ts";

const TC = "transcode|us-central";
const options = { commissionBps: 2500, correlationTtlMs: 24 * 3_600_000, paymentThresholdWei: 1n };

/** A credited payment as a run leaves it: the WAL row closed and its paid-ledger row. */
async function credit(db: Db, partition: string, ethAddress: string, amountWei: string): Promise<void> {
  await db.query(
    `INSERT INTO payment_wal (payment_id, run_id, partition_id, eth_address, amount_wei, from_address, chain_id, nonce,
       max_fee_per_gas, max_priority_fee_per_gas, gas_limit, raw_tx, tx_hash, status)
     VALUES ('pay_1', 'pmt_1', $1, $2, $3, '0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266', 31337, 0, 2000000000, 1000000000, 21000, '0x02', $4, 'credited')`,
    [partition, ethAddress, amountWei, "0x" + "c".repeat(64)],
  );
  await db.query(`INSERT INTO payment_ledger (payment_id, partition_id, eth_address, amount_wei, tx_hash) VALUES ('pay_1', $1, $2, $3, $4)`, [
    partition, ethAddress, amountWei, "0x" + "c".repeat(64),
  ]);
}

for (const engine of testEngines) {
  test(`kind - refresh-summary rewrites worker_summary with the paid amounts though no event is new [${engine.name}]`, async () => {
    const { db, drop } = await engine.create();
    try {
      await migrate(db);
      const events = [transcodeJob(W1, 1_000_000), transcodeJob(W2, 400)].map((r) => parseWorkerEvent(r, TC));
      await db.transaction((tx) => journalWorkerEvents(tx, events));
      const h = new KindHarness(createWorkerPartitionKind(options), db);
      await h.send(TC, "catch-up");
      const before = (await readSummary(db, TC)) as PartitionSummary;
      assert.equal(before.workers.map((w) => [w.worker_earnings, w.total_fees_paid, w.pending_fees, w.payment_due]), [
        ["750000", "0", "750000", true],
        ["300", "0", "300", true],
      ]);

      await credit(db, TC, W1, "750000");
      const reply = (await h.send(TC, "refresh-summary")) as CatchUpReply;
      assert.is(reply.eventsApplied, 2, "nothing new applied");
      const after = (await readSummary(db, TC)) as PartitionSummary;
      assert.equal(after.workers.map((w) => [w.worker_earnings, w.total_fees_paid, w.pending_fees, w.payment_due]), [
        ["750000", "750000", "0", false],
        ["300", "0", "300", true],
      ]);
      assert.equal([after.aggregates.total_fees_paid, after.aggregates.total_pending_fees, after.aggregates.workers_eligible_for_payment], ["750000", "300", 1]);
      assert.equal(after, JSON.parse(JSON.stringify(await h.send(TC, "summary"))), "the stored summary is the live one");
    } finally {
      await drop();
    }
  });
}

test.run();
