/**
 * The supervisor of one actor kind: its resident actors (virtual: activated on the first
 * message, passivated when idle or when the kind is over `maxResident`), one mailbox per actor
 * processed one message at a time, group commit of their states, and supervision.
 *
 * Supervision (one-for-one): a handler (or load/activate) that throws a retryable error restarts
 * that actor alone — its in-memory state is dropped and reloaded after a backoff delay
 * (backoff.ts) — and the same message is tried again. More than `maxRestarts` restarts within
 * `windowMs` escalates here: the actor is marked failed (kept in `failed`, visible in stats and
 * inspect with its last error); the message that kept failing and every message sent to the
 * failed actor afterwards are dead-lettered (code `actor_failed`, asks rejected with
 * ActorFailedError) until `restart(id)`. A non-retryable error (InputError) dead-letters the
 * message with its error and the next message is processed.
 *
 * Commit failure: the actors of the failed batch are reset (state dropped, reloaded with load +
 * activate before their next message), the asks of their uncommitted messages fail with
 * CommitFailedError (retryable), and their tells/emits are never sent.
 */
import type { Logger } from "pino";
import type { ActorContext, ActorKind, DeadLetterSink, KindOptions, SaveResult } from "./actor-kind.ts";
import { DEFAULT_KIND_OPTIONS } from "./actor-kind.ts";
import type { Clock, TimerHandle } from "./clock.ts";
import type { Db } from "../db/db.ts";
import type { Envelope } from "../protocols/envelope.ts";
import { errorMessage, isDependencyUnavailable, isRetryable, InputError, StrataError } from "../protocols/errors.ts";
import { validate } from "../protocols/validation.ts";
import { partitionOf } from "../protocols/partition.ts";
import { Mailbox } from "./mailbox.ts";
import { backoffDelay, restartsInWindow, type RandomSource } from "./backoff.ts";
import { GroupCommitter, type CommitEntry } from "./group-committer.ts";
import { BatchLoader } from "./batch-loader.ts";
import { IdleTracker } from "./idle-tracker.ts";
import { ActorFailedError, ActorResetError, CommitFailedError, MailboxFullError } from "./runtime-errors.ts";
import type { RuntimeMetrics } from "./runtime-metrics.ts";

/** Settles an ask. Called at most once. */
export interface ReplyHandle {
  resolve(value: unknown): void;
  reject(err: unknown): void;
}

/** One message on its way into an actor's mailbox. */
export interface Delivery {
  readonly env: Envelope;
  /** Where it came from (dead letters keep it): `nats:<subject>`, `local:<kind>/<id>`, … */
  readonly source: string;
  readonly reply?: ReplyHandle;
}

/** Where actors' tells and emits go once their message has committed (the ActorSystem). */
export interface EffectDispatcher {
  tellFromActor(kind: string, entityId: string, type: string, body: unknown, cause: Envelope | null): void;
  emitFromActor(kind: string, entityId: string, eventName: string, body: unknown, cause: Envelope | null): void;
}

export type ActorStatus = "activating" | "active" | "backoff" | "failed";

export interface KindStats {
  kind: string;
  /** Actors in memory (failed ones not included). */
  resident: number;
  /** Messages queued in all mailboxes of the kind, and in the fullest one. */
  mailboxDepth: number;
  maxMailboxDepth: number;
  /** Highest mailbox depth seen since start. */
  peakMailboxDepth: number;
  processed: number;
  restarts: number;
  /** Actors currently marked failed (escalated), and their ids (first 100). */
  failed: number;
  failedActors: string[];
  deadLetters: number;
  /** Messages refused because a mailbox was full. */
  rejected: number;
  activations: number;
  passivations: number;
  commits: number;
  commitFailures: number;
  /** Actors whose latest state waits for the next transaction. */
  waitingCommit: number;
  lastError: { entityId: string; message: string; at: number } | null;
}

export interface ActorInspection {
  kind: string;
  id: string;
  partition: number;
  /** `passive`: not in memory; `state` is then what is persisted (or the initial state). */
  status: ActorStatus | "passive";
  state: unknown;
  mailboxDepth: number;
  restarts: number;
  /** Whether a state of this actor waits for (or is in) a transaction. */
  pendingCommit: boolean;
  lastError: string | null;
  /** When a backoff restart is due (clock time), if the actor is in backoff. */
  restartAt: number | null;
}

