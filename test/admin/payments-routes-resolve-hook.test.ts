/**
 * `paymentsRoutes({ db, onResolved, log })`: after a resolution the route awaits `onResolved(entry)`
 * before answering (the host refreshes the partition's worker_summary there); a hook that fails is
 * a warning in the log, and the resolution stands and answers as before. A refused resolution
 * (409, 404, 400) calls no hook. Real PostgreSQL, the real admin server.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import pino from "pino";
import { createTestDatabase } from "../support/databases.ts";
import { migrate } from "../../db/migrate.ts";
import { ActorSystem } from "../../supervisors/actor-system.ts";
import { systemClock } from "../../supervisors/clock.ts";
import { createMetrics } from "../../supervisors/observability/metrics.ts";
import { actorSystemAdminSource } from "../../admin/actor-system-source.ts";
import { startAdminServer } from "../../admin/server.ts";
import { paymentsRoutes } from "../../admin/payments-routes.ts";
import type { PaymentsRoutesOptions } from "../../admin/payments-routes.ts";
import type { WalEntry } from "../../actors/worker-partition/payments/payment-store.ts";
import type { Db } from "../../db/db.ts";

const TOKEN = "resolve-hook-token";
const AI = "ai|us-central";

async function seedAmbiguous(db: Db, paymentId: string, nonce: number): Promise<void> {
  await db.query(
    `INSERT INTO payment_wal (payment_id, run_id, partition_id, eth_address, amount_wei, from_address, chain_id, nonce,
       max_fee_per_gas, max_priority_fee_per_gas, gas_limit, raw_tx, tx_hash, status, note)
     VALUES ($1, 'pmt_20250301_bbbbbb', $2, '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed', 5000, '0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266',
       31337, $3, 2000000000, 1000000000, 100000, '0x02', $4, 'ambiguous', 'nonce used by another transaction')`,
    [paymentId, AI, nonce, "0x" + String(nonce).repeat(64)],
  );
}

test("payments routes - resolve awaits onResolved with the entry; a failing hook is a warning and the answer is unchanged", async () => {
  const fx = await createTestDatabase();
  const lines: { level: number; msg: string; paymentId?: string; err?: string }[] = [];
  const log = pino({ level: "info" }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  const system = new ActorSystem({ db: fx.db, log: pino({ level: "silent" }) });
  const seen: WalEntry[] = [];
  let fail = false;
  const onResolved: PaymentsRoutesOptions["onResolved"] = async (entry) => {
    await new Promise((r) => setTimeout(r, 50)); // awaited: the answer comes after it
    seen.push(entry);
    if (fail) throw new Error("refresh-summary timed out");
  };
  let admin: Awaited<ReturnType<typeof startAdminServer>> | null = null;
  try {
    await migrate(fx.db);
    await seedAmbiguous(fx.db, "pay_1", 1);
    await seedAmbiguous(fx.db, "pay_2", 2);
    await system.start();
    const source = actorSystemAdminSource({ system, clock: systemClock, metrics: createMetrics(), health: () => [] });
    admin = await startAdminServer({ host: "127.0.0.1", port: 0, token: TOKEN, source, log: pino({ level: "silent" }), routes: paymentsRoutes({ db: fx.db, onResolved, log }) });
    const resolve = async (id: string, body: unknown) => {
      const res = await fetch(`${admin!.url}/payments/${id}/resolve`, {
        method: "POST",
        headers: { authorization: `Bearer ${TOKEN}`, "content-type": "application/json" },
        body: JSON.stringify(body),
      });
      return { status: res.status, json: (await res.json()) as { ok?: boolean; payment?: WalEntry; error?: string } };
    };

    const paid = await resolve("pay_1", { as: "paid", note: "on the explorer" });
    assert.is(paid.status, 200, JSON.stringify(paid.json));
    assert.equal(seen.map((e) => [e.paymentId, e.partitionId, e.status]), [["pay_1", AI, "resolved_paid"]], "the hook ran, with the entry after, before the answer");
    assert.equal(paid.json.payment, seen[0]);

    fail = true;
    const unpaid = await resolve("pay_2", { as: "unpaid", note: "never mined", by: "bob" });
    assert.is(unpaid.status, 200, JSON.stringify(unpaid.json));
    assert.equal([unpaid.json.ok, unpaid.json.payment?.status, unpaid.json.payment?.note], [true, "resolved_unpaid", "unpaid by admin:bob: never mined"]);
    const warned = lines.filter((l) => l.level === 40);
    assert.is(warned.length, 1, JSON.stringify(lines));
    assert.equal([warned[0].paymentId, warned[0].err], ["pay_2", "refresh-summary timed out"]);
    assert.match(warned[0].msg, /resolved but refreshing the partition's summary failed/);
    const status = await fx.db.query<{ status: string }>("SELECT status FROM payment_wal WHERE payment_id = 'pay_2'");
    assert.is(status.rows[0].status, "resolved_unpaid", "the resolution stands");

    // Refused resolutions change nothing and call no hook.
    assert.is((await resolve("pay_1", { as: "unpaid", note: "again" })).status, 409);
    assert.is((await resolve("nope", { as: "paid", note: "x" })).status, 404);
    assert.is((await resolve("pay_2", { as: "maybe", note: "x" })).status, 400);
    assert.is(seen.length, 2);
  } finally {
    await admin?.close();
    await system.stop();
    await fx.drop();
  }
});

test.run();
