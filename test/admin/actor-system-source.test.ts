/**
 * admin over the real actor system (PostgreSQL, in-process, SimulatedClock): /actors, inspect,
 * restart, stop, and /ready turning 503 when a kind has work waiting and stops advancing.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { ActorSystem } from "../../supervisors/actor-system.ts";
import { SimulatedClock } from "../../supervisors/clock.ts";
import { createLogger } from "../../supervisors/observability/logger.ts";
import { createMetrics } from "../../supervisors/observability/metrics.ts";
import { actorSystemAdminSource, startAdminServer } from "../../admin/mod.ts";
import type { AdminServer } from "../../admin/mod.ts";
import type { ActorKind } from "../../supervisors/actor-kind.ts";
import { createTestDatabase } from "../support/databases.ts";
import { uniqueName } from "../support/env.ts";

interface Counter {
  total: string; // a bigint as a decimal string, as amounts are kept
  n: number;
}

function counterKind(table: string, gate: { wait: Promise<void> | null }): ActorKind<Counter> {
  return {
    kind: "counter",
    initial: () => ({ total: "0", n: 0 }),
    async load(db, ids) {
      const res = await db.query<{ id: string; total: string; n: number }>(`SELECT id, total::text AS total, n FROM ${table} WHERE id = ANY($1)`, [ids]);
      return new Map(res.rows.map((r) => [r.id, { total: r.total, n: r.n }]));
    },
    async save(tx, entries) {
      for (const { entityId, state } of entries) {
        await tx.query(`INSERT INTO ${table} (id, total, n) VALUES ($1, $2, $3) ON CONFLICT (id) DO UPDATE SET total = EXCLUDED.total, n = EXCLUDED.n`, [entityId, state.total, state.n]);
      }
    },
    async handle(state, msg) {
      if (gate.wait) await gate.wait;
      const add = BigInt((msg.body as { wei: string }).wei);
      const next = { total: (BigInt(state.total) + add).toString(), n: state.n + 1 };
      return { state: next, reply: next.total };
    },
  };
}

async function json(server: AdminServer, path: string, method = "GET") {
  // As a script or curl calls a tokenless (loopback) server: mutating requests declare JSON.
  const res = await fetch(server.url + path, { method, headers: method === "GET" ? {} : { "content-type": "application/json" } });
  return { status: res.status, body: (await res.json()) as any };
}

test("admin over the actor system - actors, state, stop, restart and readiness from progress", async () => {
  const fresh = await createTestDatabase();
  const table = uniqueName("admin_counter");
  await fresh.db.query(`CREATE TABLE ${table} (id text PRIMARY KEY, total numeric(78,0) NOT NULL, n integer NOT NULL)`);
  const clock = new SimulatedClock(Date.UTC(2026, 0, 1));
  const log = createLogger({ level: "silent" });
  const gate: { wait: Promise<void> | null } = { wait: null };
  const system = new ActorSystem({ db: fresh.db, clock, log });
  system.register(counterKind(table, gate));
  await system.start();
  const metrics = createMetrics({ defaultMetrics: false });
  metrics.counter("admin_test_total", "x").inc(2);
  const source = actorSystemAdminSource({ system, clock, metrics, health: () => [{ name: "postgres", ok: true }], expectedProgressMs: 60_000 });
  const server = await startAdminServer({ host: "127.0.0.1", port: 0, source, log });
  try {
    for (let i = 0; i < 5; i++) system.tell("counter", "transcode|eu-central", "add", { wei: "1000000000000000000" });
    assert.is(await system.ask("counter", "ai|us-west", "add", { wei: "7" }, { timeoutMs: 10_000 }), "7");
    await system.whenIdle();

    const actors = await json(server, "/actors");
    assert.is(actors.status, 200);
    assert.equal(actors.body.kinds, [{ kind: "counter", active: 2, mailboxDepth: 0, restarts: 0, failed: 0, deadLetters: 0, lastError: null }]);

    const one = await json(server, `/actors/counter/${encodeURIComponent("transcode|eu-central")}`);
    assert.is(one.status, 200);
    assert.equal(one.body, { kind: "counter", id: "transcode|eu-central", partition: 10, status: "active", mailboxDepth: 0, restarts: 0, lastError: null, state: { total: "5000000000000000000", n: 5 } });
    assert.is((await json(server, "/actors/no-such-kind/x")).status, 404);

    const stop = await json(server, `/actors/counter/${encodeURIComponent("transcode|eu-central")}/stop`, "POST");
    assert.is(stop.status, 200);
    const after = await json(server, `/actors/counter/${encodeURIComponent("transcode|eu-central")}`);
    assert.is(after.body.status, "passive");
    assert.equal(after.body.state, { total: "5000000000000000000", n: 5 });
    assert.is((await json(server, "/actors")).body.kinds[0].active, 1);

    assert.is((await json(server, `/actors/counter/${encodeURIComponent("ai|us-west")}/restart`, "POST")).status, 200);
    assert.is((await json(server, "/actors/counter/never-seen/restart", "POST")).status, 404);
    assert.is((await json(server, "/actors/no-such-kind/x/stop", "POST")).status, 404);

    assert.match(await (await fetch(server.url + "/metrics")).text(), "strata_admin_test_total 2");

    // Ready: idle. Then hold the handler: work waits, nothing is processed, time passes → 503.
    assert.is((await json(server, "/ready")).status, 200);
    let release!: () => void;
    gate.wait = new Promise<void>((resolve) => (release = resolve));
    for (let i = 0; i < 3; i++) system.tell("counter", "held", "add", { wei: "1" });
    await clock.advance(1);
    const early = await json(server, "/ready");
    assert.is(early.status, 200, JSON.stringify(early.body));
    await clock.advance(61_000);
    const stuck = await json(server, "/ready");
    assert.is(stuck.status, 503);
    assert.is(stuck.body.checks[0].name, "kind:counter");
    assert.match(stuck.body.checks[0].detail, /waiting, no progress for 6\d{4} ms \(expected within 60000 ms\)/);
    gate.wait = null;
    release();
    await system.whenIdle();
    assert.is((await json(server, "/ready")).status, 200);
    const held = await json(server, "/actors/counter/held");
    assert.equal(held.body.state, { total: "3", n: 3 });
  } finally {
    await server.close();
    await system.stop();
    await fresh.drop();
  }
});

test.run();
