/**
 * A whole ingest host in its own process, for the crash test (test/actors/ingress/s3-crash.test.ts): actor system +
 * worker-partition kind + S3 sensor over the given Postgres and S3, draining every new file.
 * argv[2] = JSON {databaseUrl, endpoint, bucket, maxFilesPerBatch}. Prints `JOURNALED <n>` when
 * batch n's journal transaction has committed (before the actor catches up) and `DONE <n>` at the end;
 * with pauseAt = n it prints `PAUSED` at that point and waits there (to be killed).
 */
import process from "node:process";
import pino from "pino";
import { openPgDb } from "../../../db/pg-db.ts";
import { DeadLetterStore } from "../../../db/dead-letter-store.ts";
import { ActorSystem } from "../../../supervisors/actor-system.ts";
import { systemClock } from "../../../supervisors/clock.ts";
import { S3Sensor } from "../../../actors/ingress/s3-sensor.ts";
import { createS3Client } from "../../../actors/ingress/s3-client.ts";
import { createWorkerPartitionKind } from "../../../actors/worker-partition/kind.ts";
import { WORKER_PARTITION_KIND } from "../../../actors/worker-partition/journal.ts";
import { ParseWorkerThread } from "../../../actors/worker-partition/parse-worker-thread.ts";

const args = JSON.parse(process.argv[2]) as { databaseUrl: string; endpoint: string; bucket: string; maxFilesPerBatch: number; pauseAt?: number };
const db = openPgDb(args.databaseUrl, { max: 4 });
const log = pino({ level: "silent" });
const deadLetters = new DeadLetterStore(db, { log });
const system = new ActorSystem({ db, clock: systemClock, log, deadLetters });
system.register(createWorkerPartitionKind({ commissionBps: 2500, correlationTtlMs: 86_400_000 }));
await system.start();
const s3 = createS3Client({ endpoint: args.endpoint, region: "us-east-1", bucket: args.bucket, metricsBucket: "", archivePrefix: "archive/", accessKeyId: "S3RVER", secretAccessKey: "S3RVER" });
let batches = 0;
const sensor = new S3Sensor(
  {
    db,
    s3,
    clock: systemClock,
    log,
    deadLetters,
    // As a host's ingest (wire.ts): files prepared on a worker thread once it has loaded; the
    // process still ends by itself when done (regression: an idle worker kept it alive).
    parser: new ParseWorkerThread(),
    catchUp: async (pid) => {
      batches += 1;
      process.stdout.write(`JOURNALED ${batches}\n`);
      if (batches === args.pauseAt) {
        // Journal committed, actor not caught up, files pending: wait here to be killed.
        process.stdout.write("PAUSED\n");
        await new Promise(() => setInterval(() => {}, 60_000));
      }
      return system.ask(WORKER_PARTITION_KIND, pid, "catch-up", {}, { timeoutMs: 60_000 });
    },
  },
  { bucket: args.bucket, maxFilesPerBatch: args.maxFilesPerBatch, intervalMs: 300_000 },
);
await sensor.drain();
process.stdout.write(`DONE ${batches}\n`);
await system.stop();
s3.destroy();
await db.close();