interface Effects {
  /** The actor that produced these effects. */
  readonly from: string;
  delivery: Delivery | null;
  reply: unknown;
  tells: { kind: string; id: string; type: string; body: unknown }[] | null;
  emits: { name: string; body: unknown }[] | null;
}

interface Cell<S> {
  readonly id: string;
  readonly partition: number;
  readonly lane: number;
  state: S | undefined;
  loaded: boolean;
  status: ActorStatus;
  readonly mailbox: Mailbox<Delivery>;
  running: boolean;
  /** Bumped when the actor is reset: a handler finishing under an older generation is discarded. */
  generation: number;
  /** Committer entries (accumulating or in flight) holding a state of this actor. */
  pending: number;
  /** Woken when the actor's pending count drops to zero or its loop stops. */
  waiters: (() => void)[];
  /** Why the generation was last bumped (what a discarded message's ask is rejected with). */
  resetError: StrataError | null;
  restarts: number;
  restartTimes: number[];
  attempt: number;
  restartAt: number | null;
  timer: TimerHandle | null;
  lastError: string | null;
  lastActive: number;
  /** Least-recently-used list of resident actors (head = least recent). */
  lruPrev: Cell<S> | null;
  lruNext: Cell<S> | null;
  effects: Effects | null;
  readonly ctx: ActorContext;
}

type Entry<S> = CommitEntry<Cell<S>, S, Effects>;

export interface KindSupervisorDeps {
  db: Db;
  clock: Clock;
  log: Logger;
  deadLetters?: DeadLetterSink;
  partitions: number;
  random: RandomSource;
  idle: IdleTracker;
  dispatch: EffectDispatcher;
  metrics?: RuntimeMetrics;
}

/** Fills the options a kind leaves out with DEFAULT_KIND_OPTIONS. */
export function resolveKindOptions(partial: Partial<KindOptions> | undefined): KindOptions {
  const d = DEFAULT_KIND_OPTIONS;
  return {
    passivateAfterMs: partial?.passivateAfterMs ?? d.passivateAfterMs,
    maxResident: partial?.maxResident ?? d.maxResident,
    mailboxCapacity: partial?.mailboxCapacity ?? d.mailboxCapacity,
    restart: { ...d.restart, ...partial?.restart },
    commit: { ...d.commit, ...partial?.commit },
  };
}

const RESOLVED = Promise.resolve();

function isThenable<T>(value: unknown): value is PromiseLike<T> {
  return value !== null && typeof value === "object" && typeof (value as { then?: unknown }).then === "function";
}

export class KindSupervisor<S> {
  readonly options: KindOptions;
  private readonly cells = new Map<string, Cell<S>>();
  private readonly failedCells = new Map<string, Cell<S>>();
  private readonly committers: GroupCommitter<Cell<S>, S, Effects>[];
  private readonly loader: BatchLoader<S>;
  private sweepTimer: TimerHandle | null = null;
  /** Set when the kind has a commit window (`commit.windowMs` > 0). */
  private readonly windowed: boolean;
  private readonly flushOnIdle: () => void;
  private stopped = false;
  private readonly counters = {
    processed: 0,
    restarts: 0,
    deadLetters: 0,
    rejected: 0,
    activations: 0,
    passivations: 0,
    commits: 0,
    commitFailures: 0,
    peakMailboxDepth: 0,
  };
  private lastError: KindStats["lastError"] = null;

  constructor(
    readonly kind: ActorKind<S>,
    private readonly deps: KindSupervisorDeps,
  ) {
    this.options = resolveKindOptions(kind.options);
    const lanes = Math.max(1, Math.floor(this.options.commit.lanes ?? 1));
    const windowMs = Math.max(0, this.options.commit.windowMs ?? 0);
    this.committers = Array.from(
      { length: lanes },
      () =>
        new GroupCommitter<Cell<S>, S, Effects>({
          maxBatch: this.options.commit.maxBatch,
          now: () => deps.clock.now(),
          windowMs,
          clock: deps.clock,
          save: (entries) => deps.db.transaction((tx) => kind.save(tx, entries.map((e) => ({ entityId: e.cell.id, state: e.state })))),
          committed: (entries, ms, saved) => this.committed(entries, ms, saved as SaveResult | void),
          failed: (entries, err) => this.commitFailed(entries, err),
        }),
    );
    this.loader = new BatchLoader<S>((ids) => kind.load(deps.db, ids), this.options.commit.maxBatch);
    this.flushOnIdle = () => {
      for (const c of this.committers) c.flushNow();
    };
    this.windowed = windowMs > 0;
    // Someone awaiting whenIdle never waits for a commit window (a SimulatedClock may never reach it).
    if (this.windowed) deps.idle.onAwait.add(this.flushOnIdle);
  }

