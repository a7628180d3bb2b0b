/**
 * The triple-analytics actor kind: ONE actor per partition of term ids (entity id `p00`…), fed by
 * `term-updated` messages ({termIds}) that the vault-term write path sends after each commit.
 *
 * Why per partition and not per triple: predicate_object / subject_predicate rows are shared by
 * many triples (a popular predicate is in thousands), so per-triple actors would each write the
 * same hot rows in their own transactions; a partition actor coalesces every pending term of its
 * partition (at most one pending update per term, decision 6) and the runtime's group commit
 * writes them with one statement per table, deltas summed per key. The number of actors is
 * bounded (P), and a partition maps onto the host that owns it.
 *
 * Durability: the journal of this kind is `term_update_queue`, written in the same transaction
 * as the term's aggregates. A lost or duplicated message is harmless: recomputation is
 * idempotent (deltas against the stored triple_term), and an actor catches up from the queue when
 * it loads (`load` reads the queue once for a burst of activations). `save` is the commit: it
 * recomputes the pending terms' triples, deletes their queue rows unless re-queued meanwhile,
 * and empties the pending set.
 */
import { z } from "zod";
import type { ActorKind } from "../../supervisors/actor-kind.ts";
import type { Envelope } from "../../protocols/envelope.ts";
import type { Queryable } from "../../db/db.ts";
import { partitionOf, partitionToken, DEFAULT_PARTITIONS } from "../../protocols/partition.ts";
import { recomputeTriples, settleQueue } from "./triple-analytics.ts";

export const TRIPLE_ANALYTICS_KIND = "vault-term-analytics";
export const TERM_UPDATED = "term-updated";

export interface TripleAnalyticsState {
  /** Terms whose triples must be recomputed at the next commit. */
  pending: Set<string>;
}

export interface TripleAnalyticsKindOptions {
  partitions?: number;
  /** Called after each analytics write with the seconds each queued term waited (analytics lag). */
  onCommitted?(lagSeconds: number[]): void;
  /**
   * Commit window in ms (default ANALYTICS_COMMIT_WINDOW_MS; 0 = commit at the end of each burst):
   * terms told within a window are recomputed once. whenIdle, asks and stop do not wait for it.
   */
  commitWindowMs?: number;
  /** Epoch ms now (default Date.now), compared with the queue rows' created_at. */
  now?: () => number;
}

/** Default commit window of the analytics partition actors (docs/vault-term.md, Benchmark). */
export const ANALYTICS_COMMIT_WINDOW_MS = 1000;

/** Group term ids by the analytics actor (partition token) that owns them. */
export function analyticsTargets(termIds: Iterable<string>, partitions: number = DEFAULT_PARTITIONS): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const term of termIds) {
    const target = partitionToken(partitionOf(term, partitions), partitions);
    let list = out.get(target);
    if (!list) out.set(target, (list = []));
    list.push(term);
  }
  return out;
}

export function tripleAnalyticsKind(opts: TripleAnalyticsKindOptions = {}): ActorKind<TripleAnalyticsState> {
  const partitions = opts.partitions ?? DEFAULT_PARTITIONS;
  return {
    kind: TRIPLE_ANALYTICS_KIND,
    // Analytics are eventual: a commit window lets the tells of many term commits coalesce into
    // one recomputation per term. (Until stop 8 this was `maxDelayMs: 200`, an option the group
    // committer never read — removed since: every burst was recomputed at once.)
    options: { commit: { maxBatch: 500, windowMs: opts.commitWindowMs ?? ANALYTICS_COMMIT_WINDOW_MS } },
    messages: { [TERM_UPDATED]: z.object({ termIds: z.array(z.string().min(1)) }) },
    initial: () => ({ pending: new Set() }),
    // Catch-up: the partitions activating in one burst (a restart wakes all of them) take their
    // queued terms from ONE read of the queue, split here by partition (a read per partition
    // read the whole queue 16 times). A reload after a failed commit reads it again.
    async load(db: Queryable, ids: readonly string[]) {
      const out = new Map(ids.map((id) => [id, { pending: new Set<string>() }]));
      const res = await db.query<{ term_id: string }>("SELECT term_id FROM term_update_queue WHERE processed_at IS NULL");
      for (const r of res.rows) out.get(partitionToken(partitionOf(r.term_id, partitions), partitions))?.pending.add(r.term_id);
      return out;
    },
    handle(state: TripleAnalyticsState, msg: Envelope) {
      // In place: a partition's pending set holds thousands of terms, and a copy per message made
      // the handler quadratic (the runtime detects a change by reference, hence the new wrapper).
      const body = msg.body as { termIds: string[] };
      for (const term of body.termIds) state.pending.add(term);
      return { state: { pending: state.pending } };
    },
    async save(tx: Queryable, entries: readonly { entityId: string; state: TripleAnalyticsState }[]) {
      // Taken synchronously: handle adds to the same sets while this commits. (A failed commit
      // reloads the actor, and activate re-reads the queue.)
      const taken = new Set<string>();
      for (const e of entries) {
        for (const term of e.state.pending) taken.add(term);
        e.state.pending.clear();
      }
      const terms = [...taken].sort();
      if (terms.length === 0) return;
      // Queue versions first, vaults after: a term re-queued by a transaction that commits
      // meanwhile keeps its (newer) queue row and is processed again (settleQueue).
      const queued = await tx.query<{ term_id: string; version: string }>(
        "SELECT term_id, version::text AS version FROM term_update_queue WHERE processed_at IS NULL AND term_id = ANY($1::text[])",
        [terms],
      );
      await recomputeTriples(tx, terms);
      const lag = await settleQueue(tx, queued.rows.map((r) => ({ termId: r.term_id, version: r.version })), (opts.now ?? Date.now)());
      opts.onCommitted?.(lag);
    },
  };
}
