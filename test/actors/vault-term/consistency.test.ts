// vault-term consistency, on PostgreSQL and PGlite, over a generated realistic event set:
// shuffled + duplicated delivery gives identical tables; replay reproduces the live tables; the
// derived tables equal what SQL computes straight from the journal (the reference views' rules);
// analytics maintained by deltas equal a full recomputation; a malformed entry is dead-lettered
// while the rest of its batch commits.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { testEngines, lazyDatabase } from "../../support/databases.ts";
import { migrate } from "../../../db/migrate.ts";
import type { Db } from "../../../db/db.ts";
import { DeadLetterStore, listDeadLetters } from "../../../db/dead-letter-store.ts";
import { ingestMessages } from "../../../actors/vault-term/ingest.ts";
import { parseRedisEntry } from "../../../actors/vault-term/rindexer-entry.ts";
import { replayVaultTerm } from "../../../actors/vault-term/replay.ts";
import { generateEvents } from "../../../samples/vault-term/generate-events.ts";
import { shuffle, deposit, bytes32, message, txInfo } from "./event-builder.ts";
import { count, drainAnalytics, dumpDerived, ingest, reset } from "./fixture.ts";

const EVENTS = generateEvents({ seed: 7, atoms: 20, triples: 12, accounts: 12, events: 400 });

async function ingestInBatches(db: Db, messages: readonly unknown[], sizes: () => number) {
  for (let i = 0; i < messages.length; ) {
    const n = sizes();
    await ingest(db, messages.slice(i, i + n));
    i += n;
  }
}

