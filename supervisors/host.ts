/**
 * A Strata host: everything `strata start` runs, wired from one StrataConfig (DESIGN.md, Modes).
 * Nothing here reads the environment; an unset service URL selects the embedded part:
 *
 *   logger, metrics   observability/logger.ts (secrets redacted), observability/metrics.ts
 *   db                DATABASE_URL → PostgreSQL (pg.Pool); else PGlite under <STRATA_DATA_DIR>/pglite
 *   migrations        db/migrate.ts, at every start (applied once, recorded)
 *   transport         NATS_URL → NATS core; else the in-process transport
 *   dead letters      db/dead-letter-store.ts (table + `strata.dlq.<kind>`)
 *   actor system      partitions STRATA_PARTITIONS, runtime metrics and gauges
 *   kinds             STRATA_KINDS through their kind modules (supervisors/kinds/); a kind with
 *                     no module in this build is skipped with a log line
 *   micro services    one `strata-<kind>` per kind module ($SRV.PING/INFO/STATS)
 *   admin             ADMIN_HOST:ADMIN_PORT; /health from real probes of every dependency in use
 *   embedded engines  s3rver and anvil as child processes, started only when a kind needs them
 *
 * stop(): ingress first (no new work), then wait until the actors are idle, then the actor
 * system (each bounded by drainTimeoutMs), micro services, admin, kind leftovers, transport, db
 * and embedded processes.
 * A start that fails part-way stops what it had started and rethrows.
 */
import { hostname } from "node:os";
import process from "node:process";
import type { Logger } from "pino";
import type { StrataConfig } from "../config/load-config.ts";
import { secretConfigKeys } from "../config/load-config.ts";
import { literalScrubber, maskServiceUrl } from "../config/redact.ts";
import { embeddedPaths } from "../config/paths.ts";
import { HOST_APPLICATION_NAME, openDb } from "../db/open-db.ts";
import type { Db } from "../db/db.ts";
import { migrate } from "../db/migrate.ts";
import { DeadLetterStore } from "../db/dead-letter-store.ts";
import { startAdminServer } from "../admin/server.ts";
import type { AdminServer } from "../admin/server.ts";
import { actorSystemAdminSource } from "../admin/actor-system-source.ts";
import { AdminBindError, isLoopbackHost } from "../admin/auth.ts";
import type { ReadinessCheck } from "../admin/source.ts";
import { ActorSystem } from "./actor-system.ts";
import type { Clock } from "./clock.ts";
import { systemClock } from "./clock.ts";
import { createLogger } from "./observability/logger.ts";
import { createMetrics } from "./observability/metrics.ts";
import type { Metrics } from "./observability/metrics.ts";
import { registerActorGauges, runtimeMetrics } from "./runtime-prometheus.ts";
import type { Transport } from "./transport/transport.ts";
import { createMemoryTransport } from "./transport/memory-transport.ts";
import { connectNatsTransport } from "./transport/nats-transport.ts";
import { registerKindServices } from "./transport/micro-services.ts";
import { refuseSecondHost } from "./single-host-check.ts";
import type { KindServices, KindServiceSpec } from "./transport/micro-services.ts";
import { checkAll, dbProbe, transportProbe } from "./dependency-health.ts";
import type { DependencyProbe } from "./dependency-health.ts";
import type { EmbeddedEngines, HostContext, KindModule, RunningKind } from "./kind-module.ts";
import { startEmbeddedS3 } from "./embedded/s3rver.ts";
import type { EmbeddedS3 } from "./embedded/s3rver.ts";
import { startEmbeddedAnvil } from "./embedded/anvil.ts";
import type { EmbeddedAnvil } from "./embedded/anvil.ts";
import { vaultTermModule } from "./kinds/vault-term.ts";
import { workerPartitionModule } from "./kinds/worker-partition.ts";

/** The kind modules of this build, by STRATA_KINDS name. */
export const KIND_MODULES: readonly KindModule[] = [vaultTermModule, workerPartitionModule];

export interface HostOptions {
  /** Default systemClock. */
  clock?: Clock;
  /** Default: createLogger at LOG_LEVEL on stdout, secrets redacted. */
  log?: Logger;
  /** Default KIND_MODULES. */
  modules?: readonly KindModule[];
  /** Longest wait for the actors to become idle in stop() before stopping anyway (default 30 s). */
  drainTimeoutMs?: number;
}

export interface Host {
  readonly hostId: string;
  /** `http://host:port` of the admin endpoint. */
  readonly adminUrl: string;
  readonly adminPort: number;
  readonly system: ActorSystem;
  readonly db: Db;
  readonly transport: Transport;
  /** The kinds running here (STRATA_KINDS with a module), with their actor kinds. */
  readonly kinds: readonly { kind: string; actorKinds: readonly string[]; summary: string }[];
  /** `strata-<kind>` micro services registered. */
  readonly services: readonly string[];
  stop(): Promise<void>;
}

