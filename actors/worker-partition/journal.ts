/**
 * The raw-event journal of this kind (DESIGN rule 1), in tables of its own (migration 0202):
 *
 *   worker_event_ids(event_id PK, partition, seq)   one narrow row per event: the dedupe by the
 *       producer's `ID`, forever and in the database (decision 1, seed 003 #3, #14), and where
 *       the event is journaled;
 *   worker_event_journal(partition, first_seq, last_seq, events)   the validated, normalised
 *       events (events.ts) as one JSON array per run of at most EVENTS_PER_ROW consecutive seqs.
 *
 * One durable row per event (plus a row per ~thousand events) instead of a generic journal row
 * with a jsonb payload and three index entries: the per-event cost of the journal is one narrow
 * heap row and one index entry (docs/worker-partition.md, Stop 8).
 *
 * Seqs are gapless and commit in order per partition, numbered in the generic heads
 * (`strata_journal_head`, kind `worker-partition`) by db/journal-store.ts appendGapless: the
 * append locks the partition's head until its transaction ends, numbers the fresh events after
 * it, inserts their ID rows (optimistically: the primary key is the dedupe probe; a batch that
 * meets a journaled ID is rolled back to a savepoint, its IDs probed, and the rest inserted),
 * then the journal rows, then advances the head. A reader that applied up to seq N never misses
 * a seq < N committed later; a rolled-back append leaves no gap.
 *
 * The journal's partition (its seq space) is the partition's index in ACTIVE_PARTITIONS, not
 * partitionOf(id, P): an actor's offset is a seq, so the seq space of a partition must never
 * change, even when the runtime's partition count P is reconfigured. ACTIVE_PARTITIONS is
 * append-only. The events stored are the objects the actor applies (their exact JSON), so the
 * actor never re-validates and replay equals live.
 */
import type { Queryable } from "../../db/db.ts";
import { appendGapless, gaplessPlan, type GaplessDedupe, type GaplessPlan, type NumberedAppend } from "../../db/journal-store.ts";
import { pgArrayLiteral } from "../../db/pg-array-literal.ts";
import { jsonbProblem, jsonText, textProblem } from "../../db/sql.ts";
import { InputError } from "../../protocols/errors.ts";
import { ACTIVE_PARTITIONS } from "./partitions.ts";
import type { WorkerEvent } from "./events.ts";

export const WORKER_PARTITION_KIND = "worker-partition";

/**
 * Events per worker_event_journal row at most (a row is read whole: bounded read amplification).
 * Migration 0202 checks the same bound, which readWorkerEvents relies on to seek by primary key.
 */
export const EVENTS_PER_ROW = 1000;

export interface JournaledEvent {
  seq: number;
  event: WorkerEvent;
}

/** What an append did: counts, and the seqs handed out per partition (ascending, gapless). */
export interface WorkerAppendSummary {
  inserted: number;
  /** Events skipped: their ID was journaled before, or repeated earlier in the batch. */
  duplicates: number;
  partitions: { partition: number; firstSeq: number; lastSeq: number; count: number }[];
}

/** The journal seq space of a partition (stable forever; see above). */
export function journalBucket(partitionId: string): number {
  const i = (ACTIVE_PARTITIONS as readonly string[]).indexOf(partitionId);
  if (i < 0) throw new RangeError(`not an active partition: ${partitionId}`);
  return i;
}

/** Why the journal cannot store this event with this JSON text, or null. */
function storeProblem(event: WorkerEvent, text: string): string | null {
  if (typeof event.id !== "string" || event.id === "") return "ID is empty";
  const id = textProblem(event.id);
  if (id) return `ID ${id}`;
  // Kept as strict as the jsonb journal was: a U+0000 or a lone surrogate anywhere is refused,
  // so that the journal's JSON is also valid jsonb for whoever reads it with SQL.
  const payload = jsonbProblem(text);
  return payload ? `payload ${payload}` : null;
}

/**
 * Why the journal cannot store this valid event (a U+0000 or a lone surrogate in its ID or a
 * text field), or null. Checked per record at parse time, so such an event is dead-lettered
 * alone instead of failing its whole batch on every retry.
 */
export function journalProblemOf(event: WorkerEvent): string | null {
  journalBucket(event.partitionId);
  return storeProblem(event, jsonText(event));
}

