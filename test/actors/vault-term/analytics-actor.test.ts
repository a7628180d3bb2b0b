// The triple-analytics actor kind under the real actor runtime, on PostgreSQL and PGlite: an
// import fed through the same path (parser, journal, term apply) tells the partition actors,
// whose group-committed analytics equal the queue-drained computation; a lost notification is
// caught up from term_update_queue when the partition actor activates.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { testEngines, lazyDatabase } from "../../support/databases.ts";
import { migrate } from "../../../db/migrate.ts";
import { DeadLetterStore } from "../../../db/dead-letter-store.ts";
import { ActorSystem } from "../../../supervisors/actor-system.ts";
import { importVaultTermLines } from "../../../actors/vault-term/service.ts";
import { registerVaultTermKinds } from "../../../actors/vault-term/register-kinds.ts";
import { ANALYTICS_COMMIT_WINDOW_MS, tripleAnalyticsKind, TRIPLE_ANALYTICS_KIND, TERM_UPDATED, analyticsTargets } from "../../../actors/vault-term/triple-analytics-kind.ts";
import { ingestMessages } from "../../../actors/vault-term/ingest.ts";
import { generateEvents } from "../../../samples/vault-term/generate-events.ts";
import { count, drainAnalytics, dumpDerived, reset } from "./fixture.ts";
import { parse } from "./event-builder.ts";
import type { Db } from "../../../db/db.ts";

const MESSAGES = generateEvents({ seed: 99, atoms: 16, triples: 14, accounts: 8, events: 250 });
const LINES = [...MESSAGES.map((m) => JSON.stringify(m)), "{broken json", JSON.stringify({ event_name: "Deposited", event_data: { termId: "0x1" } })];

for (const engine of testEngines) {
  const t = suite(`vault-term analytics actors (${engine.name})`);
  const fx = lazyDatabase(engine, async (db) => {
    await migrate(db);
  });

  t("import - through the actors, analytics equal the queue-drained computation", async () => {
    const db = await fx.get();
    await reset(db);
    const deadLetters = new DeadLetterStore(db);
    const system = new ActorSystem({ db, deadLetters });
    registerVaultTermKinds(system, { db });
    await system.start();
    try {
      const summary = await importVaultTermLines(LINES, { db, deadLetters, system, batchSize: 60, name: "sample.jsonl" });
      assert.is(summary.lines, LINES.length);
      assert.is(summary.fresh, MESSAGES.length);
      assert.is(summary.deadLettered, 2);
      // Through the term actors (the path the Redis reader takes), not a direct apply.
      assert.ok(summary.terms > 0 && system.stats("vault-term").processed >= summary.terms, "every term's events went to its actor");
      assert.is(await count(db, "vault_term_applied"), summary.terms);
      assert.is(await count(db, "term_update_queue"), 0);
      assert.ok((await count(db, "triple_term")) === 14);
      const viaActors = await dumpDerived(db);
      await reset(db);
      await ingestMessages(parse(MESSAGES), { db, deadLetters });
      await drainAnalytics(db);
      assert.equal(await dumpDerived(db), viaActors);
    } finally {
      await system.stop();
    }
  });

  t("lost notification - the partition actor catches up from the queue when it activates", async () => {
    const db = await fx.get();
    await reset(db);
    const deadLetters = new DeadLetterStore(db);
    const summary = await ingestMessages(parse(MESSAGES), { db, deadLetters }); // nobody told
    assert.ok(summary.analyticsTerms.length > 0);
    const queued = await count(db, "term_update_queue");
    assert.ok(queued > 0);
    // Counts the reads of the whole queue (the catch-up read of activating partitions).
    let queueReads = 0;
    const counting: Db = Object.create(db, {
      query: {
        value: (sql: string, params?: unknown[]) => {
          if (/FROM term_update_queue WHERE processed_at IS NULL$/.test(sql.trim())) queueReads++;
          return db.query(sql, params);
        },
      },
    });
    const system = new ActorSystem({ db: counting, deadLetters });
    system.register(tripleAnalyticsKind());
    await system.start();
    try {
      // Wake every partition actor that has queued terms with an empty update.
      const targets = [...analyticsTargets(summary.analyticsTerms).keys()];
      assert.ok(targets.length > 1, "the queued terms span several partitions");
      for (const target of targets) system.tell(TRIPLE_ANALYTICS_KIND, target, TERM_UPDATED, { termIds: [] });
      await system.whenIdle();
      assert.is(queueReads, 1, "the partitions woken together read the queue once, not once each");
      assert.is(await count(db, "term_update_queue"), 0);
      assert.is(await count(db, "triple_term"), 14);
      const viaActors = await dumpDerived(db);
      await db.query("TRUNCATE triple_vault, triple_term, predicate_object, subject_predicate");
      await db.query("INSERT INTO term_update_queue (term_id) SELECT term_id FROM triple");
      await drainAnalytics(db);
      assert.equal(await dumpDerived(db), viaActors);
    } finally {
      await system.stop();
    }
  });

  t("commit window - term-updated tells within the analytics window are recomputed in one commit, not one per burst", async () => {
    const db = await fx.get();
    await reset(db);
    const system = new ActorSystem({ db, deadLetters: new DeadLetterStore(db) });
    // A window far longer than the test (the default, ANALYTICS_COMMIT_WINDOW_MS, is 1 s): a slow
    // machine cannot make it elapse between the two tells.
    assert.ok(ANALYTICS_COMMIT_WINDOW_MS > 0, "the product's analytics actors have a window");
    system.register(tripleAnalyticsKind({ commitWindowMs: 60_000 }));
    await system.start();
    try {
      const [target, terms] = [...analyticsTargets(["0x" + "a".repeat(64), "0x" + "b".repeat(64), "0x" + "c".repeat(64)])][0];
      system.tell(TRIPLE_ANALYTICS_KIND, target, TERM_UPDATED, { termIds: terms });
      await new Promise((r) => setTimeout(r, 50)); // past the burst: without a window it commits here
      system.tell(TRIPLE_ANALYTICS_KIND, target, TERM_UPDATED, { termIds: terms });
      await new Promise((r) => setTimeout(r, 50));
      const before = system.stats(TRIPLE_ANALYTICS_KIND) as unknown as { commits: number; processed: number };
      assert.is(before.processed, 2);
      assert.is(before.commits, 0, "both bursts wait in the window");
      await system.whenIdle(); // flushes the window at once
      assert.is((system.stats(TRIPLE_ANALYTICS_KIND) as unknown as { commits: number }).commits, 1);
    } finally {
      await system.stop();
    }
  });

  t.after(() => fx.drop());
  t.run();
}
