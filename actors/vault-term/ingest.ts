/**
 * The vault-term write path for a batch of parsed messages (from a Redis stream, an import file
 * or the bundled samples), in ONE transaction (decision 1):
 *   journal append (idempotent; only new events continue) → apply to the term actors' rows →
 *   queue triple analytics → dead letters of the batch's malformed messages.
 * The caller acknowledges its source (XACK, cursor) only after this resolves. A redelivered batch
 * changes nothing: its events are already in the journal and a dead letter whose source is
 * already recorded is not recorded again.
 */
import type { Db } from "../../db/db.ts";
import type { DeadLetterSink } from "../../supervisors/actor-kind.ts";
import { appendEvents } from "./event-journal.ts";
import { applyTermEvents } from "./apply.ts";
import type { ParsedMessage } from "./rindexer-entry.ts";
import type { VaultEvent } from "./events.ts";
import { fnv1a32 } from "../../protocols/partition.ts";

export const VAULT_TERM_KIND = "vault-term";

export interface IngestSummary {
  /** Messages in the batch (after splitting arrays). */
  messages: number;
  /** Events appended to the journal for the first time. */
  fresh: number;
  /** Valid events the journal already had. */
  duplicates: number;
  deadLettered: number;
  /** Terms whose rows changed. */
  terms: string[];
  analyticsTerms: string[];
}

export interface IngestOptions {
  db: Db;
  deadLetters: DeadLetterSink;
  /** Dead-letter `source` of a message id (e.g. `redis:<stream>/<id>`). */
  sourceOf?: (messageId: string) => string;
}

export async function ingestMessages(messages: readonly ParsedMessage[], opts: IngestOptions): Promise<IngestSummary> {
  const events: VaultEvent[] = [];
  const bad: Extract<ParsedMessage, { ok: false }>[] = [];
  for (const m of messages) {
    if (m.ok) events.push(m.event);
    else bad.push(m);
  }
  const sourceOf = opts.sourceOf ?? ((id: string) => id);
  return opts.db.transaction(async (tx) => {
    const fresh = await appendEvents(tx, events);
    const applied = await applyTermEvents(tx, fresh);
    // A redelivered batch (crash after commit, before the source ack) must not keep a second copy.
    const known = new Set<string>();
    if (bad.length > 0) {
      const res = await tx.query<{ source: string }>(
        "SELECT source FROM strata_dead_letter WHERE kind = $1 AND source = ANY($2::text[])",
        [VAULT_TERM_KIND, bad.map((b) => sourceOf(b.id))],
      );
      for (const r of res.rows) known.add(r.source);
    }
    for (const b of bad) {
      if (known.has(sourceOf(b.id))) continue;
      await opts.deadLetters.record(
        { kind: VAULT_TERM_KIND, entityId: null, source: sourceOf(b.id), payload: b.payload, error: b.error.message, errorCode: b.error.code },
        tx,
      );
    }
    return {
      messages: messages.length,
      fresh: fresh.length,
      duplicates: events.length - fresh.length,
      deadLettered: bad.length,
      terms: applied.terms,
      analyticsTerms: applied.analyticsTerms,
    };
  });
}

/**
 * The same write path over `lanes` concurrent transactions, events split by the partition of
 * their term (so lanes rarely wait on each other's term locks; a TripleCreated still reaches its
 * counter term through the term lock). The caller acknowledges its source after all lanes
 * committed; if one lane fails the whole batch is retried and the lanes that did commit see
 * their events as duplicates, so nothing is counted twice.
 */
export async function ingestMessagesInLanes(messages: readonly ParsedMessage[], opts: IngestOptions & { lanes: number }): Promise<IngestSummary> {
  const lanes = Math.max(1, Math.floor(opts.lanes));
  if (lanes === 1) return ingestMessages(messages, opts);
  const split: ParsedMessage[][] = Array.from({ length: lanes }, () => []);
  for (const m of messages) {
    const lane = m.ok && m.event.type !== "Generic" ? fnv1a32(m.event.termId) % lanes : 0;
    split[lane].push(m);
  }
  const results = await Promise.all(split.filter((l) => l.length > 0).map((l) => ingestMessages(l, opts)));
  return {
    messages: messages.length,
    fresh: results.reduce((n, r) => n + r.fresh, 0),
    duplicates: results.reduce((n, r) => n + r.duplicates, 0),
    deadLettered: results.reduce((n, r) => n + r.deadLettered, 0),
    terms: [...new Set(results.flatMap((r) => r.terms))],
    analyticsTerms: [...new Set(results.flatMap((r) => r.analyticsTerms))],
  };
}