/** A batch checked and serialised ahead of the transaction (prepareWorkerEvents). */
export interface PreparedEvents {
  readonly events: readonly WorkerEvent[];
  readonly buckets: readonly number[];
  /**
   * The journal rows' JSON texts as they are cut when every event of the batch is fresh and of
   * one partition (ingest's batch of new files): runs of EVENTS_PER_ROW events in input order.
   * One JSON.stringify per row instead of one per event plus a join. Null for a batch of several
   * partitions; a batch that meets journaled IDs serialises its fresh events again, row by row.
   */
  readonly rows: readonly { start: number; end: number; text: JournalJson }[] | null;
  /** The append's plan (partitions, first occurrence of each ID), made ahead of the transaction. */
  readonly plan: GaplessPlan;
  /**
   * The IDs of the plan as the ID insert's parameter (a PostgreSQL array literal where one is
   * exact, db/pg-array-literal.ts), made ahead too for a batch of one partition (null otherwise):
   * used when every event is fresh.
   */
  readonly idsParam: string | readonly unknown[] | null;
}

/**
 * Events of one partition serialised for the journal as ONE JSON array of at most
 * EVENTS_PER_ROW events, checked storable: a journal row's text, or a part of one (rows are
 * packed from consecutive pieces, prepareJournalPieces). Made where the file is parsed (on the
 * parse worker thread, parse-worker-thread.ts, or in this thread): plain data, no object shared.
 */
export interface JournalPiece {
  /** The events' journal partition (journalBucket). */
  readonly bucket: number;
  readonly count: number;
  readonly text: JournalJson;
}

/**
 * A journal row's JSON text: a string, or its UTF-8 bytes. The parse worker sends bytes: they
 * cross to the main thread by transfer (a string is copied) and go to PostgreSQL as they are (a
 * string is measured and encoded by the driver), on the journal's chain of transactions.
 */
export type JournalJson = string | Uint8Array;

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder();

/** The JSON text of a journal piece or row. */
export function journalJsonText(json: JournalJson): string {
  return typeof json === "string" ? json : utf8Decoder.decode(json);
}

/** A piece's JSON as UTF-8 bytes of their own (transferable: the buffer holds nothing else). */
export function journalJsonBytes(json: JournalJson): Uint8Array {
  return typeof json === "string" ? utf8.encode(json) : json;
}

/**
 * JSON arrays of one or more events each, joined into one array (text concatenation: no
 * serialisation). Bytes when any part is bytes.
 */
export function joinJsonArrays(parts: readonly JournalJson[]): JournalJson {
  if (parts.length === 1) return parts[0];
  if (parts.every((p) => typeof p === "string")) return "[" + (parts as string[]).map((p) => p.slice(1, -1)).join(",") + "]";
  const bytes = parts.map(journalJsonBytes);
  let length = 2 + bytes.length - 1;
  for (const b of bytes) length += b.byteLength - 2;
  const out = new Uint8Array(length);
  let at = 0;
  out[at++] = 0x5b; // [
  for (let k = 0; k < bytes.length; k++) {
    if (k > 0) out[at++] = 0x2c; // ,
    const b = bytes[k];
    out.set(b.subarray(1, b.byteLength - 1), at);
    at += b.byteLength - 2;
  }
  out[at++] = 0x5d; // ]
  return out;
}

/**
 * Checks events and serialises them in pieces of at most EVENTS_PER_ROW consecutive events of one
 * partition (one JSON.stringify per piece); throws InputError naming the first event that cannot
 * be stored (its index in `events`).
 */
export function journalPieces(events: readonly WorkerEvent[]): JournalPiece[] {
  const pieces: JournalPiece[] = [];
  for (let start = 0; start < events.length; ) {
    const bucket = journalBucket(events[start].partitionId);
    let end = start;
    while (end < events.length && end - start < EVENTS_PER_ROW) {
      const ev = events[end];
      if (end > start && ev.partitionId !== events[start].partitionId && journalBucket(ev.partitionId) !== bucket) break;
      if (typeof ev.id !== "string" || ev.id === "" || ev.id.includes("\u0000")) throw unstorable(ev, end, storeProblem(ev, "") ?? "ID is not storable");
      end++;
    }
    const text = jsonText(events.slice(start, end));
    // Only a \u escape can be a U+0000 or a lone surrogate: then name the event that holds it.
    if (text.includes("\\u")) {
      for (let i = start; i < end; i++) {
        const problem = storeProblem(events[i], jsonText(events[i]));
        if (problem) throw unstorable(events[i], i, problem);
      }
    }
    pieces.push({ bucket, count: end - start, text });
    start = end;
  }
  return pieces;
}

