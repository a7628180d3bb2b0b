/**
 * `strata payments` on a database with WAL rows: list (the real command as a child process, and
 * audit in process), resolve an ambiguous payment as paid (ledger credited, audit written),
 * refuse to resolve a payment that is not ambiguous, and refuse `trigger` without
 * ETH_RPC_ENDPOINT (no dev chain started, no run recorded); a `trigger` whose run is refused
 * (the node of another chain than CHAIN_ID) exits 1 naming the reason.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { fileURLToPath } from "node:url";
import { existsSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { createTestDatabase } from "../support/databases.ts";
import { migrate } from "../../db/migrate.ts";
import type { Queryable } from "../../db/db.ts";
import { paymentsCommand } from "../../cli/commands/payments.ts";
import type { CliIo } from "../../cli/commands/command.ts";
import type { PartitionPayments } from "../../admin/payments-routes.ts";
import { runStrata } from "../support/run-strata.ts";
import { DEV_ACCOUNTS, startAnvil } from "../support/anvil.ts";

const repoRoot = fileURLToPath(new URL("../../", import.meta.url));
const AI = "ai|us-central";
const W1 = "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed";
const W2 = "0xD1220A0cf47c7B9Be7A2E6BA89F429762e7b9aDb";
const PAYER = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";

async function run(positionals: string[], values: Record<string, string | boolean>, env: Record<string, string>) {
  const out: string[] = [];
  const io: CliIo = { env, out: (l) => out.push(l), err: () => {}, stopSignal: new Promise(() => {}) };
  const code = await paymentsCommand.run({ values, positionals }, io);
  return { code, out };
}

/** Two WAL entries of one run: pay_a credited (with its ledger row), pay_b ambiguous. */
async function seedWal(q: Queryable): Promise<void> {
  const wal = (id: string, to: string, amount: string, nonce: number, status: string) =>
    q.query(
      `INSERT INTO payment_wal (payment_id, run_id, partition_id, eth_address, amount_wei, from_address, chain_id, nonce,
         max_fee_per_gas, max_priority_fee_per_gas, gas_limit, raw_tx, tx_hash, status, note)
       VALUES ($1, 'pmt_20250301_aaaaaa', $2, $3, $4, $5, 31337, $6, 2000000000, 1000000000, 100000, '0x02', $7, $8, $9)`,
      [id, AI, to, amount, PAYER, nonce, "0x" + id.slice(-1).repeat(64), status, status === "ambiguous" ? "nonce used by another transaction" : null],
    );
  await wal("pay_a", W1, "12000000000000000", 0, "credited");
  await q.query(`INSERT INTO payment_ledger (payment_id, partition_id, eth_address, amount_wei, tx_hash, block_number) VALUES ('pay_a', $1, $2, 12000000000000000, $3, 7)`, [AI, W1, "0x" + "a".repeat(64)]);
  await wal("pay_b", W2, "30000000000000000", 1, "ambiguous");
  await q.query(`INSERT INTO payment_audit (partition_id, run_id, payment_id, event, from_status, to_status) VALUES ($1, 'pmt_20250301_aaaaaa', 'pay_b', 'ambiguous', 'broadcast', 'ambiguous')`, [AI]);
}

test("payments - list, audit and resolve on a database with WAL rows; trigger refused without an RPC", async () => {
  const fx = await createTestDatabase();
  const env = { DATABASE_URL: fx.url };
  try {
    await migrate(fx.db);
    await seedWal(fx.db);

    const listed = await runStrata(["payments", "list", "--partition", AI, "--json"], env);
    assert.is(listed.code, 0, listed.stderr);
    const [view] = (JSON.parse(listed.stdout) as { partitions: PartitionPayments[] }).partitions;
    assert.is(view.partition, AI);
    assert.equal(view.entries.map((e) => [e.paymentId, e.status, e.amountWei]), [["pay_a", "credited", "12000000000000000"], ["pay_b", "ambiguous", "30000000000000000"]]);
    assert.equal(view.needsResolution, ["pay_b"]);
    assert.equal(view.paidTotals, { [W1.toLowerCase()]: "12000000000000000" });

    const text = await run(["list"], { partition: AI }, env);
    assert.match(text.out[0], /^ai\|us-central: 2 payment\(s\), NEEDS A PERSON: pay_b$/);

    const resolved = await run(["resolve", "pay_b"], { as: "paid", note: "found on the explorer", by: "alice" }, env);
    assert.is(resolved.code, 0);
    assert.is(resolved.out[0], "payment pay_b resolved: resolved_paid (paid by cli:alice: found on the explorer)");
    const after = await run(["list"], { partition: AI, json: true }, env);
    const [v2] = (JSON.parse(after.out[0]) as { partitions: PartitionPayments[] }).partitions;
    assert.equal(v2.needsResolution, []);
    assert.equal(v2.paidTotals, { [W1.toLowerCase()]: "12000000000000000", [W2.toLowerCase()]: "30000000000000000" });
    const audit = await run(["audit"], { partition: AI, json: true }, env);
    const events = (JSON.parse(audit.out[0]) as { partitions: { audit: { paymentId: string; event: string; toStatus: string }[] }[] }).partitions[0].audit;
    assert.equal(events.map((e) => [e.paymentId, e.event, e.toStatus]), [["pay_b", "ambiguous", "ambiguous"], ["pay_b", "resolved", "resolved_paid"]]);

    let notAmbiguous: unknown;
    try {
      await run(["resolve", "pay_a"], { as: "unpaid", note: "oops" }, env);
    } catch (err) {
      notAmbiguous = err;
    }
    assert.match((notAmbiguous as Error).message, /payment pay_a is credited; only ambiguous or reverted payments are resolved by a person/);

    const trigger = await runStrata(["payments", "trigger", AI], env);
    assert.is(trigger.code, 1);
    assert.match(trigger.stderr.trim(), /^strata payments: no ETH_RPC_ENDPOINT configured: refusing to pay/);
    const runs = await fx.db.query<{ n: string }>("SELECT count(*)::text AS n FROM payment_runs");
    assert.is(runs.rows[0].n, "0");
  } finally {
    await fx.drop();
  }
});

