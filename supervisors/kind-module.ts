/**
 * How an entity kind plugs into the host (supervisors/host.ts): a KindModule registers its actor
 * kinds on the host's ActorSystem, starts its ingress (live source in services mode, bundled
 * samples in embedded mode), and hands back what the host needs to run and watch it: stop,
 * readiness of its ingress, health of the dependencies it uses, and the data of its
 * `strata-<kind>` micro service. Modules live in supervisors/kinds/; they read no environment
 * (everything comes through HostContext.config).
 */
import type { Route } from "../admin/router.ts";
import type { Logger } from "pino";
import type { StrataConfig } from "../config/load-config.ts";
import type { Db } from "../db/db.ts";
import type { DeadLetterStore } from "../db/dead-letter-store.ts";
import type { ReadinessCheck } from "../admin/source.ts";
import type { ActorSystem } from "./actor-system.ts";
import type { Clock } from "./clock.ts";
import type { Metrics } from "./observability/metrics.ts";
import type { Transport } from "./transport/transport.ts";
import type { KindEndpoint } from "./transport/micro-services.ts";
import type { DependencyProbe } from "./dependency-health.ts";
import type { EmbeddedS3 } from "./embedded/s3rver.ts";
import type { EmbeddedAnvil } from "./embedded/anvil.ts";

/** Embedded engines, started on first use (one per host, shared by the kinds) and stopped with the host. */
export interface EmbeddedEngines {
  /** The local s3rver (data under `<STRATA_DATA_DIR>/s3`). */
  s3(): Promise<EmbeddedS3>;
  /** The local anvil DEV chain (state under `<STRATA_DATA_DIR>/anvil`). */
  anvil(): Promise<EmbeddedAnvil>;
}

export interface HostContext {
  readonly config: StrataConfig;
  readonly db: Db;
  readonly system: ActorSystem;
  readonly transport: Transport;
  readonly deadLetters: DeadLetterStore;
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly clock: Clock;
  readonly embedded: EmbeddedEngines;
  /** This host's identity (`<hostname>-<pid>`): consumer names, lease owners. */
  readonly hostId: string;
}

export interface RunningKind {
  /** The actor kinds this module registered on the system (`/actors` lines, service stats). */
  readonly actorKinds: readonly string[];
  /** One line for the start log: what runs and from where (`ingress: redis://… streams a,b`). */
  readonly summary: string;
  /** Readiness of the module's ingress (`ingress:<name>`; admin/readiness.ts progressCheck). */
  ready?(): ReadinessCheck[] | Promise<ReadinessCheck[]>;
  /** Probes of the dependencies only this module uses (redis, s3, eth-rpc). */
  readonly probes?: readonly DependencyProbe[];
  /** Work not yet processed by this kind (stream entries, files, queued terms), for the service stats. */
  lag?(): number | Promise<number>;
  /** Extra micro-service endpoints of the kind. */
  readonly endpoints?: readonly KindEndpoint[];
  /** Extra admin HTTP routes of the kind (payments: list, audit, trigger, resolve). */
  readonly routes?: readonly Route[];
  /** Stop ingress first (no new work), then whatever else the module runs. Actors are the host's. */
  stopIngress(): Promise<void>;
  /** Release the rest (after the actor system has stopped). */
  stop?(): Promise<void>;
}

export interface KindModule {
  /** The kind as STRATA_KINDS names it (`vault-term`, `worker-partition`). */
  readonly kind: string;
  readonly version: string;
  readonly description: string;
  register(host: HostContext): Promise<RunningKind>;
}
