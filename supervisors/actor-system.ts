/**
 * The actor system: one KindSupervisor per registered kind (the supervision tree is
 * root → kind supervisor → entity actors), routing over a Transport, and the public surface
 * used by ingress, the CLI and admin: tell, ask, whenIdle, stats, inspect, restart, stop.
 *
 * Routing: with a Transport, a message to an entity goes out on
 * `strata.<kind>.<partition>.<entity>.<verb>` (routing.ts) and the host owning that partition
 * (this one subscribes to `ownedPartitions`, default all) delivers it. With `directLocal`
 * (default true) a message to a kind registered here, in a partition this host owns, skips the
 * transport and goes straight into the mailbox — the same validation, mailbox, supervision and
 * commit path, minus encoding. Set `directLocal: false` to send everything over the transport.
 * Without a Transport everything is local and emitted events are dropped.
 *
 * Lifecycle and failure semantics: docs/runtime.md.
 */
import type { Logger } from "pino";
import { pino } from "pino";
import type { ActorKind, DeadLetterSink } from "./actor-kind.ts";
import type { Clock, TimerHandle } from "./clock.ts";
import { systemClock } from "./clock.ts";
import type { Db } from "../db/db.ts";
import type { Transport } from "./transport/transport.ts";
import type { Envelope } from "../protocols/envelope.ts";
import { makeEnvelope } from "../protocols/envelope.ts";
import { DEFAULT_PARTITIONS, partitionOf } from "../protocols/partition.ts";
import { KindSupervisor, type ActorInspection, type Delivery, type KindStats, type EffectDispatcher } from "./kind-supervisor.ts";
import { IdleTracker } from "./idle-tracker.ts";
import { messageSubject, Router, type RouteTarget } from "./routing.ts";
import { AskTimeoutError, MailboxFullError, UnknownKindError } from "./runtime-errors.ts";
import type { RuntimeMetrics } from "./runtime-metrics.ts";
import type { RandomSource } from "./backoff.ts";

export type { ActorInspection, KindStats } from "./kind-supervisor.ts";

/** The request verb the runtime answers itself with the actor's current state. */
export const STATE_TYPE = "state";

export interface ActorSystemOptions {
  db: Db;
  /** NATS or in-process; without one, every message is local. */
  transport?: Transport;
  /** Default systemClock; tests inject a SimulatedClock. */
  clock?: Clock;
  /** Default: a silent pino logger. */
  log?: Logger;
  /** Where bad input goes (db/dead-letter-store.ts). Without one, dead letters are only logged. */
  deadLetters?: DeadLetterSink;
  /** Number of partitions P (default 16). */
  partitions?: number;
  /** Partitions this host owns and subscribes to (default all). */
  ownedPartitions?: readonly number[];
  /** Same-host messages to owned partitions skip the transport (default true). */
  directLocal?: boolean;
  metrics?: RuntimeMetrics;
  /** Jitter source for restart backoff (default Math.random). */
  random?: RandomSource;
}

export interface SendOptions {
  /** The message this one is caused by (sets causation and correlation ids). */
  cause?: Pick<Envelope, "id" | "correlationId">;
  /** Envelope id (dedupe key); default a random UUID. */
  id?: string;
  version?: number;
  /** Where it came from, kept with a dead letter (`import:<file>:<line>`, `redis:<stream>/<id>`…). */
  source?: string;
}

export interface AskOptions extends SendOptions {
  timeoutMs: number;
}

export class ActorSystem {
  private readonly supervisors = new Map<string, KindSupervisor<unknown>>();
  private readonly idle = new IdleTracker();
  /** Messages sent over the transport to an owned partition and not arrived yet, per envelope id. */
  private readonly inTransit = new Map<string, number>();
  private readonly router: Router | null;
  private readonly owned: Set<number>;
  private started = false;
  private stopped = false;
  readonly clock: Clock;
  readonly log: Logger;
  readonly partitions: number;
  private readonly directLocal: boolean;
  private readonly dispatch: EffectDispatcher;
  private readonly target: RouteTarget;
  /** Kinds and types already checked against the subject grammar (no string built per message). */
  private readonly checkedNames = new Map<string, Set<string>>();
  private stampedAt = Number.NaN;
  private stamp = "";

