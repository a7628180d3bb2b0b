/**
 * Benchmark (not a test): one partition's batch of FILES files × EVENTS events from S3 (s3rver in
 * its own process) through every table (journal, fees, ledger, connections, processed jobs,
 * performance, summary) on Postgres, beside the raw ceiling measured in the same run: S3 GET +
 * JSON parse of the same files only, with the sensor's GET concurrency (and one at a time, for reference).
 * Run: `npx tsx test/bench/worker-partition.bench.ts [files=250] [events=1000]`
 * Prints `name: value unit` lines; the ratio on the line ending in `.ratio`.
 * With `PROFILE=1`, also the database time per statement (first words of the SQL), summed over
 * the ingest (`worker-partition.sql.<n>: <ms> ms` lines, then the statements), and the CPU time
 * the ingest took in this process and in the database's backends (`worker-partition.cpu_node`,
 * `worker-partition.cpu_postgres`; the latter only when the server is local, read from /proc;
 * `worker-partition.cpu_node_main_thread`, the main thread's share, on Linux):
 * on a shared machine these move much less than the wall time.
 * With `CPU_PROFILE=<file.cpuprofile>` (Node only), a V8 CPU profile of the ingest alone (not of
 * the setup or the raw ceiling) is written there: of the main thread (the parse worker thread's
 * work is not in it; `cpu_node` is the whole process's, both threads).
 * The ingest's parse worker thread (wire.ts) is started and waited for during the setup, as a host
 * starts it before its first batch; `worker-partition.files_on_parse_worker` says how many of the
 * batch's files it prepared (the others were prepared on the main thread).
 */
import process from "node:process";
import { readFileSync } from "node:fs";
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import pino from "pino";
import { startS3rver } from "../support/s3rver.ts";
import { createTestDatabase } from "../support/databases.ts";
import { uniqueName } from "../support/env.ts";
import { migrate } from "../../db/migrate.ts";
import { DeadLetterStore } from "../../db/dead-letter-store.ts";
import { ActorSystem } from "../../supervisors/actor-system.ts";
import { systemClock } from "../../supervisors/clock.ts";
import { S3Sensor } from "../../actors/ingress/s3-sensor.ts";
import { createWorkerPartitionKind } from "../../actors/worker-partition/kind.ts";
import { workerPartitionIngestDeps } from "../../actors/worker-partition/wire.ts";
import { JournalTail } from "../../actors/worker-partition/journal-tail.ts";
import { ParseWorkerThread } from "../../actors/worker-partition/parse-worker-thread.ts";
import { fetchAhead } from "../../actors/ingress/s3-sensor.ts";
import { requirePartition } from "../../actors/worker-partition/partitions.ts";
import type { Db, Queryable } from "../../db/db.ts";
import { cpuSpent, cpuTimes, startCpuProfile } from "./cpu-times.ts";

const FILES = Number(process.argv[2] ?? 250);
const EVENTS = Number(process.argv[3] ?? 1000);
const WORKERS = Array.from({ length: 50 }, (_, i) => "0x" + (i + 1).toString(16).padStart(40, "0"));
const P = requirePartition("transcode|us-central");
const FETCH_CONCURRENCY = 8;

