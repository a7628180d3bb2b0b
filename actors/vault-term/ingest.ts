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
import { recordNewDeadLetters, transactionWithDeadLetters } from "../../db/dead-letter-store.ts";
import { appendEvents } from "./event-journal.ts";
import { applyTermEvents, eventCounts, groupByTerm } from "./apply.ts";
import { bumpJournaled } from "./term-progress.ts";
import { APPLY, VAULT_TERM_ACTOR_KIND, type ApplyBody } from "./term-actor-kind.ts";
import type { ActorSystem } from "../../supervisors/actor-system.ts";
import type { Queryable } from "../../db/db.ts";
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
  return transactionWithDeadLetters(opts.db, opts.deadLetters, async (tx) => {
    const fresh = await appendEvents(tx, events);
    const applied = await applyTermEvents(tx, fresh);
    await recordDeadLetters(tx, bad, opts);
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

/** The batch's malformed messages, in its transaction; a redelivered batch does not keep a second copy. */
async function recordDeadLetters(tx: Queryable, bad: readonly Extract<ParsedMessage, { ok: false }>[], opts: IngestOptions): Promise<void> {
  const sourceOf = opts.sourceOf ?? ((id: string) => id);
  await recordNewDeadLetters(
    opts.deadLetters,
    tx,
    bad.map((b) => ({ kind: VAULT_TERM_KIND, entityId: null, source: sourceOf(b.id), payload: b.payload, error: b.error.message, errorCode: b.error.code })),
  );
}

/**
 * The actor path (one vault-term actor per term): ONE transaction appends the batch to the
 * journal, bumps the journaled count of each term with fresh events and keeps the dead letters;
 * after it commits, each term's fresh events go to its actor (`system.trySend`; `system.send`,
 * which waits for room, when the mailbox is full) with the count the commit returned. The caller acknowledges its source
 * after this resolves; the actors' own commits follow (group commit), and a crash in between is
 * caught up from the journal (term-actor-kind.ts). `analyticsTerms` is empty: the actors queue
 * and notify analytics themselves.
 */
export async function journalAndSend(
  messages: readonly ParsedMessage[],
  opts: IngestOptions & { system: Pick<ActorSystem, "send" | "trySend"> },
): Promise<IngestSummary> {
  const events: VaultEvent[] = [];
  const bad: Extract<ParsedMessage, { ok: false }>[] = [];
  for (const m of messages) {
    if (m.ok) events.push(m.event);
    else bad.push(m);
  }
  const { fresh, groups, journaled } = await transactionWithDeadLetters(opts.db, opts.deadLetters, async (tx) => {
    const fresh = await appendEvents(tx, events);
    const groups = groupByTerm(fresh);
    const journaled = await bumpJournaled(tx, eventCounts(groups));
    await recordDeadLetters(tx, bad, opts);
    return { fresh, groups, journaled };
  });
  for (const [term, list] of groups) {
    const body: ApplyBody = { events: list, journaled: journaled.get(term)! };
    // Sent at once where the mailbox has room (no promise per term); a full one is waited for.
    if (!opts.system.trySend(VAULT_TERM_ACTOR_KIND, term, APPLY, body)) await opts.system.send(VAULT_TERM_ACTOR_KIND, term, APPLY, body);
  }
  return {
    messages: messages.length,
    fresh: fresh.length,
    duplicates: events.length - fresh.length,
    deadLettered: bad.length,
    terms: [...groups.keys()],
    analyticsTerms: [],
  };
}

/** `journalAndSend` over `lanes` concurrent transactions, events split by the partition of their term. */
export async function journalAndSendInLanes(
  messages: readonly ParsedMessage[],
  opts: IngestOptions & { system: Pick<ActorSystem, "send" | "trySend">; lanes: number },
): Promise<IngestSummary> {
  const split = splitLanes(messages, opts.lanes);
  const results = await Promise.all(split.map((l) => journalAndSend(l, opts)));
  return merge(messages.length, results);
}

function splitLanes(messages: readonly ParsedMessage[], lanes: number): ParsedMessage[][] {
  const n = Math.max(1, Math.floor(lanes));
  if (n === 1) return [[...messages]];
  const split: ParsedMessage[][] = Array.from({ length: n }, () => []);
  for (const m of messages) {
    const lane = m.ok && m.event.type !== "Generic" ? fnv1a32(m.event.termId) % n : 0;
    split[lane].push(m);
  }
  return split.filter((l) => l.length > 0);
}

function merge(messages: number, results: readonly IngestSummary[]): IngestSummary {
  return {
    messages,
    fresh: results.reduce((n, r) => n + r.fresh, 0),
    duplicates: results.reduce((n, r) => n + r.duplicates, 0),
    deadLettered: results.reduce((n, r) => n + r.deadLettered, 0),
    terms: [...new Set(results.flatMap((r) => r.terms))],
    analyticsTerms: [...new Set(results.flatMap((r) => r.analyticsTerms))],
  };
}

/**
 * The same write path over `lanes` concurrent transactions, events split by the partition of
 * their term (so lanes rarely wait on each other's term locks; a TripleCreated still reaches its
 * counter term through the term lock). The caller acknowledges its source after all lanes
 * committed; if one lane fails the whole batch is retried and the lanes that did commit see
 * their events as duplicates, so nothing is counted twice.
 */
export async function ingestMessagesInLanes(messages: readonly ParsedMessage[], opts: IngestOptions & { lanes: number }): Promise<IngestSummary> {
  const split = splitLanes(messages, opts.lanes);
  if (split.length === 1) return ingestMessages(split[0], opts);
  const results = await Promise.all(split.map((l) => ingestMessages(l, opts)));
  return merge(messages.length, results);
}
