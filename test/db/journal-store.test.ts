/** Journal store on PostgreSQL and PGlite: idempotent append, gapless per-partition seq, reads. */
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { migrate } from "../../db/migrate.ts";
import { appendToJournal, appendToJournalCounted, gaplessPlan, journalEventProblem, readJournal, readJournalHeads, readJournalPayloads } from "../../db/journal-store.ts";
import type { JournalEventInput } from "../../db/journal-store.ts";
import type { Db, Queryable } from "../../db/db.ts";
import { InputError } from "../../protocols/errors.ts";
import { createTestDatabase, lazyDatabase, testEngines } from "../support/databases.ts";
import { rejectionMessage } from "../support/rejection.ts";

const ev = (partition: number, naturalKey: string, extra: Partial<JournalEventInput> = {}): JournalEventInput => ({
  partition,
  entityId: `e-${partition}`,
  naturalKey,
  eventType: "thing.happened",
  payload: { key: naturalKey },
  ...extra,
});

const seqsOf = (entries: { partition: number; seq: number }[], partition: number) =>
  entries.filter((e) => e.partition === partition).map((e) => e.seq);

for (const engine of testEngines) {
  const t = suite(engine.name);
  const fx = lazyDatabase(engine, (db) => migrate(db, { maxVersion: 99 }).then(() => {}));
  t.after(() => fx.drop());

  t("journal - seqs are gapless and ascending per partition, in input order", async () => {
    const db = await fx.get();
    const r1 = await db.transaction((tx) => appendToJournal(tx, "k-seq", [ev(1, "a"), ev(2, "b"), ev(1, "c"), ev(1, "d")]));
    assert.is(r1.duplicates, 0);
    assert.equal(r1.inserted.map((e) => [e.partition, e.seq, e.naturalKey]), [[1, 1, "a"], [1, 2, "c"], [1, 3, "d"], [2, 1, "b"]]);
    const r2 = await db.transaction((tx) => appendToJournal(tx, "k-seq", [ev(2, "e"), ev(1, "f")]));
    assert.equal(r2.inserted.map((e) => [e.partition, e.seq]), [[1, 4], [2, 2]]);
    // Another kind numbers its own partitions from 1.
    const other = await db.transaction((tx) => appendToJournal(tx, "k-seq-other", [ev(1, "a")]));
    assert.equal(other.inserted.map((e) => e.seq), [1]);
    assert.equal([...(await readJournalHeads(db, "k-seq")).entries()], [[1, 4], [2, 2]]);
  });

  t("journal - a duplicate natural key is skipped without failing the batch", async () => {
    const db = await fx.get();
    await db.transaction((tx) => appendToJournal(tx, "k-dup", [ev(3, "x1"), ev(3, "x2"), ev(3, "x3")]));
    // x2 is already journaled, x4 appears twice in the batch: both skipped, the rest inserted.
    const r = await db.transaction((tx) => appendToJournal(tx, "k-dup", [ev(3, "x2"), ev(3, "x4"), ev(3, "x4", { payload: "second" }), ev(3, "x5")]));
    assert.is(r.duplicates, 2);
    assert.equal(r.inserted.map((e) => [e.naturalKey, e.seq]), [["x4", 4], ["x5", 5]]);
    assert.equal(r.inserted[0].payload, { key: "x4" }, "the first occurrence in the batch wins");
    const all = await readJournal(db, "k-dup", { partition: 3, limit: 100 });
    assert.equal(all.map((e) => [e.seq, e.naturalKey]), [[1, "x1"], [2, "x2"], [3, "x3"], [4, "x4"], [5, "x5"]]);
    // A batch of nothing but duplicates inserts nothing and leaves the head alone.
    const again = await db.transaction((tx) => appendToJournal(tx, "k-dup", [ev(3, "x1"), ev(3, "x5")]));
    assert.equal(again, { inserted: [], duplicates: 2 });
    assert.is((await readJournalHeads(db, "k-dup")).get(3), 5);
  });

  t("journal - the same natural key in another kind is not a duplicate", async () => {
    const db = await fx.get();
    await db.transaction((tx) => appendToJournal(tx, "k-kind-a", [ev(0, "same")]));
    const r = await db.transaction((tx) => appendToJournal(tx, "k-kind-b", [ev(0, "same")]));
    assert.is(r.inserted.length, 1);
  });

  t("journal - fields round-trip: payload, bigints as strings, block number and hash", async () => {
    const db = await fx.get();
    const payload = { amount: 123456789012345678901234567890n, nested: { list: [1, "two", null] }, text: "quote \" and \\ and é" };
    const r = await db.transaction((tx) =>
      appendToJournal(tx, "k-fields", [
        { partition: 7, entityId: "transcode|eu-central", naturalKey: "0xabc:1", eventType: "job.done", payload, blockNumber: 19_000_000_123n, blockHash: "0xfeed" },
        { partition: 7, entityId: "transcode|eu-central", naturalKey: "0xabc:2", eventType: "job.done", payload: "plain", blockNumber: "42" },
        { partition: 7, entityId: "transcode|eu-central", naturalKey: "0xabc:3", eventType: "job.done", payload: null },
      ]),
    );
    const [read1, read2, read3] = await readJournal(db, "k-fields", { entityId: "transcode|eu-central", limit: 10 });
    assert.equal(read1.payload, { amount: "123456789012345678901234567890", nested: { list: [1, "two", null] }, text: "quote \" and \\ and é" });
    assert.is(read1.blockNumber, "19000000123");
    assert.is(read1.blockHash, "0xfeed");
    assert.is(read1.entityId, "transcode|eu-central");
    assert.is(read1.eventType, "job.done");
    assert.is(read1.kind, "k-fields");
    assert.ok(read1.recordedAt instanceof Date && !Number.isNaN(read1.recordedAt.getTime()));
    assert.is(read2.payload, "plain");
    assert.is(read2.blockNumber, "42");
    assert.is(read2.blockHash, null);
    assert.is(read3.payload, null);
    assert.is(read3.blockNumber, null);
    assert.equal(r.inserted.map((e) => e.naturalKey), ["0xabc:1", "0xabc:2", "0xabc:3"]);
  });

  t("journal - readJournal filters by partition and entity, after a seq, up to a limit", async () => {
    const db = await fx.get();
    const events = Array.from({ length: 10 }, (_, i) => ev(i % 2, `r${i}`, { entityId: `ent-${i % 4}` }));
    await db.transaction((tx) => appendToJournal(tx, "k-read", events));
    const p0 = await readJournal(db, "k-read", { partition: 0, afterSeq: 2, limit: 2 });
    assert.equal(p0.map((e) => [e.seq, e.naturalKey]), [[3, "r4"], [4, "r6"]]);
    const ent = await readJournal(db, "k-read", { entityId: "ent-1", limit: 10 });
    assert.equal(ent.map((e) => [e.partition, e.seq, e.naturalKey]), [[1, 1, "r1"], [1, 3, "r5"], [1, 5, "r9"]]);
    const after = await readJournal(db, "k-read", { entityId: "ent-1", afterSeq: 3n, limit: 10 });
    assert.equal(after.map((e) => e.naturalKey), ["r9"]);
    assert.equal(await readJournal(db, "k-read", { partition: 1, afterSeq: "5", limit: 10 }), []);
    assert.match(await rejectionMessage(readJournal(db, "k-read", { limit: 0 })), /limit must be a positive integer/);
  });

  t("journal - a rolled-back append leaves no gap", async () => {
    const db = await fx.get();
    await db.transaction((tx) => appendToJournal(tx, "k-rollback", [ev(5, "g1")]));
    const failed = db.transaction(async (tx) => {
      await appendToJournal(tx, "k-rollback", [ev(5, "g2"), ev(5, "g3")]);
      throw new Error("the work failed");
    });
    assert.match(await rejectionMessage(failed), /the work failed/);
    const r = await db.transaction((tx) => appendToJournal(tx, "k-rollback", [ev(5, "g3")]));
    assert.equal(r.inserted.map((e) => e.seq), [2]);
    assert.equal((await readJournal(db, "k-rollback", { partition: 5, limit: 10 })).map((e) => e.naturalKey), ["g1", "g3"]);
  });

  t("journal - an event PostgreSQL cannot store fails the batch with an InputError naming it", async () => {
    const db = await fx.get();
    const bad = ev(1, "nul-key", { payload: { text: "a\u0000b" } });
    assert.match(journalEventProblem(bad) ?? "", /U\+0000/);
    assert.match(journalEventProblem(ev(1, "s", { payload: "\ud800" })) ?? "", /surrogate/);
    assert.match(journalEventProblem(ev(1.5, "p")) ?? "", /partition/);
    assert.match(journalEventProblem(ev(1, "")) ?? "", /naturalKey is empty/);
    assert.is(journalEventProblem(ev(1, "fine", { payload: { text: "a\\u0000b" } })), null, "an escaped backslash before u0000 is plain text");
    const err = await db.transaction((tx) => appendToJournal(tx, "k-bad", [ev(1, "ok"), bad])).then(
      () => null,
      (e: unknown) => e,
    );
    assert.ok(err instanceof InputError, `expected InputError, got ${String(err)}`);
    assert.match((err as Error).message, /event 1 \(natural key "nul-key"\)/);
    assert.equal(await readJournal(db, "k-bad", { limit: 10 }), []);
  });

  t("journal - concurrent appends to one partition stay gapless with no key twice", async () => {
    const db = await fx.get();
    // 8 transactions of 40 events each, every key offered by two of them.
    const batches = Array.from({ length: 8 }, (_, b) => Array.from({ length: 40 }, (_, i) => ev(9, `c${(b * 20 + i) % 160}`)));
    const results = await Promise.all(batches.map((batch) => db.transaction((tx) => appendToJournal(tx, "k-conc", batch))));
    const inserted = results.flatMap((r) => r.inserted);
    assert.is(inserted.length, 160);
    assert.is(results.reduce((n, r) => n + r.duplicates, 0), 320 - 160);
    const all = await readJournal(db, "k-conc", { partition: 9, limit: 1000 });
    assert.equal(all.map((e) => e.seq), Array.from({ length: 160 }, (_, i) => i + 1));
    assert.is(new Set(all.map((e) => e.naturalKey)).size, 160);
    // Each transaction's seqs are one contiguous run: nobody interleaved inside another's batch.
    for (const r of results) {
      const s = seqsOf(r.inserted, 9);
      if (s.length) assert.equal(s, Array.from({ length: s.length }, (_, i) => s[0] + i));
    }
  });

  t("journal - the counted append dedupes and numbers like the full one, returning only counts and seq ranges", async () => {
    const db = await fx.get();
    await db.transaction((tx) => appendToJournalCounted(tx, "k-count", [ev(1, "c1"), ev(2, "c2")]));
    // c1 journaled already, c3 twice in the batch: both skipped; partition 1 continues at seq 2.
    const r = await db.transaction((tx) => appendToJournalCounted(tx, "k-count", [ev(1, "c1"), ev(1, "c3"), ev(2, "c4"), ev(1, "c3", { payload: "second" }), ev(1, "c5")]));
    assert.equal(r, {
      inserted: 3,
      duplicates: 2,
      partitions: [
        { partition: 1, firstSeq: 2, lastSeq: 3, count: 2 },
        { partition: 2, firstSeq: 2, lastSeq: 2, count: 1 },
      ],
    });
    const p1 = await readJournal(db, "k-count", { partition: 1, limit: 10 });
    assert.equal(p1.map((e) => [e.seq, e.naturalKey, e.payload]), [[1, "c1", { key: "c1" }], [2, "c3", { key: "c3" }], [3, "c5", { key: "c5" }]]);
    assert.equal(await db.transaction((tx) => appendToJournalCounted(tx, "k-count", [ev(1, "c5")])), { inserted: 0, duplicates: 1, partitions: [] });
    assert.equal(await db.transaction((tx) => appendToJournalCounted(tx, "k-count", [])), { inserted: 0, duplicates: 0, partitions: [] });
    // Bad input is refused the same way.
    const bad = await db.transaction((tx) => appendToJournalCounted(tx, "k-count", [ev(1, "c6", { payload: { t: "a\u0000b" } })])).catch((err: unknown) => err);
    assert.instance(bad, InputError);
  });

  t("journal - a batch whose journaled key comes after fresh ones inserts the fresh ones once, gapless", async () => {
    const db = await fx.get();
    await db.transaction((tx) => appendToJournalCounted(tx, "k-late", [ev(7, "n1"), ev(7, "n2")]));
    // The first insert attempt meets n2 after m1, m2 (and rolls back); none may be lost or doubled.
    const r = await db.transaction((tx) => appendToJournalCounted(tx, "k-late", [ev(7, "m1"), ev(7, "m2"), ev(7, "n2"), ev(7, "m3")]));
    assert.equal(r, { inserted: 3, duplicates: 1, partitions: [{ partition: 7, firstSeq: 3, lastSeq: 5, count: 3 }] });
    const rows = await readJournal(db, "k-late", { partition: 7, limit: 10 });
    assert.equal(rows.map((e) => [e.seq, e.naturalKey]), [[1, "n1"], [2, "n2"], [3, "m1"], [4, "m2"], [5, "m3"]]);
    assert.equal(await readJournalHeads(db, "k-late"), new Map([[7, 5]]));
    // The transaction goes on after the rolled-back attempt: a later append in it continues the seqs.
    const both = await db.transaction(async (tx) => [
      await appendToJournalCounted(tx, "k-late", [ev(7, "m4"), ev(7, "m1")]),
      await appendToJournalCounted(tx, "k-late", [ev(7, "m5")]),
    ]);
    assert.equal(both.map((x) => x.partitions), [[{ partition: 7, firstSeq: 6, lastSeq: 6, count: 1 }], [{ partition: 7, firstSeq: 7, lastSeq: 7, count: 1 }]]);
  });

  t("journal - readJournalPayloads returns only (seq, payload) of one partition after a seq", async () => {
    const db = await fx.get();
    await db.transaction((tx) => appendToJournal(tx, "k-payloads", [ev(1, "a"), ev(2, "b"), ev(1, "c", { payload: { n: 12345678901234567890n } }), ev(1, "d")]));
    assert.equal(await readJournalPayloads(db, "k-payloads", { partition: 1, afterSeq: 1, limit: 10 }), [
      { seq: 2, payload: { n: "12345678901234567890" } },
      { seq: 3, payload: { key: "d" } },
    ]);
    assert.equal(await readJournalPayloads(db, "k-payloads", { partition: 1, limit: 1 }), [{ seq: 1, payload: { key: "a" } }]);
    assert.equal(await readJournalPayloads(db, "k-payloads", { partition: 1, entityId: "e-2", limit: 10 }), []);
  });

  t("journal - regression: dedupe reads only the batch's keys, not every journaled row of the kind", async () => {
    const db = await fx.get();
    // 2000 journaled events, then the plan of appending 10 more (3 of them already journaled).
    await db.transaction((tx) => appendToJournalCounted(tx, "k-plan", Array.from({ length: 2000 }, (_, i) => ev(6, `p${i}`))));
    const batch = [...Array.from({ length: 7 }, (_, i) => ev(6, `new${i}`)), ev(6, "p5"), ev(6, "p1500"), ev(6, "p1999")];
    const statements: { sql: string; params: readonly unknown[] }[] = [];
    const rolledBack = new Error("roll back the explained append");
    let plan: unknown;
    try {
      await db.transaction(async (tx) => {
        const recording: Queryable = {
          query: (sql, params) => {
            statements.push({ sql, params: params ?? [] });
            return tx.query(sql, params);
          },
        };
        await appendToJournalCounted(recording, "k-plan", batch);
        // The statement that reads strata_journal to dedupe (the append's probe).
        const append = statements.find((s) => /\bFROM strata_journal\b/.test(s.sql))!;
        assert.ok(append, "the append reads strata_journal to dedupe");
        const explained = await tx.query<{ "QUERY PLAN": unknown }>(`EXPLAIN (ANALYZE, FORMAT JSON) ${append.sql}`, append.params);
        plan = explained.rows[0]["QUERY PLAN"];
        throw rolledBack;
      });
    } catch (err) {
      if (err !== rolledBack) throw err;
    }
    // Rows each scan of strata_journal produced (rows per loop, as EXPLAIN rounds it, × loops):
    // at most one per key of the batch. Before the fix, the anti-join hashed all 2000 rows of
    // the kind on every append.
    const scanned: number[] = [];
    const walk = (node: Record<string, unknown>) => {
      if (node["Relation Name"] === "strata_journal" && String(node["Node Type"]).includes("Scan")) {
        scanned.push(Number(node["Actual Rows"]) * Number(node["Actual Loops"]));
      }
      for (const child of (node.Plans as Record<string, unknown>[] | undefined) ?? []) walk(child);
    };
    const root = (typeof plan === "string" ? JSON.parse(plan) : plan) as { Plan: Record<string, unknown> }[];
    walk(root[0].Plan);
    assert.ok(scanned.length > 0, "the plan scans strata_journal for the batch's keys");
    assert.ok(scanned.every((rows) => rows <= batch.length), `rows read from strata_journal per scan: ${scanned.join(", ")}`);
    // The explained append was rolled back; a real one still dedupes those 3.
    const r = await db.transaction((tx) => appendToJournalCounted(tx, "k-plan", batch));
    assert.equal([r.inserted, r.duplicates], [7, 3]);
    assert.equal(r.partitions, [{ partition: 6, firstSeq: 2001, lastSeq: 2007, count: 7 }]);
  });

  t.run();
}