  get name(): string {
    return this.kind.kind;
  }

  /**
   * Queues a message for an actor, activating it if needed. Throws MailboxFullError when the
   * mailbox is at capacity (unless `force`). A failed actor's message is dead-lettered.
   */
  deliver(entityId: string, delivery: Delivery, force = false): void {
    if (this.stopped) throw new ActorResetError(`actor system is stopping: ${this.name}/${entityId} takes no more messages`);
    const failed = this.failedCells.get(entityId);
    if (failed) {
      this.deps.idle.inc();
      this.rejectFailed(failed, delivery, null);
      return;
    }
    let cell = this.cells.get(entityId);
    if (cell) {
      // LRU: the map's order is least recently used first.
      this.lruTouch(cell);
    } else {
      cell = this.createCell(entityId);
    }
    if (!cell.mailbox.push(delivery, force)) {
      this.counters.rejected++;
      throw MailboxFullError.of(this.name, entityId, cell.mailbox.capacity);
    }
    this.deps.idle.inc();
    if (cell.mailbox.size > this.counters.peakMailboxDepth) this.counters.peakMailboxDepth = cell.mailbox.size;
    cell.lastActive = this.deps.clock.now();
    this.kick(cell);
  }

  /**
   * Resolves when the actor's mailbox has room (immediately when it has, or when the actor is
   * not resident, failed or the system stops): what `ActorSystem.send` waits on.
   */
  /** Whether a tell to `entityId` would wait for room (its resident mailbox is full). */
  isFull(entityId: string): boolean {
    const cell = this.cells.get(entityId);
    return cell !== undefined && cell.mailbox.full && !this.stopped;
  }

  async whenRoom(entityId: string): Promise<void> {
    for (;;) {
      const cell = this.cells.get(entityId);
      if (!cell || !cell.mailbox.full || this.stopped) return;
      await this.nextChange(cell);
    }
  }

  /** Admin: clears a failed actor (the next message activates it afresh) or restarts a resident one now. */
  restart(entityId: string): boolean {
    const failed = this.failedCells.get(entityId);
    if (failed) {
      // The same cell becomes resident again (not a new one): a state of it still waiting for a
      // commit must settle before the next activation loads.
      this.failedCells.delete(entityId);
      failed.status = "activating";
      failed.loaded = false;
      failed.state = undefined;
      failed.restartTimes = [];
      failed.attempt = 0;
      failed.lastActive = this.deps.clock.now();
      this.cells.set(entityId, failed);
      this.lruAppend(failed);
      this.scheduleSweep();
      this.deps.log.info({ kind: this.name, entityId }, "failed actor cleared by restart");
      return true;
    }
    const cell = this.cells.get(entityId);
    if (!cell) return false;
    if (cell.timer) this.deps.clock.clearTimeout(cell.timer);
    cell.timer = null;
    cell.restartAt = null;
    cell.restartTimes = [];
    cell.attempt = 0;
    cell.generation++;
    cell.resetError = new ActorResetError(`${this.name}/${entityId} was restarted by an admin`);
    cell.loaded = false;
    cell.state = undefined;
    cell.status = "active";
    this.kick(cell);
    return true;
  }

  /**
   * Admin: passivates an actor once its queued messages are processed and committed (new ones
   * keep it alive until then); a failed actor is forgotten. Resolves false when not resident.
   */
  async stopActor(entityId: string): Promise<boolean> {
    if (this.failedCells.delete(entityId)) return true;
    const cell = this.cells.get(entityId);
    if (!cell) return false;
    while (this.cells.get(entityId) === cell && !this.quiescent(cell)) {
      if (cell.status === "backoff" || cell.status === "failed" || this.stopped) break;
      await this.nextChange(cell);
    }
    if (this.cells.get(entityId) === cell && this.quiescent(cell)) this.passivate(cell);
    return true;
  }

