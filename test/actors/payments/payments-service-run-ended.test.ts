/**
 * payments-service `onRunEnded` (review R1 of seed 002 A2.8: nothing told the host that a run had
 * paid, so worker_summary and its export kept the old amounts): it is awaited after a run that
 * ended (done / stopped) before the trigger answers, never after a refused or thrown run, and a
 * failing hook is logged without failing the run. Real Postgres, a private anvil chain.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import pino from "pino";
import { migrate } from "../../../db/migrate.ts";
import { SimulatedClock } from "../../../supervisors/clock.ts";
import { loadSection } from "../../../config/section.ts";
import { paymentsConfig } from "../../../actors/worker-partition/payments/config.ts";
import { startPaymentsService } from "../../../actors/worker-partition/payments/payments-service.ts";
import type { PaymentRunReport } from "../../../actors/worker-partition/payments/payment-run.ts";
import { createTestDatabase } from "../../support/databases.ts";
import { DEV_ACCOUNTS, startAnvil } from "../../support/anvil.ts";
import { randomAddress, settle } from "./support.ts";

test("payments service - onRunEnded is awaited after a run that ended, not after a refused or thrown one; its failure is only logged", async () => {
  const t = await createTestDatabase();
  const anvil = await startAnvil();
  const clock = new SimulatedClock(1_700_000_000_000);
  const P = "ai|us-west";
  const lines: { level: number; msg: string; err?: string }[] = [];
  const log = pino({ level: "info" }, { write: (s: string) => void lines.push(JSON.parse(s)) });
  const ended: string[] = [];
  const onRunEnded = async (report: PaymentRunReport): Promise<void> => {
    await new Promise((r) => setTimeout(r, 20));
    ended.push(`${report.partitionId} ${report.outcome}`);
    throw new Error("metrics bucket unreachable");
  };
  try {
    await migrate(t.db);
    await t.db.query(`INSERT INTO worker_fee_ledger (partition_id, eth_address, earned_wei) VALUES ($1, $2, '20000000000000000')`, [P, randomAddress()]);
    const values = loadSection(paymentsConfig, { flags: {}, env: { PAYMENT_RPC_RETRY_DELAYS_MS: "10,10", GAS_LIMIT: "21000" } }).values;
    const base = { db: t.db, log, clock, owner: "host-1", values, rpcUrl: anvil.url, payerKey: DEV_ACCOUNTS[0].privateKey, partitions: [P], schedule: false, onRunEnded };

    // The node on another chain than CHAIN_ID: refused, nothing paid, no refresh.
    const other = await startPaymentsService({ ...base, chainId: anvil.chainId + 1 });
    try {
      assert.is((await settle(other.trigger(P), clock)).outcome, "refused");
    } finally {
      await other.stop();
    }
    assert.equal(ended, [], "no refresh after a refused run");

    const svc = await startPaymentsService({ ...base, chainId: anvil.chainId });
    try {
      // A run that throws (its database failed): no refresh (the run is retried or triggered again).
      await t.db.query("ALTER TABLE payment_runs RENAME TO payment_runs_away");
      assert.ok(await settle(svc.trigger(P), clock).then(() => false, () => true), "the run threw");
      await t.db.query("ALTER TABLE payment_runs_away RENAME TO payment_runs");
      assert.equal(ended, [], "no refresh after a thrown run");

      const report = await settle(svc.trigger(P), clock);
      assert.is(report.outcome, "done", JSON.stringify(report));
      assert.equal(ended, [`${P} done`], "refreshed once, before the trigger answered");
      assert.is(svc.lastRuns().get(P), "done", "a failing refresh does not fail the run");
      const warned = lines.find((l) => l.msg.startsWith("payments: refreshing the summary after the run failed"));
      assert.ok(warned, "the refresh failure is logged");
      assert.is(warned!.level, 40);
      assert.is(warned!.err, "metrics bucket unreachable");
    } finally {
      await svc.stop();
    }
  } finally {
    await anvil.stop();
    await t.drop();
  }
});

test.run();