/** Rows where a derived table differs from the journal-computed reference (empty when consistent). */
async function referenceDiffs(db: Db): Promise<Record<string, unknown[]>> {
  const checks: Record<string, string> = {
    // position.shares = totalShares of the newest (block, log) event across deposits and redeems; totals are sums.
    position: `
      WITH ev AS (
        SELECT receiver, term_id, curve_id, block_number, log_index, total_shares::numeric AS ts, assets_after_fees::numeric AS dep, 0::numeric AS red FROM deposited_events
        UNION ALL
        SELECT receiver, term_id, curve_id, block_number, log_index, total_shares::numeric, 0, assets::numeric FROM redeemed_events),
      ref AS (
        SELECT receiver AS account_id, term_id, curve_id, sum(dep) AS dep, sum(red) AS red,
               (array_agg(ts ORDER BY block_number DESC, log_index DESC))[1] AS shares
          FROM ev GROUP BY 1, 2, 3)
      SELECT ref.*, p.shares AS got FROM ref FULL JOIN position p USING (account_id, term_id, curve_id)
       WHERE p.shares IS DISTINCT FROM ref.shares OR p.total_deposit_assets_after_total_fees IS DISTINCT FROM ref.dep
          OR p.total_redeem_assets_for_receiver IS DISTINCT FROM ref.red`,
    vault_position_count: `
      SELECT v.term_id, v.curve_id, v.position_count, c.n FROM vault v
        LEFT JOIN (SELECT term_id, curve_id, count(*) AS n FROM position WHERE shares > 0 GROUP BY 1, 2) c USING (term_id, curve_id)
       WHERE v.position_count <> COALESCE(c.n, 0)`,
    vault_price: `
      WITH ref AS (
        SELECT DISTINCT ON (term_id, curve_id) term_id, curve_id, share_price::numeric AS sp, total_shares::numeric AS ts, total_assets::numeric AS ta
          FROM share_price_changed_events ORDER BY term_id, curve_id, block_number DESC, log_index DESC)
      SELECT ref.*, v.current_share_price FROM ref JOIN vault v USING (term_id, curve_id)
       WHERE v.current_share_price <> ref.sp OR v.total_shares <> ref.ts OR v.total_assets <> ref.ta
          OR v.market_cap <> round(ref.ts * ref.sp / 1000000000000000000::numeric)`,
    term_totals: `
      SELECT t.id, t.total_assets, s.ta FROM term t
        LEFT JOIN (SELECT term_id, sum(total_assets) AS ta, sum(market_cap) AS mc FROM vault GROUP BY 1) s ON s.term_id = t.id
       WHERE t.total_assets <> COALESCE(s.ta, 0) OR t.total_market_cap <> COALESCE(s.mc, 0)`,
    triple_term: `
      SELECT tt.term_id FROM triple_term tt
        LEFT JOIN (SELECT term_id, counter_term_id, sum(total_assets) AS a, sum(market_cap) AS m, sum(position_count) AS p FROM triple_vault GROUP BY 1, 2) s
          USING (term_id, counter_term_id)
       WHERE tt.total_assets <> COALESCE(s.a, 0) OR tt.total_market_cap <> COALESCE(s.m, 0) OR tt.total_position_count <> COALESCE(s.p, 0)`,
    triple_vault: `
      WITH curves AS (
        SELECT tr.term_id, tr.counter_term_id, v.curve_id FROM triple tr JOIN vault v ON v.term_id IN (tr.term_id, tr.counter_term_id) GROUP BY 1, 2, 3),
      ref AS (
        SELECT c.term_id, c.counter_term_id, c.curve_id,
               COALESCE(p.total_shares, 0) + COALESCE(n.total_shares, 0) AS s, COALESCE(p.position_count, 0) + COALESCE(n.position_count, 0) AS pc,
               COALESCE(p.market_cap, 0) + COALESCE(n.market_cap, 0) AS m
          FROM curves c LEFT JOIN vault p ON p.term_id = c.term_id AND p.curve_id = c.curve_id
                        LEFT JOIN vault n ON n.term_id = c.counter_term_id AND n.curve_id = c.curve_id)
      SELECT * FROM ref FULL JOIN triple_vault tv USING (term_id, counter_term_id, curve_id)
       WHERE tv.total_shares IS DISTINCT FROM ref.s OR tv.position_count IS DISTINCT FROM ref.pc OR tv.market_cap IS DISTINCT FROM ref.m`,
    predicate_object: `
      WITH ref AS (
        SELECT tr.predicate_id, tr.object_id, count(DISTINCT tr.term_id) AS n, COALESCE(sum(tt.total_position_count), 0) AS p, COALESCE(sum(tt.total_market_cap), 0) AS m
          FROM triple tr LEFT JOIN triple_term tt ON tt.term_id = tr.term_id GROUP BY 1, 2)
      SELECT * FROM ref FULL JOIN predicate_object po USING (predicate_id, object_id)
       WHERE po.triple_count IS DISTINCT FROM ref.n OR po.total_position_count IS DISTINCT FROM ref.p OR po.total_market_cap IS DISTINCT FROM ref.m`,
    subject_predicate: `
      WITH ref AS (
        SELECT tr.subject_id, tr.predicate_id, count(DISTINCT tr.term_id) AS n, COALESCE(sum(tt.total_position_count), 0) AS p, COALESCE(sum(tt.total_market_cap), 0) AS m
          FROM triple tr LEFT JOIN triple_term tt ON tt.term_id = tr.term_id GROUP BY 1, 2)
      SELECT * FROM ref FULL JOIN subject_predicate sp USING (subject_id, predicate_id)
       WHERE sp.triple_count IS DISTINCT FROM ref.n OR sp.total_position_count IS DISTINCT FROM ref.p OR sp.total_market_cap IS DISTINCT FROM ref.m`,
  };
  const out: Record<string, unknown[]> = {};
  for (const [name, sql] of Object.entries(checks)) {
    const res = await db.query(sql);
    if (res.rows.length > 0) out[name] = res.rows.slice(0, 3);
  }
  return out;
}