  async inspect(entityId: string): Promise<ActorInspection> {
    const cell = this.cells.get(entityId) ?? this.failedCells.get(entityId);
    if (cell) {
      return {
        kind: this.name,
        id: entityId,
        partition: cell.partition,
        status: cell.status,
        state: cell.state,
        mailboxDepth: cell.mailbox.size,
        restarts: cell.restarts,
        pendingCommit: cell.pending > 0,
        lastError: cell.lastError,
        restartAt: cell.restartAt,
      };
    }
    const found = await this.kind.load(this.deps.db, [entityId]);
    return {
      kind: this.name,
      id: entityId,
      partition: partitionOf(entityId, this.deps.partitions),
      status: "passive",
      state: found.get(entityId) ?? this.kind.initial(entityId),
      mailboxDepth: 0,
      restarts: 0,
      pendingCommit: false,
      lastError: null,
      restartAt: null,
    };
  }

  stats(): KindStats {
    let depth = 0;
    let maxDepth = 0;
    for (const cell of this.cells.values()) {
      depth += cell.mailbox.size;
      if (cell.mailbox.size > maxDepth) maxDepth = cell.mailbox.size;
    }
    let waiting = 0;
    for (const c of this.committers) waiting += c.waiting;
    return {
      kind: this.name,
      resident: this.cells.size,
      mailboxDepth: depth,
      maxMailboxDepth: maxDepth,
      peakMailboxDepth: this.counters.peakMailboxDepth,
      processed: this.counters.processed,
      restarts: this.counters.restarts,
      failed: this.failedCells.size,
      failedActors: [...this.failedCells.keys()].slice(0, 100),
      deadLetters: this.counters.deadLetters,
      rejected: this.counters.rejected,
      activations: this.counters.activations,
      passivations: this.counters.passivations,
      commits: this.counters.commits,
      commitFailures: this.counters.commitFailures,
      waitingCommit: waiting,
      lastError: this.lastError,
    };
  }

  /**
   * Stops taking messages, rejects what is still queued (senders waiting for room are woken and
   * refused), lets a handler that is running finish its message, then commits what is pending
   * and lets running transactions finish.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.sweepTimer) this.deps.clock.clearTimeout(this.sweepTimer);
    this.sweepTimer = null;
    const all = [...this.cells.values(), ...this.failedCells.values()];
    for (const cell of all) {
      if (cell.timer) this.deps.clock.clearTimeout(cell.timer);
      cell.timer = null;
      // A running loop rejects its own queue when its current message is done (run()).
      if (!cell.running) {
        for (const d of cell.mailbox.drain()) this.finishRejected(d, new ActorResetError(`actor system stopped before ${this.name}/${cell.id} processed ${d.env.type}`));
      }
      this.wake(cell); // senders waiting for room (whenRoom) see the stop and are refused
    }
    // Windowed states must not wait for their window while an activation awaits them (settled).
    for (const c of this.committers) c.flushNow();
    // A handler still running finishes its message; its state goes into the final commit below.
    await Promise.all(
      all.map(async (cell) => {
        while (cell.running) await this.nextChange(cell);
      }),
    );
    await Promise.all(this.committers.map((c) => c.drain()));
    this.deps.idle.onAwait.delete(this.flushOnIdle);
  }

  // ——— processing ———

  private createCell(entityId: string): Cell<S> {
    this.evictForRoom();
    const partition = partitionOf(entityId, this.deps.partitions);
    const cell: Cell<S> = {
      id: entityId,
      partition,
      lane: partition % this.committers.length,
      state: undefined,
      loaded: false,
      status: "activating",
      mailbox: new Mailbox<Delivery>(this.options.mailboxCapacity),
      running: false,
      generation: 0,
      pending: 0,
      waiters: [],
      resetError: null,
      restarts: 0,
      restartTimes: [],
      attempt: 0,
      restartAt: null,
      timer: null,
      lastError: null,
      lastActive: this.deps.clock.now(),
      lruPrev: null,
      lruNext: null,
      effects: null,
      ctx: undefined as unknown as ActorContext,
    };
    (cell as { ctx: ActorContext }).ctx = this.makeContext(cell);
    this.cells.set(entityId, cell);
    this.lruAppend(cell);
    this.scheduleSweep();
    return cell;
  }

  private makeContext(cell: Cell<S>): ActorContext {
    const kindName = this.name;
    const log = this.deps.log.child({ kind: kindName, entityId: cell.id });
    const effects = (what: string): Effects => {
      if (!cell.effects) throw new Error(`${kindName}/${cell.id}: ctx.${what} called outside handle/activate`);
      return cell.effects;
    };
    return {
      kind: kindName,
      id: cell.id,
      partition: cell.partition,
      clock: this.deps.clock,
      log,
      db: this.deps.db,
      tell(kind, entityId, type, body) {
        const fx = effects("tell");
        (fx.tells ??= []).push({ kind, id: entityId, type, body });
      },
      emit(eventName, body) {
        const fx = effects("emit");
        (fx.emits ??= []).push({ name: eventName, body });
      },
    };
  }

  /** Starts the actor's processing loop unless it runs, waits for a restart, or is failed. */
  private kick(cell: Cell<S>): void {
    if (cell.running || cell.status === "backoff" || cell.status === "failed" || cell.mailbox.size === 0) return;
    cell.running = true;
    // A plain promise job (queueMicrotask costs an AsyncResource per call in Node).
    void RESOLVED.then(() => this.run(cell));
  }

