/**
 * The processed jobs' chunks (worker_processed_job_chunks.jobs) in format 2 (migration 0204,
 * store.ts storedJobs) and the view worker_processed_jobs over both formats, on real Postgres and
 * PGlite: the view shows the same rows, columns and values for a chunk stored in format 1 (as
 * 0202 and the code before 0204 wrote it) and for the same jobs stored now, rows written before
 * 0204 read the same after it, and format 2 is less than half the bytes.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { testEngines } from "../../support/databases.ts";
import { migrate } from "../../../db/migrate.ts";
import type { Db } from "../../../db/db.ts";
import { parseWorkerEvent } from "../../../actors/worker-partition/events.ts";
import { JOBS_FORMAT, mergeWriteSets, readPerformanceInputs, saveMerged } from "../../../actors/worker-partition/store.ts";
import { applyEvents, initialPartitionState, type JobRecord, type PartitionState } from "../../../actors/worker-partition/partition-state.ts";
import { takeWriteSet } from "../../../actors/worker-partition/write-set.ts";
import { ZERO_ADDRESS } from "../../../actors/worker-partition/fees.ts";
import { W1, W2, W3, W4, aiProcessed, aiReceived, transcodeJob } from "./events-fixture.ts";

const TC = "transcode|us-central";
const AI = "ai|us-central";
const options = { commissionBps: 2500, correlationTtlMs: 24 * 3_600_000 };
/** Beyond 2^53: exact only as decimal strings. */
const BIG_WEI = "123456789012345678901234567890";

const JOBS_SQL = `SELECT event_id, partition_id, eth_address, node_type, request_id, model_id, pipeline, dt, compute_units::text, price_per_compute_unit::text,
                         fees::text, response_time_ms, response_time_raw::text, real_time_ratio, attributed, reason
                  FROM worker_processed_jobs ORDER BY partition_id COLLATE "C", event_id COLLATE "C"`;

/** The view's row for a job, as the table before 0202 held it. */
function expectedRow(pid: string, j: JobRecord) {
  return {
    event_id: j.eventId, partition_id: pid, eth_address: j.ethAddress, node_type: pid.split("|")[0], request_id: j.requestID, model_id: j.modelID, pipeline: j.pipeline,
    dt: new Date(j.dtMs), compute_units: String(j.computeUnits), price_per_compute_unit: j.pricePerComputeUnit, fees: j.fees, response_time_ms: j.responseTimeMs,
    response_time_raw: String(j.responseTimeRaw), real_time_ratio: j.realTimeRatio, attributed: j.attributed, reason: j.reason,
  };
}

/** `jobs` in format 1: one JSON array per column (migration 0202; store.ts until 0204). */
function format1Text(jobs: readonly JobRecord[]): string {
  return JSON.stringify({
    event_id: jobs.map((j) => j.eventId), eth_address: jobs.map((j) => j.ethAddress), request_id: jobs.map((j) => j.requestID), model_id: jobs.map((j) => j.modelID),
    pipeline: jobs.map((j) => j.pipeline), dt_ms: jobs.map((j) => j.dtMs), compute_units: jobs.map((j) => j.computeUnits), price_per_compute_unit: jobs.map((j) => j.pricePerComputeUnit),
    fees: jobs.map((j) => j.fees), response_time_ms: jobs.map((j) => j.responseTimeMs), response_time_raw: jobs.map((j) => j.responseTimeRaw),
    real_time_ratio: jobs.map((j) => j.realTimeRatio), attributed: jobs.map((j) => j.attributed), reason: jobs.map((j) => j.reason),
  });
}

const events = (partition: string, raws: Record<string, unknown>[]) => raws.map((r) => parseWorkerEvent(r, partition));

