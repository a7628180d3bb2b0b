/**
 * AdminSource: what the admin HTTP server asks the running host. The host (supervisors/host.ts)
 * builds one from the actor system, the ingress actors and the metrics registry; tests build one
 * from plain data structures. Every method may be async.
 */

/** One dependency (postgres, nats, redis, s3, clickhouse, eth-rpc) as seen by this host. */
export interface DependencyHealth {
  name: string;
  ok: boolean;
  /** Why it is not ok, or a short description (`embedded pglite`). */
  detail?: string;
  latencyMs?: number;
}

/**
 * Whether one ingress or kind is advancing, not merely alive (DESIGN.md rule 8).
 * Build it with `progressCheck` (admin/readiness.ts).
 */
export interface ReadinessCheck {
  /** `ingress:<name>` or `kind:<kind>`. */
  name: string;
  ready: boolean;
  /** Epoch ms of the last progress (a batch committed, a cursor advanced); null = never. */
  lastProgressAt: number | null;
  /** Work waiting (stream lag, files not read, mailbox depth); 0 = idle and caught up. */
  backlog: number;
  detail?: string;
}

export interface ActorErrorInfo {
  message: string;
  /** Epoch ms, when known. */
  at?: number;
  entityId?: string;
}

/** GET /actors: one line per kind. */
export interface KindActors {
  kind: string;
  /** Resident (activated) actors. */
  active: number;
  mailboxDepth: number;
  restarts: number;
  /** Actors marked failed after escalation. */
  failed: number;
  deadLetters: number;
  lastError: ActorErrorInfo | null;
}

/** activating/active/backoff/failed: resident (or failed) in the runtime; passive: only persisted. */
export type ActorStatus = "activating" | "active" | "backoff" | "passive" | "failed" | "stopped";

/** GET /actors/:kind/:id */
export interface ActorDetail {
  kind: string;
  id: string;
  partition: number;
  status: ActorStatus;
  mailboxDepth: number;
  restarts: number;
  lastError: ActorErrorInfo | null;
  /** The actor's state as JSON (bigints are sent as decimal strings). */
  state: unknown;
}

/** GET /actors/:kind/:id for an id the kind refuses (an inactive partition, a malformed id) → 404 with `reason`. */
export interface ActorNotFound {
  notFound: true;
  reason: string;
}

/** Result of a mutating actor route; `notFound` → 404. */
export type ActorActionResult = { ok: true; detail?: string } | { ok: false; notFound: true } | { ok: false; notFound: false; reason: string };

export interface AdminSource {
  health(): Promise<DependencyHealth[]> | DependencyHealth[];
  ready(): Promise<ReadinessCheck[]> | ReadinessCheck[];
  /** Prometheus exposition text. */
  metrics(): Promise<string> | string;
  /** Content type of metrics() (prom-client registry.contentType); default text/plain 0.0.4. */
  readonly metricsContentType?: string;
  actors(): Promise<KindActors[]> | KindActors[];
  /** undefined (unknown kind) or ActorNotFound (an id the kind refuses, with the reason) → 404. */
  actor(kind: string, id: string): Promise<ActorDetail | ActorNotFound | undefined> | ActorDetail | ActorNotFound | undefined;
  restartActor(kind: string, id: string): Promise<ActorActionResult> | ActorActionResult;
  stopActor(kind: string, id: string): Promise<ActorActionResult> | ActorActionResult;
}
