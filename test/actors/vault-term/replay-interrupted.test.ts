// Regression (review, stop 11): an interrupted `strata replay --kind vault-term` silently corrupted
// term state. The TRUNCATE committed on its own and the terms were re-applied 2,000 per
// transaction, so after a failure part-way the terms not yet replayed had no rows and no
// journaled or applied counts: no catch-up saw them, and their next event was applied to an empty
// state. The replay is now one transaction: a failure leaves every table as it was.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import { testEngines, lazyDatabase } from "../../support/databases.ts";
import { migrate } from "../../../db/migrate.ts";
import type { Db, Queryable } from "../../../db/db.ts";
import { replayVaultTerm } from "../../../actors/vault-term/replay.ts";
import { laggingTerms } from "../../../actors/vault-term/term-progress.ts";
import { generateEvents } from "../../../samples/vault-term/generate-events.ts";
import { rejectionMessage } from "../../support/rejection.ts";
import { deposit } from "./event-builder.ts";
import { dumpDerived, ingest, reset } from "./fixture.ts";

const EVENTS = generateEvents({ seed: 11, atoms: 20, triples: 12, accounts: 12, events: 300 });

/**
 * The database with a connection that breaks (the statement fails) at the `failAt`-th position
 * write inside a transaction: a replay stopped part-way, as by Ctrl-C or a lost connection.
 */
function breaksAtPositionWrite(db: Db, failAt: number): Db {
  let writes = 0;
  const guarded = (q: Queryable): Queryable => ({
    query: (sql, params) => {
      if (/^\s*INSERT INTO position\b/.test(sql) && ++writes >= failAt) return Promise.reject(new Error("connection lost (injected)"));
      return q.query(sql, params);
    },
  });
  return { ...db, query: db.query.bind(db), transaction: (fn) => db.transaction((tx) => fn(guarded(tx))) };
}

async function counts(db: Db): Promise<{ journaled: string[]; applied: string[] }> {
  const j = await db.query<{ r: string }>("SELECT term_id || '=' || events AS r FROM vault_term_journaled ORDER BY term_id");
  const a = await db.query<{ r: string }>("SELECT term_id || '=' || events AS r FROM vault_term_applied ORDER BY term_id");
  return { journaled: j.rows.map((x) => x.r), applied: a.rows.map((x) => x.r) };
}

for (const engine of testEngines) {
  const t = suite(`vault-term replay interrupted [${engine.name}]`);
  const fx = lazyDatabase(engine);
  t.before(async () => {
    await migrate(await fx.get());
  });
  t.after(() => fx.drop());

  t("replay - a replay that fails part-way leaves every derived table and count as it was; the next event applies on the full state", async () => {
    const db = await fx.get();
    await reset(db);
    await ingest(db, EVENTS);
    const before = await dumpDerived(db);
    const progress = await counts(db);
    assert.ok(before.position.length > 20, "the sample has positions in several steps of 5 terms");
    // Five terms per step: the failure comes after several steps have been applied.
    const message = await rejectionMessage(replayVaultTerm(breaksAtPositionWrite(db, 3), { termsPerTransaction: 5 }));
    assert.match(message, /connection lost \(injected\)/);
    assert.equal(await dumpDerived(db), before, "no table was emptied or half rebuilt");
    assert.equal(await counts(db), progress, "journaled and applied counts unchanged");
    assert.is((await laggingTerms(db)).size, 0);
    // A term's next event applies to its whole state (before, it met an empty one).
    const some = JSON.parse(before.position[0]) as { term_id: string; account_id: string; curve_id: string; total_deposit_assets_after_total_fees: string };
    const next = deposit({ term: some.term_id, receiver: some.account_id, curve: some.curve_id, amount: 1, total: 1, block: 9_000_000 });
    await ingest(db, [next]);
    const after = await db.query<{ d: string }>(
      "SELECT total_deposit_assets_after_total_fees::text AS d FROM position WHERE term_id = $1 AND account_id = $2 AND curve_id = $3",
      [some.term_id, some.account_id, some.curve_id],
    );
    assert.is(after.rows[0].d, String(BigInt(some.total_deposit_assets_after_total_fees) + 1n));
    // And an uninterrupted replay still reproduces the live tables.
    const live = await dumpDerived(db);
    await replayVaultTerm(db, { termsPerTransaction: 5 });
    assert.equal(await dumpDerived(db), live);
  });

  t.run();
}