  constructor(private readonly opts: ActorSystemOptions) {
    this.clock = opts.clock ?? systemClock;
    this.log = opts.log ?? pino({ level: "silent" });
    this.partitions = opts.partitions ?? DEFAULT_PARTITIONS;
    this.owned = new Set(opts.ownedPartitions ?? Array.from({ length: this.partitions }, (_, i) => i));
    for (const p of this.owned) {
      if (!Number.isInteger(p) || p < 0 || p >= this.partitions) throw new RangeError(`owned partition ${p} is outside 0..${this.partitions - 1}`);
    }
    this.directLocal = opts.directLocal ?? true;
    this.router = opts.transport ? new Router(opts.transport, { partitions: this.partitions, clock: this.clock, log: this.log }) : null;
    this.dispatch = {
      tellFromActor: (kind, entityId, type, body, cause) => this.route(kind, entityId, this.envelope(kind, type, body, { cause: cause ?? undefined }), "actor", true),
      emitFromActor: (kind, entityId, eventName, body, cause) => {
        if (!this.router) return;
        const env = this.envelope(kind, `evt.${eventName}`, body, { cause: cause ?? undefined });
        this.router.publishEvent(kind, entityId, env);
      },
    };
    this.target = {
      deliverIncoming: (kind, entityId, delivery, force) => {
        if (this.arrived(delivery.env.id)) this.idle.dec();
        this.supervisor(kind).deliver(entityId, delivery, force);
      },
      stateOf: async (kind, entityId) => (await this.supervisor(kind).inspect(entityId)).state,
      rejectIncoming: (kind, entityId, source, payload, err) => {
        const sup = this.supervisors.get(kind);
        if (!sup) return;
        // whenIdle covers the dead letter being written.
        this.idle.inc();
        void sup.recordInvalid(entityId, source, payload, err).finally(() => this.idle.dec());
      },
    };
  }

  /** Adds a kind (before or after start). */
  register<S>(kind: ActorKind<S>): this {
    if (this.supervisors.has(kind.kind)) throw new Error(`actor kind ${kind.kind} is already registered`);
    const sup = new KindSupervisor<S>(kind, {
      db: this.opts.db,
      clock: this.clock,
      log: this.log,
      deadLetters: this.opts.deadLetters,
      partitions: this.partitions,
      random: this.opts.random ?? Math.random,
      idle: this.idle,
      dispatch: this.dispatch,
      metrics: this.opts.metrics,
    });
    this.supervisors.set(kind.kind, sup as KindSupervisor<unknown>);
    if (this.started && this.router) this.router.listen(kind.kind, this.owned, this.target);
    return this;
  }

  /** Subscribes the owned partitions of every registered kind (with a transport). */
  async start(): Promise<void> {
    if (this.started) return;
    this.started = true;
    if (this.router) {
      for (const kind of this.supervisors.keys()) this.router.listen(kind, this.owned, this.target);
      await this.opts.transport?.flush();
    }
  }

  get kinds(): string[] {
    return [...this.supervisors.keys()];
  }

  get ownedPartitions(): number[] {
    return [...this.owned].sort((a, b) => a - b);
  }

  /**
   * Fire and forget. Throws MailboxFullError (retryable) when the local mailbox is full, and
   * UnknownKindError for a kind nobody here serves without a transport.
   */
  tell(kind: string, entityId: string, type: string, body: unknown, opts: SendOptions = {}): void {
    if (type === STATE_TYPE) throw new TypeError(`${STATE_TYPE} is a query answered by the runtime: use ask`);
    this.route(kind, entityId, this.envelope(kind, type, body, opts), opts.source ?? "local", false);
  }

