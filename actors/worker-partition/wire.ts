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
import { WORKER_PARTITION_KIND } from "./journal.ts";
import { createWorkerPartitionKind } from "./kind.ts";
import type { IngestDeps } from "./ingest.ts";

/** Registers the kind (call before system.start()). */
export function registerWorkerPartition(system: ActorSystem, config: WorkerPartitionConfig, opts: { paymentThresholdWei?: bigint } = {}): void {
  system.register(createWorkerPartitionKind({ commissionBps: config.commissionBps, correlationTtlMs: config.correlationTtlMs, paymentThresholdWei: opts.paymentThresholdWei }));
}

/** What ingest and import need from a running system: the journal db, dead letters, and catch-up by ask. */
export function workerPartitionIngestDeps(system: ActorSystem, db: Db, deadLetters: DeadLetterSink, opts: { askTimeoutMs?: number } = {}): IngestDeps {
  return {
    db,
    deadLetters,
    catchUp: (partitionId) => system.ask(WORKER_PARTITION_KIND, partitionId, "catch-up", {}, { timeoutMs: opts.askTimeoutMs ?? 10 * 60_000 }),
  };
}

export function createWorkerPartitionSensor(
  deps: { system: ActorSystem; db: Db; deadLetters: DeadLetterSink; clock: Clock; log?: Logger; s3?: S3Client },
  config: WorkerPartitionConfig,
): S3Sensor {
  return new S3Sensor(
    { ...workerPartitionIngestDeps(deps.system, deps.db, deps.deadLetters), s3: deps.s3 ?? createS3Client(config.s3), clock: deps.clock, log: deps.log },
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