function sum(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0);
}

/** Starts a host; resolves when every part is up and the admin endpoint listens. */
export async function startHost(config: StrataConfig, opts: HostOptions = {}): Promise<Host> {
  // Refuse an open admin endpoint before starting anything (the admin server checks again).
  if (!(config.adminToken && config.adminToken.trim() !== "") && !isLoopbackHost(config.adminHost)) throw new AdminBindError(config.adminHost);
  const clock = opts.clock ?? systemClock;
  const hostId = `${hostname()}-${process.pid}`;
  const log = opts.log ?? createLogger({ level: config.logLevel, secretKeys: secretConfigKeys(), secretLiterals: config.secretLiterals(), bindings: { hostId } });
  const metrics: Metrics = createMetrics();
  const paths = embeddedPaths(config.dataDir);

  // Everything started so far, for stop() and for a failed start.
  let db: Db | null = null;
  let transport: Transport | null = null;
  let system: ActorSystem | null = null;
  let services: KindServices | null = null;
  let admin: AdminServer | null = null;
  const running: { module: KindModule; kind: RunningKind }[] = [];
  let s3: Promise<EmbeddedS3> | null = null;
  let anvil: Promise<EmbeddedAnvil> | null = null;
  const embedded: EmbeddedEngines = {
    s3: () => (s3 ??= startEmbeddedS3({ directory: paths.s3, log })),
    anvil: () => (anvil ??= startEmbeddedAnvil({ directory: paths.anvil, log })),
  };

  let stopping: Promise<void> | null = null;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      const step = async (name: string, fn: () => Promise<unknown>) => {
        try {
          await fn();
        } catch (err) {
          log.error({ err, part: name }, `stop: ${name} failed`);
        }
      };
      log.info("strata host stopping: ingress first");
      for (const r of [...running].reverse()) await step(`${r.module.kind} ingress`, () => r.kind.stopIngress());
      if (system) {
        const sys = system;
        const limit = opts.drainTimeoutMs ?? 30_000;
        await step("drain", async () => {
          if (!(await settlesWithin(sys.whenIdle(), limit))) log.warn({ limitMs: limit }, "stop: actors not idle in time; stopping anyway (the journal keeps the rest)");
        });
        await step("actor system", async () => {
          // stop() lets a running handler finish its message: one that never returns must not
          // hold the host's stop (bounded like the drain).
          if (!(await settlesWithin(sys.stop(), limit))) log.warn({ limitMs: limit }, "stop: actor system not stopped in time (a handler still running); going on (the journal keeps the rest)");
        });
      }
      if (services) await step("micro services", () => services!.stop());
      if (admin) await step("admin", () => admin!.close());
      for (const r of [...running].reverse()) if (r.kind.stop) await step(`${r.module.kind}`, () => r.kind.stop!());
      if (transport) await step("transport", () => transport!.close());
      if (db) await step("db", () => db!.close());
      // An engine whose start failed has nothing to stop (its start already cleaned up).
      if (s3) await step("embedded s3rver", async () => (await s3!.catch(() => null))?.stop());
      if (anvil) await step("embedded anvil", async () => (await anvil!.catch(() => null))?.stop());
      log.info("strata host stopped");
    })());

  try {
    // Db and migrations.
    if (config.databaseUrl) {
      db = await openDb({ databaseUrl: config.databaseUrl, applicationName: HOST_APPLICATION_NAME, keepIdleConnections: true });
      log.info({ part: "db", url: maskServiceUrl(config.databaseUrl) }, `db: postgres at ${maskServiceUrl(config.databaseUrl)}`);
    } else {
      db = await openDb({ dataDir: paths.pglite });
      log.info({ part: "db", dataDir: paths.pglite }, `db: embedded pglite in ${paths.pglite}`);
    }
    const { applied } = await migrate(db);
    log.info({ part: "migrations", applied }, applied.length === 0 ? "migrations: up to date" : `migrations: applied ${applied.join(", ")}`);

    // Transport.
    if (config.natsUrl) {
      transport = await connectNatsTransport(config.natsUrl, { name: `strata-${hostId}`, clock });
      log.info({ part: "transport", url: maskServiceUrl(config.natsUrl) }, `transport: nats at ${maskServiceUrl(config.natsUrl)}`);
      // No partition ownership across hosts yet: a second host of a kind would double-apply.
      await refuseSecondHost(transport, config.kinds);
    } else {
      transport = createMemoryTransport({ clock, onError: (err, subject) => log.error({ err, subject }, "in-process transport: handler failed") });
      log.info({ part: "transport" }, "transport: embedded in-process transport");
    }

    const deadLetters = new DeadLetterStore(db, { transport, log });
    system = new ActorSystem({ db, transport, clock, log, deadLetters, partitions: config.partitions, metrics: runtimeMetrics(metrics) });
    registerActorGauges(metrics, system);
    await system.start();
    log.info({ part: "actors", partitions: config.partitions, owned: system.ownedPartitions.length }, `actor system: ${config.partitions} partitions, all owned here`);

    // Kinds.
    const modules = opts.modules ?? KIND_MODULES;
    const ctx: HostContext = { config, db, system, transport, deadLetters, log, metrics, clock, embedded, hostId };
    for (const kind of config.kinds) {
      const module = modules.find((m) => m.kind === kind);
      if (!module) {
        log.warn({ part: "kind", kind }, `kind ${kind}: no kind module in this build, skipped`);
        continue;
      }
      const started = await module.register(ctx);
      running.push({ module, kind: started });
      log.info({ part: "kind", kind, actorKinds: started.actorKinds }, started.summary);
    }

    // One micro service per kind module.
    const sys = system;
    const specs: KindServiceSpec[] = running.map(({ module, kind }) => {
      const stats = async () => {
        const ks = sys.stats().filter((s) => kind.actorKinds.includes(s.kind));
        return {
          activeActors: sum(ks.map((s) => s.resident)),
          mailboxDepth: sum(ks.map((s) => s.mailboxDepth)),
          deadLetters: sum(ks.map((s) => s.deadLetters)),
          failedActors: sum(ks.map((s) => s.failed)),
          ownedPartitions: sys.ownedPartitions,
          lag: kind.lag ? await kind.lag() : 0,
          actorKinds: [...kind.actorKinds],
        };
      };
      return {
        kind: module.kind,
        version: module.version,
        description: module.description,
        metadata: { "strata.host": hostId },
        stats,
        endpoints: [
          // Stateless: any host may answer, so the usual micro queue group.
          { name: "status", subject: `strata.${module.kind}.status`, queue: "q", handler: async () => new TextEncoder().encode(JSON.stringify({ host: hostId, ...(await stats()) })) },
          ...(kind.endpoints ?? []),
        ],
      };
    });
    services = await registerKindServices(transport, specs, { clock });
    log.info({ part: "services", services: services.services.map((s) => s.name) }, `micro services: ${services.services.map((s) => s.name).join(", ") || "none"}`);

    // Admin, with real probes of every dependency in use.
    const probes: DependencyProbe[] = [
      dbProbe(db, config.databaseUrl ? `postgres ${maskServiceUrl(config.databaseUrl)}` : `embedded pglite ${paths.pglite}`),
      config.natsUrl ? transportProbe(transport, "nats", `nats ${maskServiceUrl(config.natsUrl)}`) : transportProbe(transport, "transport", "embedded in-process transport"),
      ...running.flatMap((r) => r.kind.probes ?? []),
    ];
    // A first round of probes before ready: the start log says what answers, and lazily loaded
    // client code (the S3 SDK's providers) is warm before the first /health request.
    const firstHealth = await checkAll(probes);
    const down = firstHealth.filter((h) => !h.ok);
    const healthLine = `health: ${firstHealth.map((h) => `${h.name} ${h.ok ? "up" : "DOWN"}`).join(", ")}`;
    if (down.length > 0) log.warn({ part: "health", dependencies: firstHealth }, healthLine);
    else log.info({ part: "health", dependencies: firstHealth }, healthLine);
    const source = actorSystemAdminSource({
      system,
      clock,
      metrics,
      health: () => checkAll(probes),
      async ingress() {
        const out: ReadinessCheck[] = [];
        for (const r of running) if (r.kind.ready) out.push(...(await r.kind.ready()));
        return out;
      },
    });
    // Answers (/health detail carries library error texts) get the same scrub as log lines.
    const scrub = literalScrubber(config.secretLiterals());
    admin = await startAdminServer({ host: config.adminHost, port: config.adminPort, token: config.adminToken, source, log, scrub, routes: running.flatMap((r) => r.kind.routes ?? []) });
    log.info({ part: "admin", url: admin.url, kinds: running.map((r) => r.module.kind) }, `strata host ready: admin at ${admin.url}`);

    return {
      hostId,
      adminUrl: admin.url,
      adminPort: admin.port,
      system,
      db,
      transport,
      kinds: running.map((r) => ({ kind: r.module.kind, actorKinds: r.kind.actorKinds, summary: r.kind.summary })),
      services: services.services.map((s) => s.name),
      stop,
    };
  } catch (err) {
    log.error({ err }, "strata host failed to start; stopping what was started");
    await stop();
    throw err;
  }
}

/** Whether `work` settles within `limitMs` (it goes on either way; the timer does not outlive it). */
async function settlesWithin(work: Promise<unknown>, limitMs: number): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([work.then(() => true), new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), limitMs)))]);
  } finally {
    clearTimeout(timer);
  }
}