/**
 * A batch ready for the append from the pieces of its events (journalPieces) and the events
 * they hold, in the same order (`events` is the pieces' events one after another). The journal
 * rows are the pieces packed: consecutive pieces of one partition joined while the row holds at
 * most EVENTS_PER_ROW events (joining JSON arrays is text concatenation, no serialisation).
 */
export function prepareJournalPieces(events: readonly WorkerEvent[], pieces: readonly JournalPiece[]): PreparedEvents {
  const buckets: number[] = new Array(events.length);
  const rows: { start: number; end: number; text: JournalJson }[] = [];
  let single = true;
  let at = 0;
  for (let i = 0; i < pieces.length; ) {
    const start = at;
    const bucket = pieces[i].bucket;
    if (bucket !== pieces[0].bucket) single = false;
    let j = i;
    let count = 0;
    while (j < pieces.length && pieces[j].bucket === bucket && count + pieces[j].count <= EVENTS_PER_ROW) count += pieces[j++].count;
    const text = joinJsonArrays(pieces.slice(i, j).map((p) => p.text));
    buckets.fill(bucket, at, at + count);
    at += count;
    rows.push({ start, end: at, text });
    i = j;
  }
  if (at !== events.length) throw new RangeError(`prepareJournalPieces: the pieces hold ${at} events, ${events.length} given`);
  const plan = gaplessPlan(buckets, (i) => events[i].id);
  // The ID literal serves the one-partition insert only (INSERT_ID_RUN): not made for other batches.
  return { events, buckets, rows: single ? rows : null, plan, idsParam: plan.touched.length === 1 ? pgArrayLiteral(plan.keys) : null };
}

/** Checks and serialises events ahead of the transaction; throws InputError on one that cannot be stored. */
export function prepareWorkerEvents(events: readonly WorkerEvent[]): PreparedEvents {
  return prepareJournalPieces(events, journalPieces(events));
}

function unstorable(ev: WorkerEvent, i: number, problem: string): InputError {
  return new InputError(`journal ${WORKER_PARTITION_KIND}: event ${i} (ID ${JSON.stringify(ev.id)}): ${problem}`, { code: "journal_event" });
}

// The IDs of the batch already journaled: one probe of the primary key per ID (LIMIT 1 keeps
// the lateral a probe, never a join over the table). After the head lock, so that its snapshot
// (READ COMMITTED) holds every append that held these heads before.
const JOURNALED_IDS = `
SELECT j.event_id
FROM unnest($1::text[]) AS k(event_id)
CROSS JOIN LATERAL (SELECT s.event_id FROM worker_event_ids s WHERE s.event_id = k.event_id COLLATE "C" LIMIT 1) AS j`;

const INSERT_IDS = `
INSERT INTO worker_event_ids (event_id, partition, seq)
SELECT * FROM unnest($1::text[], $2::int[], $3::bigint[])`;

// The same for a run of consecutive seqs of one partition (ingest's batch of new files): the
// partition and the first seq once, not an array element per event for the client to write and
// the server to parse.
const INSERT_ID_RUN = `
INSERT INTO worker_event_ids (event_id, partition, seq)
SELECT u.event_id, $2::int, $3::bigint + u.n - 1 FROM unnest($1::text[]) WITH ORDINALITY AS u(event_id, n)`;

/** Inserts the numbered events' ID rows and their journal rows (appendGapless advances the heads). */
async function insertNumbered(tx: Queryable, batch: PreparedEvents, numbered: NumberedAppend): Promise<void> {
  const { order, seqs } = numbered;
  if (numbered.partitions.length === 1) {
    // One partition: its seqs are consecutive, in `order`. Every event fresh: the IDs prepared ahead.
    const ids = order.length === batch.events.length && batch.idsParam !== null ? batch.idsParam : order.map((i) => batch.events[i].id);
    await tx.query(INSERT_ID_RUN, [ids, numbered.partitions[0].partition, seqs[0]]);
  } else {
    await tx.query(INSERT_IDS, [order.map((i) => batch.events[i].id), order.map((i) => batch.buckets[i]), seqs]);
  }
  // Journal rows: runs of consecutive seqs of one partition, at most EVENTS_PER_ROW events each,
  // in one multi-row VALUES (a few dozen parameters; each text sent as is, no array escaping;
  // bytes from the parse worker as they are: db.ts, a Uint8Array parameter is UTF-8 text).
  const values: string[] = [];
  const params: unknown[] = [];
  const row = (partition: number, firstSeq: number, lastSeq: number, text: JournalJson) => {
    params.push(partition, firstSeq, lastSeq, text);
    const n = params.length;
    values.push(`($${n - 3}::int, $${n - 2}::bigint, $${n - 1}::bigint, $${n}::text)`);
  };
  if (batch.rows !== null && order.length === batch.events.length) {
    // Every event fresh, one partition: order is the input order, the prepared rows apply.
    for (const r of batch.rows) row(batch.buckets[0], seqs[r.start], seqs[r.end - 1], r.text);
  } else {
    for (let start = 0; start < order.length; ) {
      const partition = batch.buckets[order[start]];
      let end = start + 1;
      while (end < order.length && end - start < EVENTS_PER_ROW && batch.buckets[order[end]] === partition) end++;
      row(partition, seqs[start], seqs[end - 1], jsonText(order.slice(start, end).map((i) => batch.events[i])));
      start = end;
    }
  }
  await tx.query(`INSERT INTO worker_event_journal (partition, first_seq, last_seq, events) VALUES ${values.join(", ")}`, params);
}

