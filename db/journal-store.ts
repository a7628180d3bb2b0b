/**
 * The generic append-only journal (`strata_journal`, DESIGN.md spine rule 1) for kinds whose
 * source is not itself a durable database, and the seq heads (`strata_journal_head`) that a kind
 * with journal tables of its own (worker-partition) numbers its events under.
 *
 * appendToJournal — idempotent on `(kind, natural_key)`: a key already journaled (or repeated
 *   in the batch) is skipped and counted, the rest of the batch is inserted. Each
 *   `(kind, partition)` gets a gapless ascending `seq` that commits in seq order: the append
 *   locks the partition's head row (`strata_journal_head`) until the caller's transaction ends,
 *   so a later append to that partition waits, and takes its seqs after the earlier commit.
 *   An actor that has applied up to seq N therefore never misses a seq < N committed later.
 *   A few short statements per batch whatever its size: lock the heads (returning their seq);
 *   insert the rows, numbered here, through `unnest` with the payloads as ONE jsonb array
 *   parameter (no per-element array escaping in the client); advance the heads. The insert is
 *   optimistic (no key journaled yet, the common case; its unique index check is the dedupe
 *   probe); when it meets a journaled key it is rolled back to a savepoint and the keys are
 *   probed in the (kind, natural_key) index first (see appendChecked). Numbering in the client
 *   keeps the payloads out of the sorts, window and CTEs a single-statement append needed
 *   (measured: the insert was half of that statement's server time).
 *   Run it in a READ COMMITTED transaction (the default): the statements after the lock must
 *   see every append that held the heads before.
 * appendToJournalCounted — the same append, returning only counts and the seq range per
 *   partition (no rows read back).
 * readJournal — entries after a seq, in seq order; readJournalPayloads — only (seq, payload).
 * appendGapless — that append's locking, numbering and optimistic dedupe, for a kind that keeps
 *   its own journal rows in this seq space (worker-partition, migration 0202): the kind gives
 *   its insert and its key probe. lockJournalHeads / advanceJournalHeads — the head lock and
 *   the guarded advance it is made of.
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

// Locks the heads of the batch's partitions (creating missing ones) until the transaction ends,
// and returns their last seq: while the lock is held nobody else can hand out seqs there.
const LOCK_HEADS = `
INSERT INTO strata_journal_head (kind, partition)
SELECT $1::text, p FROM unnest($2::int[]) AS p ORDER BY p
ON CONFLICT (kind, partition) DO UPDATE SET last_seq = strata_journal_head.last_seq
RETURNING partition, last_seq`;

// The keys of the batch already journaled: one probe of the unique (kind, natural_key) index
// per key (the LIMIT 1 keeps the lateral from being flattened into a join over the kind's
// rows). Written as a correlated NOT EXISTS against the whole table, the planner (its estimate
// of the kind's rows stale while ingest appends) hashed EVERY journaled row of the kind per
// batch, a cost growing with the journal (measured: 50k rows read to dedupe a batch of 5k at
// 50k journaled). A separate statement after LOCK_HEADS, so that its snapshot (READ COMMITTED)
// includes every append that held these heads before us.
const JOURNALED_KEYS = `
SELECT j.natural_key
FROM unnest($2::text[]) AS k(natural_key)
CROSS JOIN LATERAL (SELECT s.natural_key FROM strata_journal s WHERE s.kind = $1 AND s.natural_key = k.natural_key LIMIT 1) AS j`;

// Advances the locked heads to the seqs handed out; `last_seq = base` guards the numbering.
const ADVANCE_HEADS = `
UPDATE strata_journal_head h SET last_seq = u.last_seq, updated_at = now()
FROM unnest($2::int[], $3::bigint[], $4::bigint[]) AS u(partition, base, last_seq)
WHERE h.kind = $1 AND h.partition = u.partition AND h.last_seq = u.base`;

// The fresh rows, numbered by the client, in (partition, seq) order. No ON CONFLICT: a skipped
// row would leave a gap. A natural key already journaled fails the statement (unique violation):
// appendChecked then probes the keys and inserts the rest, and a key journaled meanwhile under a
// partition whose head we do not hold fails that second insert (→ RetryableError, retry).
const INSERT_ROWS = `
INSERT INTO strata_journal (kind, partition, seq, entity_id, natural_key, event_type, payload, block_number, block_hash)
SELECT $1::text, t.partition, t.seq, t.entity_id, t.natural_key, t.event_type, t.payload, t.block_number, t.block_hash
FROM ROWS FROM (unnest($2::int[]), unnest($3::bigint[]), unnest($4::text[]), unnest($5::text[]), unnest($6::text[]), jsonb_array_elements($7::jsonb), unnest($8::bigint[]), unnest($9::text[]))
  AS t(partition, seq, entity_id, natural_key, event_type, payload, block_number, block_hash)`;

/**
 * Locks the heads of `partitions` of `kind` (creating missing ones) until the caller's
 * transaction ends and returns their last seq: while the lock is held nobody else hands out seqs
 * there. For journals of a kind's own (worker-partition's `worker_event_journal`) that number
 * their events in this seq space; appendToJournal uses the same statement.
 */
