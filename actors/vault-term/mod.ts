/**
 * The vault-term kind's public surface, and `startVaultTerm`: what a host calls to run it.
 *
 * Both modes register the term actors and the triple-analytics partition actors and catch up
 * terms left behind the journal. Services mode (a Redis URL): a consumer of REDIS_STREAMS in
 * CONSUMER_GROUP journals each batch, acknowledges it after the commit and sends each term's
 * fresh events to its actor. Embedded mode (no Redis): the bundled sample file (or
 * VAULT_TERM_SAMPLE_FILE) goes through the same journal-and-send path at start. A sweep on the
 * injected clock re-tells queued analytics terms and terms behind the journal.
 */
import process from "node:process";
import { hostname } from "node:os";
import { fileURLToPath } from "node:url";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import type { Db } from "../../db/db.ts";
import type { DeadLetterSink } from "../../supervisors/actor-kind.ts";
import type { ActorSystem } from "../../supervisors/actor-system.ts";
import { systemClock, type Clock, type TimerHandle } from "../../supervisors/clock.ts";
import { DEFAULT_PARTITIONS } from "../../protocols/partition.ts";
import type { SectionValues } from "../../config/mod.ts";
import type { vaultTermConfig } from "./config.ts";
import { CircuitBreaker } from "./circuit-breaker.ts";
import { createVaultTermMetrics } from "./metrics.ts";
import { createVaultTermRedisReader } from "./redis-ingest.ts";
import { importVaultTermFile, notifyAnalytics, type ImportSummary } from "./service.ts";
import { registerVaultTermKinds } from "./register-kinds.ts";
import { CATCHUP, catchUpVaultTerms, VAULT_TERM_ACTOR_KIND } from "./term-actor-kind.ts";
import { laggingTerms } from "./term-progress.ts";
import type { RedisStreamReader } from "../ingress/redis-stream-reader.ts";
import { progressCheck } from "../../admin/readiness.ts";
import type { DependencyHealth, ReadinessCheck } from "../../admin/source.ts";

export { vaultTermConfig } from "./config.ts";
export { ingestMessages, VAULT_TERM_KIND, type IngestSummary } from "./ingest.ts";
export { replayVaultTerm, DERIVED_TABLES, type ReplaySummary } from "./replay.ts";
export { importVaultTermFile, importVaultTermLines, notifyAnalytics, type ImportSummary } from "./service.ts";
export { tripleAnalyticsKind, TRIPLE_ANALYTICS_KIND, TERM_UPDATED } from "./triple-analytics-kind.ts";
export { processTripleAnalytics } from "./triple-analytics.ts";
export { vaultTermKind, catchUpVaultTerms, VAULT_TERM_ACTOR_KIND, type VaultTermKindOptions } from "./term-actor-kind.ts";
export { journalAndSend, journalAndSendInLanes } from "./ingest.ts";
export { createVaultTermRedisReader } from "./redis-ingest.ts";
export { registerVaultTermKinds, VAULT_TERM_ACTOR_KINDS } from "./register-kinds.ts";
export { parseRedisEntry, parseRindexerMessage } from "./rindexer-entry.ts";

export const BUNDLED_SAMPLE = fileURLToPath(new URL("../../samples/vault-term/events.jsonl", import.meta.url));

export interface StartVaultTermOptions {
  db: Db;
  deadLetters: DeadLetterSink;
  system: ActorSystem;
  config: SectionValues<typeof vaultTermConfig>;
  /** Services mode when set; embedded (sample import) when not. */
  redisUrl?: string;
  registry?: Registry;
  partitions?: number;
  clock?: Clock;
  log?: Logger;
  /** Sweep period for queued analytics terms (default 30 s). */
  sweepEveryMs?: number;
  /** Embedded mode: import the sample file at start (default true). */
  importSample?: boolean;
}

export interface VaultTermComponent {
  /** The Redis readers (services mode: CONCURRENT_BATCHES consumers), not started when `startReader: false`. */
  readonly readers: readonly RedisStreamReader[];
  readonly breakers: { redis: CircuitBreaker; postgres: CircuitBreaker };
  /** Embedded mode: what the sample import did. */
  readonly imported: ImportSummary | null;
  /** Tell the analytics actors every queued term (the sweep; also callable directly). */
  sweep(): Promise<number>;
  /** `/ready` of the Redis ingress alone (services mode; empty in embedded mode): what the host module reports. */
  ingressReadiness(now?: number): Promise<ReadinessCheck[]>;
  /** `/ready`: the Redis ingress is advancing (services mode) and analytics are not stuck. */
  readiness(now?: number): Promise<ReadinessCheck[]>;
  /** `/health`: the circuit breakers of this kind's dependencies. */
  dependencies(): DependencyHealth[];
  stop(): Promise<void>;
}

/** The newest batch of any of the readers (null before the first). */
function lastBatchAt(readers: readonly RedisStreamReader[]): number | null {
  let at: number | null = null;
  for (const r of readers) if (r.stats.lastBatchAt !== null && (at === null || r.stats.lastBatchAt > at)) at = r.stats.lastBatchAt;
  return at;
}

