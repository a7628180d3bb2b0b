// A second TripleCreated for a term id with another subject / predicate / object, on PostgreSQL
// and PGlite: the triple row takes the newest event's ids (an older one never wins), and the
// triple's contribution (triple_count, position count, market cap) moves from the pairs it was
// counted under to the new ones — a pair left without triples disappears, one that keeps others
// gets their updated_at back — so the live tables, after the actor path, equal replay and the
// pair tables equal Σ triple_term over the final triple rows, in whatever order the two arrive.
import { suite } from "uvu";
import * as assert from "uvu/assert";
import pino from "pino";
import { testEngines, lazyDatabase } from "../../support/databases.ts";
import { migrate } from "../../../db/migrate.ts";
import type { Db } from "../../../db/db.ts";
import { DeadLetterStore } from "../../../db/dead-letter-store.ts";
import { ActorSystem } from "../../../supervisors/actor-system.ts";
import { vaultTermKind } from "../../../actors/vault-term/term-actor-kind.ts";
import { tripleAnalyticsKind } from "../../../actors/vault-term/triple-analytics-kind.ts";
import { importVaultTermLines } from "../../../actors/vault-term/service.ts";
import { replayVaultTerm } from "../../../actors/vault-term/replay.ts";
import { counterTermId } from "../../../actors/vault-term/normalize.ts";
import { account, bytes32, deposit, price, triple, WAD } from "./event-builder.ts";
import { count, dumpDerived, ingest, one, reset } from "./fixture.ts";

const log = pino({ level: "silent" });

const T = bytes32(0x7001); // the triple whose ids change
const C = counterTermId(T);
const U = bytes32(0x7002); // another triple, always (S1, P1, O1)
const [S1, P1, O1, S2, P2, O2] = [0x51, 0x61, 0x71, 0x52, 0x62, 0x72].map(bytes32);

/** Vault activity on T, its counter term and U (position counts and market caps to move). */
function vaults(): unknown[] {
  return [
    deposit({ term: T, amount: 100, total: 100, block: 1001 }),
    deposit({ term: T, amount: 7, total: 7, block: 1001, log: 1, receiver: account(2) }),
    price({ term: T, sharePrice: 3n * WAD, totalShares: 5n * WAD, block: 1002 }),
    deposit({ term: C, amount: 50, total: 50, block: 1003, vaultType: 2 }),
    price({ term: C, sharePrice: 2n * WAD, totalShares: 4n * WAD, block: 1004 }),
    deposit({ term: U, amount: 10, total: 10, block: 1001, log: 2 }),
    price({ term: U, sharePrice: WAD, totalShares: 2n * WAD, block: 1001, log: 3 }),
  ];
}

/** Rows where a pair table differs from the final triple rows: count, Σ triple_term, latest triple_term updated_at. */
async function pairDiffs(db: Db): Promise<Record<string, unknown[]>> {
  const out: Record<string, unknown[]> = {};
  for (const [table, a, b] of [["predicate_object", "predicate_id", "object_id"], ["subject_predicate", "subject_id", "predicate_id"]]) {
    const res = await db.query(
      `WITH ref AS (
         SELECT tr.${a} AS a, tr.${b} AS b, count(*) AS n, sum(tt.total_position_count) AS p, sum(tt.total_market_cap) AS m, max(tt.updated_at) AS u
           FROM triple tr JOIN triple_term tt ON tt.term_id = tr.term_id AND tt.counter_term_id = tr.counter_term_id GROUP BY 1, 2)
       SELECT ref.a, ref.b, ref.n, x.* FROM ref FULL JOIN ${table} x ON x.${a} = ref.a AND x.${b} = ref.b
        WHERE x.triple_count IS DISTINCT FROM ref.n OR x.total_position_count IS DISTINCT FROM ref.p
           OR x.total_market_cap IS DISTINCT FROM ref.m OR x.updated_at IS DISTINCT FROM ref.u`,
    );
    if (res.rows.length > 0) out[table] = res.rows;
  }
  return out;
}

interface Case {
  name: string;
  /** Batches in arrival order; analytics run after each. */
  batches: unknown[][];
  /** The (subject, predicate, object) T must end with. */
  final: [string, string, string];
  /** Pairs that must have no row at the end. */
  gone?: { predicateObject?: [string, string][]; subjectPredicate?: [string, string][] };
}