export async function lockJournalHeads(tx: Queryable, kind: string, partitions: readonly number[]): Promise<Map<number, number>> {
  const heads = await tx.query<{ partition: number; last_seq: string }>(LOCK_HEADS, [kind, distinctSorted(partitions)]);
  const head = new Map<number, number>();
  for (const r of heads.rows) head.set(Number(r.partition), int8ToNumber(r.last_seq, "strata_journal_head.last_seq"));
  return head;
}

/**
 * Advances heads locked by lockJournalHeads to the seqs handed out (`firstSeq - 1` must be the
 * locked value: checked); throws when a head moved.
 */
export async function advanceJournalHeads(tx: Queryable, kind: string, ranges: readonly { partition: number; firstSeq: number; lastSeq: number }[]): Promise<void> {
  if (ranges.length === 0) return;
  const advanced = await tx.query(ADVANCE_HEADS, [kind, ranges.map((p) => p.partition), ranges.map((p) => p.firstSeq - 1), ranges.map((p) => p.lastSeq)]);
  if (advanced.rowCount !== ranges.length) throw new Error(`journal ${kind}: ${ranges.length - (advanced.rowCount ?? 0)} locked head(s) moved during the append`);
}

/** Why this event cannot be journaled, or null. Callers may dead-letter such events before appending. */
export function journalEventProblem(event: JournalEventInput): string | null {
  return checkEvent(event).problem;
}

function fail(problem: string): { problem: string } {
  return { problem };
}

/** The problem of an event (or null) and, when it has none, its payload's JSON text. */
function checkEvent(event: JournalEventInput): { problem: string; text?: undefined } | { problem: null; text: string } {
  if (!Number.isInteger(event.partition) || event.partition < 0 || event.partition > 2_147_483_647) return fail(`partition ${event.partition} is not a non-negative integer`);
  let problem = fieldProblem("naturalKey", event.naturalKey) ?? fieldProblem("entityId", event.entityId) ?? fieldProblem("eventType", event.eventType);
  if (problem) return fail(problem);
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
  problem = jsonbProblem(text);
  return problem ? fail(`payload ${problem}`) : { problem: null, text };
}

function fieldProblem(field: string, value: unknown): string | null {
  if (typeof value !== "string") return `${field} is not a string`;
  const problem = textProblem(value);
  return problem ? `${field} ${problem}` : null;
}

/** A batch checked and serialised (before any lock is taken). */
interface CheckedBatch {
  events: readonly JournalEventInput[];
  /** Each event's payload JSON text. */
  texts: string[];
  blockNumbers: (string | null)[];
}

