// vault-term actors (one per term, the single writer of its rows), on PostgreSQL and PGlite: the
// actor path (journal commit → fresh events to the term actors → group commit) gives exactly the
// tables of the direct path; terms left behind by a crash between the journal commit and the
// actors' commit (their messages lost) are caught up from the journal by the sweep, nothing
// lost and nothing applied twice; a reordered or repeated message makes an actor rebuild its
// term from the journal instead of double-counting.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import pino from "pino";
import { testEngines, lazyDatabase } from "../../support/databases.ts";
import { migrate } from "../../../db/migrate.ts";
import type { Db } from "../../../db/db.ts";
import { DeadLetterStore } from "../../../db/dead-letter-store.ts";
import { ActorSystem } from "../../../supervisors/actor-system.ts";
import { journalAndSend } from "../../../actors/vault-term/ingest.ts";
import { APPLY, catchUpVaultTerms, vaultTermKind, VAULT_TERM_ACTOR_KIND } from "../../../actors/vault-term/term-actor-kind.ts";
import { tripleAnalyticsKind } from "../../../actors/vault-term/triple-analytics-kind.ts";
import { laggingTerms } from "../../../actors/vault-term/term-progress.ts";
import { generateEvents } from "../../../samples/vault-term/generate-events.ts";
import { bytes32, deposit, parse, shuffle } from "./event-builder.ts";
import { count, drainAnalytics, dumpDerived, ingest, reset } from "./fixture.ts";

const EVENTS = generateEvents({ seed: 9, atoms: 15, triples: 10, accounts: 10, events: 300 });
const log = pino({ level: "silent" });

function newSystem(db: Db, lanes: number) {
  const system = new ActorSystem({ db, log, deadLetters: new DeadLetterStore(db) });
  system.register(vaultTermKind({ lanes }));
  system.register(tripleAnalyticsKind());
  return system;
}

async function viaActors(db: Db, system: ActorSystem, messages: readonly unknown[], batch: number) {
  for (let i = 0; i < messages.length; i += batch) {
    await journalAndSend(parse(messages.slice(i, i + batch)), { db, deadLetters: new DeadLetterStore(db), system });
  }
  await system.whenIdle();
}

