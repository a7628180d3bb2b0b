// Bounds (stop 11), on PostgreSQL and PGlite: amounts beyond uint256 are dead letters while the
// rest of their batch commits and every other term is applied (before, a 79-digit amount was
// journaled and its term actors' group commit failed forever, taking the other terms of the
// commit with it); every stored sum saturates at 10^78 − 1 — position and term totals,
// triple_vault / triple_term, and predicate_object / subject_predicate, which come back to the
// exact sum when it drops below the limit — and replay equals live; an import dead-letters the
// lines PostgreSQL would refuse (a timestamp out of range, U+0000, a lone surrogate) and, should
// the database still refuse a batch as bad data, the line it refuses, importing the others.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import pino from "pino";
import { testEngines, lazyDatabase } from "../../support/databases.ts";
import { migrate } from "../../../db/migrate.ts";
import type { Db } from "../../../db/db.ts";
import { DeadLetterStore, listDeadLetters } from "../../../db/dead-letter-store.ts";
import { ActorSystem } from "../../../supervisors/actor-system.ts";
import { journalAndSend } from "../../../actors/vault-term/ingest.ts";
import { vaultTermKind, VAULT_TERM_ACTOR_KIND } from "../../../actors/vault-term/term-actor-kind.ts";
import { tripleAnalyticsKind } from "../../../actors/vault-term/triple-analytics-kind.ts";
import { registerVaultTermKinds } from "../../../actors/vault-term/register-kinds.ts";
import { importVaultTermLines } from "../../../actors/vault-term/service.ts";
import { laggingTerms } from "../../../actors/vault-term/term-progress.ts";
import { replayVaultTerm } from "../../../actors/vault-term/replay.ts";
import { UINT256_MAX } from "../../../actors/vault-term/normalize.ts";
import { NUMERIC_78_MAX } from "../../../actors/vault-term/market-cap.ts";
import { account, bytes32, CURVE0, CURVE2, deposit, parse, price, triple, WAD } from "./event-builder.ts";
import { count, drainAnalytics, dumpDerived, ingest, one, reset } from "./fixture.ts";

const log = pino({ level: "silent" });
const MAX = NUMERIC_78_MAX.toString();
const curve = (n: number) => bytes32(n);

async function column(db: Db, sql: string, params: unknown[] = []): Promise<(string | null)[]> {
  const res = await db.query<{ v: string | null }>(sql, params);
  return res.rows.map((r) => r.v);
}

/** Rows where a pair table differs from LEAST(10^78 − 1, Σ triple_term) of its triples. */
async function pairDiffs(db: Db, table: string, a: string, b: string): Promise<unknown[]> {
  const res = await db.query(
    `SELECT x.* FROM ${table} x
       LEFT JOIN (SELECT tr.${a} AS a, tr.${b} AS b, count(*) AS n, LEAST(${MAX}, COALESCE(sum(tt.total_market_cap), 0)) AS m
                    FROM triple tr JOIN triple_term tt ON tt.term_id = tr.term_id AND tt.counter_term_id = tr.counter_term_id GROUP BY 1, 2) ref
         ON ref.a = x.${a} AND ref.b = x.${b}
      WHERE x.total_market_cap IS DISTINCT FROM ref.m OR x.triple_count IS DISTINCT FROM ref.n`,
  );
  return res.rows;
}

