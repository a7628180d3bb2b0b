/**
 * Apply term events to the derived tables inside the caller's transaction: group the events by
 * the term actors they concern, lock those terms, load their states, run the pure reducer, write
 * every changed row with one statement per table, and queue the terms whose triple analytics
 * must be recomputed. Used by live ingest (with only the events the journal had not seen) and by
 * replay (with the whole journal), so replay and live run the same code.
 */
import type { Queryable } from "../../db/db.ts";
import type { TermEvent, VaultEvent } from "./events.ts";
import { reduceTerm, type TermChanges } from "./reducer.ts";
import { loadTermStates, saveTermStates } from "./term-store.ts";
import { lockIds, LOCK_NAMESPACE } from "./term-locks.ts";
import type { TermState } from "./term-state.ts";
import { bumpApplied, bumpJournaled } from "./term-progress.ts";

export interface ApplySummary {
  /** Terms whose rows changed. */
  terms: string[];
  /** Terms queued for triple analytics. */
  analyticsTerms: string[];
}

/** Events grouped by the term actor that applies them (TripleCreated goes to the triple and its counter term). */
export function groupByTerm(events: readonly VaultEvent[]): Map<string, TermEvent[]> {
  const groups = new Map<string, TermEvent[]>();
  const add = (term: string, e: TermEvent) => {
    const list = groups.get(term);
    if (list) list.push(e);
    else groups.set(term, [e]);
  };
  for (const e of events) {
    // termsOf(e), without an array per event.
    if (e.type === "Generic") continue;
    add(e.termId, e);
    if (e.type === "TripleCreated") add(e.counterTermId, e);
  }
  return groups;
}

/** term → number of events (what the journaled / applied counts of migration 0102 add). */
export function eventCounts(groups: ReadonlyMap<string, readonly TermEvent[]>): Map<string, number> {
  return new Map([...groups].map(([term, list]) => [term, list.length]));
}

/** Direct path (journal and apply in one transaction): counts the events as journaled and applied. */
export async function applyTermEvents(tx: Queryable, events: readonly VaultEvent[]): Promise<ApplySummary> {
  const groups = groupByTerm(events);
  await bumpJournaled(tx, eventCounts(groups));
  return applyTermGroups(tx, groups);
}

/** Apply events already grouped by term (each term's list is applied to that term only). */
export async function applyTermGroups(tx: Queryable, groups: ReadonlyMap<string, readonly TermEvent[]>): Promise<ApplySummary> {
  if (groups.size === 0) return { terms: [], analyticsTerms: [] };
  const termIds = [...groups.keys()].sort();
  await lockIds(tx, LOCK_NAMESPACE.term, termIds);
  const positionKeys = new Map<string, { accountId: string; curveId: string }[]>();
  for (const [term, list] of groups) {
    const keys = new Map<string, { accountId: string; curveId: string }>();
    for (const e of list) if (e.type === "Deposited" || e.type === "Redeemed") keys.set(`${e.receiver}|${e.curveId}`, { accountId: e.receiver, curveId: e.curveId });
    if (keys.size > 0) positionKeys.set(term, [...keys.values()]);
  }
  const states = await loadTermStates(tx, termIds, positionKeys);
  const results: { state: TermState; changes: TermChanges }[] = [];
  const analyticsTerms: string[] = [];
  for (const term of termIds) {
    const result = reduceTerm(states.get(term)!, groups.get(term)!);
    results.push(result);
    if (result.changes.analytics) analyticsTerms.push(term);
  }
  await saveTermStates(tx, results);
  await bumpApplied(tx, eventCounts(groups));
  if (analyticsTerms.length > 0) {
    await tx.query(
      `INSERT INTO term_update_queue (term_id)
       SELECT t FROM unnest($1::text[]) AS u(t) ORDER BY t
       ON CONFLICT (term_id) WHERE processed_at IS NULL DO UPDATE SET version = term_update_queue.version + 1`,
      [analyticsTerms],
    );
  }
  return { terms: termIds, analyticsTerms };
}