function fileBody(f: number): string {
  const out: Record<string, unknown>[] = [];
  const base = Date.parse("2025-02-27T00:00:00Z") + f * EVENTS * 1000;
  for (let i = 0; i < EVENTS; i++) {
    const worker = WORKERS[(f * 7 + i) % WORKERS.length];
    const dt = new Date(base + i * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
    const id = `${String(f).padStart(8, "0")}-0000-4000-8000-${String(i).padStart(12, "0")}`;
    if (i % 100 === 0) {
      out.push({ DT: dt, EventType: "worker-connected", ID: id, NodeType: "transcode", Payload: { connection: `10.0.${f % 250}.${i % 250}:8935`, ethAddress: worker }, Region: "us-central", Version: 1 });
      continue;
    }
    const responseTime = 200 + ((f * 31 + i * 17) % 1800);
    const pixels = 921600 * (1 + (i % 3));
    out.push({
      DT: dt,
      EventType: "job-processed",
      ID: id,
      NodeType: "transcode",
      Payload: { computeUnits: pixels, duration: 2000, ethAddress: worker, fees: pixels * 1200, pricePerComputeUnit: 1200, realTimeRatio: Math.trunc(2000 / responseTime), responseTime },
      Region: "us-central",
      Version: 1,
    });
  }
  return JSON.stringify(out, null, 2);
}

/**
 * CPU time of this process's main thread (ms), from /proc (Linux; null elsewhere): with the parse
 * worker thread, `cpu_node` is both threads' and this the main thread's alone.
 */
function mainThreadCpuMs(): number | null {
  try {
    const stat = readFileSync(`/proc/self/task/${process.pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100; // utime + stime, in USER_HZ (100)
  } catch {
    return null;
  }
}

/** Time spent per statement (keyed by its first words) while `profiling`. */
const profile = new Map<string, { ms: number; calls: number }>();
let profiling = false;
function timed(q: Queryable): Queryable {
  return {
    async query(sql, params) {
      if (!profiling) return q.query(sql, params);
      const t = performance.now();
      try {
        return await q.query(sql, params);
      } finally {
        const key = sql.replace(/\s+/g, " ").trim().slice(0, 90);
        const entry = profile.get(key) ?? { ms: 0, calls: 0 };
        entry.ms += performance.now() - t;
        entry.calls += 1;
        profile.set(key, entry);
      }
    },
  } as Queryable;
}
function profiled(db: Db): Db {
  return {
    dialect: db.dialect,
    query: timed(db).query,
    transaction: (fn) => db.transaction((tx) => fn(timed(tx))),
    close: () => db.close(),
  };
}

const s3rver = await startS3rver();
const created = await createTestDatabase();
const database = process.env.PROFILE === "1" ? { ...created, db: profiled(created.db) } : created;
const log = pino({ level: "silent" });
const deadLetters = new DeadLetterStore(database.db, { log });
const system = new ActorSystem({ db: database.db, clock: systemClock, log, deadLetters });
try {
  await migrate(database.db);
  const tail = new JournalTail();
  system.register(createWorkerPartitionKind({ commissionBps: 2500, correlationTtlMs: 86_400_000, tail }));
  await system.start();
  const s3 = s3rver.client();
  const bucket = uniqueName("bench").replace(/_/g, "-");
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const keys: string[] = [];
  for (let f = 0; f < FILES; f += 10) {
    await Promise.all(
      Array.from({ length: Math.min(10, FILES - f) }, async (_, j) => {
        const key = `${P.s3Prefix}${P.fileNamePrefix}${String(f + j).padStart(6, "0")}_x.json`;
        keys.push(key);
        await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: fileBody(f + j) }));
      }),
    );
  }
  const total = FILES * EVENTS;

  // The ingest's parse worker thread loads during the setup, as a host's does when it starts
  // (before its first batch), not during the raw ceilings or the timed batch.
  const ingestDeps = workerPartitionIngestDeps(system, tail, database.db, deadLetters, { askTimeoutMs: 600_000 });
  if (ingestDeps.parser instanceof ParseWorkerThread) await ingestDeps.parser.whenReady();

  // Raw ceilings: S3 GET + JSON.parse only, in key order; with the sensor's GET concurrency (the
  // ceiling the ratio uses), and one GET at a time (for reference).
  keys.sort();
  const getText = async (key: string) => (await (await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).Body!.transformToString());
  let t0 = performance.now();
  let parsed = 0;
  for await (const text of fetchAhead(keys, FETCH_CONCURRENCY, getText)) parsed += (JSON.parse(text) as unknown[]).length;
  const rawS = (performance.now() - t0) / 1000;
  if (parsed !== total) throw new Error(`parsed ${parsed} events, expected ${total}`);
  t0 = performance.now();
  parsed = 0;
  for (const key of keys) parsed += (JSON.parse(await getText(key)) as unknown[]).length;
  const rawSequentialS = (performance.now() - t0) / 1000;

  const sensor = new S3Sensor(
    { s3, clock: systemClock, log, ...ingestDeps },
    { bucket, maxFilesPerBatch: FILES, intervalMs: 300_000, fetchConcurrency: FETCH_CONCURRENCY },
  );
  const cpu = process.env.CPU_PROFILE ? await startCpuProfile() : null;
  const cpuBefore = process.env.PROFILE === "1" ? await cpuTimes(created.db) : null;
  const mainBefore = process.env.PROFILE === "1" ? mainThreadCpuMs() : null;
  t0 = performance.now();
  profiling = true;
  const batch = await sensor.pollPartition(P);
  profiling = false;
  const mainAfter = mainBefore !== null ? mainThreadCpuMs() : null;
  const cpuAfter = cpuBefore ? await cpuTimes(created.db) : null;
  if (cpu) await cpu.stop(process.env.CPU_PROFILE!);
  const fullS = (performance.now() - t0) / 1000;
  if (!batch || batch.newEvents !== total) throw new Error(`batch ingested ${batch?.newEvents} events, expected ${total}`);
  const filesOnWorker = ingestDeps.parser instanceof ParseWorkerThread ? ingestDeps.parser.counts.worker : 0;

  const raw = total / rawS;
  const full = total / fullS;
  console.log(`worker-partition.batch_files: ${FILES} files`);
  console.log(`worker-partition.batch_events: ${total} events`);
  console.log(`worker-partition.batch_seconds: ${fullS.toFixed(2)} s`);
  console.log(`worker-partition.events: ${full.toFixed(0)} events/s`);
  console.log(`worker-partition.raw_ceiling: ${raw.toFixed(0)} events/s`);
  console.log(`worker-partition.raw_sequential: ${(total / rawSequentialS).toFixed(0)} events/s`);
  console.log(`worker-partition.ratio: ${(full / raw).toFixed(2)} x`);
  console.log(`worker-partition.files_on_parse_worker: ${filesOnWorker} files`);
  if (cpuBefore && cpuAfter) {
    const spent = cpuSpent(cpuBefore, cpuAfter);
    console.log(`worker-partition.cpu_node: ${spent.node.toFixed(0)} ms`);
    if (mainBefore !== null && mainAfter !== null) console.log(`worker-partition.cpu_node_main_thread: ${(mainAfter - mainBefore).toFixed(0)} ms`);
    if (spent.postgres !== null) console.log(`worker-partition.cpu_postgres: ${spent.postgres.toFixed(0)} ms`);
  }
  if (profiling === false && profile.size > 0) {
    const sorted = [...profile.entries()].sort((a, b) => b[1].ms - a[1].ms);
    sorted.forEach(([sql, e], i) => console.log(`worker-partition.sql.${i}: ${e.ms.toFixed(0)} ms (${e.calls} calls) ${sql}`));
  }
} finally {
  await system.stop();
  await database.drop();
  await s3rver.stop();
}
