/**
 * An AdminSource over the actor system (supervisors/actor-system.ts): `/actors` from `stats()`,
 * `/actors/:kind/:id` from `inspect()` (404 with the reason for an id the kind refuses: its
 * InputError), restart/stop from the system's admin calls, `/metrics` from the registry, and
 * `/ready` per kind from progress: the kind's `processed` count is sampled
 * on each call; a kind with messages waiting whose count has not moved within
 * `expectedProgressMs` is not ready. Dependencies and ingress readiness come from the host.
 */
import type { Clock } from "../supervisors/clock.ts";
import type { ActorInspection, KindStats } from "../supervisors/actor-system.ts";
import { InputError } from "../protocols/errors.ts";
import { progressCheck } from "./readiness.ts";
import type { ActorActionResult, ActorDetail, ActorNotFound, AdminSource, DependencyHealth, KindActors, ReadinessCheck } from "./source.ts";

/** What the adapter needs of ActorSystem (structural, so a test double of real data fits too). */
export interface ActorSystemView {
  stats(): KindStats[];
  inspect(kind: string, entityId: string): Promise<ActorInspection>;
  restart(kind: string, entityId: string): boolean;
  stop(kind: string, entityId: string): Promise<boolean>;
}

export interface ActorSystemSourceOptions {
  system: ActorSystemView;
  clock: Clock;
  metrics: { text(): Promise<string>; readonly contentType: string };
  /** Each dependency (postgres, nats, redis, s3, clickhouse, eth-rpc). */
  health(): Promise<DependencyHealth[]> | DependencyHealth[];
  /** Readiness of each ingress (build with progressCheck); default none. */
  ingress?(): Promise<ReadinessCheck[]> | ReadinessCheck[];
  /** A kind with work waiting must process something at least this often (default 60 s). */
  expectedProgressMs?: number;
}

const isUnknownKind = (err: unknown) => (err as { code?: string } | null)?.code === "unknown_kind";

export function actorSystemAdminSource(opts: ActorSystemSourceOptions): AdminSource {
  const { system, clock } = opts;
  const expected = opts.expectedProgressMs ?? 60_000;
  const samples = new Map<string, { processed: number; at: number }>();
  const startedAt = clock.now();

  const kindReadiness = (s: KindStats): ReadinessCheck => {
    const now = clock.now();
    const prev = samples.get(s.kind);
    let at = prev?.at ?? startedAt;
    if (!prev || prev.processed !== s.processed) {
      if (prev) at = now;
      samples.set(s.kind, { processed: s.processed, at });
    }
    const check = progressCheck({ name: `kind:${s.kind}`, lastProgressAt: at, backlog: s.mailboxDepth + s.waitingCommit, expectedWithinMs: expected, now });
    return s.failed > 0 ? { ...check, detail: `${check.detail}; ${s.failed} actor(s) failed` } : check;
  };

  return {
    get metricsContentType() {
      return opts.metrics.contentType;
    },
    health: () => opts.health(),
    async ready() {
      const ingress = opts.ingress ? await opts.ingress() : [];
      return [...ingress, ...system.stats().map(kindReadiness)];
    },
    metrics: () => opts.metrics.text(),
    actors(): KindActors[] {
      return system.stats().map((s) => ({
        kind: s.kind,
        active: s.resident,
        mailboxDepth: s.mailboxDepth,
        restarts: s.restarts,
        failed: s.failed,
        deadLetters: s.deadLetters,
        lastError: s.lastError ? { message: s.lastError.message, at: s.lastError.at, entityId: s.lastError.entityId } : null,
      }));
    },
    async actor(kind, id): Promise<ActorDetail | ActorNotFound | undefined> {
      let a: ActorInspection;
      try {
        a = await system.inspect(kind, id);
      } catch (err) {
        if (isUnknownKind(err)) return undefined;
        // The kind refuses this id (worker-partition: a partition not active here): not a fault
        // of the server, the caller asked for an actor that cannot exist.
        if (err instanceof InputError) return { notFound: true, reason: err.message };
        throw err;
      }
      return {
        kind: a.kind,
        id: a.id,
        partition: a.partition,
        status: a.status,
        mailboxDepth: a.mailboxDepth,
        restarts: a.restarts,
        lastError: a.lastError === null ? null : { message: a.lastError },
        state: a.state,
      };
    },
    restartActor(kind, id): ActorActionResult {
      try {
        return system.restart(kind, id) ? { ok: true } : { ok: false, notFound: true };
      } catch (err) {
        if (isUnknownKind(err)) return { ok: false, notFound: true };
        throw err;
      }
    },
    async stopActor(kind, id): Promise<ActorActionResult> {
      try {
        return (await system.stop(kind, id)) ? { ok: true } : { ok: false, notFound: false, reason: `${kind}/${id} is not resident` };
      } catch (err) {
        if (isUnknownKind(err)) return { ok: false, notFound: true };
        throw err;
      }
    },
  };
}