for (const engine of testEngines) {
  const t = suite(`vault-term bounds (${engine.name})`);
  const fx = lazyDatabase(engine, (db) => migrate(db).then(() => {}));

  t("bounds - a 79-digit amount and 2^256 are dead-lettered naming the field; the rest of the batch commits and every other term is applied", async () => {
    const db = await fx.get();
    await reset(db);
    const system = new ActorSystem({ db, log, deadLetters: new DeadLetterStore(db) });
    system.register(vaultTermKind({ lanes: 1, commitWindowMs: 0 }));
    system.register(tripleAnalyticsKind({ commitWindowMs: 0 }));
    await system.start();
    try {
      const batch = [
        deposit({ term: bytes32(1), amount: 5, total: 5, block: 1000 }),
        deposit({ term: bytes32(2), amount: 7, total: 10n ** 78n, block: 1001, receiver: account(2) }),
        deposit({ term: bytes32(3), amount: 2n ** 256n, total: 9, block: 1002, receiver: account(3) }),
        deposit({ term: bytes32(4), amount: UINT256_MAX, total: UINT256_MAX, block: 1003, receiver: account(4) }),
        // The limit is fine; its market cap does not fit NUMERIC(78,0) and is NULL (choice 7).
        price({ term: bytes32(5), sharePrice: UINT256_MAX, totalShares: UINT256_MAX, totalAssets: UINT256_MAX, block: 1004 }),
      ];
      const s = await journalAndSend(parse(batch), { db, deadLetters: new DeadLetterStore(db), system, sourceOf: (id) => `test:${id}` });
      assert.is(s.fresh, 3);
      assert.is(s.deadLettered, 2);
      await system.whenIdle();
      const errors = (await listDeadLetters(db)).map((d) => d.error).sort();
      assert.is(errors.length, 2);
      assert.match(errors.join("\n"), /Deposited: assets: exceeds the uint256 maximum 2\^256 − 1 \(78 digits\)/);
      assert.match(errors.join("\n"), /Deposited: totalShares: exceeds the uint256 maximum 2\^256 − 1 \(79 digits\)/);
      const stats = system.stats(VAULT_TERM_ACTOR_KIND);
      assert.is(stats.commitFailures, 0, `no failed group commit (${stats.lastError?.message ?? ""})`);
      assert.is((await laggingTerms(db)).size, 0, "every journaled term is applied");
      assert.equal(await column(db, "SELECT term_id || ':' || shares::text AS v FROM position ORDER BY term_id"), [`${bytes32(1)}:5`, `${bytes32(4)}:${UINT256_MAX}`]);
      assert.equal(await column(db, "SELECT market_cap::text AS v FROM vault WHERE term_id = $1", [bytes32(5)]), [null]);
      assert.equal(await column(db, "SELECT total_assets::text AS v FROM term WHERE id = $1", [bytes32(5)]), [UINT256_MAX.toString()]);
      // Later events of the good terms still go through.
      await journalAndSend(parse([deposit({ term: bytes32(1), amount: 1, total: 6, block: 1010 })]), { db, deadLetters: new DeadLetterStore(db), system });
      await system.whenIdle();
      assert.equal(await column(db, "SELECT shares::text AS v FROM position WHERE term_id = $1", [bytes32(1)]), ["6"]);
      assert.is(system.stats(VAULT_TERM_ACTOR_KIND).commitFailures, 0);
    } finally {
      await system.stop();
    }
  });

  t("bounds - position deposit / redeem totals and term totals saturate at 10^78 − 1; replay equals live", async () => {
    const db = await fx.get();
    await reset(db);
    const term = bytes32(0x21);
    const msgs: unknown[] = [];
    // Nine deposits of 2^256 − 1 on one position: Σ ≈ 1.04·10^78 > 10^78 − 1.
    for (let i = 0; i < 9; i++) msgs.push(deposit({ term, amount: UINT256_MAX, total: UINT256_MAX, block: 1000 + i }));
    // Nine curves each with total_assets 2^256 − 1: the term's Σ saturates too.
    for (let i = 0; i < 9; i++) msgs.push(price({ term, curve: curve(0x100 + i), sharePrice: WAD, totalShares: UINT256_MAX, totalAssets: UINT256_MAX, block: 1100 + i }));
    await ingest(db, msgs.slice(0, 4));
    await ingest(db, msgs.slice(4));
    const pos = await one<{ d: string; s: string }>(db, "SELECT total_deposit_assets_after_total_fees::text AS d, shares::text AS s FROM position WHERE term_id = $1", [term]);
    assert.equal(pos, { d: MAX, s: UINT256_MAX.toString() });
    const t1 = await one<{ a: string; m: string | null }>(db, "SELECT total_assets::text AS a, total_market_cap::text AS m FROM term WHERE id = $1", [term]);
    assert.equal(t1, { a: MAX, m: MAX });
    const live = await dumpDerived(db);
    await replayVaultTerm(db);
    assert.equal(await dumpDerived(db), live);
  });

  t("bounds - predicate_object / subject_predicate beyond NUMERIC(78,0) saturate, come back to the exact sum below it, analytics keep working, replay equals live", async () => {
    const db = await fx.get();
    await reset(db);
    const [S1, S2, P, O, O3] = [bytes32(1), bytes32(2), bytes32(3), bytes32(4), bytes32(5)];
    const [T1, T2, T3] = [bytes32(0x10), bytes32(0x11), bytes32(0x12)];
    const shares = 10n ** 77n;
    const px = 9n * WAD; // market cap 9·10^77 per triple: fits; two of them do not
    const cap = (termId: string, sharePrice: bigint, block: number, c = CURVE0) => price({ term: termId, curve: c, sharePrice, totalShares: shares, totalAssets: shares, block });
    const events = [
      triple({ term: T1, subject: S1, predicate: P, object: O, block: 1000 }),
      triple({ term: T2, subject: S2, predicate: P, object: O, block: 1001 }),
      triple({ term: T3, subject: S1, predicate: P, object: O3, block: 1002 }),
      cap(T1, px, 1003),
      cap(T2, px, 1004),
      cap(T3, px, 1005),
    ];
    // One at a time (deltas against stored rows) …
    for (const e of events) await ingest(db, [e]);
    assert.equal(await column(db, "SELECT total_market_cap::text AS v FROM predicate_object WHERE predicate_id = $1 AND object_id = $2", [P, O]), [MAX]);
    assert.equal(await column(db, "SELECT total_market_cap::text AS v FROM subject_predicate WHERE subject_id = $1 AND predicate_id = $2", [S1, P]), [MAX]);
    assert.equal(await pairDiffs(db, "predicate_object", "predicate_id", "object_id"), []);
    assert.equal(await pairDiffs(db, "subject_predicate", "subject_id", "predicate_id"), []);
    // A second curve on T1 pushes triple_vault / triple_term past the limit too.
    await ingest(db, [cap(T1, 8n * WAD, 1006, CURVE2), cap(T1, 9n * 10n ** 18n, 1007, curve(7))]);
    assert.equal(await column(db, "SELECT total_market_cap::text AS v FROM triple_term WHERE term_id = $1", [T1]), [MAX]);
    // T1 drops to 10^18: both pairs come back to the exact sum (T2 + T1, T3 + T1).
    await ingest(db, [cap(T1, 10n, 1008), cap(T1, 10n, 1009, CURVE2), cap(T1, 10n, 1010, curve(7))]);
    const t1 = (shares * 10n) / WAD;
    const expected = (9n * 10n ** 77n + 3n * t1).toString();
    assert.equal(await column(db, "SELECT total_market_cap::text AS v FROM predicate_object WHERE predicate_id = $1 AND object_id = $2", [P, O]), [expected]);
    assert.equal(await column(db, "SELECT total_market_cap::text AS v FROM subject_predicate WHERE subject_id = $1 AND predicate_id = $2", [S1, P]), [expected]);
    assert.equal(await pairDiffs(db, "predicate_object", "predicate_id", "object_id"), []);
    assert.equal(await pairDiffs(db, "subject_predicate", "subject_id", "predicate_id"), []);
    // Unrelated triples still get their analytics.
    await ingest(db, [triple({ term: bytes32(0x30), subject: bytes32(9), predicate: bytes32(8), object: bytes32(7), block: 1100 }), cap(bytes32(0x30), WAD, 1101)]);
    assert.is(await count(db, "term_update_queue"), 0);
    assert.equal(await column(db, "SELECT total_market_cap::text AS v FROM predicate_object WHERE predicate_id = $1", [bytes32(8)]), [shares.toString()]);
    const live = await dumpDerived(db);
    // Replay, and everything in one batch (other delta order), give the same rows.
    await replayVaultTerm(db);
    assert.equal(await dumpDerived(db), live);
    await reset(db);
    await ingest(db, [...events, cap(T1, 8n * WAD, 1006, CURVE2), cap(T1, 9n * WAD, 1007, curve(7)), cap(T1, 10n, 1008), cap(T1, 10n, 1009, CURVE2), cap(T1, 10n, 1010, curve(7)), triple({ term: bytes32(0x30), subject: bytes32(9), predicate: bytes32(8), object: bytes32(7), block: 1100 }), cap(bytes32(0x30), WAD, 1101)]);
    await drainAnalytics(db);
    const together = await dumpDerived(db);
    // The journal rows differ (new transaction hashes), the derived rows do not.
    assert.equal(together, live);
  });

  t("import - an out-of-range hex timestamp, a NUL and a lone surrogate in text fields dead-letter their lines; the others are imported", async () => {
    const db = await fx.get();
    await reset(db);
    const system = new ActorSystem({ db, log, deadLetters: new DeadLetterStore(db) });
    registerVaultTermKinds(system, { db, partitions: 16, workers: 1 });
    await system.start();
    try {
      const good1 = deposit({ term: bytes32(1), amount: 5, total: 5, block: 1000 });
      const lateTs = deposit({ term: bytes32(2), amount: 5, total: 5, block: 1001 }) as { event_data: { transaction_information: Record<string, unknown> } };
      lateTs.event_data.transaction_information.block_timestamp = "0xffffffffffff";
      const nul = deposit({ term: bytes32(3), amount: 5, total: 5, block: 1002 }) as { event_data: { transaction_information: Record<string, unknown> } };
      nul.event_data.transaction_information.transaction_hash = "0xabc\u0000def";
      const surrogate = deposit({ term: bytes32(4), amount: 5, total: 5, block: 1003 }) as { event_data: { transaction_information: Record<string, unknown> } };
      surrogate.event_data.transaction_information.transaction_hash = "0xabc\ud800";
      const good2 = deposit({ term: bytes32(5), amount: 9, total: 9, block: 1004 });
      const lines = [good1, lateTs, nul, surrogate, good2].map((m) => JSON.stringify(m));
      const s = await importVaultTermLines(lines, { db, deadLetters: new DeadLetterStore(db), system, name: "bad.jsonl" });
      assert.equal({ lines: s.lines, fresh: s.fresh, deadLettered: s.deadLettered }, { lines: 5, fresh: 2, deadLettered: 3 });
      assert.is(await count(db, "deposited_events"), 2);
      assert.equal(await column(db, "SELECT term_id AS v FROM position ORDER BY term_id"), [bytes32(1), bytes32(5)]);
      const letters = (await listDeadLetters(db)).sort((a, b) => (a.source < b.source ? -1 : 1));
      assert.equal(letters.map((d) => d.source), ["import:bad.jsonl:2", "import:bad.jsonl:3", "import:bad.jsonl:4"]);
      assert.match(letters[0].error, /transaction_information\.block_timestamp: .*"0xffffffffffff" is outside 0 … 253402300799 seconds/);
      assert.match(letters[1].error, /transaction_information\.transaction_hash: contains U\+0000/);
      assert.match(letters[2].error, /transaction_information\.transaction_hash: contains a lone UTF-16 surrogate/);
      assert.is((await laggingTerms(db)).size, 0);
    } finally {
      await system.stop();
    }
  });

  t("import - a line the database refuses as bad data although it passed validation is dead-lettered alone; the rest of its batch is imported", async () => {
    const db = await fx.get();
    await reset(db);
    // A constraint this test adds stands for any data error the parser does not foresee (23514).
    await db.query("ALTER TABLE deposited_events ADD CONSTRAINT bounds_test_refused CHECK (network <> 'refused-by-check')");
    const system = new ActorSystem({ db, log, deadLetters: new DeadLetterStore(db) });
    registerVaultTermKinds(system, { db, partitions: 16, workers: 1 });
    await system.start();
    try {
      const refused = deposit({ term: bytes32(2), amount: 5, total: 5, block: 1001 }) as { event_data: { transaction_information: Record<string, unknown> } };
      refused.event_data.transaction_information.network = "refused-by-check";
      const lines = [
        JSON.stringify(deposit({ term: bytes32(1), amount: 5, total: 5, block: 1000 })),
        JSON.stringify(refused),
        "not json",
        JSON.stringify(deposit({ term: bytes32(3), amount: 9, total: 9, block: 1002 })),
      ];
      const s = await importVaultTermLines(lines, { db, deadLetters: new DeadLetterStore(db), system, name: "refused.jsonl" });
      assert.equal({ lines: s.lines, fresh: s.fresh, deadLettered: s.deadLettered }, { lines: 4, fresh: 2, deadLettered: 2 });
      assert.equal(await column(db, "SELECT term_id AS v FROM position ORDER BY term_id"), [bytes32(1), bytes32(3)]);
      const letters = (await listDeadLetters(db)).sort((a, b) => (a.source < b.source ? -1 : 1));
      assert.equal(letters.map((d) => [d.source, d.errorCode]), [["import:refused.jsonl:2", "23514"], ["import:refused.jsonl:3", "not_json"]]);
      assert.match(letters[0].error, /bounds_test_refused/);
      // Importing the file again changes nothing and keeps one dead letter per line.
      const again = await importVaultTermLines(lines, { db, deadLetters: new DeadLetterStore(db), system, name: "refused.jsonl" });
      assert.is(again.fresh, 0);
      assert.is((await listDeadLetters(db)).length, 2);
      assert.is((await laggingTerms(db)).size, 0);
    } finally {
      await system.stop();
      await db.query("ALTER TABLE deposited_events DROP CONSTRAINT bounds_test_refused");
    }
  });

  t.after(() => fx.drop());
  t.run();
}
