/**
 * Regression (review R1 of seed 002 A2.8): `strata payments trigger` paid the workers but left
 * worker_summary with the old total_fees_paid / pending_fees / payment_due (no host hears of the
 * command's runs) until the partition's next event file. Now a run that ended rewrites it.
 * Real PostgreSQL, a private anvil chain, the imported sample partition, no new event.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createTestDatabase } from "../support/databases.ts";
import { DEV_ACCOUNTS, startAnvil } from "../support/anvil.ts";
import { importCommand } from "../../cli/commands/import.ts";
import { paymentsCommand } from "../../cli/commands/payments.ts";
import type { CliIo } from "../../cli/commands/command.ts";
import type { PartitionSummary } from "../../actors/worker-partition/summary.ts";

const repoRoot = fileURLToPath(new URL("../../", import.meta.url));
const AI = "ai|us-central";

test("payments trigger - a run that pays rewrites the partition's worker_summary with the paid amounts", async () => {
  const database = await createTestDatabase();
  const anvil = await startAnvil();
  try {
    const env = { DATABASE_URL: database.url, ETH_RPC_ENDPOINT: anvil.url, ETH_PRIVATE_KEY: DEV_ACCOUNTS[0].privateKey, CHAIN_ID: String(anvil.chainId), PAYMENT_THRESHOLD_WEI: "1" };
    const errors: string[] = [];
    const io: CliIo = { env, out: () => {}, err: (l) => errors.push(l), stopSignal: new Promise(() => {}) };
    assert.is(await importCommand.run({ values: {}, positionals: ["worker-partition", path.join(repoRoot, "samples/worker-partition/us-central/ai")] }, io), 0);
    const stored = async (): Promise<PartitionSummary> =>
      (await database.db.query<{ summary: PartitionSummary }>("SELECT summary FROM worker_summary WHERE partition_id = $1", [AI])).rows[0].summary;
    const before = await stored();
    assert.ok(BigInt(before.aggregates.total_pending_fees) > 0n, "imported: fees pending");

    assert.is(await paymentsCommand.run({ values: {}, positionals: ["trigger", AI] }, io), 0);
    assert.equal(errors, []);
    const after = await stored();
    assert.equal(
      after.workers.map((w) => [w.eth_address, w.total_fees_paid, w.pending_fees, w.payment_due]),
      before.workers.map((w) => [w.eth_address, w.worker_earnings, "0", false]),
      "every worker paid its earnings, nothing pending",
    );
    assert.equal([after.aggregates.total_fees_paid, after.aggregates.total_pending_fees, after.aggregates.workers_eligible_for_payment], [before.aggregates.total_worker_earnings, "0", 0]);
    assert.is(after.aggregates.events_applied, before.aggregates.events_applied, "no new event");
  } finally {
    await anvil.stop();
    await database.drop();
  }
});

test.run();
