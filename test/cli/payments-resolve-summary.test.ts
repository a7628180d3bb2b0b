/**
 * Regression (seed 002 A2.8, after fb32a5f): `strata payments resolve <id> --as paid` credits the
 * paid ledger outside any payment run, and worker_summary kept the worker's old total_fees_paid /
 * pending_fees until the partition's next event file. Now the resolution rewrites it, as
 * `strata payments trigger` does after a run; a refresh that fails is a warning and the
 * resolution stands. Real PostgreSQL, the imported sample partition, no chain, no new event.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createTestDatabase } from "../support/databases.ts";
import type { Db } from "../../db/db.ts";
import { migrate } from "../../db/migrate.ts";
import { importCommand } from "../../cli/commands/import.ts";
import { paymentsCommand } from "../../cli/commands/payments.ts";
import type { CliIo } from "../../cli/commands/command.ts";
import type { PartitionSummary } from "../../actors/worker-partition/summary.ts";

const repoRoot = fileURLToPath(new URL("../../", import.meta.url));
const AI = "ai|us-central";

/** An ambiguous WAL entry (as test/admin/payments-routes.test.ts seedAmbiguous) paying `to` `amount` wei. */
async function seedAmbiguous(db: Db, paymentId: string, partition: string, to: string, amount: bigint): Promise<void> {
  await db.query(
    `INSERT INTO payment_wal (payment_id, run_id, partition_id, eth_address, amount_wei, from_address, chain_id, nonce,
       max_fee_per_gas, max_priority_fee_per_gas, gas_limit, raw_tx, tx_hash, status, note)
     VALUES ($1, 'pmt_20250301_bbbbbb', $2, $3, $4, '0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266',
       31337, 0, 2000000000, 1000000000, 100000, '0x02', $5, 'ambiguous', 'nonce used by another transaction')`,
    [paymentId, partition, to, amount.toString(), "0x" + "b".repeat(64)],
  );
}

function cliIo(env: Record<string, string>) {
  const out: string[] = [];
  const errors: string[] = [];
  const io: CliIo = { env, out: (l) => out.push(l), err: (l) => errors.push(l), stopSignal: new Promise(() => {}) };
  return { io, out, errors };
}

test("payments resolve - resolving an ambiguous payment as paid rewrites worker_summary with the paid amount", async () => {
  const database = await createTestDatabase();
  try {
    const env = { DATABASE_URL: database.url };
    const { io, out, errors } = cliIo(env);
    assert.is(await importCommand.run({ values: {}, positionals: ["worker-partition", path.join(repoRoot, "samples/worker-partition/us-central/ai")] }, io), 0);
    const stored = async (): Promise<PartitionSummary> =>
      (await database.db.query<{ summary: PartitionSummary }>("SELECT summary FROM worker_summary WHERE partition_id = $1", [AI])).rows[0].summary;
    const before = await stored();
    const worker = before.workers.find((w) => BigInt(w.worker_earnings) > 1n);
    assert.ok(worker, "imported: a worker with earnings");
    assert.is(worker.total_fees_paid, "0");
    const earnings = BigInt(worker.worker_earnings);
    const amount = earnings / 2n;
    await seedAmbiguous(database.db, "pay_x", AI, worker.eth_address, amount);

    out.length = 0;
    assert.is(await paymentsCommand.run({ values: { as: "paid", note: "found on the explorer" }, positionals: ["resolve", "pay_x"] }, io), 0);
    assert.equal(out, ["payment pay_x resolved: resolved_paid (paid by cli: found on the explorer)"], "answers as before");
    assert.equal(errors, []);

    const after = await stored();
    const row = after.workers.find((w) => w.eth_address === worker.eth_address)!;
    assert.equal([row.worker_earnings, row.total_fees_paid, row.pending_fees], [worker.worker_earnings, amount.toString(), (earnings - amount).toString()], "the resolved payment counts as paid");
    for (const w of after.workers.filter((x) => x.eth_address !== worker.eth_address)) {
      assert.equal(w, before.workers.find((x) => x.eth_address === w.eth_address), `${w.eth_address} unchanged`);
    }
    assert.is(after.aggregates.total_fees_paid, amount.toString());
    assert.is(after.aggregates.total_pending_fees, (BigInt(before.aggregates.total_pending_fees) - amount).toString());
    assert.is(after.aggregates.events_applied, before.aggregates.events_applied, "no new event");
  } finally {
    await database.drop();
  }
});

test("payments resolve - a refresh that fails is a warning: the resolution stands, exit 0", async () => {
  const database = await createTestDatabase();
  try {
    await migrate(database.db);
    // A WAL entry of a partition this build does not run: the partition actor refuses the id.
    await seedAmbiguous(database.db, "pay_y", "gpu|mars", "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed", 5000n);
    const { io, out, errors } = cliIo({ DATABASE_URL: database.url });
    assert.is(await paymentsCommand.run({ values: { as: "paid", note: "seen", json: true }, positionals: ["resolve", "pay_y"] }, io), 0);
    assert.is((JSON.parse(out[0]) as { status: string }).status, "resolved_paid");
    assert.is(errors.length, 1, JSON.stringify(errors));
    assert.match(errors[0], /^strata payments: the payment is resolved but worker_summary was not refreshed/);
    const ledger = await database.db.query<{ n: string }>("SELECT count(*)::text AS n FROM payment_ledger WHERE payment_id = 'pay_y'");
    assert.is(ledger.rows[0].n, "1", "the resolution credited the ledger");
  } finally {
    await database.drop();
  }
});

test.run();