  /** The actor's processing loop; never rejects. */
  private async run(cell: Cell<S>): Promise<void> {
    try {
      await this.loop(cell);
    } catch (err) {
      this.deps.log.error({ kind: this.name, entityId: cell.id, err }, "actor loop crashed");
    } finally {
      cell.running = false;
    }
    if (this.stopped) {
      // A handler that failed during stop scheduled a restart: nothing restarts after stop.
      if (cell.timer) this.deps.clock.clearTimeout(cell.timer);
      cell.timer = null;
      for (const d of cell.mailbox.drain()) this.finishRejected(d, new ActorResetError(`actor system stopped before ${this.name}/${cell.id} processed ${d.env.type}`));
    }
    this.wake(cell);
    // A message may have arrived while the loop was finishing.
    this.kick(cell);
  }

  private async loop(cell: Cell<S>): Promise<void> {
    {
      while (cell.mailbox.size > 0 && cell.status !== "backoff" && cell.status !== "failed" && !this.stopped) {
        if (!cell.loaded) {
          if (!(await this.activate(cell))) return;
          continue;
        }
        const delivery = cell.mailbox.peek() as Delivery;
        const generation = cell.generation;
        const fx: Effects = { from: cell.id, delivery, reply: undefined, tells: null, emits: null };
        let result: { state: S; reply?: unknown };
        cell.effects = fx;
        try {
          const schema = this.kind.messages?.[delivery.env.type];
          if (this.kind.messages && !schema) {
            throw new InputError(`${this.name}: unknown message type ${JSON.stringify(delivery.env.type)}`, { code: "unknown_type" });
          }
          const env = schema ? { ...delivery.env, body: validate(schema, delivery.env.body, `${this.name} ${delivery.env.type}`) } : delivery.env;
          const out = this.kind.handle(cell.state as S, env, cell.ctx);
          result = isThenable<{ state: S; reply?: unknown }>(out) ? await out : out;
          if (result === null || typeof result !== "object" || !("state" in result)) {
            throw new Error(`${this.name}.handle(${delivery.env.type}) returned no { state }`);
          }
        } catch (err) {
          cell.effects = null;
          if (generation !== cell.generation) {
            cell.mailbox.shift();
            this.finishRejected(delivery, cell.resetError ?? new ActorResetError(`${this.name}/${cell.id} was reset while processing ${delivery.env.type}`));
            continue;
          }
          if (!isRetryable(err)) {
            if (!(await this.deadLetter(cell, delivery, err))) return;
            cell.mailbox.shift();
            this.deps.metrics?.messageProcessed?.(this.name, "dead_letter");
            this.finishRejected(delivery, err);
            continue;
          }
          this.deps.metrics?.messageProcessed?.(this.name, "retry");
          this.supervise(cell, err);
          return;
        }
        cell.effects = null;
        cell.mailbox.shift();
        this.wake(cell); // senders waiting for room (whenRoom)
        if (generation !== cell.generation) {
          this.finishRejected(delivery, cell.resetError ?? new ActorResetError(`${this.name}/${cell.id} was reset while processing ${delivery.env.type}`));
          continue;
        }
        this.counters.processed++;
        this.deps.metrics?.messageProcessed?.(this.name, "ok");
        cell.attempt = 0;
        fx.reply = result.reply;
        const changed = result.state !== cell.state;
        cell.state = result.state;
        if (!changed && cell.pending === 0) this.release(fx);
        else this.enqueueCommit(cell, result.state, fx);
      }
    }
  }

