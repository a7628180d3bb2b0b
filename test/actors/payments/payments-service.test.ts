/** Payments wired for a host in embedded mode: a loud dev chain, the admin trigger, the schedule. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import pino from "pino";
import { migrate } from "../../../db/migrate.ts";
import { SimulatedClock } from "../../../supervisors/clock.ts";
import { loadSection } from "../../../config/section.ts";
import { paymentsConfig } from "../../../actors/worker-partition/payments/config.ts";
import { startPaymentsService } from "../../../actors/worker-partition/payments/payments-service.ts";
import { createRpcClient } from "../../../actors/worker-partition/payments/rpc-client.ts";
import { createTestDatabase } from "../../support/databases.ts";
import { freePort } from "../../support/anvil.ts";
import { randomAddress, settle } from "./support.ts";

test("payments service - embedded mode pays on a dev chain by admin trigger and by schedule", async () => {
  const t = await createTestDatabase();
  const lines: string[] = [];
  const log = pino({}, { write: (s: string) => void lines.push(s) });
  const clock = new SimulatedClock(1_700_000_000_000);
  try {
    await migrate(t.db);
    const values = loadSection(paymentsConfig, { flags: {}, env: { PAYMENT_SENSOR_INTERVAL_SECONDS: "3600", GAS_LIMIT: "21000" } }).values;
    const svc = await startPaymentsService({ db: t.db, log, clock, owner: "host-1", values, rpcUrl: undefined, devChainPort: await freePort(), partitions: ["ai|us-central", "transcode|oceania"] });
    try {
      assert.ok(svc.devChain);
      assert.ok(lines.some((l) => l.includes("DEV CHAIN")));
      const rpc = createRpcClient(svc.rpcUrl);
      const a = randomAddress();
      const b = randomAddress();
      await t.db.query(`INSERT INTO worker_fee_ledger (partition_id, eth_address, earned_wei) VALUES ('ai|us-central', $1, '20000000000000000'), ('transcode|oceania', $2, '30000000000000000')`, [a, b]);
      const report = await settle(svc.trigger("ai|us-central"), clock);
      assert.is(report.outcome, "done");
      assert.is(await rpc.balance(a), 2n * 10n ** 16n);
      assert.is(await rpc.balance(b), 0n, "only the triggered partition");
      // The schedule pays the other partition one interval after it first looks (ticks do real I/O:
      // move simulated time a poll at a time and give each tick real time to finish).
      for (let i = 0; i < 200 && (await rpc.balance(b)) === 0n; i++) {
        await clock.advance(60_000);
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.is(await rpc.balance(b), 3n * 10n ** 16n);
    } finally {
      await svc.stop();
    }
  } finally {
    await t.drop();
  }
});

test.run();
