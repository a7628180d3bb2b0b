/**
 * What an entity kind gives the runtime: how to start, load, save and apply messages to one
 * actor. The runtime (actor-system.ts) owns mailboxes, activation, passivation, supervision and
 * transactions; a kind only says what its state is and how a message changes it.
 *
 * Transactions are the runtime's business (DESIGN.md, "Transactions"): after `handle` returns,
 * the actor's new state is dirty; the runtime's committer saves the dirty states of many actors
 * of one kind in ONE transaction by calling `save(tx, entries)` (group commit), then sends the
 * replies, tells and publishes produced by those messages. A commit that fails resets the
 * affected actors (their state is reloaded with `load` and re-caught-up with `activate`), and
 * the asks waiting on it fail with a retryable error.
 */
import type { z } from "zod";
import type { Logger } from "pino";
import type { Envelope } from "../protocols/envelope.ts";
import type { Clock } from "./clock.ts";
import type { Db, Queryable } from "../db/db.ts";

export interface ActorContext {
  readonly kind: string;
  readonly id: string;
  readonly partition: number;
  readonly clock: Clock;
  readonly log: Logger;
  /** Read-only use inside handle (reading the journal since an offset); writes go through `save`. */
  readonly db: Db;
  /** Send a message to another actor once this message's state has committed. */
  tell(kind: string, entityId: string, type: string, body: unknown): void;
  /** Publish a domain event (`strata.<kind>.<p>.<id>.evt.<name>`) once this message's state has committed. */
  emit(eventName: string, body: unknown): void;
}

export interface HandleResult<S, R = unknown> {
  state: S;
  /** Answer for `ask`; sent after commit. */
  reply?: R;
}

export interface RestartPolicy {
  /** More than maxRestarts restarts within windowMs escalates to the kind supervisor (actor marked failed). */
  maxRestarts: number;
  windowMs: number;
  /** Exponential backoff: min(maxDelayMs, baseDelayMs * 2^(attempt-1)) with ± jitter fraction. */
  baseDelayMs: number;
  maxDelayMs: number;
  jitter: number;
}

export interface KindOptions {
  /** Passivate (save, drop from memory) after this long without a message. */
  passivateAfterMs: number;
  /** Cap on resident actors of this kind; least recently used passivate first. */
  maxResident: number;
  /** A full mailbox rejects tell/ask with a retryable "mailbox full" error (back-pressure). */
  mailboxCapacity: number;
  restart: RestartPolicy;
  /**
   * Group commit: at the end of each burst of work, or when this many actors are dirty. `lanes` (default 1)
   * splits a kind's commits into that many independent committers by partition (partition % lanes),
   * i.e. that many concurrent transactions (2–4 writers suit Postgres; PGlite has one backend).
   * `windowMs` (default 0 = flush at the end of each burst of work) opts into a commit window on
   * the injected Clock: dirty actors are flushed when the window elapses or `maxBatch` of them
   * are dirty, so repeated updates of one actor within a window are saved once. An ask, whenIdle
   * and stop do not wait for the window (they flush at once).
   */
  commit: { maxBatch: number; lanes?: number; windowMs?: number };
}

/** What a group commit's `save` may hand back: messages sent after its transaction committed. */
export interface SaveResult {
  tells?: readonly { kind: string; id: string; type: string; body: unknown }[];
}

export interface ActorKind<S, R = unknown> {
  readonly kind: string;
  /** Body schema per message type; a body that fails goes to the dead-letter store (InputError). */
  readonly messages?: Readonly<Record<string, z.ZodType>>;
  /** State of an entity that has never been saved. */
  initial(entityId: string): S;
  /** Persisted states for these ids (missing ids are new entities). */
  load(db: Queryable, entityIds: readonly string[]): Promise<Map<string, S>>;
  /**
   * Persist states (and the offsets they include) inside the runtime's transaction. It may
   * return messages to send once that transaction has committed (`SaveResult.tells`): one message
   * for the whole group instead of one `ctx.tell` per actor (e.g. the changed terms of thousands
   * of actors to one analytics actor per partition).
   */
  save(tx: Queryable, entries: readonly { entityId: string; state: S }[]): Promise<void | SaveResult>;
  /** Called once after load on activation: catch up from the journal since the state's offset. */
  activate?(state: S, ctx: ActorContext): Promise<S>;
  /** Apply one message. Throw InputError for bad input (dead-lettered), anything else is retried. */
  handle(state: S, msg: Envelope, ctx: ActorContext): Promise<HandleResult<S, R>> | HandleResult<S, R>;
  readonly options?: Partial<KindOptions>;
}

export const DEFAULT_KIND_OPTIONS: KindOptions = {
  passivateAfterMs: 5 * 60_000,
  maxResident: 10_000,
  mailboxCapacity: 10_000,
  restart: { maxRestarts: 5, windowMs: 60_000, baseDelayMs: 100, maxDelayMs: 30_000, jitter: 0.2 },
  commit: { maxBatch: 500 },
};

/** A dead letter: input that could not be processed, kept with its error. */
export interface DeadLetter {
  kind: string;
  entityId: string | null;
  /** Where it came from: `redis:<stream>/<id>`, `s3:<bucket>/<key>#<n>`, `nats:<subject>`, `import:<file>:<line>`. */
  source: string;
  payload: unknown;
  error: string;
  errorCode: string;
}

/** Keeps dead letters (db/dead-letter-store.ts: a table, also published on `strata.dlq.<kind>`). */
export interface DeadLetterSink {
  record(letter: DeadLetter, tx?: Queryable): Promise<void>;
}