/** Checks and serialises every event (duplicates included); throws InputError on an event that cannot be stored. */
function checkBatch(kind: string, events: readonly JournalEventInput[]): CheckedBatch {
  const texts: string[] = new Array(events.length);
  const blockNumbers: (string | null)[] = new Array(events.length);
  for (let i = 0; i < events.length; i++) {
    const e = events[i];
    const checked = checkEvent(e);
    if (checked.problem !== null) throw new InputError(`journal ${kind}: event ${i} (natural key ${JSON.stringify(e.naturalKey)}): ${checked.problem}`, { code: "journal_event" });
    texts[i] = checked.text;
    blockNumbers[i] = int8Text(e.blockNumber, "blockNumber");
  }
  return { events, texts, blockNumbers };
}

/** What one append handed out: the fresh events' indexes in (partition, seq) order, with their seqs. */
export interface NumberedAppend {
  /** Indexes into the batch of the inserted events, ordered by (partition, seq). */
  order: number[];
  seqs: number[];
  /** Per partition touched (ascending): the seqs handed out, `firstSeq..lastSeq` (gapless). */
  partitions: { partition: number; firstSeq: number; lastSeq: number; count: number }[];
}

/**
 * How appendGapless meets keys the journal already holds:
 * - `savepoint` (default): the optimistic insert runs under a savepoint; when it meets a
 *   journaled key it is rolled back to it, the keys are probed and the rest inserted — in the
 *   caller's transaction, whatever else that holds.
 * - `whole-transaction`: the optimistic insert runs without a savepoint (two statements fewer per
 *   append: on ingest's hot path each is a round trip the batch's one-at-a-time journal
 *   transactions wait for). A journaled key aborts the caller's transaction:
 *   JournaledKeyConflict is thrown, and the caller runs the whole transaction again with
 *   `probe-first`. For a caller whose transaction holds nothing it cannot redo.
 * - `probe-first`: the keys are probed first, then the rest inserted.
 */
export type GaplessDedupe = "savepoint" | "whole-transaction" | "probe-first";

/** An append with dedupe `whole-transaction` met a journaled key: its transaction is aborted; run it again with `probe-first`. */
export class JournaledKeyConflict extends Error {
  readonly code = "journaled_key_conflict";
  constructor(kind: string, cause: unknown) {
    super(`journal ${kind}: the batch holds a key the journal has; run its transaction again probing the keys first`, { cause });
    this.name = "JournaledKeyConflict";
  }
}

/** How a journal stores a batch, for appendGapless (its rows, its dedupe key, its probe). */
export interface GaplessAppendSpec {
  /** Events in the batch. */
  length: number;
  /** The seq space (partition) of event i. */
  partitionOf(i: number): number;
  /** The dedupe key of event i. */
  keyOf(i: number): string;
  /** Which of `keys` the journal already holds (called after the head lock). */
  journaled(keys: string[]): Promise<Iterable<string>>;
  /** Inserts the numbered events; a unique violation (23505) means some key is journaled. */
  insert(numbered: NumberedAppend): Promise<void>;
  /**
   * The batch's partitions and first occurrences, when the caller computed them ahead of the
   * transaction (gaplessPlan): then the append does no per-event work before its statements.
   */
  plan?: GaplessPlan;
}

/** What appendGapless needs of a batch before its statements, computable ahead (gaplessPlan). */
export interface GaplessPlan {
  /** The seq space (partition) of each event of the batch. */
  readonly partitions: readonly number[];
  /** The partitions the batch touches, ascending, once each (the heads to lock). */
  readonly touched: readonly number[];
  /** Indexes of the first occurrence of each key, ascending (later repeats are duplicates whatever the journal holds). */
  readonly firstIndexes: readonly number[];
  /** Their keys, in the same order. */
  readonly keys: readonly string[];
}

