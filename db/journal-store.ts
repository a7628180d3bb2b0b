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
 *   Two statements per batch whatever its size (lock the heads; insert through `unnest`, the
 *   payloads as ONE jsonb array parameter: no per-element array escaping in the client).
 *   Run it in a READ COMMITTED transaction (the default): the insert's snapshot must start
 *   after the head lock is granted.
 * appendToJournalCounted — the same append, returning only counts and the seq range per
 *   partition (no rows read back: the hot path of ingest).
 * readJournal — entries after a seq, in seq order; readJournalPayloads — only (seq, payload).
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

/** What appendToJournalCounted returns: counts and seq ranges, no rows. */
export interface AppendSummary {
  /** Events inserted. */
  inserted: number;
  /** Events skipped because their natural key was already journaled or repeated in the batch. */
  duplicates: number;
  /** Per partition touched by an insert (ascending): the seqs handed out, `firstSeq..lastSeq` (gapless). */
  partitions: { partition: number; firstSeq: number; lastSeq: number; count: number }[];
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

// `journaled` probes the unique (kind, natural_key) index once per key of the batch (the LIMIT 1
// keeps the lateral from being flattened into a join over the kind's rows). Written as
// a correlated NOT EXISTS against the whole table, the planner (its estimate of the kind's rows
// stale while ingest appends) hashed EVERY journaled row of the kind per batch, a cost growing
// with the journal (measured: 50k rows read to dedupe a batch of 5k at 50k journaled).
// Fresh events (first occurrence of each natural key not yet journaled) are numbered per
// partition in input order, the heads advance by the count, and the rows are inserted with
// head + n. No ON CONFLICT: a skipped row would leave a gap, so a natural key that a concurrent
// transaction journaled under another partition fails the statement (unique violation → retry).
const INPUT_AND_NUMBERING = `
WITH input AS (
  SELECT * FROM ROWS FROM (unnest($2::int[]), unnest($3::text[]), unnest($4::text[]), unnest($5::text[]), jsonb_array_elements($6::jsonb), unnest($7::bigint[]), unnest($8::text[]))
    WITH ORDINALITY AS t(partition, entity_id, natural_key, event_type, payload, block_number, block_hash, ord)
),
journaled AS MATERIALIZED (
  SELECT j.natural_key
  FROM unnest($4::text[]) AS k(natural_key)
  CROSS JOIN LATERAL (SELECT s.natural_key FROM strata_journal s WHERE s.kind = $1 AND s.natural_key = k.natural_key LIMIT 1) AS j
),
fresh AS (
  SELECT DISTINCT ON (i.natural_key) i.*
  FROM input i
  WHERE NOT EXISTS (SELECT 1 FROM journaled j WHERE j.natural_key = i.natural_key)
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
)`;

const INSERT_NUMBERED = `
INSERT INTO strata_journal (kind, partition, seq, entity_id, natural_key, event_type, payload, block_number, block_hash)
SELECT $1::text, nb.partition, hd.base + nb.n, nb.entity_id, nb.natural_key, nb.event_type, nb.payload, nb.block_number, nb.block_hash
FROM numbered nb JOIN heads hd ON hd.partition = nb.partition
ORDER BY nb.partition, nb.n`;

const APPEND = `${INPUT_AND_NUMBERING}
${INSERT_NUMBERED}
RETURNING ${COLUMNS}`;

const APPEND_COUNTED = `${INPUT_AND_NUMBERING},
ins AS (${INSERT_NUMBERED}
  RETURNING partition, seq)
SELECT partition, count(*)::int AS n, min(seq) AS first_seq, max(seq) AS last_seq FROM ins GROUP BY partition ORDER BY partition`;

/** Why this event cannot be journaled, or null. Callers may dead-letter such events before appending. */
export function journalEventProblem(event: JournalEventInput): string | null {
  return checkEvent(event).problem;
}

/** The problem of an event (or null) and, when it has none, its payload's JSON text. */
function checkEvent(event: JournalEventInput): { problem: string; text?: undefined } | { problem: null; text: string } {
  const fail = (problem: string) => ({ problem });
  if (!Number.isInteger(event.partition) || event.partition < 0 || event.partition > 2_147_483_647) return fail(`partition ${event.partition} is not a non-negative integer`);
  for (const [field, value] of [["naturalKey", event.naturalKey], ["entityId", event.entityId], ["eventType", event.eventType]] as const) {
    if (typeof value !== "string") return fail(`${field} is not a string`);
    const problem = textProblem(value);
    if (problem) return fail(`${field} ${problem}`);
  }
  if (event.naturalKey === "") return fail("naturalKey is empty");
  if (event.eventType === "") return fail("eventType is empty");
  if (event.blockHash != null && (typeof event.blockHash !== "string" || textProblem(event.blockHash))) return fail("blockHash is not a storable string");
  try {
    int8Text(event.blockNumber, "blockNumber");
  } catch (err) {
    return fail((err as Error).message);
  }
  let text: string;
  try {
    text = jsonText(event.payload);
  } catch (err) {
    return fail(`payload is not JSON-serialisable: ${(err as Error).message}`);
  }
  const problem = jsonbProblem(text);
  return problem ? fail(`payload ${problem}`) : { problem: null, text };
}

/** The statement parameters of a batch (payloads as one JSON array text); throws InputError on an event that cannot be stored. */
function appendParams(kind: string, events: readonly JournalEventInput[]): unknown[] {
  const partitions: number[] = [];
  const entityIds: string[] = [];
  const naturalKeys: string[] = [];
  const eventTypes: string[] = [];
  const payloads: string[] = [];
  const blockNumbers: (string | null)[] = [];
  const blockHashes: (string | null)[] = [];
  events.forEach((e, i) => {
    const checked = checkEvent(e);
    if (checked.problem !== null) throw new InputError(`journal ${kind}: event ${i} (natural key ${JSON.stringify(e.naturalKey)}): ${checked.problem}`, { code: "journal_event" });
    partitions.push(e.partition);
    entityIds.push(e.entityId);
    naturalKeys.push(e.naturalKey);
    eventTypes.push(e.eventType);
    payloads.push(checked.text);
    blockNumbers.push(int8Text(e.blockNumber, "blockNumber"));
    blockHashes.push(e.blockHash ?? null);
  });
  return [kind, partitions, entityIds, naturalKeys, eventTypes, `[${payloads.join(",")}]`, blockNumbers, blockHashes];
}

/** Locks the heads, then runs the append statement (unique violation → RetryableError journal_race). */
async function runAppend<R>(tx: Queryable, kind: string, sql: string, params: unknown[]): Promise<R[]> {
  await tx.query(LOCK_HEADS, [kind, distinctSorted(params[1] as number[])]);
  try {
    return (await tx.query<R>(sql, params)).rows;
  } catch (err) {
    if ((err as { code?: string }).code === "23505") {
      throw new RetryableError(`journal ${kind}: a natural key of this batch was journaled concurrently; retry the batch`, { code: "journal_race", cause: err });
    }
    throw err;
  }
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
  const rows = await runAppend<JournalRow>(tx, kind, APPEND, appendParams(kind, events));
  const inserted = rows.map(toEntry).sort((a, b) => a.partition - b.partition || a.seq - b.seq);
  return { inserted, duplicates: events.length - inserted.length };
}

/**
 * appendToJournal without reading the rows back: the same checks, dedupe, locking and seq
 * numbering, returning only how many were inserted and the seq range per partition. For
 * callers that already hold the events (ingest), this saves returning every payload.
 */
export async function appendToJournalCounted(tx: Queryable, kind: string, events: readonly JournalEventInput[]): Promise<AppendSummary> {
  if (!kind) throw new TypeError("appendToJournalCounted: kind is empty");
  if (events.length === 0) return { inserted: 0, duplicates: 0, partitions: [] };
  const rows = await runAppend<{ partition: number; n: number; first_seq: string; last_seq: string }>(tx, kind, APPEND_COUNTED, appendParams(kind, events));
  const partitions = rows.map((r) => ({
    partition: Number(r.partition),
    firstSeq: int8ToNumber(r.first_seq, "strata_journal.seq"),
    lastSeq: int8ToNumber(r.last_seq, "strata_journal.seq"),
    count: Number(r.n),
  }));
  const inserted = partitions.reduce((sum, p) => sum + p.count, 0);
  return { inserted, duplicates: events.length - inserted, partitions };
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

/**
 * Only (seq, payload) of the entries of one partition of `kind` after `afterSeq`, in seq order:
 * what an actor applying its journal needs (optionally only one entity's entries).
 */
export async function readJournalPayloads(
  db: Queryable,
  kind: string,
  opts: { partition: number; entityId?: string; afterSeq?: number | bigint | string; limit: number },
): Promise<{ seq: number; payload: unknown }[]> {
  if (!Number.isInteger(opts.limit) || opts.limit < 1) throw new RangeError(`readJournalPayloads: limit must be a positive integer, got ${opts.limit}`);
  const params: unknown[] = [kind, opts.partition, int8Text(opts.afterSeq ?? 0, "afterSeq"), opts.limit];
  let where = "kind = $1 AND partition = $2 AND seq > $3::bigint";
  if (opts.entityId !== undefined) {
    params.push(opts.entityId);
    where += " AND entity_id = $5";
  }
  const res = await db.query<{ seq: string; payload: unknown }>(`SELECT seq, payload FROM strata_journal WHERE ${where} ORDER BY seq LIMIT $4`, params);
  return res.rows.map((r) => ({ seq: int8ToNumber(r.seq, "strata_journal.seq"), payload: r.payload }));
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
