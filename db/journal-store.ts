/**
 * The generic append-only journal (`strata_journal`, DESIGN.md spine rule 1) for kinds whose
 * source is not itself a durable database (worker-partition raw events).
 *
 * appendToJournal — idempotent on `(kind, natural_key)`: a key already journaled (or repeated
 *   in the batch) is skipped and counted, the rest of the batch is inserted. Each
 *   `(kind, partition)` gets a gapless ascending `seq` that commits in seq order: the append
 *   locks the partition's head row (`strata_journal_head`) until the caller's transaction ends,
 *   so a later append to that partition waits, and takes its seqs after the earlier commit.
 *   An actor that has applied up to seq N therefore never misses a seq < N committed later.
 *   Two statements per batch whatever its size (lock the heads; insert through `unnest`).
 *   Run it in a READ COMMITTED transaction (the default): the insert's snapshot must start
 *   after the head lock is granted.
 * readJournal — entries after a seq, in seq order.
 */
import { InputError, RetryableError } from "../protocols/errors.ts";
import type { Queryable } from "./db.ts";
import { distinctSorted, int8Text, int8ToNumber, jsonbProblem, jsonText, textProblem } from "./sql.ts";

export interface JournalEventInput {
  /** partitionOf(entityId) in protocols/partition.ts. */
  partition: number;
  entityId: string;
  /** What makes the event unique at its source (`<tx hash>:<log index>`, `<s3 key>#<line>`, …). */
  naturalKey: string;
  eventType: string;
  /** Any JSON value; bigints are stored as decimal strings. */
  payload: unknown;
  blockNumber?: bigint | number | string | null;
  /** Kept for reorg handling (DESIGN.md spine rule 7). */
  blockHash?: string | null;
}

export interface JournalEntry {
  kind: string;
  partition: number;
  /** Gapless and ascending within (kind, partition), from 1. */
  seq: number;
  entityId: string;
  naturalKey: string;
  eventType: string;
  payload: unknown;
  /** Decimal string (INT8), or null. */
  blockNumber: string | null;
  blockHash: string | null;
  recordedAt: Date;
}

export interface AppendResult {
  /** The rows written, ordered by (partition, seq). */
  inserted: JournalEntry[];
  /** Events skipped because their natural key was already journaled or repeated in the batch. */
  duplicates: number;
}

interface JournalRow {
  kind: string;
  partition: number;
  seq: string;
  entity_id: string;
  natural_key: string;
  event_type: string;
  payload: unknown;
  block_number: string | null;
  block_hash: string | null;
  recorded_at: Date;
}

const COLUMNS = "kind, partition, seq, entity_id, natural_key, event_type, payload, block_number, block_hash, recorded_at";

const LOCK_HEADS = `
INSERT INTO strata_journal_head (kind, partition)
SELECT $1::text, p FROM unnest($2::int[]) AS p ORDER BY p
ON CONFLICT (kind, partition) DO UPDATE SET last_seq = strata_journal_head.last_seq`;

// Fresh events (first occurrence of each natural key not yet journaled) are numbered per
// partition in input order, the heads advance by the count, and the rows are inserted with
// head + n. No ON CONFLICT: a skipped row would leave a gap, so a natural key that a concurrent
// transaction journaled under another partition fails the statement (unique violation → retry).
const APPEND = `
WITH input AS (
  SELECT * FROM unnest($2::int[], $3::text[], $4::text[], $5::text[], $6::text[], $7::bigint[], $8::text[])
    WITH ORDINALITY AS t(partition, entity_id, natural_key, event_type, payload, block_number, block_hash, ord)
),
fresh AS (
  SELECT DISTINCT ON (i.natural_key) i.*
  FROM input i
  WHERE NOT EXISTS (SELECT 1 FROM strata_journal j WHERE j.kind = $1 AND j.natural_key = i.natural_key)
  ORDER BY i.natural_key, i.ord
),
numbered AS (
  SELECT f.*, row_number() OVER (PARTITION BY f.partition ORDER BY f.ord) AS n FROM fresh f
),
counts AS (
  SELECT partition, max(n) AS added FROM numbered GROUP BY partition
),
heads AS (
  UPDATE strata_journal_head h SET last_seq = h.last_seq + c.added, updated_at = now()
  FROM counts c
  WHERE h.kind = $1 AND h.partition = c.partition
  RETURNING h.partition, h.last_seq - c.added AS base
)
INSERT INTO strata_journal (kind, partition, seq, entity_id, natural_key, event_type, payload, block_number, block_hash)
SELECT $1::text, nb.partition, hd.base + nb.n, nb.entity_id, nb.natural_key, nb.event_type, nb.payload::jsonb, nb.block_number, nb.block_hash
FROM numbered nb JOIN heads hd ON hd.partition = nb.partition
ORDER BY nb.partition, nb.n
RETURNING ${COLUMNS}`;