for (const engine of testEngines) {
  const t = suite(`vault-term consistency (${engine.name})`);
  const fx = lazyDatabase(engine, async (db) => {
    await migrate(db);
  });
  let live: Record<string, string[]> | undefined;

  t("live - derived tables equal the journal-computed reference", async () => {
    const db = await fx.get();
    await reset(db);
    await ingestInBatches(db, EVENTS, () => 50);
    assert.is(await count(db, "deposited_events") + (await count(db, "redeemed_events")) + (await count(db, "share_price_changed_events")), 400);
    assert.ok((await count(db, "triple_vault")) > 0, "some triple vaults");
    assert.ok((await count(db, "position WHERE shares = 0")) > 0, "some positions redeemed to zero");
    assert.equal(await referenceDiffs(db), {});
    live = await dumpDerived(db);
  });

  t("shuffled and duplicated delivery - identical tables", async () => {
    const db = await fx.get();
    assert.ok(live, "the live test ran first");
    await reset(db);
    const dupes = shuffle(EVENTS, 3).slice(0, 120);
    const messages = shuffle([...EVENTS, ...dupes], 11);
    let seed = 5;
    await ingestInBatches(db, messages, () => 1 + ((seed = (seed * 1103515245 + 12345) >>> 0) % 90));
    assert.equal(await dumpDerived(db), live);
  });

  t("replay - resetting derived tables and re-applying the journal reproduces the live tables", async () => {
    const db = await fx.get();
    await reset(db);
    await ingestInBatches(db, EVENTS, () => 37);
    const before = await dumpDerived(db);
    assert.equal(before, live);
    await db.query("UPDATE position SET shares = shares + 1"); // damage, so replay has something to fix
    const summary = await replayVaultTerm(db, { termsPerTransaction: 17 });
    assert.is(summary.events, EVENTS.length);
    assert.equal(await dumpDerived(db), before);
  });

  t("dead letter - a malformed entry is dead-lettered with its error while the rest commits", async () => {
    const db = await fx.get();
    await reset(db);
    const term = bytes32(0xabc);
    const good = [deposit({ term, amount: 10, total: 10, block: 1001 }), deposit({ term, amount: 5, total: 15, block: 1002 })];
    const badLog = deposit({ term, amount: 99, total: 99, block: 1003, log: "zz" });
    const entries: [string, string[]][] = [
      ["1-0", ["event_data", JSON.stringify(good[0])]],
      ["2-0", ["event_data", JSON.stringify(badLog)]],
      ["3-0", ["event_data", "{not json"]],
      ["4-0", ["event_data", JSON.stringify(message("Deposited", [good[1].event_data, { termId: "0x12" }]))]],
      ["5-0", ["event_data", JSON.stringify(message("SomethingNew", { foo: 1, transaction_information: txInfo({ block: 1004 }) }))]],
    ];
    const parsed = entries.flatMap(([id, fields]) => parseRedisEntry(id, fields));
    const summary = await ingestMessages(parsed, { db, deadLetters: new DeadLetterStore(db), sourceOf: (id) => `redis:test/${id}` });
    await drainAnalytics(db);
    assert.is(summary.deadLettered, 3);
    assert.is(summary.fresh, 3);
    const p = await db.query<{ shares: string; dep: string }>(
      "SELECT shares::text AS shares, total_deposit_assets_after_total_fees::text AS dep FROM position WHERE term_id = $1",
      [term],
    );
    assert.equal(p.rows, [{ shares: "15", dep: "15" }]);
    assert.is(await count(db, "generic_events WHERE event_name = 'SomethingNew'"), 1);
    const letters = (await listDeadLetters(db, { kind: "vault-term" })).sort((a, b) => (a.source < b.source ? -1 : 1));
    assert.equal(letters.map((l) => l.source), ["redis:test/2-0", "redis:test/3-0", "redis:test/4-0-1"]);
    assert.match(letters[0].error, "transaction_information.log_index: log_index: expected 0x-hex or decimal digits");
    assert.match(letters[1].error, "not valid JSON");
    assert.match(letters[2].error, "termId");
  });

  t.after(() => fx.drop());
  t.run();
}
