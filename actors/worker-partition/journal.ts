/**
 * The raw-event journal of this kind: the generic `strata_journal` (db/journal-store.ts) with
 * kind `worker-partition`, entity = the partition id, natural key = the producer's event `ID`.
 * A re-delivered file or a repeated ID is skipped however late it comes (decision 1), and the
 * dedupe lives in the database index, not in memory (seed 003 #3, #14).
 * The payload stored is the validated, normalised event (events.ts), so the actor never re-parses.
 *
 * The journal's `partition` column (its seq space) is the partition's index in ACTIVE_PARTITIONS,
 * not partitionOf(id, P): an actor's offset is a seq, so the seq space of a partition must never
 * change, even when the runtime's partition count P is reconfigured (a new seq space starting
 * at 1 would hide new events behind the stored offset). ACTIVE_PARTITIONS is append-only.
 */
import type { Queryable } from "../../db/db.ts";
import {
  appendPreparedCounted,
  appendToJournal,
  appendToJournalCounted,
  journalEventProblem,
  prepareJournalAppend,
  readJournalPayloads,
  type AppendResult,
  type AppendSummary,
  type JournalEventInput,
  type PreparedAppend,
} from "../../db/journal-store.ts";
import { ACTIVE_PARTITIONS } from "./partitions.ts";
import type { WorkerEvent } from "./events.ts";

export const WORKER_PARTITION_KIND = "worker-partition";

export interface JournaledEvent {
  seq: number;
  event: WorkerEvent;
}

/** The journal seq space of a partition (stable forever; see above). */
export function journalBucket(partitionId: string): number {
  const i = (ACTIVE_PARTITIONS as readonly string[]).indexOf(partitionId);
  if (i < 0) throw new RangeError(`not an active partition: ${partitionId}`);
  return i;
}

function journalInputs(events: readonly WorkerEvent[], source: string | undefined): JournalEventInput[] {
  return events.map((ev) => ({
    partition: journalBucket(ev.partitionId),
    entityId: ev.partitionId,
    naturalKey: ev.id,
    eventType: ev.type === "ignored" ? ev.eventType : ev.type,
    payload: source === undefined ? ev : { ...ev, source },
  }));
}

/**
 * Why the journal cannot store this valid event (a U+0000 or a lone surrogate in its ID or a
 * text field: PostgreSQL text and jsonb refuse them), or null. Checked per record at parse time,
 * so such an event is dead-lettered alone instead of failing its whole batch on every retry.
 */
export function journalProblemOf(event: WorkerEvent): string | null {
  return journalEventProblem(journalInputs([event], undefined)[0]);
}

/** Appends validated events inside the caller's transaction; returns what was new (the rows). */
export async function journalWorkerEvents(tx: Queryable, events: readonly WorkerEvent[], opts: { source?: string } = {}): Promise<AppendResult> {
  return appendToJournal(tx, WORKER_PARTITION_KIND, journalInputs(events, opts.source));
}

/** The same append, returning only counts and seq ranges (ingest's hot path: nothing read back). */
export async function journalWorkerEventsCounted(tx: Queryable, events: readonly WorkerEvent[], opts: { source?: string } = {}): Promise<AppendSummary> {
  return appendToJournalCounted(tx, WORKER_PARTITION_KIND, journalInputs(events, opts.source));
}

/** Checks and serialises events for journalPreparedCounted ahead of the transaction (throws InputError as the append would). */
export function prepareWorkerEvents(events: readonly WorkerEvent[]): PreparedAppend {
  return prepareJournalAppend(WORKER_PARTITION_KIND, journalInputs(events, undefined));
}

/** journalWorkerEventsCounted of events prepared by prepareWorkerEvents. */
export function journalPreparedCounted(tx: Queryable, prepared: PreparedAppend): Promise<AppendSummary> {
  return appendPreparedCounted(tx, prepared);
}

/** Journaled events of one partition after `afterSeq`, in journal order. */
export async function readWorkerEvents(db: Queryable, partitionId: string, afterSeq: number, limit: number): Promise<JournaledEvent[]> {
  const entries = await readJournalPayloads(db, WORKER_PARTITION_KIND, { partition: journalBucket(partitionId), entityId: partitionId, afterSeq, limit });
  return entries.map((e) => ({ seq: e.seq, event: e.payload as WorkerEvent }));
}