/** Transcode jobs from events: ratios of many durations and response times, a producer's ratio, the zero address, wei beyond 2^53. */
function transcodeJobs(): JobRecord[] {
  const state = initialPartitionState(TC, options);
  const raws: Record<string, unknown>[] = [];
  const durations = [2000, 1001, 3333, 6000, 1];
  for (let i = 0; i < 400; i++) {
    const dt = new Date(Date.parse("2025-02-27T12:00:00Z") + ((i * 7919) % 400) * 1000).toISOString(); // out of order
    raws.push(transcodeJob([W1, W2, W3, W4][i % 4], 1000 + i * 37, { responseTime: 1 + ((i * 613) % 2999), duration: durations[i % durations.length], computeUnits: 921600 * (1 + (i % 3)), dt }));
  }
  raws.push(transcodeJob(W2, BIG_WEI, { responseTime: 0 })); // no ratio from duration: the producer's (0)
  raws.push(transcodeJob(W3, "9007199254740993", { duration: 0 })); // duration 0: the producer's ratio
  raws.push(transcodeJob(ZERO_ADDRESS, 77)); // unattributed, zero-address
  applyEvents(state, events(TC, raws));
  return state.changes.jobs;
}

/** AI jobs from events: attributed with model, pipeline and request IDs; unattributed (ttl, superseded, zero-address); ns response times. */
function aiJobs(): JobRecord[] {
  const state = initialPartitionState(AI, options);
  const raws: Record<string, unknown>[] = [];
  for (let i = 0; i < 60; i++) {
    raws.push(aiReceived([W1, W2][i % 2], `q${i}`, { dt: "2025-02-27T12:00:00Z" }));
    raws.push(aiProcessed(`q${i}`, i === 0 ? (BIG_WEI as unknown as number) : 500 + i, { responseTimeNs: 1_234_567_891 + i * 999_999_937, modelID: ["m-a", "m-b", "ByteDance/SDXL-Lightning"][i % 3], pipeline: i % 2 ? "text-to-image" : "image-to-video", dt: "2025-02-27T12:00:01Z" }));
  }
  raws.push(aiProcessed("qs", 9, { id: "sup-1", dt: "2025-02-27T12:00:02Z" }));
  raws.push(aiProcessed("qs", 10, { id: "sup-2", dt: "2025-02-27T12:00:03Z" })); // supersedes sup-1
  raws.push(aiReceived(ZERO_ADDRESS, "qz"), aiProcessed("qz", 11));
  raws.push(aiProcessed("late", 12, { dt: "2025-03-02T00:00:00Z" })); // expires qs (ttl) by its time
  applyEvents(state, events(AI, raws));
  const jobs = state.changes.jobs;
  assert.equal([...new Set(jobs.map((j) => j.reason))].sort(), [null, "superseded", "ttl", "zero-address"].sort(), "every kind of AI job");
  return jobs;
}

/** Hand-made jobs that defeat every derivation format 2 tries (each column stored plainly), nulls everywhere allowed. */
function irregularJobs(): JobRecord[] {
  const base: JobRecord = {
    eventId: "irr-0", ethAddress: W1, nodeType: "transcode", requestID: null, modelID: null, pipeline: null, dtMs: Date.parse("2025-02-27T12:00:00.123Z"), computeUnits: 5,
    pricePerComputeUnit: BIG_WEI, fees: "0", responseTimeMs: 7, responseTimeRaw: 7, realTimeRatio: 1 / 3, attributed: true, reason: null,
  };
  return [
    base,
    { ...base, eventId: "irr-1", responseTimeMs: 7.5, realTimeRatio: 0.1, dtMs: base.dtMs - 86_400_000 }, // ms neither raw nor raw / 1e6
    { ...base, eventId: "irr-2", ethAddress: null, attributed: false, reason: "ttl", realTimeRatio: null, requestID: "r-2", modelID: "m", pipeline: "p", responseTimeRaw: 0, responseTimeMs: 0 },
    { ...base, eventId: "irr-3", realTimeRatio: 1 / 3, responseTimeRaw: 3, responseTimeMs: 3, pricePerComputeUnit: "1", fees: "18446744073709551617" }, // 1/3 = 1 / 3 here
    { ...base, eventId: "irr-4", realTimeRatio: 2.5, responseTimeRaw: 0, responseTimeMs: 0 }, // a ratio with raw 0: stored as itself
  ];
}

