/**
 * How far each vault-term actor has applied the journal (migration 0102). The journal side
 * counts, per term, the events committed to the event tables (`vault_term_journaled`, bumped in
 * the journal transaction, which returns the new totals); the actor side counts the events it
 * applied (`vault_term_applied`, written with the term's rows in the runtime's group commit).
 * A term whose applied count is behind its journaled count missed events (a crash between the
 * journal commit and the actor's commit, or a lost message): the actor rebuilds it from the
 * event tables (`readTermEvents`), and `laggingTerms` finds such terms for the catch-up sweep.
 */
import type { Queryable } from "../../db/db.ts";
import { readAllEvents } from "./event-journal.ts";
import { termsOf, type TermEvent } from "./events.ts";

const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/** Add `counts` (term → new events) to the journaled counts; returns each term's new total. */
export async function bumpJournaled(tx: Queryable, counts: ReadonlyMap<string, number>): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  if (counts.size === 0) return out;
  const ids = [...counts.keys()].sort(cmp);
  const res = await tx.query<{ term_id: string; events: string }>(
    `INSERT INTO vault_term_journaled (term_id, events)
     SELECT t, n::bigint FROM unnest($1::text[], $2::text[]) AS u(t, n) ORDER BY t
     ON CONFLICT (term_id) DO UPDATE SET events = vault_term_journaled.events + EXCLUDED.events
     RETURNING term_id, events::text AS events`,
    [ids, ids.map((id) => String(counts.get(id)))],
  );
  for (const r of res.rows) out.set(r.term_id, Number(r.events));
  return out;
}

/** Add `counts` to the applied counts (the direct path, which journals and applies in one transaction). */
export async function bumpApplied(tx: Queryable, counts: ReadonlyMap<string, number>): Promise<void> {
  if (counts.size === 0) return;
  const ids = [...counts.keys()].sort(cmp);
  await tx.query(
    `INSERT INTO vault_term_applied (term_id, events)
     SELECT t, n::bigint FROM unnest($1::text[], $2::text[]) AS u(t, n) ORDER BY t
     ON CONFLICT (term_id) DO UPDATE SET events = vault_term_applied.events + EXCLUDED.events`,
    [ids, ids.map((id) => String(counts.get(id)))],
  );
}

/** Set the applied counts (the actors' group commit). */
export async function setApplied(tx: Queryable, counts: ReadonlyMap<string, number>): Promise<void> {
  if (counts.size === 0) return;
  const ids = [...counts.keys()].sort(cmp);
  await tx.query(
    `INSERT INTO vault_term_applied (term_id, events)
     SELECT t, n::bigint FROM unnest($1::text[], $2::text[]) AS u(t, n) ORDER BY t
     ON CONFLICT (term_id) DO UPDATE SET events = EXCLUDED.events`,
    [ids, ids.map((id) => String(counts.get(id)))],
  );
}

export async function loadApplied(db: Queryable, termIds: readonly string[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  if (termIds.length === 0) return out;
  const res = await db.query<{ term_id: string; events: string }>(
    "SELECT term_id, events::text AS events FROM vault_term_applied WHERE term_id = ANY($1::text[])",
    [[...termIds]],
  );
  for (const r of res.rows) out.set(r.term_id, Number(r.events));
  return out;
}

export async function loadJournaled(db: Queryable, termId: string): Promise<number> {
  const res = await db.query<{ events: string }>("SELECT events::text AS events FROM vault_term_journaled WHERE term_id = $1", [termId]);
  return res.rows.length === 0 ? 0 : Number(res.rows[0].events);
}

/** Terms whose applied count is behind the journal, with their journaled count (at most `limit`). */
export async function laggingTerms(db: Queryable, limit = 100_000): Promise<Map<string, number>> {
  const res = await db.query<{ term_id: string; events: string }>(
    `SELECT j.term_id, j.events::text AS events FROM vault_term_journaled j
       LEFT JOIN vault_term_applied a ON a.term_id = j.term_id
      WHERE j.events > coalesce(a.events, 0) ORDER BY j.term_id LIMIT $1`,
    [limit],
  );
  return new Map(res.rows.map((r) => [r.term_id, Number(r.events)]));
}

/** Every journal event of one term (a TripleCreated counts for its term and its counter term). */
export async function readTermEvents(db: Queryable, termId: string): Promise<TermEvent[]> {
  const events = await readAllEvents(db, [termId]);
  return events.filter((e): e is TermEvent => e.type !== "Generic" && termsOf(e).includes(termId));
}
