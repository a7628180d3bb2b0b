/** S3 sensor against s3rver (own process) and real Postgres, through the real actor system. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import pino from "pino";
import { startS3rver, type S3rverHandle } from "../../support/s3rver.ts";
import { createTestDatabase } from "../../support/databases.ts";
import { uniqueName } from "../../support/env.ts";
import { migrate } from "../../../db/migrate.ts";
import type { Db } from "../../../db/db.ts";
import { DeadLetterStore, listDeadLetters } from "../../../db/dead-letter-store.ts";
import { claimPending } from "../../../db/cursor-store.ts";
import { ActorSystem } from "../../../supervisors/actor-system.ts";
import { SimulatedClock, systemClock } from "../../../supervisors/clock.ts";
import { S3Sensor, isEventFileKey } from "../../../actors/ingress/s3-sensor.ts";
import { createWorkerPartitionKind } from "../../../actors/worker-partition/kind.ts";
import { WORKER_PARTITION_KIND } from "../../../actors/worker-partition/journal.ts";
import { requirePartition } from "../../../actors/worker-partition/partitions.ts";
import { readFile } from "node:fs/promises";
import { SAMPLES_DIR, uploadSampleEvents } from "../../../actors/ingress/s3-upload-samples.ts";
import { createWorkerPartitionSensor } from "../../../actors/worker-partition/wire.ts";
import { JournalTail } from "../../../actors/worker-partition/journal-tail.ts";
import { parseWorkerPartitionConfig } from "../../../actors/worker-partition/config.ts";
import { W1, W2, W3, aiProcessed, aiReceived, connected, transcodeJob } from "../worker-partition/events-fixture.ts";

const TC = requirePartition("transcode|us-central");
const AI = requirePartition("ai|us-central");

interface Env {
  s3: S3Client;
  db: Db;
  system: ActorSystem;
  buckets: { events: string; metrics: string; archive: string };
  sensor(opts?: { maxFilesPerBatch?: number; failCatchUp?: () => boolean; clock?: SimulatedClock }): S3Sensor;
}

let server: S3rverHandle;

const bucketName = (p: string) => uniqueName(p).replace(/_/g, "-");
const fileKey = (p: typeof TC, start: string) => `${p.s3Prefix}${p.region}-${p.nodeType}-${start}_${start.replace(/00Z$/, "59Z")}.json`;

async function put(s3: S3Client, bucket: string, key: string, body: unknown): Promise<void> {
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: typeof body === "string" ? body : JSON.stringify(body, null, 2) }));
}

async function getJson(s3: S3Client, bucket: string, key: string): Promise<any> {
  const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return JSON.parse(await res.Body!.transformToString());
}

async function ledger(db: Db, partition: string): Promise<Record<string, string>> {
  const res = await db.query<{ eth_address: string; earned_wei: string }>("SELECT eth_address, earned_wei::text FROM worker_fee_ledger WHERE partition_id = $1 ORDER BY 1", [partition]);
  return Object.fromEntries(res.rows.map((r) => [r.eth_address, r.earned_wei]));
}

function withEnv(name: string, fn: (env: Env) => Promise<void>): void {
  test(name, async () => {
    const s3 = server.client();
    const buckets = { events: bucketName("events"), metrics: bucketName("metrics"), archive: bucketName("archive") };
    for (const b of Object.values(buckets)) await s3.send(new CreateBucketCommand({ Bucket: b }));
    const database = await createTestDatabase();
    const db = database.db;
    const log = pino({ level: "silent" });
    const deadLetters = new DeadLetterStore(db, { log });
    const system = new ActorSystem({ db, clock: systemClock, log, deadLetters });
    try {
      await migrate(db);
      system.register(createWorkerPartitionKind({ commissionBps: 2500, correlationTtlMs: 86_400_000 }));
      await system.start();
      const env: Env = {
        s3,
        db,
        system,
        buckets,
        sensor: (o = {}) =>
          new S3Sensor(
            {
              db,
              s3,
              clock: o.clock ?? new SimulatedClock(Date.parse("2025-03-01T10:20:30Z")),
              log,
              deadLetters,
              catchUp: async (pid) => {
                if (o.failCatchUp?.()) throw new Error("partition actor unavailable");
                return system.ask(WORKER_PARTITION_KIND, pid, "catch-up", {}, { timeoutMs: 60_000 });
              },
            },
            { bucket: buckets.events, metricsBucket: buckets.metrics, archiveBucket: buckets.archive, archivePrefix: "archive/", maxFilesPerBatch: o.maxFilesPerBatch ?? 250, intervalMs: 300_000 },
          ),
      };
      await fn(env);
    } finally {
      await system.stop();
      await database.drop();
    }
  });
}

test.before(async () => {
  server = await startS3rver();
});
test.after(async () => {
  await server.stop();
});

test("s3 sensor - event file names follow the producer's layout", () => {
  assert.ok(isEventFileKey(AI, "us-central/ai/us-central-ai-20250227T120000Z_20250227T120059Z.json"));
  assert.not.ok(isEventFileKey(AI, "us-central/ai/worker_summary.json"));
  assert.not.ok(isEventFileKey(AI, "us-central/ai/sub/us-central-ai-20250227T120000Z_20250227T120059Z.json"));
  assert.not.ok(isEventFileKey(TC, "us-central/ai/us-central-ai-20250227T120000Z_20250227T120059Z.json"));
});

withEnv("s3 sensor - ingests every partition, dead-letters bad input, confirms, archives and exports", async ({ s3, db, buckets, sensor }) => {
  const k1 = fileKey(TC, "20250227T120000Z");
  const k2 = fileKey(TC, "20250227T120100Z");
  const kBad = fileKey(TC, "20250227T120200Z");
  const kAi = fileKey(AI, "20250227T120000Z");
  await put(s3, buckets.events, k1, [transcodeJob(W1, 1_000_000), connected(W1, "10.0.0.1:7935")]);
  await put(s3, buckets.events, k2, [transcodeJob(W2, 10), transcodeJob(W2, -3), transcodeJob(W1, 8, { region: "us-west" })]);
  await put(s3, buckets.events, kBad, "this is not json");
  await put(s3, buckets.events, kAi, [aiReceived(W3, "r1"), aiProcessed("r1", 786432000)]);
  const { batches, errors } = await sensor().pollOnce();
  assert.equal(errors, []);
  assert.equal(batches.map((b) => [b.partition, b.keys.length, b.newEvents, b.deadLetters]), [["ai|us-central", 1, 2, 0], ["transcode|us-central", 3, 3, 3]]);
  assert.equal(await ledger(db, TC.id), { [W1]: "750000", [W2]: "8" });
  assert.equal(await ledger(db, AI.id), { [W3]: "589824000" });
  const letters = await listDeadLetters(db, { kind: WORKER_PARTITION_KIND });
  const bySource = Object.fromEntries(letters.map((l) => [l.source, l.error]));
  assert.match(bySource[`s3:${buckets.events}/${kBad}`], /not valid JSON/);
  assert.match(bySource[`s3:${buckets.events}/${k2}#1`], /fees: must not be negative, got -3/);
  assert.match(bySource[`s3:${buckets.events}/${k2}#2`], /belongs to partition transcode\|us-west, not transcode\|us-central/);
  const cursor = await db.query<{ key: string; state: string }>("SELECT key, state FROM strata_source_cursor ORDER BY key");
  assert.ok(cursor.rows.length === 4 && cursor.rows.every((r) => r.state === "confirmed"));
  const archived = await s3.send(new ListObjectsV2Command({ Bucket: buckets.archive }));
  assert.equal((archived.Contents ?? []).map((o) => o.Key).sort(), [kAi, k1, k2, kBad].map((k) => `archive/${k}`).sort());
  const summary = await getJson(s3, buckets.metrics, "us-central/transcode/worker_summary.json");
  assert.is(summary.export_timestamp, "20250301_102030");
  assert.is(summary.data.aggregates.total_fees, "1000010");
  assert.is(summary.data.aggregates.total_workers, 2);
  assert.is(summary.data.aggregates.active_workers, 1);
  const perf = await getJson(s3, buckets.metrics, "us-central/ai/worker_performance.json");
  assert.is(perf.node_type, "ai");
  assert.is(perf.region, "us-central");
  assert.equal(Object.keys(perf.ai_model_pipeline_rankings), ["ByteDance/SDXL-Lightning | text-to-image"]);
  assert.is(perf.ai_performance[0].response_time_ms.median, 2500);
  // nothing new: the next poll does nothing
  assert.equal((await sensor().pollOnce()).batches, []);
});

withEnv("defect 2 - a failed batch is retried, never skipped, and counted once", async ({ s3, db, buckets, sensor }) => {
  const k1 = fileKey(TC, "20250227T120000Z");
  await put(s3, buckets.events, k1, [transcodeJob(W1, 400)]);
  let failNext = true;
  const clock = new SimulatedClock(Date.parse("2025-03-01T10:20:30Z"));
  const s = sensor({ failCatchUp: () => (failNext ? ((failNext = false), true) : false), clock });
  assert.is(s.lastPollAt, null, "no poll finished yet");
  const first = await s.pollOnce();
  assert.equal(first.errors.map((e) => e.partition), ["transcode|us-central"]);
  assert.is(s.lastPollAt, clock.now(), "a poll that failed has still finished (readiness counts failures apart)");
  assert.is(s.failures.get("transcode|us-central"), 1);
  const pending = await db.query<{ key: string; state: string }>("SELECT key, state FROM strata_source_cursor");
  assert.equal(pending.rows, [{ key: k1, state: "pending" }]);
  // a newer file arrived meanwhile: the pending one is retried first, alone
  const k2 = fileKey(TC, "20250227T120100Z");
  await put(s3, buckets.events, k2, [transcodeJob(W1, 40)]);
  const second = await s.pollOnce();
  assert.equal(second.batches.map((b) => [b.keys, b.retried, b.duplicates]), [[[k1], true, 1]]);
  const third = await s.pollOnce();
  assert.equal(third.batches.map((b) => b.keys), [[k2]]);
  assert.equal(await ledger(db, TC.id), { [W1]: "330" });
});

withEnv("s3 sensor - a pending file that no longer exists is dead-lettered, not retried forever", async ({ s3, db, buckets, sensor }) => {
  const gone = fileKey(TC, "20250227T100000Z");
  await db.transaction((tx) => claimPending(tx, `s3:${buckets.events}/${TC.s3Prefix}`, [gone], "crashed-batch"));
  await put(s3, buckets.events, fileKey(TC, "20250227T120000Z"), [transcodeJob(W1, 100)]);
  const s = sensor();
  const first = await s.pollOnce();
  assert.equal(first.errors, []);
  assert.equal(first.batches.map((b) => [b.keys, b.retried, b.deadLetters]), [[[gone], true, 1]]);
  const letters = await listDeadLetters(db, { kind: WORKER_PARTITION_KIND });
  assert.equal(letters.map((l) => l.errorCode), ["s3_no_such_key"]);
  const second = await s.pollOnce();
  assert.equal(second.batches.map((b) => b.keys), [[fileKey(TC, "20250227T120000Z")]]);
  assert.equal(await ledger(db, TC.id), { [W1]: "75" });
});

withEnv("decision 9 - a file flushed late with an earlier timestamp is still read", async ({ s3, db, buckets, sensor }) => {
  const s = sensor();
  await put(s3, buckets.events, fileKey(TC, "20250227T130000Z"), [transcodeJob(W1, 100, { dt: "2025-02-27T13:00:00Z" })]);
  await s.pollOnce();
  await put(s3, buckets.events, fileKey(TC, "20250227T110000Z"), [transcodeJob(W1, 20, { dt: "2025-02-27T11:00:00Z" })]);
  const late = await s.pollOnce();
  assert.equal(late.batches.map((b) => b.keys), [[fileKey(TC, "20250227T110000Z")]]);
  assert.equal(await ledger(db, TC.id), { [W1]: "90" });
});

withEnv("defect 3 - the same events re-uploaded under a new key do not double fees", async ({ s3, db, buckets, sensor }) => {
  const events = [transcodeJob(W1, 1000), transcodeJob(W2, 2000)];
  await put(s3, buckets.events, fileKey(TC, "20250227T120000Z"), events);
  await put(s3, buckets.events, fileKey(TC, "20250227T120100Z"), events);
  const batches = await sensor().drain();
  assert.equal(batches.map((b) => [b.newEvents, b.duplicates]), [[2, 2]]);
  assert.equal(await ledger(db, TC.id), { [W1]: "750", [W2]: "1500" });
});

withEnv("s3 sensor - batches hold at most MAX_FILES_PER_BATCH files, oldest first, and polls follow the clock", async ({ s3, db, buckets, sensor }) => {
  const keys = ["20250227T120000Z", "20250227T120100Z", "20250227T120200Z", "20250227T120300Z", "20250227T120400Z"].map((t) => fileKey(TC, t));
  for (const k of keys) await put(s3, buckets.events, k, [transcodeJob(W1, 4)]);
  const clock = new SimulatedClock(0);
  const s = sensor({ maxFilesPerBatch: 2, clock });
  const seen: string[][] = [];
  s.start();
  await s.idle();
  seen.push(s.lastBatch.get(TC.id)!.keys);
  await clock.advance(299_999);
  await s.idle();
  assert.is(s.lastBatch.get(TC.id)!.keys, seen[0], "no poll before the interval");
  for (let round = 0; round < 2; round++) {
    await clock.advance(round === 0 ? 1 : 300_000);
    await s.idle();
    seen.push(s.lastBatch.get(TC.id)!.keys);
  }
  await s.stop();
  assert.equal(seen, [keys.slice(0, 2), keys.slice(2, 4), keys.slice(4)]);
  assert.equal(await ledger(db, TC.id), { [W1]: "15" });
});

withEnv("embedded mode - the bundled samples uploaded to the local S3 store are ingested by the wired sensor", async ({ s3, db, buckets, system }) => {
  const keys = await uploadSampleEvents(s3, buckets.events);
  assert.is(keys.length, 15);
  const config = parseWorkerPartitionConfig({
    S3_ENDPOINT: server.endpoint,
    S3_BUCKET: buckets.events,
    S3_METRICS_BUCKET: buckets.metrics,
    AWS_ACCESS_KEY_ID: "S3RVER",
    AWS_SECRET_ACCESS_KEY: "S3RVER",
  });
  const log = pino({ level: "silent" });
  // A tail the kind of this fixture does not share (registered without one): its actors read the journal.
  const sensor = createWorkerPartitionSensor({ system, tail: new JournalTail(), db, deadLetters: new DeadLetterStore(db, { log }), clock: new SimulatedClock(0), log, s3 }, config);
  const batches = await sensor.drain();
  assert.is(batches.length, 5);
  const expected = JSON.parse(await readFile(SAMPLES_DIR + "expected.json", "utf-8")) as Record<string, { events: number; earnings: Record<string, string> }>;
  for (const [pid, exp] of Object.entries(expected)) assert.equal(await ledger(db, pid), exp.earnings, pid);
  const summary = await getJson(s3, buckets.metrics, "oceania/transcode/worker_summary.json");
  assert.is(summary.data.aggregates.total_workers, 4);
});

test.run();
