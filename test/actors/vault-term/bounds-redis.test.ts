// Bounds (stop 11) through the Redis reader, real Redis and PostgreSQL, actor path: entries whose
// values PostgreSQL cannot hold as received — an amount beyond uint256, a NUL, a lone surrogate
// in the transaction hash, a timestamp out of range — are dead letters of their batch, the rest
// commits and is acknowledged, and every other term is applied. Before, the amount failed the
// term actors' commit forever, the NUL and the timestamp failed the batch (split, then each
// poisoned), and the lone surrogate came back from the journal as U+FFFD: the fresh event was not
// found (a TypeError, not bad input) and the reader retried the entry forever.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { Redis } from "ioredis";
import pino from "pino";
import { testEnv, uniqueName } from "../../support/env.ts";
import { createTestDatabase } from "../../support/databases.ts";
import { migrate } from "../../../db/migrate.ts";
import { DeadLetterStore, listDeadLetters } from "../../../db/dead-letter-store.ts";
import { ActorSystem } from "../../../supervisors/actor-system.ts";
import { vaultTermKind, VAULT_TERM_ACTOR_KIND } from "../../../actors/vault-term/term-actor-kind.ts";
import { tripleAnalyticsKind } from "../../../actors/vault-term/triple-analytics-kind.ts";
import { createVaultTermRedisReader } from "../../../actors/vault-term/redis-ingest.ts";
import { laggingTerms } from "../../../actors/vault-term/term-progress.ts";
import { account, bytes32, deposit } from "./event-builder.ts";

type Msg = { event_data: Record<string, unknown> & { transaction_information: Record<string, unknown> } };

test("reader - out-of-range amounts, NUL, a lone surrogate and a late timestamp are dead letters; the rest of the batch commits and is acknowledged", async () => {
  const fx = await createTestDatabase();
  const redis = new Redis(testEnv.redisUrl);
  const stream = uniqueName("strata_test_bounds");
  const log = pino({ level: "silent" });
  const system = new ActorSystem({ db: fx.db, log, deadLetters: new DeadLetterStore(fx.db) });
  system.register(vaultTermKind({ lanes: 1, commitWindowMs: 0 }));
  system.register(tripleAnalyticsKind({ commitWindowMs: 0 }));
  const reader = createVaultTermRedisReader({
    redisUrl: testEnv.redisUrl,
    streams: [stream],
    group: "g",
    consumer: "c",
    batchSize: 10,
    batchTimeoutMs: 50,
    maxRetries: 1,
    db: fx.db,
    deadLetters: new DeadLetterStore(fx.db),
    system,
    lanes: 2,
    log,
  });
  try {
    await migrate(fx.db);
    await system.start();
    const bad = (n: number, change: (m: Msg) => void) => {
      const m = deposit({ term: bytes32(n), amount: 5, total: 5, block: 1000 + n, receiver: account(n) }) as unknown as Msg;
      change(m);
      return m;
    };
    const entries = [
      deposit({ term: bytes32(1), amount: 5, total: 5, block: 1001 }),
      bad(2, (m) => (m.event_data.totalShares = (10n ** 78n).toString())),
      bad(3, (m) => (m.event_data.transaction_information.transaction_hash = "0xab\ud800")),
      bad(4, (m) => (m.event_data.transaction_information.network = "net\u0000")),
      bad(5, (m) => (m.event_data.transaction_information.block_timestamp = "0xffffffffffff")),
      deposit({ term: bytes32(6), amount: 7, total: 7, block: 1006, receiver: account(6) }),
    ];
    for (const e of entries) await redis.xadd(stream, "*", "event_data", JSON.stringify(e));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const drained = await Promise.race([reader.drain(), new Promise<"stuck">((r) => (timer = setTimeout(() => r("stuck"), 20_000)))]);
    clearTimeout(timer);
    assert.is(drained, entries.length, "every entry handled (not retried forever)");
    await system.whenIdle();
    assert.is(reader.stats.acked, entries.length);
    const pending = (await redis.xpending(stream, "g")) as [number, ...unknown[]];
    assert.is(Number(pending[0]), 0, "nothing left pending");
    const letters = await listDeadLetters(fx.db);
    assert.is(letters.length, 4);
    const errors = letters.map((d) => d.error).join("\n");
    assert.match(errors, /totalShares: exceeds the uint256 maximum/);
    assert.match(errors, /transaction_hash: contains a lone UTF-16 surrogate/);
    assert.match(errors, /network: contains U\+0000/);
    assert.match(errors, /block_timestamp: .*is outside/);
    const positions = await fx.db.query<{ term_id: string }>("SELECT term_id FROM position ORDER BY term_id");
    assert.equal(positions.rows.map((r) => r.term_id), [bytes32(1), bytes32(6)]);
    assert.is((await laggingTerms(fx.db)).size, 0);
    assert.is(system.stats(VAULT_TERM_ACTOR_KIND).commitFailures, 0);
  } finally {
    await reader.stop();
    await system.stop();
    await redis.del(stream);
    await redis.quit();
    await fx.drop();
  }
});

test.run();