  /**
   * tell when there is room, for ingress loops that send many messages: true when it was sent (a
   * local mailbox with room, or over the transport: a plain tell), false — nothing sent, nothing
   * refused or counted — when the actor's local mailbox is full; the caller then waits with
   * `send`. No promise per message, unlike `send`.
   */
  trySend(kind: string, entityId: string, type: string, body: unknown, opts: SendOptions = {}): boolean {
    if (type === STATE_TYPE) throw new TypeError(`${STATE_TYPE} is a query answered by the runtime: use ask`);
    const env = this.envelope(kind, type, body, opts);
    if (this.isLocal(kind, entityId) && this.supervisor(kind).isFull(entityId)) return false;
    this.route(kind, entityId, env, opts.source ?? "local", false);
    return true;
  }

  /**
   * tell with back-pressure, for ingress: when the local mailbox is full, waits until the actor
   * has room and tries again (over a transport it is a plain tell).
   */
  async send(kind: string, entityId: string, type: string, body: unknown, opts: SendOptions = {}): Promise<void> {
    const env = this.envelope(kind, type, body, opts);
    const local = this.isLocal(kind, entityId);
    for (;;) {
      // Awaited only when full: most sends find room, and an await per send costs a microtask.
      if (local && this.supervisor(kind).isFull(entityId)) await this.supervisor(kind).whenRoom(entityId);
      try {
        this.route(kind, entityId, env, opts.source ?? "local", false);
        return;
      } catch (err) {
        if (!(err instanceof MailboxFullError)) throw err;
        await this.supervisor(kind).whenRoom(entityId);
      }
    }
  }

  /** Request/reply: the handler's reply once its state has committed, or its error. */
  ask<R = unknown>(kind: string, entityId: string, type: string, body: unknown, opts: AskOptions): Promise<R> {
    if (!(typeof opts?.timeoutMs === "number" && opts.timeoutMs > 0)) {
      return Promise.reject(new TypeError(`ask ${kind}/${entityId} ${type}: timeoutMs must be a positive number`));
    }
    let env: Envelope;
    try {
      env = this.envelope(kind, type, body, opts);
    } catch (err) {
      return Promise.reject(err);
    }
    if (!this.isLocal(kind, entityId)) {
      try {
        return (this.router as Router).request(entityId, env, opts.timeoutMs) as Promise<R>;
      } catch (err) {
        return Promise.reject(err);
      }
    }
    const sup = this.supervisors.get(kind);
    if (!sup) return Promise.reject(UnknownKindError.of(kind));
    // `state` is the runtime's own query (the owner answers it over the wire the same way).
    if (type === STATE_TYPE) return sup.inspect(entityId).then((view) => view.state as R);
    return new Promise<R>((resolve, reject) => {
      const pending = new PendingAsk(this.clock, resolve as (v: unknown) => void, reject, AskTimeoutError.of, kind, entityId, type, opts.timeoutMs);
      try {
        sup.deliver(entityId, { env, source: opts.source ?? "local", reply: pending });
      } catch (err) {
        pending.reject(err);
      }
    });
  }

  /**
   * Resolves when every mailbox is empty, no actor is processing or activating, nothing waits
   * for a commit, and every message this host sent over the transport to a partition it owns
   * has arrived. Actors in backoff hold it (their message is still to be done); failed actors do not.
   */
  whenIdle(): Promise<void> {
    return this.idle.whenIdle();
  }

  stats(): KindStats[];
  stats(kind: string): KindStats;
  stats(kind?: string): KindStats | KindStats[] {
    if (kind !== undefined) return this.supervisor(kind).stats();
    return [...this.supervisors.values()].map((s) => s.stats());
  }

  inspect(kind: string, entityId: string): Promise<ActorInspection> {
    return this.supervisor(kind).inspect(entityId);
  }

  /** Admin: clears a failed actor, or restarts (reloads) a resident one. False when unknown. */
  restart(kind: string, entityId: string): boolean {
    return this.supervisor(kind).restart(entityId);
  }

