/**
 * The worker-partition journal (worker_event_ids + worker_event_journal) and the processed-job
 * chunks (worker_processed_job_chunks, view worker_processed_jobs) of migration 0202, on real
 * Postgres and PGlite: dedupe by ID forever, gapless seqs, rows of at most EVENTS_PER_ROW events,
 * and the move of data stored before 0202.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { testEngines } from "../../support/databases.ts";
import { migrate } from "../../../db/migrate.ts";
import type { Db, Queryable } from "../../../db/db.ts";
import { appendToJournal, readJournalHeads } from "../../../db/journal-store.ts";
import { parseWorkerEvent, type WorkerEvent } from "../../../actors/worker-partition/events.ts";
import { EVENTS_PER_ROW, WORKER_PARTITION_KIND, appendPreparedEvents, journalBucket, journalWorkerEvents, prepareWorkerEvents, readWorkerEvents } from "../../../actors/worker-partition/journal.ts";
import { JournaledKeyConflict } from "../../../db/journal-store.ts";
import { mergeWriteSets, readPerformanceInputs, saveMerged } from "../../../actors/worker-partition/store.ts";
import { applyEvents, initialPartitionState } from "../../../actors/worker-partition/partition-state.ts";
import { takeWriteSet } from "../../../actors/worker-partition/write-set.ts";
import { computePerformance } from "../../../actors/worker-partition/performance.ts";
import { W1, W2, W3, aiProcessed, aiReceived, connected, transcodeJob } from "./events-fixture.ts";

interface PlanNode {
  "Node Type": string;
  "Relation Name"?: string;
  "Index Name"?: string;
  Plans?: PlanNode[];
}

const TC = "transcode|us-central";
const AI = "ai|us-central";
const options = { commissionBps: 2500, correlationTtlMs: 24 * 3_600_000 };

const events = (partition: string, raws: Record<string, unknown>[]): WorkerEvent[] => raws.map((r) => parseWorkerEvent(r, partition));
const seqsOf = (rows: { seq: number }[]) => rows.map((r) => r.seq);

async function errorOf(p: Promise<unknown>): Promise<Error> {
  return p.then(
    () => {
      throw new Error("expected a failure");
    },
    (err: Error) => err,
  );
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

  t("event journal - an ID repeated in a batch or journaled before is skipped, forever; seqs stay gapless", async (db) => {
    const a = events(TC, [transcodeJob(W1, 1, { id: "id-a" }), transcodeJob(W1, 2, { id: "id-b" }), transcodeJob(W1, 3, { id: "id-a" })]);
    const first = await db.transaction((tx) => journalWorkerEvents(tx, a));
    assert.equal(seqsOf(first.inserted), [1, 2]);
    assert.is(first.duplicates, 1);
    assert.equal(first.inserted.map((e) => e.event.id), ["id-a", "id-b"]);
    // A later batch (a re-listed file plus new events): only the new ones, after the head.
    const b = events(TC, [transcodeJob(W2, 4, { id: "id-c" }), transcodeJob(W1, 2, { id: "id-b" }), transcodeJob(W2, 5, { id: "id-d" })]);
    const second = await db.transaction((tx) => journalWorkerEvents(tx, b));
    assert.equal(second.inserted.map((e) => [e.seq, e.event.id]), [[3, "id-c"], [4, "id-d"]]);
    assert.is(second.duplicates, 1);
    const again = await db.transaction((tx) => journalWorkerEvents(tx, [...a, ...b]));
    assert.equal([again.inserted.length, again.duplicates], [0, 6]);
    assert.equal((await readWorkerEvents(db, TC, 0, 100)).map((e) => [e.seq, e.event.id, (e.event as { fees: string }).fees]), [[1, "id-a", "1"], [2, "id-b", "2"], [3, "id-c", "4"], [4, "id-d", "5"]]);
    const ids = await db.query<{ event_id: string; partition: number; seq: string }>("SELECT event_id, partition, seq FROM worker_event_ids ORDER BY seq");
    assert.equal(ids.rows.map((r) => [r.event_id, Number(r.partition), Number(r.seq)]), [["id-a", 1, 1], ["id-b", 1, 2], ["id-c", 1, 3], ["id-d", 1, 4]]);
    assert.equal(await readJournalHeads(db, WORKER_PARTITION_KIND), new Map([[journalBucket(TC), 4]]));
  });

  t("event journal - dedupe whole-transaction: a journaled ID aborts the transaction (JournaledKeyConflict, nothing kept); probe-first then journals the fresh ones once", async (db) => {
    await db.transaction((tx) => journalWorkerEvents(tx, events(TC, [transcodeJob(W1, 1, { id: "w-1" })])));
    const batch = prepareWorkerEvents(events(TC, [transcodeJob(W1, 2, { id: "w-2" }), transcodeJob(W1, 1, { id: "w-1" }), transcodeJob(W1, 3, { id: "w-3" })]));
    const fresh = prepareWorkerEvents(events(TC, [transcodeJob(W1, 4, { id: "w-4" })]));
    const statements: string[] = [];
    const watch = (tx: Queryable): Queryable => ({ query: (sql, params) => (statements.push(sql), tx.query(sql, params)) }) as Queryable;
    // New IDs only: no savepoint.
    assert.equal((await db.transaction((tx) => appendPreparedEvents(watch(tx), fresh, "whole-transaction"))).inserted, 1);
    assert.not.ok(statements.some((sql) => sql.includes("SAVEPOINT")));
    const err = await errorOf(db.transaction((tx) => appendPreparedEvents(tx, batch, "whole-transaction")));
    assert.instance(err, JournaledKeyConflict);
    assert.equal(await readJournalHeads(db, WORKER_PARTITION_KIND), new Map([[journalBucket(TC), 2]]), "the aborted transaction used no seq");
    const again = await db.transaction((tx) => appendPreparedEvents(tx, batch, "probe-first"));
    assert.equal([again.inserted, again.duplicates, again.partitions], [2, 1, [{ partition: journalBucket(TC), firstSeq: 3, lastSeq: 4, count: 2 }]]);
    assert.equal((await readWorkerEvents(db, TC, 0, 10)).map((e) => [e.seq, e.event.id]), [[1, "w-1"], [2, "w-4"], [3, "w-2"], [4, "w-3"]]);
    // The default (savepoint) keeps the caller's transaction going after a journaled ID.
    const both = await db.transaction(async (tx) => [await appendPreparedEvents(tx, batch), await appendPreparedEvents(tx, prepareWorkerEvents(events(TC, [transcodeJob(W1, 5, { id: "w-5" })])))]);
    assert.equal(both.map((r) => [r.inserted, r.duplicates]), [[0, 3], [1, 0]]);
  });

  t("event journal - a batch meeting journaled IDs probes the primary key per ID, never scans the IDs", async (db) => {
    const old = events(TC, Array.from({ length: 2000 }, (_, i) => transcodeJob(W1, 1, { id: `old-${String(i).padStart(5, "0")}` })));
    await db.transaction((tx) => journalWorkerEvents(tx, old));
    await db.query("ANALYZE worker_event_ids");
    const statements: { sql: string; params?: readonly unknown[] }[] = [];
    const batch = events(TC, [transcodeJob(W1, 1, { id: "old-00007" }), ...Array.from({ length: 50 }, (_, i) => transcodeJob(W1, 1, { id: `new-${i}` }))]);
    const r = await db.transaction((tx) =>
      journalWorkerEvents(
        {
          query: (sql, params) => {
            statements.push({ sql, params });
            return tx.query(sql, params);
          },
        },
        batch,
      ),
    );
    assert.equal([r.inserted.length, r.duplicates, r.inserted[0].seq], [50, 1, 2001]);
    const probe = statements.find((st) => /SELECT[\s\S]*\bFROM worker_event_ids\b/.test(st.sql));
    assert.ok(probe, "the append probed the journaled IDs");
    const explained = (await db.query<Record<string, unknown>>(`EXPLAIN (FORMAT JSON) ${probe!.sql}`, probe!.params)).rows[0];
    const root = (Object.values(explained)[0] as { Plan: PlanNode }[])[0].Plan;
    const scans: string[] = [];
    const walk = (node: PlanNode): void => {
      if (node["Relation Name"] === "worker_event_ids") scans.push(`${node["Node Type"]} ${node["Index Name"] ?? ""}`.trim());
      for (const child of node.Plans ?? []) walk(child);
    };
    walk(root);
    assert.ok(scans.length > 0 && scans.every((scan) => /^Index (Only )?Scan worker_event_ids_pkey$/.test(scan)), JSON.stringify(root));
  });

  t("event journal - a rolled-back append leaves no ID and no gap", async (db) => {
    await db.transaction((tx) => journalWorkerEvents(tx, events(TC, [transcodeJob(W1, 1, { id: "r-1" })])));
    const err = await errorOf(
      db.transaction(async (tx) => {
        await journalWorkerEvents(tx, events(TC, [transcodeJob(W1, 1, { id: "r-2" }), transcodeJob(W1, 1, { id: "r-3" })]));
        throw new Error("the batch failed later");
      }),
    );
    assert.match(err.message, /failed later/);
    const r = await db.transaction((tx) => journalWorkerEvents(tx, events(TC, [transcodeJob(W1, 1, { id: "r-3" })])));
    assert.equal(r.inserted.map((e) => [e.seq, e.event.id]), [[2, "r-3"]]);
    assert.equal((await db.query<{ n: string }>("SELECT count(*)::text AS n FROM worker_event_ids")).rows[0].n, "2");
  });

  t("event journal - rows hold at most EVENTS_PER_ROW events; reads slice across them after any seq", async (db) => {
    const n = 2 * EVENTS_PER_ROW + 37;
    const batch = events(TC, Array.from({ length: n }, (_, i) => transcodeJob(W1, i + 1, { id: `big-${String(i).padStart(6, "0")}` })));
    await db.transaction((tx) => journalWorkerEvents(tx, batch));
    const rows = await db.query<{ first_seq: string; last_seq: string }>("SELECT first_seq, last_seq FROM worker_event_journal ORDER BY first_seq");
    assert.equal(
      rows.rows.map((r) => [Number(r.first_seq), Number(r.last_seq)]),
      [[1, EVENTS_PER_ROW], [EVENTS_PER_ROW + 1, 2 * EVENTS_PER_ROW], [2 * EVENTS_PER_ROW + 1, n]],
    );
    const across = await readWorkerEvents(db, TC, EVENTS_PER_ROW - 2, 5);
    assert.equal(seqsOf(across), [EVENTS_PER_ROW - 1, EVENTS_PER_ROW, EVENTS_PER_ROW + 1, EVENTS_PER_ROW + 2, EVENTS_PER_ROW + 3]);
    assert.equal(across.map((e) => e.event.id), across.map((e) => batch[e.seq - 1].id));
    assert.equal(across.map((e) => e.event), across.map((e) => JSON.parse(JSON.stringify(batch[e.seq - 1]))), "the stored event is the applied object's JSON");
    assert.equal(seqsOf(await readWorkerEvents(db, TC, n - 2, 10)), [n - 1, n]);
    assert.equal(await readWorkerEvents(db, TC, n, 10), []);
    // Another partition has its own seq space.
    const other = await db.transaction((tx) => journalWorkerEvents(tx, events("transcode|oceania", [transcodeJob(W1, 1, { region: "oceania" })])));
    assert.equal(seqsOf(other.inserted), [1]);
  });

  t("event journal - an event it cannot store fails prepare with an error naming it", async () => {
    const ok = parseWorkerEvent(transcodeJob(W1, 1), TC);
    const bad = { ...ok, id: "x\u0000y" } as WorkerEvent;
    assert.throws(() => prepareWorkerEvents([ok, bad]), /event 1 \(ID .*\): ID contains U\+0000/);
    const surrogate = { ...ok, id: "ok-id", ethAddress: "0x\ud800" } as WorkerEvent;
    assert.throws(() => prepareWorkerEvents([surrogate]), /payload contains a lone UTF-16 surrogate/);
  });

  t("processed jobs - one chunk row per write set; the view shows one row per job as the table it replaced", async (db) => {
    const state = initialPartitionState(AI, options);
    applyEvents(state, events(AI, [aiReceived(W1, "q1", { id: "e1" }), aiProcessed("q1", 500, { id: "e2", responseTimeNs: 1_500_000_000 }), aiProcessed("q2", 7, { id: "e3" })]));
    state.offset = 3;
    const first = takeWriteSet(state, null, true, 1);
    applyEvents(state, events(AI, [aiProcessed("q3", 9, { id: "e4", dt: "2025-03-01T00:00:00Z" })])); // e3 and e4 wait; e3 expires (TTL)
    state.offset = 4;
    const second = takeWriteSet(state, null, true, 2);
    await db.transaction((tx) => saveMerged(tx, mergeWriteSets(AI, [first, second])!));
    const chunks = await db.query<{ through_offset: string; job_count: number }>("SELECT through_offset, job_count FROM worker_processed_job_chunks ORDER BY through_offset");
    assert.equal(chunks.rows.map((r) => [Number(r.through_offset), Number(r.job_count)]), [[3, 1], [4, 1]]);
    const jobs = await db.query(
      `SELECT event_id, partition_id, eth_address, node_type, request_id, model_id, pipeline, dt, compute_units::text, price_per_compute_unit::text,
              fees::text, response_time_ms, response_time_raw::text, real_time_ratio, attributed, reason
       FROM worker_processed_jobs ORDER BY event_id`,
    );
    assert.equal(jobs.rows, [
      {
        event_id: "e2", partition_id: AI, eth_address: W1, node_type: "ai", request_id: "q1", model_id: "ByteDance/SDXL-Lightning", pipeline: "text-to-image",
        dt: new Date("2025-02-27T12:00:05Z"), compute_units: "1048576", price_per_compute_unit: "750", fees: "500", response_time_ms: 1500, response_time_raw: "1500000000",
        real_time_ratio: null, attributed: true, reason: null,
      },
      {
        event_id: "e3", partition_id: AI, eth_address: null, node_type: "ai", request_id: "q2", model_id: "ByteDance/SDXL-Lightning", pipeline: "text-to-image",
        dt: new Date("2025-02-27T12:00:05Z"), compute_units: "1048576", price_per_compute_unit: "750", fees: "7", response_time_ms: 2500, response_time_raw: "2500000000",
        real_time_ratio: null, attributed: false, reason: "ttl",
      },
    ]);
    // The recompute reads only this partition's attributed jobs.
    const tc = initialPartitionState(TC, options);
    applyEvents(tc, events(TC, [transcodeJob(W2, 40), transcodeJob(W3, 8, { responseTime: 0 })]));
    tc.offset = 2;
    await db.transaction((tx) => saveMerged(tx, mergeWriteSets(TC, [takeWriteSet(tc, null, true, 3)])!));
    const report = (await readPerformanceInputs(db, AI)).report();
    assert.equal(report.ai_performance.map((r) => [r.eth_address, r.job_count, r.total_fees, r.response_time_ms.median]), [[W1, 1, "500", 1500]]);
    assert.equal(report.transcode_performance, []);
    assert.equal((await readPerformanceInputs(db, TC)).report().transcode_performance.map((r) => r.eth_address).sort(), [W2, W3].sort());
  });

  t(
    "migration 0202 - events and jobs stored before it move over: same events, IDs, seqs, jobs and performance",
    async (db) => {
      // The journal and the jobs as 0200/0201 stored them.
      const stored = events(TC, [transcodeJob(W1, 100, { id: "m-1" }), connected(W2, "10.0.0.2:1", { id: "m-2" }), transcodeJob(W2, 40, { id: "m-3", responseTime: 333 })]);
      await db.transaction((tx) =>
        appendToJournal(tx, WORKER_PARTITION_KIND, stored.map((ev) => ({ partition: journalBucket(TC), entityId: TC, naturalKey: ev.id, eventType: ev.type, payload: ev }))),
      );
      const state = initialPartitionState(TC, options);
      applyEvents(state, stored);
      const ai = initialPartitionState(AI, options);
      applyEvents(ai, events(AI, [aiReceived(W1, "mq1"), aiProcessed("mq1", 50, { responseTimeNs: 700_000_000 }), aiProcessed("mq2", 9, { modelID: "m2" }), aiProcessed("mq3", 3, { dt: "2025-03-02T00:00:00Z" })]));
      assert.equal(ai.changes.jobs.map((j) => [j.attributed, j.reason]), [[true, null], [false, "ttl"]], "an attributed and an unattributed AI job");
      for (const [pid, j] of [...state.changes.jobs.map((j) => [TC, j] as const), ...ai.changes.jobs.map((j) => [AI, j] as const)]) {
        await db.query(
          `INSERT INTO worker_processed_jobs (event_id, partition_id, eth_address, node_type, request_id, model_id, pipeline, dt, compute_units, price_per_compute_unit, fees, response_time_ms, response_time_raw, real_time_ratio, attributed, reason)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8::timestamptz, $9, $10::numeric, $11::numeric, $12, $13, $14, $15, $16)`,
          [j.eventId, pid, j.ethAddress, j.nodeType, j.requestID, j.modelID, j.pipeline, new Date(j.dtMs).toISOString(), j.computeUnits, j.pricePerComputeUnit, j.fees, j.responseTimeMs, j.responseTimeRaw, j.realTimeRatio, j.attributed, j.reason],
        );
      }
      const jobsSql =
        "SELECT event_id, partition_id, eth_address, node_type, request_id, model_id, pipeline, dt, compute_units::text, price_per_compute_unit::text, fees::text, response_time_ms, response_time_raw::text, real_time_ratio, attributed, reason FROM worker_processed_jobs ORDER BY event_id";
      const jobsBefore = (await db.query(jobsSql)).rows;
      await migrate(db);
      assert.equal((await readWorkerEvents(db, TC, 0, 10)).map((e) => [e.seq, e.event]), stored.map((ev, i) => [i + 1, JSON.parse(JSON.stringify(ev))]));
      assert.equal((await db.query<{ n: string }>("SELECT count(*)::text AS n FROM strata_journal WHERE kind = 'worker-partition'")).rows[0].n, "0");
      assert.equal((await db.query(jobsSql)).rows, jobsBefore);
      assert.equal((await readPerformanceInputs(db, TC)).report(), computePerformance(state.changes.jobs.map((j) => ({ ...j, ethAddress: j.ethAddress! }))));
      const aiReport = (await readPerformanceInputs(db, AI)).report();
      assert.equal(aiReport, computePerformance(ai.changes.jobs.filter((j) => j.attributed).map((j) => ({ ...j, ethAddress: j.ethAddress! }))));
      assert.equal(aiReport.ai_performance.map((r) => [r.eth_address, r.model_pipeline, r.total_fees]), [[W1, "ByteDance/SDXL-Lightning | text-to-image", "50"]]);
      // The journal goes on after the moved events; their IDs stay journaled.
      const next = await db.transaction((tx) => journalWorkerEvents(tx, events(TC, [transcodeJob(W1, 1, { id: "m-1" }), transcodeJob(W1, 2, { id: "m-4" })])));
      assert.equal([next.inserted.map((e) => [e.seq, e.event.id]), next.duplicates], [[[4, "m-4"]], 1]);
    },
    { maxVersion: 201 },
  );

  t("event journal - journal and job texts are stored lz4-compressed where the server has lz4 (0203), and read back unchanged", async (db) => {
    const many = events(TC, Array.from({ length: 600 }, (_, i) => transcodeJob(W1, i + 1, { id: `lz-${String(i).padStart(4, "0")}` })));
    await db.transaction((tx) => journalWorkerEvents(tx, many));
    const state = initialPartitionState(TC, options);
    applyEvents(state, many);
    state.offset = many.length;
    await db.transaction((tx) => saveMerged(tx, mergeWriteSets(TC, [takeWriteSet(state, null, true, 1)])!));
    const methods = await db.query<{ journal: string | null; jobs: string | null; perf: string | null }>(
      `SELECT (SELECT max(pg_column_compression(events)) FROM worker_event_journal) AS journal,
              (SELECT max(pg_column_compression(jobs)) FROM worker_processed_job_chunks) AS jobs,
              (SELECT max(pg_column_compression(perf)) FROM worker_processed_job_chunks) AS perf`,
    );
    // PostgreSQL (Debian's, built with lz4) compresses; PGlite has no lz4, and 0203 leaves its columns as they were.
    const expected = engine.name === "pglite" ? null : "lz4";
    assert.equal(methods.rows[0], { journal: expected, jobs: expected, perf: expected });
    assert.equal((await readWorkerEvents(db, TC, 0, 1000)).map((e) => e.event), JSON.parse(JSON.stringify(many)));
    assert.is((await db.query<{ n: string }>("SELECT count(*)::text AS n FROM worker_processed_jobs")).rows[0].n, "600");
  });
}

test.run();