const CASES: Case[] = [
  {
    // The old pairs keep U; the new pairs get T; a vault change of the counter term in the same batch.
    name: "newer second, old pairs keep another triple",
    batches: [
      [triple({ term: T, subject: S1, predicate: P1, object: O1, block: 1000 }), triple({ term: U, subject: S1, predicate: P1, object: O1, block: 1000, log: 1 }), ...vaults()],
      [triple({ term: T, subject: S2, predicate: P2, object: O2, block: 1010 }), deposit({ term: C, amount: 5, total: 5, block: 1011, receiver: account(3), vaultType: 2 })],
    ],
    final: [S2, P2, O2],
  },
  {
    name: "newer first, the older one arrives later and does not win",
    batches: [
      [triple({ term: T, subject: S2, predicate: P2, object: O2, block: 1010 }), triple({ term: U, subject: S1, predicate: P1, object: O1, block: 1000, log: 1 }), ...vaults()],
      [triple({ term: T, subject: S1, predicate: P1, object: O1, block: 1000 }), deposit({ term: C, amount: 5, total: 5, block: 1011, receiver: account(3), vaultType: 2 })],
    ],
    final: [S2, P2, O2],
  },
  {
    // Only the object changes: subject_predicate keeps its key, the old predicate_object row empties.
    name: "only the object changes, the old predicate_object pair is left without triples",
    batches: [
      [triple({ term: T, subject: S1, predicate: P1, object: O1, block: 1000 }), ...vaults().slice(0, 5)],
      [triple({ term: T, subject: S1, predicate: P1, object: O2, block: 1010 })],
    ],
    final: [S1, P1, O2],
    gone: { predicateObject: [[P1, O1]] },
  },
  {
    name: "there and back: a third event returns the triple to its first pair",
    batches: [
      [triple({ term: T, subject: S1, predicate: P1, object: O1, block: 1000 }), ...vaults().slice(0, 5)],
      [triple({ term: T, subject: S2, predicate: P2, object: O2, block: 1010 })],
      [triple({ term: T, subject: S1, predicate: P1, object: O1, block: 1020 }), price({ term: T, sharePrice: 4n * WAD, totalShares: 5n * WAD, block: 1021 })],
    ],
    final: [S1, P1, O1],
    gone: { predicateObject: [[P2, O2]], subjectPredicate: [[S2, P2]] },
  },
];

async function throughActors(db: Db, batches: unknown[][]): Promise<void> {
  const deadLetters = new DeadLetterStore(db);
  const system = new ActorSystem({ db, log, deadLetters });
  system.register(vaultTermKind({ lanes: 1, commitWindowMs: 0 }));
  system.register(tripleAnalyticsKind({ commitWindowMs: 0 }));
  await system.start();
  try {
    for (const batch of batches) {
      const summary = await importVaultTermLines(batch.map((m) => JSON.stringify(m)), { db, deadLetters, system, name: "pair-change.jsonl" });
      assert.is(summary.deadLettered, 0);
    }
  } finally {
    await system.stop();
  }
  assert.is(await count(db, "term_update_queue"), 0);
}

async function throughDirectPath(db: Db, batches: unknown[][]): Promise<void> {
  for (const batch of batches) await ingest(db, batch);
}

for (const engine of testEngines) {
  const t = suite(`vault-term triple pair change (${engine.name})`);
  const fx = lazyDatabase(engine, (db) => migrate(db).then(() => {}));
  const finals = new Map<string, Record<string, string[]>>();

  for (const c of CASES) {
    for (const [path, run] of [["actors", throughActors], ["direct", throughDirectPath]] as const) {
      t(`${c.name} (${path}) - live equals replay and the final triple rows`, async () => {
        const db = await fx.get();
        await reset(db);
        await run(db, c.batches);
        const tr = await one<{ s: string; p: string; o: string; c: string }>(
          db,
          "SELECT subject_id AS s, predicate_id AS p, object_id AS o, counter_term_id AS c FROM triple WHERE term_id = $1",
          [T],
        );
        assert.equal([tr.s, tr.p, tr.o], c.final);
        assert.is(tr.c, C);
        assert.equal(await pairDiffs(db), {});
        for (const [p, o] of c.gone?.predicateObject ?? []) assert.is(await count(db, "predicate_object WHERE predicate_id = $1 AND object_id = $2", [p, o]), 0);
        for (const [s, p] of c.gone?.subjectPredicate ?? []) assert.is(await count(db, "subject_predicate WHERE subject_id = $1 AND predicate_id = $2", [s, p]), 0);
        const live = await dumpDerived(db);
        await replayVaultTerm(db);
        assert.equal(await dumpDerived(db), live);
        finals.set(`${c.name} ${path}`, live);
      });
    }
  }

  t("arrival order - newer second and newer first end with identical tables", () => {
    for (const path of ["actors", "direct"]) {
      const a = finals.get(`${CASES[0].name} ${path}`);
      const b = finals.get(`${CASES[1].name} ${path}`);
      assert.ok(a && b, "both cases ran");
      assert.equal(b, a);
    }
    assert.equal(finals.get(`${CASES[0].name} actors`), finals.get(`${CASES[0].name} direct`));
  });

  t.after(() => fx.drop());
  t.run();
}