  /** Load (batched) + activate catch-up. False when it failed (the actor is then supervised). */
  private async activate(cell: Cell<S>): Promise<boolean> {
    cell.status = "activating";
    try {
      // A restart reloads what is persisted: let this actor's pending transactions finish first
      // (at once: a windowed kind's earlier state must not hold the restart for its window).
      if (cell.pending > 0) {
        this.committers[cell.lane].flushNow();
        await this.settled(cell);
      }
      if (cell.loaded) {
        cell.status = "active";
        return true;
      }
      const persisted = await this.loader.load(cell.id);
      let state = persisted ?? this.kind.initial(cell.id);
      let fx: Effects | null = null;
      if (this.kind.activate) {
        fx = { from: cell.id, delivery: null, reply: undefined, tells: null, emits: null };
        cell.effects = fx;
        state = await this.kind.activate(state, cell.ctx);
        cell.effects = null;
      }
      if (this.stopped) return false;
      cell.state = state;
      cell.loaded = true;
      cell.status = "active";
      this.counters.activations++;
      if (cell.restarts > 0 || cell.generation > 0) this.deps.log.info({ kind: this.name, entityId: cell.id }, "actor reloaded");
      if (fx && (state !== persisted || fx.tells || fx.emits)) {
        this.deps.idle.inc();
        this.enqueueCommit(cell, state, fx);
      }
      return true;
    } catch (err) {
      cell.effects = null;
      this.supervise(cell, err);
      return false;
    }
  }

  private enqueueCommit(cell: Cell<S>, state: S, fx: Effects | null): void {
    // An ask (or someone awaiting whenIdle) does not wait for the commit window.
    const urgent = this.windowed && (fx?.delivery?.reply !== undefined || this.deps.idle.awaiting > 0);
    if (this.committers[cell.lane].add(cell, state, fx, urgent)) cell.pending++;
  }

  private committed(entries: readonly Entry<S>[], ms: number, saved: SaveResult | void): void {
    this.counters.commits++;
    this.deps.metrics?.commit?.(this.name, entries.length, ms, true);
    // The group's own tells first: they are queued before the entries' effects release the idle
    // count, so whenIdle never sees zero between the commit and these messages.
    for (const t of saved?.tells ?? []) {
      try {
        this.deps.dispatch.tellFromActor(t.kind, t.id, t.type, t.body, null);
      } catch (err) {
        this.deps.log.error({ kind: this.name, to: `${t.kind}/${t.id}`, type: t.type, err }, "tell after group commit failed");
      }
    }
    for (const entry of entries) {
      for (const fx of entry.effects) this.release(fx);
      // Drop references at once: a released message must not outlive its round (GC: die young).
      entry.effects.length = 0;
      this.unpend(entry.cell);
    }
  }

  private commitFailed(entries: readonly Entry<S>[], err: unknown): void {
    this.counters.commitFailures++;
    this.deps.metrics?.commit?.(this.name, entries.length, 0, false);
    const message = `group commit of ${entries.length} ${this.name} actor(s) failed: ${errorMessage(err)}`;
    this.deps.log.error({ kind: this.name, actors: entries.length, err }, "group commit failed; actors reset");
    for (const entry of entries) {
      const cell = entry.cell;
      const failure = new CommitFailedError(message, err);
      for (const fx of entry.effects) this.rejectEffects(fx, failure);
      // Later states of this actor derive from the lost one: drop them too.
      const later = this.committers[cell.lane].take(cell);
      if (later) {
        for (const fx of later.effects) this.rejectEffects(fx, failure);
        this.unpend(cell);
      }
      cell.generation++;
      cell.resetError = failure;
      cell.loaded = false;
      cell.state = undefined;
      cell.lastError = message;
      this.lastError = { entityId: cell.id, message, at: this.deps.clock.now() };
      this.unpend(cell);
      this.kick(cell);
    }
  }

  private unpend(cell: Cell<S>): void {
    cell.pending--;
    if (cell.pending <= 0) {
      cell.pending = 0;
      this.wake(cell);
    }
  }

  private wake(cell: Cell<S>): void {
    if (cell.waiters.length === 0) return;
    const waiters = cell.waiters;
    cell.waiters = [];
    for (const w of waiters) w();
  }

  /** Resolves at the actor's next change of pending count or loop state. */
  private nextChange(cell: Cell<S>): Promise<void> {
    return new Promise((resolve) => cell.waiters.push(resolve));
  }

  /** Resolves when no state of this actor waits for a transaction. */
  private async settled(cell: Cell<S>): Promise<void> {
    while (cell.pending > 0) await this.nextChange(cell);
  }

