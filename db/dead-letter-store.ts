/**
 * Dead letters (`strata_dead_letter`, DESIGN.md spine rule 6: bad input never stops the line).
 *
 * record() inserts the row and, when a transport is configured, publishes it on
 * `strata.dlq.<kind>` as an envelope (type `dead-letter`, body = the stored DeadLetterRecord,
 * `Nats-Msg-Id` = envelope id) — only once the row is committed:
 *   - without a transaction, the insert commits by itself and the notice follows it;
 *   - with the caller's transaction, the notice is held for that transaction and goes out when
 *     the caller reports the commit: run the transaction with `transactionWithDeadLetters(db,
 *     sink, fn)` (or call `publishCommitted(tx)` after the commit yourself). A rolled-back
 *     transaction publishes nothing (its held notices are dropped with it).
 * The table is the truth: a publish failure is logged and never loses the row.
 * Text PostgreSQL cannot store (U+0000, lone surrogates) is replaced by U+FFFD, so recording
 * never fails because of the bad input it records.
 */
import type { Logger } from "pino";
import type { DeadLetter, DeadLetterSink } from "../supervisors/actor-kind.ts";
import type { Transport } from "../supervisors/transport/transport.ts";
import { PayloadTooLargeError } from "../supervisors/transport/transport.ts";
import { deadLetterSubject } from "../protocols/subject.ts";
import { encodeToken } from "../protocols/token.ts";
import { encodeEnvelope, makeEnvelope } from "../protocols/envelope.ts";
import type { Db, Queryable } from "./db.ts";
import { jsonText, sanitizeJsonbText, sanitizeText } from "./sql.ts";

export interface DeadLetterRecord extends DeadLetter {
  /** INT8 id as a decimal string. */
  id: string;
  createdAt: Date;
  resolvedAt: Date | null;
}

export const DEAD_LETTER_MESSAGE_TYPE = "dead-letter";

interface DeadLetterRow {
  id: string;
  kind: string;
  entity_id: string | null;
  source: string;
  payload: unknown;
  error: string;
  error_code: string;
  created_at: Date;
  resolved_at: Date | null;
}

const COLUMNS = "id, kind, entity_id, source, payload, error, error_code, created_at, resolved_at";

export class DeadLetterStore implements DeadLetterSink {
  readonly #db: Db;
  readonly #transport?: Transport;
  readonly #log?: Logger;
  /** Notices of rows written in a caller's transaction, waiting for its commit (keyed by the tx object). */
  readonly #held = new WeakMap<Queryable, DeadLetterRecord[]>();

  constructor(db: Db, opts: { transport?: Transport; log?: Logger } = {}) {
    this.#db = db;
    this.#transport = opts.transport;
    this.#log = opts.log;
  }

  async record(letter: DeadLetter, tx?: Queryable): Promise<void> {
    await this.recordAndReturn(letter, tx);
  }