// Review item 2: a refused run exited 0, as if it had paid.
test("payments - trigger against a node of another chain is refused: exit 1, the reason on stderr, nothing paid", async () => {
  const fx = await createTestDatabase();
  const anvil = await startAnvil();
  try {
    await migrate(fx.db);
    await fx.db.query(`INSERT INTO worker_fee_ledger (partition_id, eth_address, earned_wei) VALUES ($1, $2, '50000000000000000')`, [AI, W1]);
    const env = { DATABASE_URL: fx.url, ETH_RPC_ENDPOINT: anvil.url, ETH_PRIVATE_KEY: DEV_ACCOUNTS[0].privateKey, CHAIN_ID: "42161" };
    const r = await runStrata(["payments", "trigger", AI], env);
    assert.is(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /^payments ai\|us-central: run pmt_\d{8}_[0-9a-f]{6} refused: chain id mismatch: node reports 31337, CHAIN_ID is 42161/);
    assert.match(r.stderr.trim(), /^strata payments: payment run refused: chain id mismatch: node reports 31337, CHAIN_ID is 42161; nothing reconciled or sent/);
    const wal = await fx.db.query<{ n: string }>("SELECT count(*)::text AS n FROM payment_wal");
    assert.is(wal.rows[0].n, "0");
    const audit = await fx.db.query<{ event: string }>("SELECT event FROM payment_audit");
    assert.equal(audit.rows.map((a) => a.event), ["run_refused"]);
  } finally {
    await anvil.stop();
    await fx.drop();
  }
});

// A stopped run (here: gas above MAX_GAS_PRICE_WEI, nothing sent) exited 0, as if it had paid.
test("payments - trigger whose run stops before paying (gas above the cap): exit 1, the reason on stderr, nothing sent", async () => {
  const fx = await createTestDatabase();
  const anvil = await startAnvil();
  try {
    await migrate(fx.db);
    await fx.db.query(`INSERT INTO worker_fee_ledger (partition_id, eth_address, earned_wei) VALUES ($1, $2, '50000000000000000')`, [AI, W1]);
    const env = {
      DATABASE_URL: fx.url, ETH_RPC_ENDPOINT: anvil.url, ETH_PRIVATE_KEY: DEV_ACCOUNTS[0].privateKey, CHAIN_ID: "31337",
      PAYMENT_THRESHOLD_WEI: "1", MAX_GAS_PRICE_WEI: "1",
    };
    const r = await runStrata(["payments", "trigger", AI], env);
    assert.is(r.code, 1, r.stdout + r.stderr);
    assert.match(r.stdout, /^payments ai\|us-central: run pmt_\d{8}_[0-9a-f]{6} stopped: /);
    assert.match(r.stderr.trim(), /^strata payments: payment run stopped: .*above MAX_GAS_PRICE_WEI 1; nothing sent/);
    const sent = await fx.db.query<{ n: string }>("SELECT count(*)::text AS n FROM payment_wal WHERE tx_hash IS NOT NULL AND status <> 'prepared'");
    assert.is(sent.rows[0].n, "0");
    const audit = await fx.db.query<{ event: string }>("SELECT event FROM payment_audit WHERE event LIKE 'run_%'");
    assert.ok(audit.rows.some((a) => a.event === "run_stopped"), JSON.stringify(audit.rows));
  } finally {
    await anvil.stop();
    await fx.drop();
  }
});

test("payments - bad arguments are usage errors naming the problem", async () => {
  const cases: [string[], Record<string, string>, RegExp][] = [
    [["resolve", "pay_b"], { as: "maybe", note: "x" }, /--as paid or --as unpaid/],
    [["resolve", "pay_b"], { as: "paid" }, /--note/],
    [["trigger", "gpu|mars"], {}, /partition "gpu\|mars" is not active/],
    [["explode"], {}, /unknown action "explode"/],
  ];
  for (const [positionals, values, message] of cases) {
    let error: unknown;
    try {
      await run(positionals, values, {});
    } catch (err) {
      error = err;
    }
    assert.is((error as Error).name, "UsageError");
    assert.match((error as Error).message, message);
  }
});

test("payments and replay - without DATABASE_URL and without an embedded database, they say so and create nothing", async () => {
  const dir = await mkdtemp(path.join(os.tmpdir(), "strata-no-db-"));
  const dataDir = path.join(dir, "data");
  try {
    for (const argv of [["payments", "list"], ["replay", "--kind", "worker-partition", "--dry-run"]]) {
      const r = await runStrata(argv, { STRATA_DATA_DIR: dataDir });
      assert.is(r.code, 1, `${argv.join(" ")}: ${r.stdout}${r.stderr}`);
      assert.match(r.stderr, /no database: DATABASE_URL is not set and there is no embedded database at/);
      assert.not.ok(existsSync(dataDir), `${argv.join(" ")} created ${dataDir}`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test.run();