/** The plan of a batch: each event's partition (kept as given, not copied) and its key keyOf(i). */
export function gaplessPlan(partitions: readonly number[], keyOf: (i: number) => string): GaplessPlan {
  const seen = new Set<string>();
  const firstIndexes: number[] = [];
  const keys: string[] = [];
  for (let i = 0; i < partitions.length; i++) {
    const key = keyOf(i);
    if (seen.has(key)) continue;
    seen.add(key);
    firstIndexes.push(i);
    keys.push(key);
  }
  return { partitions, touched: distinctSorted(partitions), firstIndexes, keys };
}

/**
 * The append every journal in this seq space makes (the generic one below, worker-partition's
 * own tables): lock the heads; number the first occurrence of every key of the batch per
 * partition, in input order, after the head; insert them; advance the heads. Optimistic about
 * the journal: the common batch (new files, new stream entries) holds no journaled key, and the
 * insert's unique-key check is the same index probe a separate dedupe query makes, so the insert
 * runs first, under a savepoint. When it meets a journaled key it fails whole (nothing inserted,
 * no seq used), is rolled back to the savepoint, and the append then probes the keys
 * (`spec.journaled`), drops the journaled ones and numbers and inserts the rest. A key journaled
 * meanwhile under a partition whose head is not held fails that second insert: RetryableError
 * `journal_race`, the batch is retried. Either way the journal gets exactly the batch's keys it
 * did not hold, numbered gaplessly. Run it in a READ COMMITTED transaction (the default): the
 * statements after the lock must see every append that held these heads before.
 */
export async function appendGapless(tx: Queryable, kind: string, spec: GaplessAppendSpec, dedupe: GaplessDedupe = "savepoint"): Promise<NumberedAppend> {
  const plan = spec.plan ?? gaplessPlan(Array.from({ length: spec.length }, (_, i) => spec.partitionOf(i)), spec.keyOf);
  if (plan.partitions.length !== spec.length) throw new RangeError(`journal ${kind}: the plan covers ${plan.partitions.length} events, the batch holds ${spec.length}`);
  const head = await lockJournalHeads(tx, kind, plan.touched);
  // The events to number: the first occurrence of each key, less those the journal holds (probed).
  let fresh: readonly number[] = plan.firstIndexes;
  const attempt = async (): Promise<NumberedAppend> => {
    const numbered = numberPerPartition(kind, plan, fresh, head);
    if (numbered.order.length > 0) {
      await spec.insert(numbered);
      await advanceJournalHeads(tx, kind, numbered.partitions);
    }
    return numbered;
  };
  const probed = async (): Promise<NumberedAppend> => {
    const journaled = new Set(await spec.journaled([...plan.keys]));
    fresh = plan.firstIndexes.filter((_, n) => !journaled.has(plan.keys[n]));
    try {
      return await attempt();
    } catch (err) {
      if ((err as { code?: string }).code === "23505") {
        throw new RetryableError(`journal ${kind}: a key of this batch was journaled concurrently; retry the batch`, { code: "journal_race", cause: err });
      }
      throw err;
    }
  };

  if (dedupe === "probe-first") return probed();
  if (dedupe === "whole-transaction") {
    try {
      return await attempt();
    } catch (err) {
      if ((err as { code?: string }).code !== "23505") throw err;
      throw new JournaledKeyConflict(kind, err);
    }
  }
  await tx.query("SAVEPOINT journal_append");
  try {
    const numbered = await attempt();
    await tx.query("RELEASE SAVEPOINT journal_append");
    return numbered;
  } catch (err) {
    if ((err as { code?: string }).code !== "23505") throw err;
    await tx.query("ROLLBACK TO SAVEPOINT journal_append");
  }
  try {
    return await probed();
  } finally {
    await tx.query("RELEASE SAVEPOINT journal_append").catch(() => {});
  }
}

