/**
 * vault-term ingress from rindexer's Redis streams: a RedisStreamReader whose batches go through
 * the rindexer parser and the vault-term write path — with `system`, the journal (+ dead letters)
 * in one transaction and then the fresh events to the term actors; without, journal + apply in
 * one transaction; the reader acknowledges the entries after that commit. Message ids are
 * `<stream>/<redisId>` (`-<index>` per array element); dead letters have source `redis:<id>`
 * (an entry delivered again after a crash or a stop keeps its one dead letter).
 */
import type { Db } from "../../db/db.ts";
import type { DeadLetter, DeadLetterSink } from "../../supervisors/actor-kind.ts";
import { recordNewDeadLetters, transactionWithDeadLetters } from "../../db/dead-letter-store.ts";
import { errorMessage } from "../../protocols/errors.ts";
import { RedisStreamReader, type RedisStreamReaderOptions, type StreamEntry } from "../ingress/redis-stream-reader.ts";
import { fieldsToRecord, parseRedisEntry } from "./rindexer-entry.ts";
import { ingestMessagesInLanes, journalAndSendInLanes, VAULT_TERM_KIND, type IngestSummary } from "./ingest.ts";
import type { ActorSystem } from "../../supervisors/actor-system.ts";
import type { CircuitBreaker } from "./circuit-breaker.ts";
import type { VaultTermMetrics } from "./metrics.ts";

/** The reader's own options (stream, group, batching, retries, clock, log), plus the write path's. */
export interface VaultTermRedisOptions
  extends Pick<RedisStreamReaderOptions, "redisUrl" | "streams" | "group" | "consumer" | "batchSize" | "batchTimeoutMs" | "claimIdleMs" | "maxRetries" | "clock" | "log"> {
  db: Db;
  deadLetters: DeadLetterSink;
  metrics?: VaultTermMetrics;
  /**
   * The actor path: batches are journaled, then each term's fresh events are sent to its
   * vault-term actor (which must be registered on this system: `vaultTermKind`). Without it, the
   * direct path journals and applies in one transaction (per-term advisory locks).
   */
  system?: Pick<ActorSystem, "send" | "trySend">;
  /** Concurrent transactions per batch, events split by term partition (WORKERS; default 1). */
  lanes?: number;
  /** `redis` guards the stream reads, `postgres` the batch commits. */
  breakers?: { redis?: CircuitBreaker; postgres?: CircuitBreaker };
  /** Called after each committed batch, before its entries are acknowledged (poke analytics, count metrics). */
  onCommitted?(summary: IngestSummary): void | Promise<void>;
}

export function createVaultTermRedisReader(opts: VaultTermRedisOptions): RedisStreamReader {
  return new RedisStreamReader({
    redisUrl: opts.redisUrl,
    streams: opts.streams,
    group: opts.group,
    consumer: opts.consumer,
    batchSize: opts.batchSize,
    batchTimeoutMs: opts.batchTimeoutMs,
    claimIdleMs: opts.claimIdleMs,
    maxRetries: opts.maxRetries,
    clock: opts.clock,
    log: opts.log,
    breakers: { source: opts.breakers?.redis, sink: opts.breakers?.postgres },
    async handle(batch: StreamEntry[]) {
      const started = performance.now();
      const messages = batch.flatMap((e) => parseRedisEntry(`${e.stream}/${e.id}`, e.fields));
      const common = { db: opts.db, deadLetters: opts.deadLetters, sourceOf: (id: string) => `redis:${id}`, lanes: opts.lanes ?? 1 };
      const summary = opts.system ? await journalAndSendInLanes(messages, { ...common, system: opts.system }) : await ingestMessagesInLanes(messages, common);
      opts.metrics?.batch(summary, (performance.now() - started) / 1000);
      await opts.onCommitted?.(summary);
    },
    async poison(entry: StreamEntry, error: unknown) {
      // Once per entry: the entry is acknowledged only at the end of its batch, so a crash or a
      // stop() before that delivers it again (same id, same source); recordNewDeadLetters keeps
      // the first dead letter only. Metrics count every delivery, as for a redelivered batch.
      const letter: DeadLetter = {
        kind: VAULT_TERM_KIND,
        entityId: null,
        source: `redis:${entry.stream}/${entry.id}`,
        payload: fieldsToRecord(entry.fields),
        error: errorMessage(error),
        errorCode: (error as { code?: string }).code ?? "bad_input",
      };
      await transactionWithDeadLetters(opts.db, opts.deadLetters, (tx) => recordNewDeadLetters(opts.deadLetters, tx, [letter]));
      opts.metrics?.batch({ messages: 1, deadLettered: 1 }, 0);
    },
  });
}