  /** record(), returning the stored row. */
  async recordAndReturn(letter: DeadLetter, tx?: Queryable): Promise<DeadLetterRecord> {
    const res = await (tx ?? this.#db).query<DeadLetterRow>(
      `INSERT INTO strata_dead_letter (kind, entity_id, source, payload, error, error_code)
       VALUES ($1, $2, $3, $4::jsonb, $5, $6) RETURNING ${COLUMNS}`,
      [
        sanitizeText(letter.kind),
        letter.entityId === null || letter.entityId === undefined ? null : sanitizeText(letter.entityId),
        sanitizeText(letter.source),
        sanitizeJsonbText(payloadJson(letter.payload)),
        sanitizeText(letter.error),
        sanitizeText(letter.errorCode),
      ],
    );
    const stored = toRecord(res.rows[0]);
    if (tx === undefined || tx === this.#db) this.#publish(stored);
    else if (this.#transport) {
      const held = this.#held.get(tx);
      if (held) held.push(stored);
      else this.#held.set(tx, [stored]);
    }
    return stored;
  }

  /**
   * Publishes the notices of the rows recorded in `tx`, once the caller's transaction has
   * committed; returns how many. Call it only after the commit (a rollback: just never call it).
   */
  publishCommitted(tx: Queryable): number {
    const held = this.#held.get(tx);
    if (!held) return 0;
    this.#held.delete(tx);
    for (const stored of held) this.#publish(stored);
    return held.length;
  }

  /** Drops the held notices of a transaction that rolled back; returns how many. */
  discardUncommitted(tx: Queryable): number {
    const held = this.#held.get(tx);
    this.#held.delete(tx);
    return held?.length ?? 0;
  }

  /** Dead letters, newest first. */
  list(opts: ListDeadLettersOptions = {}): Promise<DeadLetterRecord[]> {
    return listDeadLetters(this.#db, opts);
  }

  /** How many dead letters (of one kind) are unresolved; with includeResolved, all of them. */
  count(kind?: string, opts: { includeResolved?: boolean } = {}): Promise<number> {
    return countDeadLetters(this.#db, kind, opts);
  }

  /** Marks dead letters resolved (handled by an operator); returns how many changed. */
  async resolve(ids: readonly string[], tx?: Queryable): Promise<number> {
    if (ids.length === 0) return 0;
    const res = await (tx ?? this.#db).query(
      "UPDATE strata_dead_letter SET resolved_at = now() WHERE id = ANY($1::bigint[]) AND resolved_at IS NULL",
      [[...ids]],
    );
    return res.rowCount;
  }

  #publish(stored: DeadLetterRecord): void {
    const transport = this.#transport;
    if (!transport) return;
    const subject = deadLetterSubject(encodeToken(stored.kind));
    const send = (body: unknown): void => {
      const envelope = makeEnvelope(stored.kind, DEAD_LETTER_MESSAGE_TYPE, body);
      transport.publish(subject, encodeEnvelope(envelope), { headers: { "Nats-Msg-Id": envelope.id } });
    };
    try {
      try {
        send(stored);
      } catch (err) {
        if (!(err instanceof PayloadTooLargeError)) throw err;
        // Too big to notify in full: the row has the payload; the notification says so.
        send({ ...stored, payload: null, payloadOmitted: true });
      }
    } catch (err) {
      this.#log?.warn({ err, subject, deadLetterId: stored.id }, `dead letter ${stored.id} stored but not published: ${(err as Error).message}`);
    }
  }
}

/** The (kind, source) pairs of `$1`/`$2` already kept; through the index of migration 0002. */
export const KNOWN_DEAD_LETTERS_SQL = `SELECT d.kind, d.source FROM strata_dead_letter d
  JOIN unnest($1::text[], $2::text[]) AS u(kind, source) ON d.kind = u.kind AND md5(d.source) = md5(u.source) AND d.source = u.source`;

/**
 * Records, in the caller's transaction, the letters whose (kind, source) is not recorded yet:
 * a redelivered or retried batch (an S3 batch retried after part of it committed, a Redis entry
 * delivered again) does not keep a second copy. Returns how many were recorded.
 */
export async function recordNewDeadLetters(sink: DeadLetterSink, tx: Queryable, letters: readonly DeadLetter[]): Promise<number> {
  if (letters.length === 0) return 0;
  const res = await tx.query<{ kind: string; source: string }>(KNOWN_DEAD_LETTERS_SQL, [letters.map((l) => l.kind), letters.map((l) => l.source)]);
  const known = new Set(res.rows.map((r) => `${r.kind}\u0000${r.source}`));
  let recorded = 0;
  for (const letter of letters) {
    const key = `${letter.kind}\u0000${letter.source}`;
    if (known.has(key)) continue;
    known.add(key);
    await sink.record(letter, tx);
    recorded++;
  }
  return recorded;
}

/** A sink whose notices for rows written in a caller's transaction wait for the commit. */
interface CommitAwareSink extends DeadLetterSink {
  publishCommitted(tx: Queryable): number;
  discardUncommitted(tx: Queryable): number;
}

function commitAware(sink: DeadLetterSink): sink is CommitAwareSink {
  return typeof (sink as Partial<CommitAwareSink>).publishCommitted === "function" && typeof (sink as Partial<CommitAwareSink>).discardUncommitted === "function";
}

/**
 * db.transaction(fn) for work that records dead letters in its transaction
 * (`sink.record(letter, tx)`): their notices are published after the COMMIT, and dropped when
 * the transaction rolls back. Any DeadLetterSink works; only a commit-aware one (DeadLetterStore)
 * holds notices.
 */
export async function transactionWithDeadLetters<T>(db: Db, sink: DeadLetterSink, fn: (tx: Queryable) => Promise<T>): Promise<T> {
  let used: Queryable | undefined;
  let result: T;
  try {
    result = await db.transaction((tx) => {
      used = tx;
      return fn(tx);
    });
  } catch (err) {
    if (used && commitAware(sink)) sink.discardUncommitted(used);
    throw err;
  }
  if (used && commitAware(sink)) sink.publishCommitted(used);
  return result;
}

export interface ListDeadLettersOptions {
  kind?: string;
  /** Default 100. */
  limit?: number;
  /** Only those not yet resolved. */
  unresolvedOnly?: boolean;
}

/** Dead letters, newest first. */
export async function listDeadLetters(db: Queryable, opts: ListDeadLettersOptions = {}): Promise<DeadLetterRecord[]> {
  const params: unknown[] = [opts.limit ?? 100];
  const where: string[] = [];
  if (opts.kind !== undefined) {
    params.push(opts.kind);
    where.push(`kind = $${params.length}`);
  }
  if (opts.unresolvedOnly) where.push("resolved_at IS NULL");
  const res = await db.query<DeadLetterRow>(
    `SELECT ${COLUMNS} FROM strata_dead_letter ${where.length ? "WHERE " + where.join(" AND ") : ""} ORDER BY id DESC LIMIT $1`,
    params,
  );
  return res.rows.map(toRecord);
}

/** Unresolved dead letters (of one kind, or all); with includeResolved, every row. */
export async function countDeadLetters(db: Queryable, kind?: string, opts: { includeResolved?: boolean } = {}): Promise<number> {
  const where: string[] = [];
  const params: unknown[] = [];
  if (kind !== undefined) {
    params.push(kind);
    where.push(`kind = $${params.length}`);
  }
  if (!opts.includeResolved) where.push("resolved_at IS NULL");
  const res = await db.query<{ n: string }>(
    `SELECT count(*) AS n FROM strata_dead_letter ${where.length ? "WHERE " + where.join(" AND ") : ""}`,
    params,
  );
  return Number(res.rows[0].n);
}

/** JSON text of a payload: bytes are kept as UTF-8 text when they decode, else as base64. */
function payloadJson(payload: unknown): string {
  if (payload instanceof Uint8Array) {
    try {
      return jsonText(new TextDecoder("utf-8", { fatal: true }).decode(payload));
    } catch {
      return jsonText({ base64: bytesToBase64(payload) });
    }
  }
  try {
    return jsonText(payload);
  } catch (err) {
    // Circular or otherwise unserialisable: keep what can be said about it.
    return jsonText({ unserialisable: String(payload), reason: (err as Error).message });
  }
}

function bytesToBase64(bytes: Uint8Array): string {
  let binary = "";
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary);
}

function toRecord(r: DeadLetterRow): DeadLetterRecord {
  return {
    id: String(r.id),
    kind: r.kind,
    entityId: r.entity_id,
    source: r.source,
    payload: r.payload,
    error: r.error,
    errorCode: r.error_code,
    createdAt: r.created_at instanceof Date ? r.created_at : new Date(r.created_at),
    resolvedAt: r.resolved_at === null ? null : r.resolved_at instanceof Date ? r.resolved_at : new Date(r.resolved_at),
  };
}
