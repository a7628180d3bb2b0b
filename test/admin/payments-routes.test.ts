/**
 * Admin payments routes (admin/payments-routes.ts) on the real admin server with ADMIN_TOKEN:
 * reads are open, the mutating routes (trigger, resolve) refuse without the bearer token and
 * work with it; a trigger pays the sample partition's workers on a real anvil dev chain (the
 * trigger of `strata payments`, configuredPaymentTrigger) and records WAL, ledger and audit.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import path from "node:path";
import { fileURLToPath } from "node:url";
import pino from "pino";
import { createTestDatabase } from "../support/databases.ts";
import { migrate } from "../../db/migrate.ts";
import type { Db } from "../../db/db.ts";
import { ActorSystem } from "../../supervisors/actor-system.ts";
import { systemClock } from "../../supervisors/clock.ts";
import { createMetrics } from "../../supervisors/observability/metrics.ts";
import { actorSystemAdminSource } from "../../admin/actor-system-source.ts";
import { startAdminServer } from "../../admin/server.ts";
import type { AdminServer } from "../../admin/server.ts";
import { paymentsRoutes } from "../../admin/payments-routes.ts";
import type { PartitionPayments, PaymentTrigger } from "../../admin/payments-routes.ts";
import { configuredPaymentTrigger } from "../../cli/commands/payments.ts";
import { importCommand } from "../../cli/commands/import.ts";
import { KIND_SECTIONS } from "../../cli/commands/kind-sections.ts";
import { loadConfig } from "../../config/load-config.ts";
import { mkdtemp, rm } from "node:fs/promises";
import os from "node:os";
import { startEmbeddedAnvil } from "../../supervisors/embedded/anvil.ts";

const repoRoot = fileURLToPath(new URL("../../", import.meta.url));
const TOKEN = "s3cret-admin-token";
const AI = "ai|us-central";
const log = pino({ level: "silent" });

async function serve(db: Db, trigger?: PaymentTrigger): Promise<{ admin: AdminServer; system: ActorSystem; close(): Promise<void> }> {
  const system = new ActorSystem({ db, log });
  await system.start();
  const source = actorSystemAdminSource({ system, clock: systemClock, metrics: createMetrics(), health: () => [] });
  const admin = await startAdminServer({ host: "127.0.0.1", port: 0, token: TOKEN, source, log, routes: paymentsRoutes({ db, trigger }) });
  return { admin, system, close: async () => (await admin.close(), await system.stop()) };
}

async function call(admin: AdminServer, method: string, route: string, opts: { token?: string; body?: unknown } = {}) {
  const res = await fetch(admin.url + route, {
    method,
    headers: { ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}), ...(opts.body ? { "content-type": "application/json" } : {}) },
    body: opts.body ? JSON.stringify(opts.body) : undefined,
  });
  return { status: res.status, json: (await res.json()) as Record<string, unknown> };
}

async function seedAmbiguous(db: Db): Promise<void> {
  await db.query(
    `INSERT INTO payment_wal (payment_id, run_id, partition_id, eth_address, amount_wei, from_address, chain_id, nonce,
       max_fee_per_gas, max_priority_fee_per_gas, gas_limit, raw_tx, tx_hash, status, note)
     VALUES ('pay_x', 'pmt_20250301_bbbbbb', $1, '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed', 5000, '0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266',
       31337, 0, 2000000000, 1000000000, 100000, '0x02', $2, 'ambiguous', 'nonce used by another transaction')`,
    [AI, "0x" + "b".repeat(64)],
  );
}

const enc = encodeURIComponent;

test("payments routes - reads are open; trigger and resolve refuse without the token and work with it", async () => {
  const fx = await createTestDatabase();
  let s: Awaited<ReturnType<typeof serve>> | null = null;
  try {
    await migrate(fx.db);
    await seedAmbiguous(fx.db);
    s = await serve(fx.db);
    const list = await call(s.admin, "GET", `/payments?partition=${enc(AI)}`);
    assert.is(list.status, 200);
    const [p] = list.json.partitions as PartitionPayments[];
    assert.equal([p.partition, p.entries.map((e) => e.status), p.needsResolution], [AI, ["ambiguous"], ["pay_x"]]);
    assert.is(((await call(s.admin, "GET", "/payments")).json.partitions as unknown[]).length, 5);
    assert.is((await call(s.admin, "GET", "/payments?partition=gpu%7Cmars")).status, 400);

    const noToken = await call(s.admin, "POST", "/payments/pay_x/resolve", { body: { as: "unpaid", note: "never mined" } });
    assert.is(noToken.status, 401);
    assert.is((await call(s.admin, "POST", `/payments/${enc(AI)}/trigger`)).status, 401);
    assert.is((await call(s.admin, "POST", "/payments/pay_x/resolve", { token: "wrong", body: { as: "unpaid", note: "x" } })).status, 401);
    assert.equal((await call(s.admin, "GET", `/payments?partition=${enc(AI)}`)).json.partitions, list.json.partitions, "nothing changed");

    assert.is((await call(s.admin, "POST", "/payments/pay_x/resolve", { token: TOKEN, body: { as: "maybe", note: "x" } })).status, 400);
    const ok = await call(s.admin, "POST", "/payments/pay_x/resolve", { token: TOKEN, body: { as: "unpaid", note: "never mined", by: "bob" } });
    assert.is(ok.status, 200, JSON.stringify(ok.json));
    assert.equal([(ok.json.payment as { status: string }).status, (ok.json.payment as { note: string }).note], ["resolved_unpaid", "unpaid by admin:bob: never mined"]);
    assert.is((await call(s.admin, "POST", "/payments/pay_x/resolve", { token: TOKEN, body: { as: "paid", note: "again" } })).status, 409);
    assert.is((await call(s.admin, "POST", "/payments/nope/resolve", { token: TOKEN, body: { as: "paid", note: "x" } })).status, 404);

    const audit = await call(s.admin, "GET", `/payments/audit?partition=${enc(AI)}`);
    const trail = (audit.json.partitions as { audit: { event: string; toStatus: string }[] }[])[0].audit;
    assert.equal(trail.map((a) => [a.event, a.toStatus]), [["resolved", "resolved_unpaid"]]);

    const noPayer = await call(s.admin, "POST", `/payments/${enc(AI)}/trigger`, { token: TOKEN });
    assert.is(noPayer.status, 503);
    assert.match(String(noPayer.json.error), /payments do not run on this host/);
  } finally {
    await s?.close();
    await fx.drop();
  }
});

test("payments routes - a trigger with the token pays the imported sample partition on anvil", async () => {
  const fx = await createTestDatabase();
  const anvilDir = await mkdtemp(path.join(os.tmpdir(), "strata-anvil-"));
  const chain = await startEmbeddedAnvil({ directory: anvilDir, log });
  let s: Awaited<ReturnType<typeof serve>> | null = null;
  try {
    const env = { DATABASE_URL: fx.url, ETH_RPC_ENDPOINT: chain.url, ETH_PRIVATE_KEY: chain.devPayerKey, CHAIN_ID: String(chain.chainId), PAYMENT_THRESHOLD_WEI: "1" };
    const io = { env, out: () => {}, err: () => {}, stopSignal: new Promise<string>(() => {}) };
    assert.is(await importCommand.run({ values: {}, positionals: ["worker-partition", path.join(repoRoot, "samples/worker-partition/us-central/ai")] }, io), 0);
    const config = loadConfig(env, { sections: KIND_SECTIONS });
    s = await serve(fx.db, await configuredPaymentTrigger(config, fx.db, "admin-test"));
    assert.is((await call(s.admin, "POST", `/payments/${enc(AI)}/trigger`)).status, 401);
    const run = await call(s.admin, "POST", `/payments/${enc(AI)}/trigger`, { token: TOKEN });
    assert.is(run.status, 200, JSON.stringify(run.json));
    assert.is(run.json.outcome, "done", JSON.stringify(run.json));
    const earned = await fx.db.query<{ a: string; wei: string }>("SELECT lower(eth_address) AS a, earned_wei::text AS wei FROM worker_fee_ledger WHERE partition_id = $1 ORDER BY 1", [AI]);
    assert.is(earned.rows.length, 4);
    const [p] = (await call(s.admin, "GET", `/payments?partition=${enc(AI)}`)).json.partitions as PartitionPayments[];
    assert.equal(p.paidTotals, Object.fromEntries(earned.rows.map((r) => [r.a, r.wei])));
    assert.equal(p.entries.map((e) => e.status), ["credited", "credited", "credited", "credited"]);
  } finally {
    await s?.close();
    await chain.stop();
    await rm(anvilDir, { recursive: true, force: true });
    await fx.drop();
  }
});

// A refused run (the node on another chain) and a stopped one (gas above the cap) answered 200,
// as if they had paid: `curl -f` or a cron job took them for success.
test("payments routes - a trigger that is refused answers 409, one that stops before paying 503, each with its report", async () => {
  const fx = await createTestDatabase();
  const anvilDir = await mkdtemp(path.join(os.tmpdir(), "strata-anvil-"));
  const chain = await startEmbeddedAnvil({ directory: anvilDir, log });
  const servers: Awaited<ReturnType<typeof serve>>[] = [];
  try {
    await migrate(fx.db);
    await fx.db.query(`INSERT INTO worker_fee_ledger (partition_id, eth_address, earned_wei) VALUES ($1, '0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed', '50000000000000000')`, [AI]);
    const base = { DATABASE_URL: fx.url, ETH_RPC_ENDPOINT: chain.url, ETH_PRIVATE_KEY: chain.devPayerKey, PAYMENT_THRESHOLD_WEI: "1" };
    const otherChain = loadConfig({ ...base, CHAIN_ID: String(chain.chainId + 1) }, { sections: KIND_SECTIONS });
    const s1 = await serve(fx.db, await configuredPaymentTrigger(otherChain, fx.db, "admin-test-refused"));
    servers.push(s1);
    const refused = await call(s1.admin, "POST", `/payments/${enc(AI)}/trigger`, { token: TOKEN });
    assert.is(refused.status, 409, JSON.stringify(refused.json));
    assert.is(refused.json.outcome, "refused");
    assert.match(String(refused.json.stopReason), /chain id mismatch/);
    const gasCapped = loadConfig({ ...base, CHAIN_ID: String(chain.chainId), MAX_GAS_PRICE_WEI: "1" }, { sections: KIND_SECTIONS });
    const s2 = await serve(fx.db, await configuredPaymentTrigger(gasCapped, fx.db, "admin-test-stopped"));
    servers.push(s2);
    const stopped = await call(s2.admin, "POST", `/payments/${enc(AI)}/trigger`, { token: TOKEN });
    assert.is(stopped.status, 503, JSON.stringify(stopped.json));
    assert.is(stopped.json.outcome, "stopped");
    assert.match(String(stopped.json.stopReason), /above MAX_GAS_PRICE_WEI 1; nothing sent/);
    const paid = await fx.db.query<{ n: string }>("SELECT count(*)::text AS n FROM payment_ledger");
    assert.is(paid.rows[0].n, "0");
  } finally {
    for (const s of servers) await s.close();
    await chain.stop();
    await rm(anvilDir, { recursive: true, force: true });
    await fx.drop();
  }
});

test.run();