  /** Sends the reply, tells and emits of a committed message. */
  private release(fx: Effects): void {
    const delivery = fx.delivery;
    fx.delivery = null;
    try {
      try {
        delivery?.reply?.resolve(fx.reply);
      } catch (err) {
        this.deps.log.error({ kind: this.name, entityId: fx.from, err }, "reply could not be delivered");
      }
      const cause = delivery?.env ?? null;
      if (fx.tells) {
        for (const t of fx.tells) {
          try {
            this.deps.dispatch.tellFromActor(t.kind, t.id, t.type, t.body, cause);
          } catch (err) {
            this.deps.log.error({ kind: this.name, to: `${t.kind}/${t.id}`, type: t.type, err }, "tell after commit failed");
          }
        }
      }
      if (fx.emits) {
        for (const e of fx.emits) {
          try {
            this.deps.dispatch.emitFromActor(this.name, fx.from, e.name, e.body, cause);
          } catch (err) {
            this.deps.log.error({ kind: this.name, event: e.name, err }, "emit after commit failed");
          }
        }
      }
    } finally {
      this.deps.idle.dec();
    }
  }

  private rejectEffects(fx: Effects, err: unknown): void {
    fx.delivery?.reply?.reject(err);
    this.deps.idle.dec();
  }

  private finishRejected(delivery: Delivery, err: unknown): void {
    delivery.reply?.reject(err);
    this.deps.idle.dec();
  }

  // ——— supervision ———

  private supervise(cell: Cell<S>, err: unknown): void {
    const message = errorMessage(err);
    const now = this.deps.clock.now();
    cell.lastError = message;
    this.lastError = { entityId: cell.id, message, at: now };
    const policy = this.options.restart;
    // An outage (the database or another dependency unreachable) is not the actor's fault: it
    // backs off (up to maxDelayMs) for as long as the outage lasts, and is never failed for it —
    // a failed actor dead-letters every later message until someone restarts it from admin.
    const outage = isDependencyUnavailable(err);
    if (!outage) {
      cell.restartTimes = restartsInWindow(cell.restartTimes, now, policy.windowMs);
      if (cell.restartTimes.length >= policy.maxRestarts) {
        this.escalate(cell, err);
        return;
      }
      cell.restartTimes.push(now);
    }
    cell.restarts++;
    this.counters.restarts++;
    cell.attempt++;
    const delay = backoffDelay(cell.attempt, policy, this.deps.random);
    cell.status = "backoff";
    cell.loaded = false;
    cell.state = undefined;
    cell.restartAt = now + delay;
    this.deps.log.warn({ kind: this.name, entityId: cell.id, attempt: cell.attempt, delayMs: delay, outage, err: message }, outage ? "actor restarting after backoff (a dependency is unreachable)" : "actor restarting after backoff");
    cell.timer = this.deps.clock.setTimeout(() => {
      cell.timer = null;
      cell.restartAt = null;
      if (cell.status !== "backoff") return;
      cell.status = "activating";
      this.kick(cell);
    }, delay);
  }

  private escalate(cell: Cell<S>, err: unknown): void {
    const message = errorMessage(err);
    cell.status = "failed";
    cell.loaded = false;
    cell.state = undefined;
    if (cell.timer) this.deps.clock.clearTimeout(cell.timer);
    cell.timer = null;
    this.cells.delete(cell.id);
    this.lruRemove(cell);
    this.failedCells.set(cell.id, cell);
    this.deps.log.error(
      { kind: this.name, entityId: cell.id, restarts: cell.restartTimes.length, windowMs: this.options.restart.windowMs, err: message },
      "actor failed: too many restarts, escalated to the kind supervisor",
    );
    const poison = cell.mailbox.shift();
    if (poison) this.rejectFailed(cell, poison, err);
    for (const d of cell.mailbox.drain()) this.rejectFailed(cell, d, null);
  }

  /** Dead-letters a message to a failed actor and rejects its ask. The caller counted it in `idle`. */
  private rejectFailed(cell: Cell<S>, delivery: Delivery, cause: unknown): void {
    const reason = cause ?? new ActorFailedError(`${this.name}/${cell.id} is failed (last error: ${cell.lastError}); restart it from admin`);
    const error = new ActorFailedError(`${this.name}/${cell.id} is failed: ${errorMessage(reason)}`);
    void this.recordDeadLetter(cell.id, delivery.source, delivery.env, error.message, cause instanceof StrataError ? cause.code : "actor_failed").then(
      () => this.finishRejected(delivery, error),
      (recordErr) => {
        this.deps.log.error({ kind: this.name, entityId: cell.id, err: recordErr, payload: delivery.env }, "dead letter for a failed actor could not be recorded");
        this.finishRejected(delivery, error);
      },
    );
  }