export async function startVaultTerm(opts: StartVaultTermOptions & { startReader?: boolean }): Promise<VaultTermComponent> {
  const clock = opts.clock ?? systemClock;
  const partitions = opts.partitions ?? DEFAULT_PARTITIONS;
  const metrics = opts.registry ? createVaultTermMetrics(opts.registry) : undefined;
  const breaker = (name: string) =>
    new CircuitBreaker(name, {
      threshold: opts.config.circuitBreakerThreshold,
      timeoutMs: opts.config.circuitBreakerTimeoutMs,
      clock,
      onChange: (state) => {
        metrics?.breaker(name, state);
        opts.log?.warn({ dependency: name, state }, `vault-term circuit breaker ${name}: ${state}`);
      },
    });
  const breakers = { redis: breaker("redis"), postgres: breaker("postgres") };
  metrics?.breaker("redis", "closed");
  metrics?.breaker("postgres", "closed");
  let analyticsProgressAt: number | null = null;
  // One actor per term, the single writer of its rows, fed by every ingress (the Redis reader in
  // services mode, the sample file in embedded mode) through the same journal-and-send path.
  registerVaultTermKinds(opts.system, {
    db: opts.db,
    partitions,
    workers: opts.config.workers,
    onAnalyticsCommitted: (lag) => {
      metrics?.analyticsLag(lag);
      analyticsProgressAt = clock.now();
    },
  });
  // Terms left behind by a crash between a journal commit and the actors' commit.
  const behind = await catchUpVaultTerms(opts.db, opts.system);
  if (behind > 0) opts.log?.info({ terms: behind }, "vault-term: catching up terms behind the journal");

  const readers: RedisStreamReader[] = [];
  let imported: ImportSummary | null = null;
  if (opts.redisUrl) {
    // CONCURRENT_BATCHES consumers of the group on this host: while one batch commits, the next
    // is read and parsed (one reader waits for its commit before reading again).
    const base = opts.config.consumerName ?? `consumer-${hostname()}-${process.pid}`;
    const redisUrl = opts.redisUrl;
    for (let i = 0; i < opts.config.concurrentBatches; i++) {
      readers.push(
        createVaultTermRedisReader({
          db: opts.db,
          deadLetters: opts.deadLetters,
          redisUrl,
          streams: opts.config.redisStreams,
          group: opts.config.consumerGroup,
          consumer: i === 0 ? base : `${base}-${i + 1}`,
          batchSize: opts.config.batchSize,
          batchTimeoutMs: opts.config.batchTimeoutMs,
          claimIdleMs: opts.config.claimIdleMs,
          maxRetries: opts.config.maxRetries,
          clock,
          log: opts.log,
          metrics,
          breakers,
          lanes: opts.config.workers,
          system: opts.system,
        }),
      );
    }
    if (opts.startReader !== false) for (const r of readers) r.start();
  } else if (opts.importSample !== false) {
    imported = await importVaultTermFile(opts.config.sampleFile ?? BUNDLED_SAMPLE, { db: opts.db, deadLetters: opts.deadLetters, system: opts.system });
    opts.log?.info(imported, "vault-term: sample events imported");
  }

  // Terms behind the journal with the same journaled count at two sweeps in a row are not just
  // waiting for a message in flight: tell them to catch up (lost message, failed group commit).
  let behindBefore = new Map<string, number>();
  const sweep = async () => {
    const res = await opts.db.query<{ term_id: string }>("SELECT term_id FROM term_update_queue WHERE processed_at IS NULL LIMIT 100000");
    notifyAnalytics(opts.system, res.rows.map((r) => r.term_id), partitions);
    const behind = await laggingTerms(opts.db);
    for (const [term, journaled] of behind) {
      if (behindBefore.get(term) === journaled) await opts.system.send(VAULT_TERM_ACTOR_KIND, term, CATCHUP, { journaled });
    }
    behindBefore = behind;
    return res.rows.length;
  };
  const every = opts.sweepEveryMs ?? 30_000;
  let timer: TimerHandle | null = null;
  let stopped = false;
  const arm = () => {
    timer = clock.setTimeout(() => {
      sweep()
        .catch((err) => opts.log?.warn({ err }, "vault-term analytics sweep failed"))
        .finally(() => {
          if (!stopped) arm();
        });
    }, every);
  };
  arm();

  const breakerDown = (b: CircuitBreaker) => (b.state === "closed" ? undefined : `circuit ${b.name} ${b.state}${b.lastError ? `: ${b.lastError}` : ""}`);
  /** The Redis readers' check (`/ready`): the group's backlog, the newest batch of any reader, the breakers. */
  const ingressReadiness = async (now = clock.now()): Promise<ReadinessCheck[]> => {
    if (readers.length === 0) return [];
    return [
      progressCheck({
        name: "ingress:vault-term-redis",
        lastProgressAt: lastBatchAt(readers),
        backlog: await readers[0].backlog(),
        expectedWithinMs: Math.max(30_000, opts.config.batchTimeoutMs * 4),
        now,
        down: breakerDown(breakers.redis) ?? breakerDown(breakers.postgres),
      }),
    ];
  };
  return {
    readers,
    breakers,
    imported,
    sweep,
    ingressReadiness,
    async readiness(now = clock.now()) {
      const checks = await ingressReadiness(now);
      const queued = Number((await opts.db.query<{ n: string }>("SELECT count(*)::text AS n FROM term_update_queue WHERE processed_at IS NULL")).rows[0].n);
      checks.push(progressCheck({ name: "kind:vault-term-analytics", lastProgressAt: analyticsProgressAt, backlog: queued, expectedWithinMs: 2 * every, now }));
      return checks;
    },
    dependencies() {
      return [breakers.redis, breakers.postgres]
        .filter((b) => b.name === "postgres" || readers.length > 0)
        .map((b) => ({ name: b.name, ok: b.state !== "open", detail: `vault-term circuit ${b.state}${b.lastError ? `: ${b.lastError}` : ""}` }));
    },
    async stop() {
      stopped = true;
      if (timer) clock.clearTimeout(timer);
      for (const r of readers) await r.stop();
    },
  };
}
