// A poison entry (one the database refuses as bad data when its batch commits: SQLSTATE 22023
// here, from a trigger) delivered again keeps ONE dead letter; real Redis and PostgreSQL, actor
// path. The reader acknowledges a batch only at its end, so a stop() arriving while the batch is
// split entry by entry (after the poison entry's dead letter committed) leaves the whole batch
// pending; it is delivered again to the same consumer at its restart, or claimed by another one.
// Before, the poison path used DeadLetterStore.record (not idempotent): a second row with the
// same source `redis:<stream>/<id>`.
import { test } from "uvu";
import * as assert from "uvu/assert";
import { Redis } from "ioredis";
import pino from "pino";
import { testEnv, uniqueName } from "../../support/env.ts";
import { createTestDatabase } from "../../support/databases.ts";
import type { Queryable } from "../../../db/db.ts";
import { migrate } from "../../../db/migrate.ts";
import { DeadLetterStore, listDeadLetters } from "../../../db/dead-letter-store.ts";
import type { DeadLetter, DeadLetterSink } from "../../../supervisors/actor-kind.ts";
import { ActorSystem } from "../../../supervisors/actor-system.ts";
import { vaultTermKind } from "../../../actors/vault-term/term-actor-kind.ts";
import { tripleAnalyticsKind } from "../../../actors/vault-term/triple-analytics-kind.ts";
import { createVaultTermRedisReader } from "../../../actors/vault-term/redis-ingest.ts";
import { ReaderStopped, type RedisStreamReader } from "../../../actors/ingress/redis-stream-reader.ts";
import { account, bytes32, deposit } from "./event-builder.ts";

for (const redelivery of ["the same consumer restarted", "another consumer claiming it"] as const) {
  test(`poison - an entry delivered again after a stop() during the split keeps one dead letter (${redelivery})`, async () => {
    const fx = await createTestDatabase();
    const redis = new Redis(testEnv.redisUrl);
    const stream = uniqueName("strata_test_poison");
    const log = pino({ level: "silent" });
    const store = new DeadLetterStore(fx.db, { log });
    const system = new ActorSystem({ db: fx.db, log, deadLetters: store });
    system.register(vaultTermKind({ lanes: 1, commitWindowMs: 0 }));
    system.register(tripleAnalyticsKind({ commitWindowMs: 0 }));
    const readers: RedisStreamReader[] = [];
    const make = (consumer: string, deadLetters: DeadLetterSink, claimIdleMs?: number) => {
      const r = createVaultTermRedisReader({ redisUrl: testEnv.redisUrl, streams: [stream], group: "g", consumer, batchSize: 10, batchTimeoutMs: 50, maxRetries: 1, claimIdleMs, db: fx.db, deadLetters, system, log });
      readers.push(r);
      return r;
    };
    try {
      await migrate(fx.db);
      // Term 2's journal count is refused as bad data: its entry fails the batch, then alone (poison).
      await fx.db.query(`CREATE FUNCTION test_refuse_term() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF NEW.term_id = '${bytes32(2)}' THEN RAISE EXCEPTION 'test: term refused' USING ERRCODE = '22023'; END IF; RETURN NEW; END $$`);
      await fx.db.query("CREATE TRIGGER test_refuse_term BEFORE INSERT OR UPDATE ON vault_term_journaled FOR EACH ROW EXECUTE FUNCTION test_refuse_term()");
      await system.start();
      const ids: string[] = [];
      for (let n = 1; n <= 3; n++) ids.push(String(await redis.xadd(stream, "*", "event_data", JSON.stringify(deposit({ term: bytes32(n), amount: 5, total: 5, block: 1000 + n, receiver: account(n) })))));

      // The first reader is stopped the moment it records the poison entry's dead letter.
      let first!: RedisStreamReader;
      let stopping: Promise<void> | undefined;
      const stopOnRecord: DeadLetterSink = {
        async record(letter: DeadLetter, tx?: Queryable) {
          await store.record(letter, tx);
          stopping ??= first.stop();
        },
      };
      first = make("consumer-a", stopOnRecord);
      let outcome: unknown = null;
      try {
        await first.processOnce({ block: false });
      } catch (err) {
        outcome = err;
      }
      await stopping;
      assert.instance(outcome, ReaderStopped, "the split was given up at the entry after the poison one");
      assert.is(Number(((await redis.xpending(stream, "g")) as [number])[0]), 3, "the batch is left unacknowledged");
      assert.equal((await listDeadLetters(fx.db)).map((d) => d.source), [`redis:${stream}/${ids[1]}`]);

      const second = redelivery === "the same consumer restarted" ? make("consumer-a", store) : make("consumer-b", store, 0);
      assert.is(await second.drain(), 3, "the whole batch is delivered again");
      await system.whenIdle();
      assert.is(Number(((await redis.xpending(stream, "g")) as [number])[0]), 0, "and acknowledged");
      const letters = await listDeadLetters(fx.db);
      assert.equal(letters.map((d) => d.source), [`redis:${stream}/${ids[1]}`], "one dead letter for the entry delivered twice");
      assert.match(letters[0].error, /term refused/);
      const positions = await fx.db.query<{ term_id: string }>("SELECT term_id FROM position ORDER BY term_id");
      assert.equal(positions.rows.map((r) => r.term_id), [bytes32(1), bytes32(3)], "the other entries applied");
    } finally {
      for (const r of readers) await r.stop().catch(() => {});
      await system.stop();
      await redis.del(stream);
      await redis.quit();
      await fx.drop();
    }
  });
}

test.run();