  /** Records a bad message. False when the sink failed (the actor is then supervised and retries). */
  private async deadLetter(cell: Cell<S>, delivery: Delivery, err: unknown): Promise<boolean> {
    try {
      await this.recordDeadLetter(cell.id, delivery.source, delivery.env, errorMessage(err), err instanceof StrataError ? err.code : "bad_input");
      return true;
    } catch (recordErr) {
      this.supervise(cell, recordErr);
      return false;
    }
  }

  /** Dead-letters a message that never reached an actor (an undecodable envelope). Never throws. */
  async recordInvalid(entityId: string | null, source: string, payload: unknown, err: unknown): Promise<void> {
    try {
      await this.recordDeadLetter(entityId, source, payload, errorMessage(err), err instanceof StrataError ? err.code : "bad_input");
    } catch (recordErr) {
      this.deps.log.error({ kind: this.name, entityId, source, payload, err: recordErr }, "dead letter could not be recorded");
    }
  }

  private async recordDeadLetter(entityId: string | null, source: string, payload: unknown, error: string, errorCode: string): Promise<void> {
    this.lastError = { entityId: entityId ?? "", message: error, at: this.deps.clock.now() };
    const letter = { kind: this.name, entityId, source, payload, error, errorCode };
    if (this.deps.deadLetters) await this.deps.deadLetters.record(letter);
    else this.deps.log.error({ deadLetter: letter }, "dead letter (no dead-letter sink configured)");
    this.counters.deadLetters++;
  }

  // ——— passivation ———

  private quiescent(cell: Cell<S>): boolean {
    return !cell.running && cell.mailbox.size === 0 && cell.pending === 0 && (cell.status === "active" || cell.status === "activating") && cell.timer === null;
  }

  private passivate(cell: Cell<S>): void {
    this.cells.delete(cell.id);
    this.lruRemove(cell);
    cell.loaded = false;
    cell.state = undefined;
    this.counters.passivations++;
  }

  /** Keeps the kind under maxResident: passivates idle actors, least recently used first. */
  private evictForRoom(): void {
    if (this.cells.size < this.options.maxResident) return;
    let scanned = 0;
    for (let cell = this.lruHead; cell && this.cells.size >= this.options.maxResident && scanned++ < 256; ) {
      const next: Cell<S> | null = cell.lruNext;
      if (this.quiescent(cell)) this.passivate(cell);
      cell = next;
    }
  }

  private scheduleSweep(): void {
    if (this.sweepTimer || this.stopped) return;
    const interval = Math.max(1, Math.ceil(this.options.passivateAfterMs / 2));
    this.sweepTimer = this.deps.clock.setTimeout(() => {
      this.sweepTimer = null;
      this.sweep();
      if (this.cells.size > 0) this.scheduleSweep();
    }, interval);
  }

  /** Passivates every quiescent actor idle for passivateAfterMs. */
  private sweep(): void {
    const now = this.deps.clock.now();
    for (let cell = this.lruHead; cell; ) {
      if (now - cell.lastActive < this.options.passivateAfterMs) break; // LRU order: the rest are newer
      const next: Cell<S> | null = cell.lruNext;
      if (this.quiescent(cell)) this.passivate(cell);
      cell = next;
    }
  }

  // A doubly linked list, not Map re-insertion: touching an actor on every message allocates nothing.
  private lruHead: Cell<S> | null = null;
  private lruTail: Cell<S> | null = null;

  private lruAppend(cell: Cell<S>): void {
    cell.lruPrev = this.lruTail;
    cell.lruNext = null;
    if (this.lruTail) this.lruTail.lruNext = cell;
    else this.lruHead = cell;
    this.lruTail = cell;
  }

  private lruRemove(cell: Cell<S>): void {
    if (cell.lruPrev) cell.lruPrev.lruNext = cell.lruNext;
    else if (this.lruHead === cell) this.lruHead = cell.lruNext;
    if (cell.lruNext) cell.lruNext.lruPrev = cell.lruPrev;
    else if (this.lruTail === cell) this.lruTail = cell.lruPrev;
    cell.lruPrev = null;
    cell.lruNext = null;
  }

  private lruTouch(cell: Cell<S>): void {
    if (this.lruTail === cell) return;
    this.lruRemove(cell);
    this.lruAppend(cell);
  }
}
