/** The payment schedule: a durable timer per partition, each tick once across hosts, missed ticks run once. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import pino from "pino";
import { migrate } from "../../../db/migrate.ts";
import { SimulatedClock } from "../../../supervisors/clock.ts";
import { createTestDatabase } from "../../support/databases.ts";
import { PaymentScheduler, claimTick, nextDueAfter, nextDueAt, paymentWorkDue } from "../../../actors/worker-partition/payments/payment-schedule.ts";

const HOUR = 3_600_000;
const log = pino({ level: "silent" });

test("schedule - next due time collapses missed ticks into one", () => {
  assert.is(nextDueAfter(10 * HOUR, 4 * HOUR, 9 * HOUR), 10 * HOUR);
  assert.is(nextDueAfter(10 * HOUR, 4 * HOUR, 10 * HOUR), 14 * HOUR);
  assert.is(nextDueAfter(10 * HOUR, 4 * HOUR, 13 * HOUR), 14 * HOUR);
  assert.is(nextDueAfter(10 * HOUR, 4 * HOUR, 31 * HOUR), 34 * HOUR);
});

test("schedule - ticks are claimed once across hosts; work is due only above the threshold", async () => {
  const t = await createTestDatabase();
  try {
    await migrate(t.db);
    const p = "transcode|us-west";
    assert.not.ok(await claimTick(t.db, p, "host-1", 0, 4 * HOUR), "first tick one interval after first sight");
    assert.is(await nextDueAt(t.db, p), 4 * HOUR);
    const claims = await Promise.all(["host-1", "host-2", "host-3"].map((h) => claimTick(t.db, p, h, 4 * HOUR + 5, 4 * HOUR)));
    assert.equal(claims.filter(Boolean).length, 1);
    assert.is(await nextDueAt(t.db, p), 8 * HOUR);
    // Everyone down for three days: one tick on catch-up, then the regular rhythm.
    assert.ok(await claimTick(t.db, p, "host-2", 80 * HOUR, 4 * HOUR));
    assert.not.ok(await claimTick(t.db, p, "host-1", 80 * HOUR + 1, 4 * HOUR));
    assert.is(await nextDueAt(t.db, p), 84 * HOUR);

    assert.not.ok(await paymentWorkDue(t.db, p, "10000000000000000"));
    await t.db.query(`INSERT INTO worker_fee_ledger (partition_id, eth_address, earned_wei) VALUES ($1, '0x00000000000000000000000000000000000000ab', '9999999999999999')`, [p]);
    assert.not.ok(await paymentWorkDue(t.db, p, "10000000000000000"));
    await t.db.query(`UPDATE worker_fee_ledger SET earned_wei = '10000000000000000' WHERE partition_id = $1`, [p]);
    assert.ok(await paymentWorkDue(t.db, p, "10000000000000000"));
  } finally {
    await t.drop();
  }
});

test("schedule - the scheduler triggers each partition once per interval on a simulated clock", async () => {
  const t = await createTestDatabase();
  try {
    await migrate(t.db);
    const clock = new SimulatedClock(0);
    const runs: string[] = [];
    const POLL = 15 * 60_000;
    const live: PaymentScheduler[] = [];
    // Ticks do real database I/O: move time one poll at a time and let each tick finish.
    const advance = async (ms: number) => {
      for (let left = ms; left > 0; left -= POLL) {
        await clock.advance(Math.min(POLL, left));
        for (const s of live) await s.whenIdle();
        await clock.advance(0);
      }
    };
    const make = (owner: string) => new PaymentScheduler({
      db: t.db, clock, log, owner, intervalMs: 4 * HOUR, pollMs: POLL, partitions: ["ai|us-central", "transcode|oceania"],
      trigger: async (partition) => void runs.push(`${owner}:${partition}@${clock.now() / HOUR}h`),
    });
    const a = make("host-1");
    const b = make("host-2");
    live.push(a, b);
    a.start();
    b.start();
    await advance(4 * HOUR + POLL);
    assert.is(runs.length, 2, runs.join(","));
    assert.equal(runs.map((r) => r.split(":")[1].split("@")[0]).sort(), ["ai|us-central", "transcode|oceania"]);
    await advance(4 * HOUR);
    assert.is(runs.length, 4, runs.join(","));
    await a.stop();
    await b.stop();
    live.length = 0;
    // Nobody polls for a day; a restarted host runs each partition once, not six times.
    await advance(24 * HOUR);
    assert.is(runs.length, 4);
    const c = make("host-3");
    live.push(c);
    c.start();
    await advance(POLL);
    assert.is(runs.length, 6, runs.join(","));
    await advance(2 * HOUR);
    assert.is(runs.length, 6, "no burst of missed ticks");
    await c.stop();
  } finally {
    await t.drop();
  }
});

test.run();
