/**
 * The payments service does not leave work waiting for the schedule (issue 5 review, defect 2),
 * against a real anvil chain and Postgres on a simulated clock:
 *  - open WAL entries left by dead hosts are reconciled when the service starts, at once when
 *    the dead host's lease has expired, and as soon as it expires when it still holds;
 *  - a schedule tick whose run finds the partition busy is retried when the lease is free, not
 *    one whole interval later.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import pino from "pino";
import { loadSection } from "../../../config/section.ts";
import { paymentsConfig } from "../../../actors/worker-partition/payments/config.ts";
import { runPayments } from "../../../actors/worker-partition/payments/payment-run.ts";
import { acquireLease, listWalEntries } from "../../../actors/worker-partition/payments/payment-store.ts";
import { leaseWaitMs } from "../../../actors/worker-partition/payments/payment-run-retry.ts";
import { startPaymentsService } from "../../../actors/worker-partition/payments/payments-service.ts";
import type { PaymentsService } from "../../../actors/worker-partition/payments/payments-service.ts";
import { DEV_ACCOUNTS } from "../../support/anvil.ts";
import { ETH, paymentFixture, randomAddress, settle } from "./support.ts";
import type { PaymentFixture } from "./support.ts";

const MINUTE = 60_000;

function service(fx: PaymentFixture, partitions: string[], env: Record<string, string>): Promise<PaymentsService> {
  const values = loadSection(paymentsConfig, { flags: {}, env: { GAS_LIMIT: "21000", ...env } }).values;
  return startPaymentsService({
    db: fx.db, log: pino({ level: "silent" }), clock: fx.clock, owner: "host-new", values,
    rpcUrl: fx.anvil.url, chainId: 31337, payerKey: DEV_ACCOUNTS[0].privateKey, partitions,
  });
}

/** Move the simulated clock `stepMs` at a time, giving real I/O (database, chain) time between steps, until `done`. */
async function advanceUntil(fx: PaymentFixture, done: () => Promise<boolean>, stepMs: number, maxSteps: number): Promise<void> {
  for (let i = 0; i < maxSteps; i++) {
    if (await done()) return;
    await fx.clock.advance(stepMs);
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.unreachable(`not done after ${maxSteps} steps of ${stepMs} ms`);
}

test("payments retry - waits until the holder's lease expires, at most the longest wait, at least 1 ms", () => {
  assert.is(leaseWaitMs(10_000, 4_000, 60_000), 6_000);
  assert.is(leaseWaitMs(10_000_000, 4_000, 60_000), 60_000, "a live holder may release early: look again within the longest wait");
  assert.is(leaseWaitMs(0, 4_000, 60_000), 1, "released");
  assert.is(leaseWaitMs(null, 4_000, 60_000), 1, "never taken");
});

const statusesOf = async (fx: PaymentFixture, partition: string) => (await listWalEntries(fx.db, partition)).map((w) => w.status);

/** A host that dies right after committing the first payment's WAL entry (nothing broadcast), keeping its lease. */
async function dieAfterWalCommit(fx: PaymentFixture, partition: string, owner: string): Promise<void> {
  const halted = await settle(runPayments(fx.deps(owner), partition, { trigger: "schedule", haltAt: (p) => p.phase === "recordingWal" && p.event.type === "WAL_COMMITTED" }), fx.clock);
  assert.is(halted.outcome, "halted");
  assert.equal(await statusesOf(fx, partition), ["signed"]);
}

test("payments service - open payments of dead hosts are reconciled at start, waiting out a lease that still holds, not the schedule", async () => {
  const fx = await paymentFixture();
  try {
    const [expired, held, idle] = [`${fx.partition}-expired`, `${fx.partition}-held`, `${fx.partition}-idle`];
    const [a, b, c] = [randomAddress(), randomAddress(), randomAddress()];
    for (const [partition, worker] of [[expired, a], [held, b], [idle, c]]) {
      await fx.db.query(`INSERT INTO worker_fee_ledger (partition_id, eth_address, earned_wei) VALUES ($1, $2, $3)`, [partition, worker, (2n * ETH / 100n).toString()]);
    }
    await dieAfterWalCommit(fx, expired, "dead-1");
    await fx.clock.advance(61_000); // dead-1's lease (60 s) has expired
    await dieAfterWalCommit(fx, held, "dead-2"); // dead-2's lease holds for another 60 s
    const startedAt = fx.clock.now();
    const svc = await service(fx, [expired, held, idle], { PAYMENT_SENSOR_INTERVAL_SECONDS: "14400" });
    try {
      await advanceUntil(fx, async () => (await statusesOf(fx, expired))[0] === "credited", 1000, 50);
      assert.ok(fx.clock.now() - startedAt < MINUTE, `reconciled at start, ${fx.clock.now() - startedAt} ms after`);
      assert.is(await fx.balance(a), 2n * ETH / 100n);
      assert.equal(await statusesOf(fx, held), ["signed"], "dead-2's lease still holds");
      await advanceUntil(fx, async () => (await statusesOf(fx, held))[0] === "credited", 1000, 120);
      const after = fx.clock.now() - startedAt;
      assert.ok(after >= MINUTE && after < 2 * MINUTE, `run when dead-2's lease expired (${after} ms), not at the 4 h tick`);
      assert.is(await fx.balance(b), 2n * ETH / 100n);
      assert.is(await fx.balance(c), 0n, "a partition with nothing open gets no run at start");
      assert.equal(await listWalEntries(fx.db, idle), []);
      assert.is(await fx.rpc.nonce(fx.payer.address, "latest"), 2, "one transfer per payment");
    } finally {
      await svc.stop();
    }
  } finally {
    await fx.close();
  }
});

test("payments service - a schedule tick that finds the partition busy is retried when the lease is free, not an interval later", async () => {
  const fx = await paymentFixture();
  try {
    const a = randomAddress();
    await fx.earn(a, 2n * ETH / 100n);
    // A host died holding the lease for 90 minutes, before it recorded anything (no open payment).
    assert.ok(await acquireLease(fx.db, fx.partition, "dead-host", "run-dead", fx.clock.now(), 90 * MINUTE));
    const startedAt = fx.clock.now();
    const svc = await service(fx, [fx.partition], { PAYMENT_SENSOR_INTERVAL_SECONDS: "3600" });
    try {
      // The first tick (60 min) finds the lease held; the next tick would be at 120 min.
      await advanceUntil(fx, async () => (await fx.balance(a)) > 0n, MINUTE, 150);
      const paidAfter = fx.clock.now() - startedAt;
      // Retries re-read the lease at least every minute; real I/O between simulated steps may add a few minutes.
      assert.ok(paidAfter >= 90 * MINUTE && paidAfter < 120 * MINUTE, `paid ${paidAfter / MINUTE} min after start: after the lease, before the next tick`);
      assert.is(await fx.balance(a), 2n * ETH / 100n);
      await advanceUntil(fx, async () => svc.lastRuns().get(fx.partition) === "done", 1000, 60);
      assert.equal(await statusesOf(fx, fx.partition), ["credited"]);
    } finally {
      await svc.stop();
    }
  } finally {
    await fx.close();
  }
});

test.run();