/**
 * Appends prepared events inside the caller's transaction (READ COMMITTED, the default): events
 * whose ID is journaled, or repeated earlier in the batch, are skipped and counted; the rest get
 * the next seqs of their partition. A key journaled concurrently under another partition fails
 * the call with a RetryableError (`journal_race`): the batch is retried.
 */
export async function appendPreparedEvents(tx: Queryable, batch: PreparedEvents, dedupe: GaplessDedupe = "savepoint"): Promise<WorkerAppendSummary & { numbered: NumberedAppend }> {
  const { events } = batch;
  if (events.length === 0) return { inserted: 0, duplicates: 0, partitions: [], numbered: { order: [], seqs: [], partitions: [] } };
  const numbered = await appendGapless(tx, WORKER_PARTITION_KIND, {
    length: events.length,
    partitionOf: (i) => batch.buckets[i],
    keyOf: (i) => events[i].id,
    journaled: async (ids) => (await tx.query<{ event_id: string }>(JOURNALED_IDS, [ids])).rows.map((r) => r.event_id),
    insert: (n) => insertNumbered(tx, batch, n),
    plan: batch.plan,
  }, dedupe);
  return { inserted: numbered.order.length, duplicates: events.length - numbered.order.length, partitions: numbered.partitions, numbered };
}

/** Appends validated events inside the caller's transaction; returns the fresh events with their seqs. */
export async function journalWorkerEvents(tx: Queryable, events: readonly WorkerEvent[]): Promise<{ inserted: JournaledEvent[]; duplicates: number }> {
  const r = await appendPreparedEvents(tx, prepareWorkerEvents(events));
  const inserted = r.numbered.order.map((i, n) => ({ seq: r.numbered.seqs[n], event: events[i] }));
  return { inserted, duplicates: r.duplicates };
}

/** The same append returning only counts and seq ranges (ingest's hot path; `dedupe` as appendGapless). */
export async function journalPreparedCounted(tx: Queryable, prepared: PreparedEvents, dedupe: GaplessDedupe = "savepoint"): Promise<WorkerAppendSummary> {
  const { inserted, duplicates, partitions } = await appendPreparedEvents(tx, prepared, dedupe);
  return { inserted, duplicates, partitions };
}

/** Journaled events of one partition after `afterSeq`, in journal order, at most `limit`. */
export async function readWorkerEvents(db: Queryable, partitionId: string, afterSeq: number, limit: number): Promise<JournaledEvent[]> {
  if (!Number.isInteger(limit) || limit < 1) throw new RangeError(`readWorkerEvents: limit must be a positive integer, got ${limit}`);
  // Seqs are gapless and the rows contiguous: the rows holding seqs afterSeq+1 .. afterSeq+limit.
  // A row holds < EVENTS_PER_ROW + 1 seqs (checked by the table), so the one holding afterSeq+1
  // starts after afterSeq − EVENTS_PER_ROW: a primary-key range, however long the journal.
  const res = await db.query<{ first_seq: string; events: string }>(
    `SELECT first_seq, events FROM worker_event_journal
     WHERE partition = $1 AND first_seq > $2::bigint - ${EVENTS_PER_ROW} AND first_seq <= $3::bigint AND last_seq > $2::bigint ORDER BY first_seq`,
    [journalBucket(partitionId), afterSeq, afterSeq + limit],
  );
  const out: JournaledEvent[] = [];
  for (const row of res.rows) {
    const first = Number(row.first_seq);
    const events = JSON.parse(row.events) as WorkerEvent[];
    for (let i = Math.max(0, afterSeq + 1 - first); i < events.length && out.length < limit; i++) out.push({ seq: first + i, event: events[i] });
  }
  return out;
}
