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

/**
 * The reset and the re-apply are ONE transaction: a replay that stops part-way (Ctrl-C, a lost
 * connection, a failing statement) leaves the tables as they were. Before, the TRUNCATE committed
 * on its own and the terms were re-applied 2,000 per transaction: the terms not yet replayed
 * had no rows and no journaled or applied counts, so no catch-up saw them and their next live
 * event was applied to an empty state. The TRUNCATE also holds the derived tables (ACCESS
 * EXCLUSIVE) until the commit: a host's journal transaction waits instead of interleaving.
 * `termsPerTransaction` now only cuts the statements (terms per apply). The analytics recompute
 * that follows runs in steps of its own: what it has not done stays in term_update_queue, which a
 * host (or the next replay) works off.
 */
export async function replayVaultTerm(db: Db, opts: { termsPerTransaction?: number } = {}): Promise<ReplaySummary> {
  const perStep = opts.termsPerTransaction ?? 2000;
  const { events, terms } = await db.transaction(async (tx) => {
    await tx.query(`TRUNCATE ${DERIVED_TABLES.join(", ")}`);
    const events = await readAllEvents(tx);
    const groups = [...groupByTerm(events)].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    for (let i = 0; i < groups.length; i += perStep) {
      const chunk = new Map(groups.slice(i, i + perStep));
      await bumpJournaled(tx, eventCounts(chunk));
      await applyTermGroups(tx, chunk);
    }
    return { events: events.length, terms: groups.length };
  });
  let triples = 0;
  for (;;) {
    const step = await processTripleAnalytics(db, { limit: 5000 });
    if (step.claimed === 0) break;
    triples += step.triples;
  }
  return { events, terms, triples };
}
