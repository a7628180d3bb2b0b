/**
 * Review items 1 and 2: a refused payment run (the node, or the database's payments, on another
 * chain than CHAIN_ID) counted as healthy: its outcome was "stopped", which `/ready` takes for
 * progress. Now payments are not ready, with the reason, until a run ends; and the service says
 * at start when the node is of another chain. Payments as a host wires them
 * (supervisors/kinds/payments.ts) on a real anvil, Postgres and s3rver.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import pino from "pino";
import { loadConfig } from "../../../config/load-config.ts";
import { KIND_SECTIONS } from "../../../cli/commands/kind-sections.ts";
import { migrate } from "../../../db/migrate.ts";
import { SimulatedClock } from "../../../supervisors/clock.ts";
import type { HostContext } from "../../../supervisors/kind-module.ts";
import { startPayments } from "../../../supervisors/kinds/payments.ts";
import type { RunningPayments } from "../../../supervisors/kinds/payments.ts";
import { DEV_ACCOUNTS, startAnvil } from "../../support/anvil.ts";
import { createTestDatabase } from "../../support/databases.ts";
import { startS3rver } from "../../support/s3rver.ts";
import { randomAddress, settle } from "./support.ts";

const P = "ai|us-central";

/**
 * Payments of a host on `ETH_RPC_ENDPOINT` = a fresh anvil (chain 31337) with the given CHAIN_ID.
 * The host context carries what payments use (config, database, clock, log, host id), all real.
 */
async function withPayments(chainIdSetting: string, fn: (p: RunningPayments, env: { db: import("../../../db/db.ts").Db; clock: SimulatedClock }) => Promise<void>): Promise<void> {
  const anvil = await startAnvil();
  const t = await createTestDatabase();
  const s3 = await startS3rver({ buckets: ["metrics"] });
  try {
    await migrate(t.db);
    const config = loadConfig(
      { DATABASE_URL: t.url, ETH_RPC_ENDPOINT: anvil.url, ETH_PRIVATE_KEY: DEV_ACCOUNTS[0].privateKey, CHAIN_ID: chainIdSetting, GAS_LIMIT: "21000", PAYMENT_RPC_RETRY_DELAYS_MS: "10" },
      { sections: KIND_SECTIONS },
    );
    const clock = new SimulatedClock(1_700_000_000_000);
    const host = { config, db: t.db, clock, log: pino({ level: "silent" }), hostId: "host-1" } as unknown as HostContext;
    const payments = await startPayments(host, [P], { s3: s3.client(), bucket: "metrics" });
    assert.ok(payments, "payments run on this host");
    try {
      await fn(payments!, { db: t.db, clock });
    } finally {
      await payments!.stop();
    }
  } finally {
    await s3.stop();
    await t.drop();
    await anvil.stop();
  }
}

async function until(what: string, fn: () => boolean): Promise<void> {
  for (let i = 0; i < 500 && !fn(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(fn(), what);
}

test("payments readiness - a node of another chain: said at start, every run refused, not ready with the reason", async () => {
  await withPayments("42161", async (payments, { clock }) => {
    await until("the start-up check has answered", () => (payments.ready()[0].detail ?? "").startsWith("at start:"));
    const [atStart] = payments.ready();
    assert.equal([atStart.name, atStart.ready], ["ingress:payments-schedule", false]);
    assert.match(atStart.detail ?? "", /^at start: chain id mismatch: node reports 31337, CHAIN_ID is 42161; nothing reconciled or sent/);
    const report = await settle(payments.trigger(P), clock);
    assert.is(report.outcome, "refused");
    const [afterRun] = payments.ready();
    assert.is(afterRun.ready, false);
    assert.is(afterRun.backlog, 1);
    assert.match(afterRun.detail ?? "", `${P}: refused: chain id mismatch: node reports 31337, CHAIN_ID is 42161`);
  });
});

test("payments readiness - a run refused for the database's payments of another chain is not ready until a run ends", async () => {
  await withPayments("31337", async (payments, { db, clock }) => {
    const worker = randomAddress();
    await db.query(`INSERT INTO worker_fee_ledger (partition_id, eth_address, earned_wei) VALUES ($1, $2, '20000000000000000')`, [P, worker]);
    // A payment this database made on another chain (a closed one: nothing to reconcile).
    await db.query(
      `INSERT INTO payment_wal (payment_id, run_id, partition_id, eth_address, amount_wei, from_address, chain_id, nonce,
         max_fee_per_gas, max_priority_fee_per_gas, gas_limit, raw_tx, tx_hash, status)
       VALUES ('pmt_old-1', 'pmt_old', $1, $2, 1, $3, 42161, 0, 1, 1, 21000, '0x02', '0xold', 'credited')`,
      [P, randomAddress(), DEV_ACCOUNTS[0].address],
    );
    assert.equal([payments.ready()[0].ready, payments.ready()[0].detail], [true, "scheduled, no run yet"]);
    const refused = await settle(payments.trigger(P), clock);
    assert.is(refused.outcome, "refused");
    const [notReady] = payments.ready();
    assert.is(notReady.ready, false);
    assert.match(notReady.detail ?? "", `${P}: refused: this database holds payments made on another chain (1 on chain 42161)`);
    // A person moves the old payment out of the way (here: by hand); the next run pays and payments are ready again.
    await db.query("DELETE FROM payment_wal WHERE payment_id = 'pmt_old-1'");
    const paid = await settle(payments.trigger(P), clock);
    assert.is(paid.outcome, "done");
    assert.equal(payments.ready()[0], { name: "ingress:payments-schedule", ready: true, lastProgressAt: null, backlog: 0, detail: `${P}: done` });
  });
});

test.run();