// Commit order needs real concurrent connections: PostgreSQL only (PGlite runs one transaction at a time).
const pgOnly = suite("postgres commit order");
let pgFx: Awaited<ReturnType<typeof createTestDatabase>> | undefined;
pgOnly.after(async () => {
  await pgFx?.drop();
});

/** Waits (by polling the server, no timers) until the backend is blocked on a lock. */
async function untilBlockedOnLock(db: Db, pid: number): Promise<void> {
  for (let i = 0; i < 100_000; i++) {
    const r = await db.query<{ wait_event_type: string | null }>("SELECT wait_event_type FROM pg_stat_activity WHERE pid = $1", [pid]);
    if (r.rows[0]?.wait_event_type === "Lock") return;
  }
  throw new Error(`backend ${pid} never waited on a lock`);
}

function deferred<T = void>(): { promise: Promise<T>; resolve(v: T): void } {
  let resolve!: (v: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

pgOnly("journal - a later append to a partition waits and commits its seqs after the earlier one", async () => {
  pgFx = await createTestDatabase();
  const db = pgFx.db;
  await migrate(db, { maxVersion: 99 });
  await db.transaction((tx) => appendToJournal(tx, "k-order", [ev(4, "o0")]));

  const firstAppended = deferred();
  const releaseFirst = deferred();
  const first = db.transaction(async (tx) => {
    const r = await appendToJournal(tx, "k-order", [ev(4, "o1"), ev(4, "o2"), ev(4, "shared")]);
    firstAppended.resolve();
    await releaseFirst.promise;
    return r;
  });
  await firstAppended.promise;

  const secondPid = deferred<number>();
  const second = db.transaction(async (tx: Queryable) => {
    const pid = await tx.query<{ pid: number }>("SELECT pg_backend_pid() AS pid");
    secondPid.resolve(Number(pid.rows[0].pid));
    return appendToJournal(tx, "k-order", [ev(4, "o3"), ev(4, "shared"), ev(4, "o4")]);
  });
  try {
    await untilBlockedOnLock(db, await secondPid.promise);
    // While the first is open, a reader sees neither batch, so it cannot skip past seqs 2–4.
    assert.equal((await readJournal(db, "k-order", { partition: 4, limit: 10 })).map((e) => e.seq), [1]);
  } finally {
    // Never leave the first transaction open (the pool could not close).
    releaseFirst.resolve();
  }
  const [r1, r2] = await Promise.all([first, second]);
  assert.equal(r1.inserted.map((e) => e.seq), [2, 3, 4]);
  // The second batch took its seqs after the first committed, and saw "shared" as a duplicate.
  assert.equal(r2.inserted.map((e) => [e.seq, e.naturalKey]), [[5, "o3"], [6, "o4"]]);
  assert.is(r2.duplicates, 1);
  assert.equal((await readJournal(db, "k-order", { partition: 4, limit: 10 })).map((e) => e.seq), [1, 2, 3, 4, 5, 6]);
});

pgOnly.run();

const plan = suite("gapless plan");
plan("gapless plan - partitions per event, the partitions touched, and the first occurrence of each key in input order", () => {
  const keys = ["a", "b", "a", "c", "b"];
  assert.equal(gaplessPlan([3, 3, 3, 3, 3], (i) => keys[i]), { partitions: [3, 3, 3, 3, 3], touched: [3], firstIndexes: [0, 1, 3], keys: ["a", "b", "c"] });
  assert.equal(gaplessPlan([1, 2, 1], (i) => ["x", "y", "z"][i]), { partitions: [1, 2, 1], touched: [1, 2], firstIndexes: [0, 1, 2], keys: ["x", "y", "z"] });
  assert.equal(gaplessPlan([], () => ""), { partitions: [], touched: [], firstIndexes: [], keys: [] });
});
plan.run();