/** Seqs for the fresh events (ascending indexes into the batch): per partition, in input order, after the locked head. */
function numberPerPartition(kind: string, plan: GaplessPlan, fresh: readonly number[], head: ReadonlyMap<number, number>): NumberedAppend {
  const partitions = plan.partitions;
  if (plan.touched.length === 1) {
    // One partition: the fresh events in input order, numbered after its head.
    if (fresh.length === 0) return { order: [], seqs: [], partitions: [] };
    const partition = plan.touched[0];
    const base = head.get(partition);
    if (base === undefined) throw new Error(`journal ${kind}: partition ${partition} head was not locked`);
    const seqs: number[] = new Array(fresh.length);
    for (let n = 0; n < fresh.length; n++) seqs[n] = base + n + 1;
    return { order: fresh.slice(), seqs, partitions: [{ partition, firstSeq: base + 1, lastSeq: base + fresh.length, count: fresh.length }] };
  }
  const byPartition = new Map<number, number[]>();
  for (const i of fresh) {
    const list = byPartition.get(partitions[i]);
    if (list) list.push(i);
    else byPartition.set(partitions[i], [i]);
  }
  const numbered: NumberedAppend = { order: [], seqs: [], partitions: [] };
  for (const partition of [...byPartition.keys()].sort((a, b) => a - b)) {
    const indexes = byPartition.get(partition)!.sort((a, b) => a - b);
    const base = head.get(partition);
    if (base === undefined) throw new Error(`journal ${kind}: partition ${partition} head was not locked`);
    for (let n = 0; n < indexes.length; n++) {
      numbered.order.push(indexes[n]);
      numbered.seqs.push(base + n + 1);
    }
    numbered.partitions.push({ partition, firstSeq: base + 1, lastSeq: base + indexes.length, count: indexes.length });
  }
  return numbered;
}

/** The generic journal's append of a checked batch; `returning` = the columns to read back, or null. */
async function appendChecked(tx: Queryable, kind: string, batch: CheckedBatch, returning: string | null): Promise<{ numbered: NumberedAppend; rows: JournalRow[] }> {
  const { events } = batch;
  let rows: JournalRow[] = [];
  const numbered = await appendGapless(tx, kind, {
    length: events.length,
    partitionOf: (i) => events[i].partition,
    keyOf: (i) => events[i].naturalKey,
    journaled: async (keys) => (await tx.query<{ natural_key: string }>(JOURNALED_KEYS, [kind, keys])).rows.map((r) => r.natural_key),
    insert: async (numbered) => {
      const pick = <T>(f: (i: number) => T): T[] => numbered.order.map(f);
      const params = [
        kind,
        pick((i) => events[i].partition),
        numbered.seqs,
        pick((i) => events[i].entityId),
        pick((i) => events[i].naturalKey),
        pick((i) => events[i].eventType),
        `[${pick((i) => batch.texts[i]).join(",")}]`,
        pick((i) => batch.blockNumbers[i]),
        pick((i) => events[i].blockHash ?? null),
      ];
      rows = (await tx.query<JournalRow>(returning ? `${INSERT_ROWS}\nRETURNING ${returning}` : INSERT_ROWS, params)).rows;
    },
  });
  return { numbered, rows };
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
  const { numbered, rows } = await appendChecked(tx, kind, checkBatch(kind, events), COLUMNS);
  const inserted = rows.map(toEntry).sort((a, b) => a.partition - b.partition || a.seq - b.seq);
  return { inserted, duplicates: events.length - numbered.order.length };
}

/**
 * appendToJournal without reading the rows back: the same checks, dedupe, locking and seq
 * numbering, returning only how many were inserted and the seq range per partition. For
 * callers that already hold the events (ingest), this saves returning every payload.
 */
export async function appendToJournalCounted(tx: Queryable, kind: string, events: readonly JournalEventInput[]): Promise<AppendSummary> {
  if (!kind) throw new TypeError("appendToJournalCounted: kind is empty");
  if (events.length === 0) return { inserted: 0, duplicates: 0, partitions: [] };
  const { numbered } = await appendChecked(tx, kind, checkBatch(kind, events), null);
  return { inserted: numbered.order.length, duplicates: events.length - numbered.order.length, partitions: numbered.partitions };
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