  /** stop(): stops the system. stop(kind, id): admin — passivates one actor (false when not resident). */
  stop(): Promise<void>;
  stop(kind: string, entityId: string): Promise<boolean>;
  async stop(kind?: string, entityId?: string): Promise<void | boolean> {
    if (kind !== undefined) return this.supervisor(kind).stopActor(entityId ?? "");
    if (this.stopped) return;
    this.stopped = true;
    // A whenIdle still waiting (a drain that timed out) must not keep the process alive.
    this.idle.close();
    this.router?.close();
    await Promise.all([...this.supervisors.values()].map((s) => s.stop()));
  }

  // ——— internals ———

  private supervisor(kind: string): KindSupervisor<unknown> {
    const sup = this.supervisors.get(kind);
    if (!sup) throw UnknownKindError.of(kind);
    return sup;
  }

  /** makeEnvelope, with the ISO timestamp cached per clock millisecond (formatting costs ~1 µs). */
  private envelope(kind: string, type: string, body: unknown, opts: SendOptions): Envelope {
    let types = this.checkedNames.get(kind);
    if (types === undefined || !types.has(type)) {
      // The subject grammar applies on every path, local or not: throws a TypeError naming the part.
      messageSubject(kind, "x", type, this.partitions);
      if (types === undefined || types.size > 10_000) this.checkedNames.set(kind, (types = new Set()));
      types.add(type);
    }
    const now = this.clock.now();
    if (now !== this.stampedAt) {
      this.stampedAt = now;
      this.stamp = new Date(now).toISOString();
    }
    return makeEnvelope(kind, type, body, { id: opts.id, version: opts.version, cause: opts.cause, timestamp: this.stamp });
  }

  /** Counts one in-transit message with this envelope id as arrived; false when none was counted. */
  private arrived(id: string): boolean {
    const n = this.inTransit.get(id);
    if (n === undefined) return false;
    if (n <= 1) this.inTransit.delete(id);
    else this.inTransit.set(id, n - 1);
    return true;
  }

  private isLocal(kind: string, entityId: string): boolean {
    if (!this.router) return true;
    return this.directLocal && this.supervisors.has(kind) && this.owned.has(partitionOf(entityId, this.partitions));
  }

  private route(kind: string, entityId: string, env: Envelope, source: string, force: boolean): void {
    if (this.isLocal(kind, entityId)) {
      const delivery: Delivery = { env, source };
      this.supervisor(kind).deliver(entityId, delivery, force);
      return;
    }
    const router = this.router as Router;
    // A message to ourselves over the transport counts as outstanding work until it arrives.
    const toSelf = this.started && this.supervisors.has(kind) && this.owned.has(partitionOf(entityId, this.partitions));
    if (toSelf) {
      // Counted per id: the same envelope id (a dedupe key) may be sent more than once.
      this.inTransit.set(env.id, (this.inTransit.get(env.id) ?? 0) + 1);
      this.idle.inc();
    }
    try {
      router.send(entityId, env, force);
    } catch (err) {
      if (toSelf && this.arrived(env.id)) this.idle.dec();
      throw err;
    }
  }
}

/** A local ask waiting for its reply or its timeout (a class: no closures allocated per ask). */
class PendingAsk {
  private done = false;
  private readonly timer: TimerHandle;

  constructor(
    private readonly clock: Clock,
    private readonly onValue: (value: unknown) => void,
    private readonly onError: (err: unknown) => void,
    timeoutError: (kind: string, entityId: string, type: string, timeoutMs: number) => Error,
    kind: string,
    entityId: string,
    type: string,
    timeoutMs: number,
  ) {
    this.timer = clock.setTimeout(() => {
      if (this.done) return;
      this.done = true;
      this.onError(timeoutError(kind, entityId, type, timeoutMs));
    }, timeoutMs);
  }

  resolve(value: unknown): void {
    if (this.done) return;
    this.done = true;
    this.clock.clearTimeout(this.timer);
    this.onValue(value);
  }

  reject(err: unknown): void {
    if (this.done) return;
    this.done = true;
    this.clock.clearTimeout(this.timer);
    this.onError(err);
  }
}