/** Why this event cannot be journaled, or null. Callers may dead-letter such events before appending. */
export function journalEventProblem(event: JournalEventInput): string | null {
  if (!Number.isInteger(event.partition) || event.partition < 0 || event.partition > 2_147_483_647) return `partition ${event.partition} is not a non-negative integer`;
  for (const [field, value] of [["naturalKey", event.naturalKey], ["entityId", event.entityId], ["eventType", event.eventType]] as const) {
    if (typeof value !== "string") return `${field} is not a string`;
    const problem = textProblem(value);
    if (problem) return `${field} ${problem}`;
  }
  if (event.naturalKey === "") return "naturalKey is empty";
  if (event.eventType === "") return "eventType is empty";
  if (event.blockHash != null && (typeof event.blockHash !== "string" || textProblem(event.blockHash))) return "blockHash is not a storable string";
  try {
    int8Text(event.blockNumber, "blockNumber");
  } catch (err) {
    return (err as Error).message;
  }
  let text: string;
  try {
    text = jsonText(event.payload);
  } catch (err) {
    return `payload is not JSON-serialisable: ${(err as Error).message}`;
  }
  const problem = jsonbProblem(text);
  return problem ? `payload ${problem}` : null;
}

/**
 * Appends events to the journal of `kind` inside the caller's transaction. An event that cannot
 * be stored fails the whole call with an InputError naming it (check with journalEventProblem
 * first to dead-letter it instead); a natural key journaled concurrently under another
 * partition fails it with a RetryableError.
 */
export async function appendToJournal(tx: Queryable, kind: string, events: readonly JournalEventInput[]): Promise<AppendResult> {
  if (!kind) throw new TypeError("appendToJournal: kind is empty");
  if (events.length === 0) return { inserted: [], duplicates: 0 };
  const partitions: number[] = [];
  const entityIds: string[] = [];
  const naturalKeys: string[] = [];
  const eventTypes: string[] = [];
  const payloads: string[] = [];
  const blockNumbers: (string | null)[] = [];
  const blockHashes: (string | null)[] = [];
  events.forEach((e, i) => {
    const problem = journalEventProblem(e);
    if (problem) throw new InputError(`journal ${kind}: event ${i} (natural key ${JSON.stringify(e.naturalKey)}): ${problem}`, { code: "journal_event" });
    partitions.push(e.partition);
    entityIds.push(e.entityId);
    naturalKeys.push(e.naturalKey);
    eventTypes.push(e.eventType);
    payloads.push(jsonText(e.payload));
    blockNumbers.push(int8Text(e.blockNumber, "blockNumber"));
    blockHashes.push(e.blockHash ?? null);
  });

  await tx.query(LOCK_HEADS, [kind, distinctSorted(partitions)]);
  let rows: JournalRow[];
  try {
    rows = (await tx.query<JournalRow>(APPEND, [kind, partitions, entityIds, naturalKeys, eventTypes, payloads, blockNumbers, blockHashes])).rows;
  } catch (err) {
    if ((err as { code?: string }).code === "23505") {
      throw new RetryableError(`journal ${kind}: a natural key of this batch was journaled concurrently; retry the batch`, { code: "journal_race", cause: err });
    }
    throw err;
  }
  const inserted = rows.map(toEntry).sort((a, b) => a.partition - b.partition || a.seq - b.seq);
  return { inserted, duplicates: events.length - inserted.length };
}

export interface ReadJournalOptions {
  /** Only this partition. */
  partition?: number;
  /** Only this entity. */
  entityId?: string;
  /** Entries with seq greater than this (the reader's offset); default 0. */
  afterSeq?: number | bigint | string;
  limit: number;
}

/**
 * Entries of `kind` after `afterSeq`, ordered by (partition, seq). seq is per partition, so
 * afterSeq is meaningful with `partition`, or with `entityId` (an entity lives in one partition).
 */
export async function readJournal(db: Queryable, kind: string, opts: ReadJournalOptions): Promise<JournalEntry[]> {
  if (!Number.isInteger(opts.limit) || opts.limit < 1) throw new RangeError(`readJournal: limit must be a positive integer, got ${opts.limit}`);
  const params: unknown[] = [kind, int8Text(opts.afterSeq ?? 0, "afterSeq"), opts.limit];
  let where = "kind = $1 AND seq > $2::bigint";
  if (opts.partition !== undefined) {
    params.push(opts.partition);
    where += ` AND partition = $${params.length}`;
  }
  if (opts.entityId !== undefined) {
    params.push(opts.entityId);
    where += ` AND entity_id = $${params.length}`;
  }
  const res = await db.query<JournalRow>(`SELECT ${COLUMNS} FROM strata_journal WHERE ${where} ORDER BY partition, seq LIMIT $3`, params);
  return res.rows.map(toEntry);
}

/** The last seq handed out in each partition of `kind` (what a reader's offset is compared with for lag). */
export async function readJournalHeads(db: Queryable, kind: string): Promise<Map<number, number>> {
  const res = await db.query<{ partition: number; last_seq: string }>(
    "SELECT partition, last_seq FROM strata_journal_head WHERE kind = $1 ORDER BY partition",
    [kind],
  );
  return new Map(res.rows.map((r) => [Number(r.partition), int8ToNumber(r.last_seq, "strata_journal_head.last_seq")]));
}

function toEntry(r: JournalRow): JournalEntry {
  return {
    kind: r.kind,
    partition: Number(r.partition),
    seq: int8ToNumber(r.seq, "strata_journal.seq"),
    entityId: r.entity_id,
    naturalKey: r.natural_key,
    eventType: r.event_type,
    payload: r.payload,
    blockNumber: r.block_number === null ? null : String(r.block_number),
    blockHash: r.block_hash,
    recordedAt: r.recorded_at instanceof Date ? r.recorded_at : new Date(r.recorded_at),
  };
}
