// startVaultTerm, the host's entry point for the kind: embedded mode imports the bundled sample
// through the actors (PGlite); services mode reads a real Redis stream into real PostgreSQL, with
// the seed's metric names exposed; the sweep re-tells queued terms to the analytics actors.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { readFile } from "node:fs/promises";
import { Redis } from "ioredis";
import client from "prom-client";
import { testEnv, uniqueName } from "../../support/env.ts";
import { createPgliteTestDatabase, createTestDatabase } from "../../support/databases.ts";
import { migrate } from "../../../db/migrate.ts";
import { DeadLetterStore } from "../../../db/dead-letter-store.ts";
import { ActorSystem } from "../../../supervisors/actor-system.ts";
import { SimulatedClock } from "../../../supervisors/clock.ts";
import { loadSection } from "../../../config/mod.ts";
import { vaultTermConfig } from "../../../actors/vault-term/config.ts";
import { BUNDLED_SAMPLE, startVaultTerm } from "../../../actors/vault-term/mod.ts";
import { count } from "./fixture.ts";

const SAMPLE_LINES = (await readFile(BUNDLED_SAMPLE, "utf8")).split("\n").filter((l) => l.trim() !== "");

test("embedded - the bundled sample is imported through the actors at start", async () => {
  const fx = await createPgliteTestDatabase();
  const clock = new SimulatedClock(Date.now());
  const system = new ActorSystem({ db: fx.db, clock });
  try {
    await migrate(fx.db);
    const config = loadSection(vaultTermConfig, { flags: {}, env: {} }).values;
    const deadLetters = new DeadLetterStore(fx.db);
    await system.start();
    const vt = await startVaultTerm({ db: fx.db, deadLetters, system, config, clock });
    assert.ok(vt.imported);
    assert.is(vt.imported!.lines, SAMPLE_LINES.length);
    assert.is(vt.imported!.fresh, SAMPLE_LINES.length);
    assert.is(vt.imported!.deadLettered, 0);
    // The sample went to the term actors (the Redis reader's path), which wrote the term rows.
    assert.ok(system.stats("vault-term").processed >= vt.imported!.terms, "every term's events went to its actor");
    assert.is(await count(fx.db, "vault_term_applied"), vt.imported!.terms);
    assert.is(await count(fx.db, "term_update_queue"), 0);
    assert.is(await count(fx.db, "triple_term"), 15);
    assert.is(await count(fx.db, "term"), 60);
    // A term queued without a notification is picked up by the sweep on the clock.
    await fx.db.query("INSERT INTO term_update_queue (term_id) SELECT term_id FROM triple LIMIT 3");
    await clock.advance(30_000);
    await system.whenIdle();
    assert.is(await count(fx.db, "term_update_queue"), 0);
    assert.equal((await vt.readiness()).map((c) => [c.name, c.ready]), [["kind:vault-term-analytics", true]]);
    await vt.stop();
  } finally {
    await system.stop();
    await fx.drop();
  }
});

test("services - a Redis stream into PostgreSQL with the seed's metrics", async () => {
  const fx = await createTestDatabase();
  const redis = new Redis(testEnv.redisUrl);
  const stream = uniqueName("strata_test_rindexer");
  const registry = new client.Registry();
  const system = new ActorSystem({ db: fx.db });
  try {
    await migrate(fx.db);
    const pipe = redis.pipeline();
    for (const line of SAMPLE_LINES) pipe.xadd(stream, "*", "event_data", line);
    pipe.xadd(stream, "*", "data", "not json");
    await pipe.exec();
    const config = loadSection(vaultTermConfig, { flags: {}, env: { REDIS_STREAMS: stream, CONSUMER_GROUP: uniqueName("g"), BATCH_SIZE: "64" } }).values;
    await system.start();
    const vt = await startVaultTerm({ db: fx.db, deadLetters: new DeadLetterStore(fx.db), system, config, redisUrl: testEnv.redisUrl, registry, startReader: false });
    const before = (await vt.readiness(Date.now()))[0];
    assert.equal([before.ready, before.backlog], [false, SAMPLE_LINES.length + 1], "work waiting and no progress yet is not ready");
    assert.is(await vt.readers[0].drain(), SAMPLE_LINES.length + 1);
    await system.whenIdle();
    assert.is(await count(fx.db, "term_update_queue"), 0);
    assert.is(await count(fx.db, "triple_term"), 15);
    const text = await registry.metrics();
    assert.match(text, `events_processed_total{kind="vault-term"} ${SAMPLE_LINES.length}`);
    assert.match(text, 'events_failed_total{kind="vault-term"} 1');
    assert.match(text, 'circuit_breaker_state{dependency="postgres"} 0');
    assert.match(text, "event_processing_duration_seconds_count");
    assert.match(text, /vault_term_analytics_lag_seconds_count [1-9]/);
    const ready = await vt.readiness(Date.now());
    assert.equal(ready.map((c) => [c.name, c.ready, c.backlog]), [["ingress:vault-term-redis", true, 0], ["kind:vault-term-analytics", true, 0]]);
    assert.equal(vt.dependencies().map((d) => [d.name, d.ok]), [["redis", true], ["postgres", true]]);
    await vt.stop();
  } finally {
    await system.stop();
    await redis.del(stream);
    await redis.quit();
    await fx.drop();
  }
});

test("services - CONCURRENT_BATCHES consumers of the group share the stream on one host", async () => {
  const fx = await createTestDatabase();
  const redis = new Redis(testEnv.redisUrl);
  const stream = uniqueName("strata_test_rindexer");
  const group = uniqueName("g");
  const system = new ActorSystem({ db: fx.db });
  try {
    await migrate(fx.db);
    const pipe = redis.pipeline();
    for (const line of SAMPLE_LINES) pipe.xadd(stream, "*", "event_data", line);
    await pipe.exec();
    const config = loadSection(vaultTermConfig, { flags: {}, env: { REDIS_STREAMS: stream, CONSUMER_GROUP: group, CONSUMER_NAME: "host-a", BATCH_SIZE: "4", BATCH_TIMEOUT_MS: "50" } }).values;
    assert.is(config.concurrentBatches, 2, "two batches in flight by default");
    await system.start();
    const vt = await startVaultTerm({ db: fx.db, deadLetters: new DeadLetterStore(fx.db), system, config, redisUrl: testEnv.redisUrl });
    assert.is(vt.readers.length, 2);
    const deadline = Date.now() + 20_000;
    while (vt.readers.reduce((n, r) => n + r.stats.acked, 0) < SAMPLE_LINES.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const consumers = async () => ((await redis.xinfo("CONSUMERS", stream, group)) as unknown[][]).map((c) => String(c[1])).sort();
    assert.equal(await consumers(), ["host-a", "host-a-2"]);
    await vt.stop();
    await system.whenIdle();
    assert.equal(vt.readers.map((r) => r.stats.entries > 0), [true, true], "both consumers read batches");
    assert.is(vt.readers.reduce((n, r) => n + r.stats.entries, 0), SAMPLE_LINES.length, "every entry read once");
    assert.equal(await consumers(), [], "stopped with nothing pending, both consumers left the group");
    assert.is(await count(fx.db, "triple_term"), 15);
    assert.is(await count(fx.db, "term"), 60);
  } finally {
    await system.stop();
    await redis.del(stream);
    await redis.quit();
    await fx.drop();
  }
});

test.run();