async function save(db: Db, pid: string, jobs: readonly JobRecord[], offset: number): Promise<void> {
  const state: PartitionState = initialPartitionState(pid, options);
  state.changes.jobs = [...jobs];
  state.offset = offset;
  await db.transaction((tx) => saveMerged(tx, mergeWriteSets(pid, [takeWriteSet(state, null, false, offset)])!));
}

async function insertFormat1(db: Db, pid: string, jobs: readonly JobRecord[], offset: number): Promise<void> {
  // As 0202 and the code before 0204 wrote it: no jobs_format (0204's default, 1, where the column exists).
  await db.query("INSERT INTO worker_processed_job_chunks (partition_id, through_offset, job_count, jobs, perf) VALUES ($1, $2, $3, $4, '[]')", [pid, offset, jobs.length, format1Text(jobs)]);
}

for (const engine of testEngines) {
  const t = (name: string, fn: (db: Db) => Promise<void>, opts: { maxVersion?: number } = {}) =>
    test(`${name} [${engine.name}]`, async () => {
      const { db, drop } = await engine.create();
      try {
        await migrate(db, { maxVersion: opts.maxVersion });
        await fn(db);
      } finally {
        await drop();
      }
    });

  const chunks = () => [
    { pid: TC, offset: 10, jobs: transcodeJobs() },
    { pid: AI, offset: 20, jobs: aiJobs() },
    { pid: TC, offset: 30, jobs: irregularJobs() },
  ];
  const expectedRows = (cs: ReturnType<typeof chunks>) =>
    cs.flatMap((c) => c.jobs.map((j) => expectedRow(c.pid, j))).sort((a, b) => (a.partition_id === b.partition_id ? (a.event_id < b.event_id ? -1 : 1) : a.partition_id < b.partition_id ? -1 : 1));

  t("processed jobs - the view shows the same rows for jobs stored in format 2 and in format 1, every column exact", async (db) => {
    const cs = chunks();
    for (const c of cs) await save(db, c.pid, c.jobs, c.offset);
    const formats = await db.query<{ f: number }>("SELECT DISTINCT jobs_format AS f FROM worker_processed_job_chunks");
    assert.equal(formats.rows.map((r) => Number(r.f)), [JOBS_FORMAT]);
    assert.is(JOBS_FORMAT, 2);
    const stored = (await db.query(JOBS_SQL)).rows;
    assert.equal(stored, expectedRows(cs));
    await db.query("DELETE FROM worker_processed_job_chunks");
    for (const c of cs) await insertFormat1(db, c.pid, c.jobs, c.offset);
    assert.equal((await db.query<{ f: number }>("SELECT DISTINCT jobs_format AS f FROM worker_processed_job_chunks")).rows.map((r) => Number(r.f)), [1]);
    assert.equal((await db.query(JOBS_SQL)).rows, stored);
    // Both formats side by side (the table after 0204 holds both): each job once.
    await save(db, TC, cs[0].jobs, 40);
    assert.is((await db.query<{ n: string }>("SELECT count(*)::text AS n FROM worker_processed_jobs")).rows[0].n, String(cs[0].jobs.length * 2 + cs[1].jobs.length + cs[2].jobs.length));
  });

  t("processed jobs - format 2 stores each derivation only where it holds exactly, else the column as it is", async (db) => {
    const cs = chunks();
    for (const c of cs) await save(db, c.pid, c.jobs, c.offset);
    const shape = await db.query<{ through_offset: string; keys: string[]; ratio: unknown; divisor: unknown }>(
      `SELECT through_offset::text, ARRAY(SELECT jsonb_object_keys(jobs::jsonb) ORDER BY 1) AS keys, jobs::jsonb -> 'real_time_ratio' AS ratio, jobs::jsonb -> 'response_time_divisor' AS divisor
       FROM worker_processed_job_chunks ORDER BY through_offset`,
    );
    const [tc, ai, irr] = shape.rows;
    // Transcode: no request IDs; one model, pipeline and price; ms = raw; ratios as numerators over the raw response time.
    assert.ok(!tc.keys.includes("request_id") && !tc.keys.includes("response_time_ms") && !tc.keys.includes("model_id_i") && !tc.keys.includes("price_per_compute_unit_i"), tc.keys.join());
    assert.ok(tc.keys.includes("eth_address_i") && tc.keys.includes("reason_i") && tc.keys.includes("real_time_ratio_i"), tc.keys.join());
    assert.is(tc.divisor, 1);
    assert.equal((tc.ratio as unknown[]).filter((v) => Array.isArray(v)).map((v) => (v as number[])[0]).sort((a, b) => a - b), [0, 1, 1001, 2000, 3333, 6000]);
    // AI: request IDs per job, ms = raw / 1e6, no ratio.
    assert.ok(ai.keys.includes("request_id") && !ai.keys.includes("response_time_ms") && ai.keys.includes("model_id_i"), ai.keys.join());
    assert.is(ai.divisor, 1000000);
    assert.equal(ai.ratio, [null]);
    // Irregular: ms stored per job; 0.1 and 2.5 stored as themselves, 1/3 as [1] of raw 3 and as itself with raw 7.
    assert.ok(irr.keys.includes("response_time_ms") && !irr.keys.includes("response_time_divisor"), irr.keys.join());
    assert.equal(irr.ratio, [1 / 3, 0.1, null, [1], 2.5]);
    // And every value comes back exact (the first test compares every row).
    assert.equal((await db.query(JOBS_SQL)).rows, expectedRows(cs));
  });

  t("processed jobs - format 2 is less than half the bytes of format 1 for transcode and AI chunks", async (db) => {
    const tc = transcodeJobs();
    const ai = aiJobs();
    await save(db, TC, tc, 1);
    await save(db, AI, ai, 1);
    const sizes = await db.query<{ partition_id: string; n: number }>("SELECT partition_id, octet_length(jobs) AS n FROM worker_processed_job_chunks ORDER BY partition_id");
    const [aiBytes, tcBytes] = sizes.rows.map((r) => Number(r.n));
    const tcOld = new TextEncoder().encode(format1Text(tc)).length;
    const aiOld = new TextEncoder().encode(format1Text(ai)).length;
    assert.ok(tcBytes * 2 < tcOld, `transcode: ${tcBytes} bytes vs ${tcOld} in format 1`);
    assert.ok(aiBytes * 2 < aiOld, `AI: ${aiBytes} bytes vs ${aiOld} in format 1`);
    // The performance inputs are read from `perf` as before.
    assert.equal((await readPerformanceInputs(db, AI)).report().ai_performance.reduce((n, r) => n + r.job_count, 0), ai.filter((j) => j.attributed).length);
  });

  t(
    "migration 0204 - chunks stored before it read the same after it (format 1), and new ones are format 2",
    async (db) => {
      const cs = chunks();
      for (const c of cs) await insertFormat1(db, c.pid, c.jobs, c.offset);
      const before = (await db.query(JOBS_SQL)).rows;
      assert.equal(before, expectedRows(cs));
      await migrate(db);
      assert.equal((await db.query(JOBS_SQL)).rows, before);
      assert.equal((await db.query<{ f: number }>("SELECT DISTINCT jobs_format AS f FROM worker_processed_job_chunks")).rows.map((r) => Number(r.f)), [1]);
      await save(db, TC, cs[0].jobs, 50);
      assert.equal((await db.query<{ f: number; n: number }>("SELECT jobs_format AS f, count(*)::int AS n FROM worker_processed_job_chunks GROUP BY 1 ORDER BY 1")).rows.map((r) => [Number(r.f), Number(r.n)]), [[1, 3], [2, 1]]);
      // A writer that does not name jobs_format writes format 1, which is what it writes.
      await insertFormat1(db, AI, cs[1].jobs, 60);
      assert.is((await db.query<{ n: string }>("SELECT count(*)::text AS n FROM worker_processed_jobs WHERE partition_id = $1", [AI])).rows[0].n, String(cs[1].jobs.length * 2));
    },
    { maxVersion: 203 },
  );
}

test.run();
