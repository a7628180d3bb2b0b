/**
 * Wiring of the worker-partition kind for the process entry points (cli `start`, `import`):
 * register the kind on an ActorSystem and build the S3 sensor whose batches go through it.
 * Configuration comes in as a WorkerPartitionConfig (config.ts); nothing here reads the environment.
 */
import type { S3Client } from "@aws-sdk/client-s3";
import type { Logger } from "pino";
import type { ActorSystem } from "../../supervisors/actor-system.ts";
import type { Clock } from "../../supervisors/clock.ts";
import type { DeadLetterSink } from "../../supervisors/actor-kind.ts";
import type { Db } from "../../db/db.ts";
import { S3Sensor } from "../ingress/s3-sensor.ts";
import { createS3Client } from "../ingress/s3-client.ts";
import type { WorkerPartitionConfig } from "./config.ts";
import type { ParamsPlan } from "./partition-params.ts";
import { WORKER_PARTITION_KIND } from "./journal.ts";
import { createWorkerPartitionKind } from "./kind.ts";
import type { IngestDeps } from "./ingest.ts";
import { JournalTail } from "./journal-tail.ts";
import { ParseWorkerThread } from "./parse-worker-thread.ts";

/**
 * Registers the kind (call before system.start()) and returns the in-memory journal tail its
 * partition actors read: pass it to the ingest of the same process (workerPartitionIngestDeps,
 * createWorkerPartitionSensor), so that committed events reach the actors without a journal read.
 */
export function registerWorkerPartition(
  system: ActorSystem,
  config: WorkerPartitionConfig,
  opts: { paymentThresholdWei?: bigint; paramsPlans?: ReadonlyMap<string, ParamsPlan> } = {},
): JournalTail {
  const tail = new JournalTail();
  system.register(
    createWorkerPartitionKind({
      commissionBps: config.commissionBps,
      correlationTtlMs: config.correlationTtlMs,
      paymentThresholdWei: opts.paymentThresholdWei,
      tail,
      paramsPlans: opts.paramsPlans,
    }),
  );
  return tail;
}

/**
 * What ingest and import need from a running system: the journal db, dead letters, catch-up by
 * ask, `journaled` pokes, the journal tail its partition actors read (registerWorkerPartition),
 * and a parse worker thread, started now so that it has loaded by the first batch (it keeps the
 * process alive only while it holds files; until it has loaded, files are prepared in this thread).
 */
export function workerPartitionIngestDeps(system: ActorSystem, tail: JournalTail, db: Db, deadLetters: DeadLetterSink, opts: { askTimeoutMs?: number } = {}): IngestDeps {
  const parser = new ParseWorkerThread();
  parser.start();
  return {
    parser,
    db,
    deadLetters,
    catchUp: (partitionId) => system.ask(WORKER_PARTITION_KIND, partitionId, "catch-up", {}, { timeoutMs: opts.askTimeoutMs ?? 10 * 60_000 }),
    notify: (partitionId) => pokeJournaled(system, partitionId),
    tail,
  };
}

/** Tells the partition actor `journaled` (apply now, recompute performance at the final catch-up); a refused tell only delays work. */
export function pokeJournaled(system: ActorSystem, partitionId: string): void {
  try {
    system.tell(WORKER_PARTITION_KIND, partitionId, "journaled", {});
  } catch {
    // A full mailbox or a stopping system: the final catch-up applies the same journal.
  }
}

export function createWorkerPartitionSensor(
  deps: { system: ActorSystem; tail: JournalTail; db: Db; deadLetters: DeadLetterSink; clock: Clock; log?: Logger; s3?: S3Client },
  config: WorkerPartitionConfig,
): S3Sensor {
  return new S3Sensor(
    { ...workerPartitionIngestDeps(deps.system, deps.tail, deps.db, deps.deadLetters), s3: deps.s3 ?? createS3Client(config.s3), clock: deps.clock, log: deps.log },
    {
      bucket: config.s3.bucket,
      metricsBucket: config.s3.metricsBucket,
      archiveBucket: config.s3.archiveBucket,
      archivePrefix: config.s3.archivePrefix,
      maxFilesPerBatch: config.maxFilesPerBatch,
      intervalMs: config.sensorIntervalMs,
    },
  );
}
