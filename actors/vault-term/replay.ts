/**
 * Replay (decision 8, spine rule 5): reset every derived table and re-apply the journal (the event
 * tables) through the same apply code as live ingest, then recompute every triple's analytics.
 * Deterministic: the reducer does not depend on event order and the analytics are a function
 * of the vault table, so the result equals what live processing produced, row for row.
 */
import type { Db } from "../../db/db.ts";
import { readAllEvents } from "./event-journal.ts";
import { applyTermGroups, eventCounts, groupByTerm } from "./apply.ts";
import { bumpJournaled } from "./term-progress.ts";
import { processTripleAnalytics } from "./triple-analytics.ts";

export const DERIVED_TABLES = ["atom", "triple", "position", "vault", "term", "triple_vault", "triple_term", "predicate_object", "subject_predicate", "term_update_queue", "vault_term_journaled", "vault_term_applied"] as const;

export interface ReplaySummary {
  events: number;
  terms: number;
  triples: number;
}

export async function replayVaultTerm(db: Db, opts: { termsPerTransaction?: number } = {}): Promise<ReplaySummary> {
  const perTx = opts.termsPerTransaction ?? 2000;
  const events = await readAllEvents(db);
  const groups = [...groupByTerm(events)].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  await db.query(`TRUNCATE ${DERIVED_TABLES.join(", ")}`);
  for (let i = 0; i < groups.length; i += perTx) {
    const chunk = new Map(groups.slice(i, i + perTx));
    await db.transaction(async (tx) => {
      await bumpJournaled(tx, eventCounts(chunk));
      await applyTermGroups(tx, chunk);
    });
  }
  let triples = 0;
  for (;;) {
    const step = await processTripleAnalytics(db, { limit: 5000 });
    if (step.claimed === 0) break;
    triples += step.triples;
  }
  return { events: events.length, terms: groups.length, triples };
}