for (const engine of testEngines) {
  const t = suite(`vault-term actors (${engine.name})`);
  const fx = lazyDatabase(engine, (db) => migrate(db).then(() => {}));
  const lanes = engine.name === "pglite" ? 1 : 2;
  let reference: Record<string, string[]> | undefined;

  t("term actors - the actor path gives the tables of the direct path, every term applied up to the journal", async () => {
    const db = await fx.get();
    await reset(db);
    await ingest(db, EVENTS);
    reference = await dumpDerived(db);
    await reset(db);
    const system = newSystem(db, lanes);
    await system.start();
    try {
      await viaActors(db, system, shuffle(EVENTS, 4), 23);
      assert.is((await laggingTerms(db)).size, 0);
      assert.ok(system.stats(VAULT_TERM_ACTOR_KIND).resident > 20, "one resident actor per term");
      assert.is(await count(db, "term_update_queue"), 0, "the analytics actors settled the queue");
      assert.equal(await dumpDerived(db), reference);
    } finally {
      await system.stop();
    }
  });

  t("term actors - messages lost after the journal commit (crash) are caught up from the journal by the sweep", async () => {
    const db = await fx.get();
    assert.ok(reference, "the first test ran");
    await reset(db);
    // First half through live actors; second half journaled but its messages lost (the process died).
    const half = Math.floor(EVENTS.length / 2);
    const first = newSystem(db, lanes);
    await first.start();
    await viaActors(db, first, EVENTS.slice(0, half), 30);
    await first.stop();
    const lost = { send: async () => {}, trySend: () => true };
    for (let i = half; i < EVENTS.length; i += 30) {
      await journalAndSend(parse(EVENTS.slice(i, Math.min(EVENTS.length, i + 30))), { db, deadLetters: new DeadLetterStore(db), system: lost });
    }
    const behind = (await laggingTerms(db)).size;
    assert.ok(behind > 0, "terms are behind the journal");
    const second = newSystem(db, lanes);
    await second.start();
    try {
      assert.is(await catchUpVaultTerms(db, second), behind);
      await second.whenIdle();
      await drainAnalytics(db);
      assert.is((await laggingTerms(db)).size, 0);
      assert.equal(await dumpDerived(db), reference);
      // Redelivery of the whole stream afterwards (entries never acknowledged): nothing changes.
      await viaActors(db, second, EVENTS, 50);
      assert.equal(await dumpDerived(db), reference);
    } finally {
      await second.stop();
    }
  });

  t("term actors - a repeated or reordered message rebuilds the term instead of counting twice", async () => {
    const db = await fx.get();
    await reset(db);
    const term = bytes32(0x77);
    const system = newSystem(db, lanes);
    await system.start();
    try {
      const events = [deposit({ term, amount: 10, total: 10, block: 1001 }), deposit({ term, amount: 5, total: 15, block: 1002 })];
      await viaActors(db, system, events, 1);
      const parsed = parse(events).map((p) => (p.ok ? p.event : null));
      // The first message again, exactly as it was sent (a duplicated notification): journaled 1.
      system.tell(VAULT_TERM_ACTOR_KIND, term, APPLY, { events: [parsed[0]], journaled: 1 });
      await system.whenIdle();
      // A third event journaled, its message overtaken by a later one (journaled 4): the actor
      // rebuilds from the journal, and the late message then applies nothing twice.
      const late = [deposit({ term, amount: 7, total: 22, block: 1003 }), deposit({ term, amount: 1, total: 23, block: 1004 })];
      const lost = {
        sent: [] as unknown[],
        send: async (_k: string, _id: string, _type: string, body: unknown) => void lost.sent.push(body),
        trySend: (_k: string, _id: string, _type: string, body: unknown) => (lost.sent.push(body), true),
      };
      for (const e of late) await journalAndSend(parse([e]), { db, deadLetters: new DeadLetterStore(db), system: lost });
      system.tell(VAULT_TERM_ACTOR_KIND, term, APPLY, lost.sent[1]);
      system.tell(VAULT_TERM_ACTOR_KIND, term, APPLY, lost.sent[0]);
      await system.whenIdle();
      const p = await db.query<{ shares: string; dep: string }>(
        "SELECT shares::text AS shares, total_deposit_assets_after_total_fees::text AS dep FROM position WHERE term_id = $1",
        [term],
      );
      assert.equal(p.rows, [{ shares: "23", dep: "23" }]);
      assert.is((await laggingTerms(db)).size, 0);
      const applied = await db.query<{ events: string }>("SELECT events::text AS events FROM vault_term_applied WHERE term_id = $1", [term]);
      assert.equal(applied.rows, [{ events: "4" }]);
    } finally {
      await system.stop();
    }
  });

  t("term actors - a term whose mailbox is full is sent its events once there is room (trySend, then send), none dropped", async () => {
    const db = await fx.get();
    await reset(db);
    const calls: string[] = [];
    const delivered: unknown[] = [];
    // Every other term's mailbox is full at the first try.
    let full = true;
    const system = {
      trySend: (_k: string, id: string, _type: string, body: unknown) => {
        calls.push(`trySend ${id}`);
        full = !full;
        if (!full) return false;
        delivered.push(body);
        return true;
      },
      send: async (_k: string, id: string, _type: string, body: unknown) => {
        calls.push(`send ${id}`);
        delivered.push(body);
      },
    };
    const terms = [bytes32(901), bytes32(902)];
    const summary = await journalAndSend(parse(terms.map((term, i) => deposit({ term, amount: 5, total: 5, block: 2000 + i }))), { db, deadLetters: new DeadLetterStore(db), system });
    assert.is(summary.fresh, 2);
    assert.equal(calls, [`trySend ${terms[0]}`, `send ${terms[0]}`, `trySend ${terms[1]}`]);
    assert.is(delivered.length, 2);
  });

  t.after(() => fx.drop());
  t.run();
}
