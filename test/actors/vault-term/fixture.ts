/**
 * Test fixture for vault-term suites: a migrated database per engine, a reset between tests,
 * an ingest that goes through the real parser, journal, apply and dead-letter store, and
 * dumps of every derived table for exact comparisons.
 */
import type { Db } from "../../../db/db.ts";
import { DeadLetterStore } from "../../../db/dead-letter-store.ts";
import { ingestMessages, type IngestSummary } from "../../../actors/vault-term/ingest.ts";
import { processTripleAnalytics } from "../../../actors/vault-term/triple-analytics.ts";
import { DERIVED_TABLES } from "../../../actors/vault-term/replay.ts";
import { EVENT_TABLES } from "../../../actors/vault-term/event-journal.ts";
import { parse } from "./event-builder.ts";

export const ALL_TABLES = [...Object.values(EVENT_TABLES), ...DERIVED_TABLES, "strata_dead_letter"];

export async function reset(db: Db): Promise<void> {
  await db.query(`TRUNCATE ${ALL_TABLES.join(", ")}`);
}

/** Ingest messages (one batch) then run triple analytics until the queue is empty. */
export async function ingest(db: Db, messages: readonly unknown[]): Promise<IngestSummary> {
  const summary = await ingestMessages(parse(messages), { db, deadLetters: new DeadLetterStore(db), sourceOf: (id) => `test:${id}` });
  await drainAnalytics(db);
  return summary;
}

export async function drainAnalytics(db: Db): Promise<number> {
  let triples = 0;
  for (;;) {
    const step = await processTripleAnalytics(db, { limit: 1000 });
    if (step.claimed === 0) return triples;
    triples += step.triples;
  }
}

const ORDER: Record<string, string> = {
  atom: "term_id",
  triple: "term_id",
  position: "account_id, term_id, curve_id",
  vault: "term_id, curve_id",
  term: "id",
  triple_vault: "term_id, counter_term_id, curve_id",
  triple_term: "term_id, counter_term_id",
  predicate_object: "predicate_id, object_id",
  subject_predicate: "subject_id, predicate_id",
};

/** Every derived table as JSON text rows in key order (the queue is excluded: it is not state). */
export async function dumpDerived(db: Db): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const [table, order] of Object.entries(ORDER)) {
    const res = await db.query<{ j: string }>(`SELECT to_jsonb(t)::text AS j FROM ${table} t ORDER BY ${order}`);
    out[table] = res.rows.map((r) => r.j);
  }
  return out;
}

export async function one<R = Record<string, unknown>>(db: Db, sql: string, params: unknown[] = []): Promise<R> {
  const res = await db.query<R>(sql, params);
  if (res.rows.length !== 1) throw new Error(`expected one row, got ${res.rows.length}: ${sql}`);
  return res.rows[0];
}

export async function count(db: Db, sql: string, params: unknown[] = []): Promise<number> {
  const res = await db.query<{ n: string }>(`SELECT count(*)::text AS n FROM ${sql}`, params);
  return Number(res.rows[0].n);
}
