/** worker-partition actor kind on real Postgres and PGlite: journal, derived tables, fee ledger. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { testEngines } from "../../support/databases.ts";
import { migrate } from "../../../db/migrate.ts";
import type { Db } from "../../../db/db.ts";
import { parseWorkerEvent } from "../../../actors/worker-partition/events.ts";
import { journalWorkerEvents } from "../../../actors/worker-partition/journal.ts";
import { createWorkerPartitionKind, type CatchUpReply } from "../../../actors/worker-partition/kind.ts";
import type { PartitionSummary } from "../../../actors/worker-partition/summary.ts";
import { KindHarness } from "./kind-harness.ts";
import { mergeWriteSets, resetPartitionState, saveMerged } from "../../../actors/worker-partition/store.ts";
import { applyEvents, initialPartitionState } from "../../../actors/worker-partition/partition-state.ts";
import { takeWriteSet } from "../../../actors/worker-partition/write-set.ts";
import { JournalTail } from "../../../actors/worker-partition/journal-tail.ts";
import { W1, W2, W3, aiProcessed, aiReceived, connected, disconnected, transcodeJob } from "./events-fixture.ts";

const TC = "transcode|us-central";
const AI = "ai|us-central";
const options = { commissionBps: 2500, correlationTtlMs: 24 * 3_600_000 };

async function journal(db: Db, partition: string, raws: Record<string, unknown>[]) {
  const events = raws.map((r) => parseWorkerEvent(r, partition));
  return db.transaction((tx) => journalWorkerEvents(tx, events));
}

async function ledger(db: Db, partition: string): Promise<Record<string, string>> {
  const res = await db.query<{ eth_address: string; earned_wei: string }>(
    "SELECT eth_address, earned_wei::text FROM worker_fee_ledger WHERE partition_id = $1 ORDER BY eth_address",
    [partition],
  );
  return Object.fromEntries(res.rows.map((r) => [r.eth_address, r.earned_wei]));
}

async function tables(db: Db, partition: string) {
  const q = async (sql: string) => (await db.query(sql, [partition])).rows;
  return {
    fees: await q("SELECT eth_address, total_fees::text, pool_commission::text, worker_earnings::text, job_count FROM worker_fees WHERE partition_id = $1 ORDER BY eth_address"),
    ledger: await q("SELECT eth_address, earned_wei::text FROM worker_fee_ledger WHERE partition_id = $1 ORDER BY eth_address"),
    connections: await q("SELECT eth_address, connections, is_active, last_seen FROM worker_connections WHERE partition_id = $1 ORDER BY eth_address"),
    correlation: await q("SELECT request_id, side, body FROM worker_ai_correlation WHERE partition_id = $1 ORDER BY request_id, side"),
    jobs: await q("SELECT event_id, eth_address, fees::text, attributed, reason FROM worker_processed_jobs WHERE partition_id = $1 ORDER BY event_id"),
    performance: await q("SELECT category, model_pipeline, eth_address, rank, percentile, metrics FROM worker_performance WHERE partition_id = $1 ORDER BY 1, 2, 4"),
    summary: await q("SELECT summary FROM worker_summary WHERE partition_id = $1"),
    state: await q("SELECT journal_offset, events_applied, watermark, unattributed_jobs, unattributed_fees::text FROM worker_partition_state WHERE partition_id = $1"),
  };
}

for (const engine of testEngines) {
  const t = (name: string, fn: (db: Db) => Promise<void>) =>
    test(`${name} [${engine.name}]`, async () => {
      const { db, drop } = await engine.create();
      try {
        await migrate(db);
        await fn(db);
      } finally {
        await drop();
      }
    });

  t("defect 3 - a re-delivered file does not double fees", async (db) => {
    const file = [transcodeJob(W1, 1_000_000), transcodeJob(W2, 10), connected(W1, "10.0.0.1:1")];
    const first = await journal(db, TC, file);
    assert.is(first.inserted.length, 3);
    const kind = createWorkerPartitionKind(options);
    const h = new KindHarness(kind, db);
    const reply = (await h.send(TC, "catch-up")) as CatchUpReply;
    assert.is(reply.eventsApplied, 3);
    const again = await journal(db, TC, file);
    assert.is(again.inserted.length, 0);
    assert.is(again.duplicates, 3);
    await h.send(TC, "notify");
    assert.equal(await ledger(db, TC), { [W1]: "750000", [W2]: "8" });
    const summary = (await h.send(TC, "summary")) as PartitionSummary;
    assert.is(summary.aggregates.total_fees, "1000010");
    assert.is(summary.aggregates.active_workers, 1);
  });

  t("defect 1 - ingest never pays: only the fee ledger is written", async (db) => {
    await journal(db, TC, [transcodeJob(W1, "20000000000000000")]);
    await new KindHarness(createWorkerPartitionKind(options), db).send(TC, "catch-up");
    assert.equal(await ledger(db, TC), { [W1]: "15000000000000000" });
    const paymentTables = await db.query<{ t: string | null }>("SELECT to_regclass('payment_wal')::text AS t");
    if (paymentTables.rows[0].t) {
      const wal = await db.query<{ n: string }>("SELECT count(*)::text AS n FROM payment_wal");
      assert.is(wal.rows[0].n, "0");
    }
  });

  t("defect 6 - a pending AI correlation survives a restart and matches in a later batch", async (db) => {
    await journal(db, AI, [aiProcessed("req-1", 786432000, { dt: "2025-02-27T12:00:07Z" }), aiReceived(W3, "keep", { dt: "2025-02-27T12:00:07Z" })]);
    const h1 = new KindHarness(createWorkerPartitionKind(options), db);
    await h1.send(AI, "catch-up");
    assert.equal(await ledger(db, AI), {});
    const corr = await db.query<{ request_id: string; side: string }>("SELECT request_id, side FROM worker_ai_correlation ORDER BY 1");
    assert.equal(corr.rows.map((r) => [r.request_id, r.side]), [["keep", "received"], ["req-1", "processed"]]);
    // a new kind instance: everything is reloaded from the tables
    await journal(db, AI, [aiReceived(W2, "req-1", { dt: "2025-02-27T12:00:09Z" })]);
    const h2 = new KindHarness(createWorkerPartitionKind(options), db);
    await h2.send(AI, "catch-up");
    assert.equal(await ledger(db, AI), { [W2]: "589824000" });
    const left = await db.query<{ request_id: string }>("SELECT request_id FROM worker_ai_correlation ORDER BY 1");
    assert.equal(left.rows.map((r) => r.request_id), ["keep"]);
    const perf = await db.query<{ model_pipeline: string; eth_address: string; rank: number }>("SELECT model_pipeline, eth_address, rank FROM worker_performance");
    assert.equal(perf.rows, [{ model_pipeline: "ByteDance/SDXL-Lightning | text-to-image", eth_address: W2, rank: 1 }]);
  });

  t("defect 12 - a failed commit leaves the previous state and the retry counts fees once", async (db) => {
    const h = new KindHarness(createWorkerPartitionKind(options), db);
    await journal(db, TC, [transcodeJob(W1, 100)]);
    await h.send(TC, "catch-up");
    await journal(db, TC, [transcodeJob(W1, 40), disconnected(W2, "x:1")]);
    let failed = false;
    try {
      await h.send(TC, "catch-up", {}, { failSave: true });
    } catch {
      failed = true;
    }
    assert.ok(failed);
    assert.equal(await ledger(db, TC), { [W1]: "75" }, "the failed transaction wrote nothing");
    await h.send(TC, "catch-up");
    assert.equal(await ledger(db, TC), { [W1]: "105" });
    const state = await db.query<{ journal_offset: string }>("SELECT journal_offset FROM worker_partition_state");
    assert.is(state.rows[0].journal_offset, "3");
  });

  t("defect 11 - raw events are persisted in the journal before any derived state", async (db) => {
    await journal(db, TC, [transcodeJob(W1, 12, { id: "11111111-1111-4111-8111-111111111111" })]);
    const ids = await db.query<{ event_id: string; partition: number; seq: string }>("SELECT event_id, partition, seq FROM worker_event_ids");
    assert.equal(ids.rows.map((r) => [r.event_id, Number(r.partition), Number(r.seq)]), [["11111111-1111-4111-8111-111111111111", 1, 1]]);
    const rows = await db.query<{ first_seq: string; last_seq: string; events: string }>("SELECT first_seq, last_seq, events FROM worker_event_journal");
    assert.equal(
      rows.rows.map((r) => [Number(r.first_seq), Number(r.last_seq), (JSON.parse(r.events) as { id: string; partitionId: string; type: string; fees: string; ethAddress: string }[]).map((e) => [e.id, e.partitionId, e.type, e.fees, e.ethAddress])]),
      [[1, 1, [["11111111-1111-4111-8111-111111111111", TC, "job-processed", "12", W1]]]],
    );
    assert.equal(await ledger(db, TC), {}, "no derived state until the actor applies it");
  });

  t("defect 5 - a fresh actor reloads its state from the tables, exactly", async (db) => {
    await journal(db, AI, [connected(W1, "c1", { nodeType: "ai" }), aiReceived(W1, "r1"), aiProcessed("r1", 1000), aiProcessed("r2", 5), aiReceived(W2, "r3")]);
    const before = (await new KindHarness(createWorkerPartitionKind(options), db).send(AI, "summary")) as PartitionSummary;
    assert.is(before.aggregates.total_fees, "1000");
    const kind = createWorkerPartitionKind(options);
    const loaded = (await kind.load(db, [AI])).get(AI)!;
    assert.is(loaded.offset, 5);
    assert.equal([...loaded.correlation.waiting.keys()], ["r2"]);
    assert.equal([...loaded.correlation.received.keys()], ["r3"]);
    assert.equal((await new KindHarness(kind, db).send(AI, "summary")) as PartitionSummary, before);
  });

  t("defect 14 - dedupe lives in the journal index: actor state does not grow with events", async (db) => {
    const h = new KindHarness(createWorkerPartitionKind(options), db);
    const size = async () => {
      const s = (await h.activate(TC)) as unknown as { fees: Map<string, unknown>; connections: Map<string, unknown>; correlation: { received: Map<string, unknown>; waiting: Map<string, unknown> } };
      return s.fees.size + s.connections.size + s.correlation.received.size + s.correlation.waiting.size;
    };
    await journal(db, TC, Array.from({ length: 10 }, (_, i) => transcodeJob(i % 2 ? W1 : W2, 10 + i)));
    await h.send(TC, "notify");
    const small = await size();
    await journal(db, TC, Array.from({ length: 1000 }, (_, i) => transcodeJob(i % 2 ? W1 : W2, 10 + i)));
    await h.send(TC, "notify");
    assert.is(await size(), small);
    assert.is(small, 2);
  });

  t("replay equals live - rebuilding a partition from its journal gives the same tables", async (db) => {
    const h = new KindHarness(createWorkerPartitionKind(options), db);
    const batches = [
      [connected(W1, "c1", { nodeType: "ai", dt: "2025-02-27T10:00:00Z" }), aiProcessed("a", 500, { dt: "2025-02-27T10:00:01Z" }), aiReceived(W1, "b", { dt: "2025-02-27T10:00:02Z" })],
      [aiReceived(W2, "a", { dt: "2025-02-27T10:00:03Z" }), aiProcessed("b", 70, { dt: "2025-02-27T10:00:04Z", responseTimeNs: 900_000_000 }), aiProcessed("z", 9, { dt: "2025-02-27T10:00:05Z" })],
      [disconnected(W1, "c1", { nodeType: "ai", dt: "2025-02-27T11:00:00Z" }), aiReceived(W3, "q", { dt: "2025-02-28T11:00:00Z" })],
    ];
    for (const b of batches) {
      await journal(db, AI, b);
      await h.send(AI, "notify");
    }
    const live = await tables(db, AI);
    assert.equal(live.ledger, [{ eth_address: W1, earned_wei: "53" }, { eth_address: W2, earned_wei: "375" }]);
    assert.equal((live.state[0] as { unattributed_fees: string }).unattributed_fees, "9");
    await db.transaction((tx) => resetPartitionState(tx, AI));
    assert.equal((await tables(db, AI)).ledger, []);
    await new KindHarness(createWorkerPartitionKind({ ...options, readChunk: 2 }), db).send(AI, "catch-up");
    const replayed = await tables(db, AI);
    assert.equal(replayed, live);
  });

  t("kind - journaled applies at once and leaves the performance recompute to the next catch-up", async (db) => {
    const h = new KindHarness(createWorkerPartitionKind(options), db);
    await h.send(TC, "summary"); // activated before the events exist (activation recomputes)
    await journal(db, TC, [transcodeJob(W1, 100), transcodeJob(W2, 40)]);
    const reply = (await h.send(TC, "journaled")) as CatchUpReply;
    assert.is(reply.eventsApplied, 2);
    assert.equal(await ledger(db, TC), { [W1]: "75", [W2]: "30" });
    assert.is((await tables(db, TC)).performance.length, 0, "no recompute yet");
    // Nothing new, but the recompute is owed: the catch-up does it.
    await h.send(TC, "catch-up");
    const perf = (await tables(db, TC)).performance as { eth_address: string }[];
    assert.equal(perf.map((r) => r.eth_address).sort(), [W1, W2].sort());
    const live = await tables(db, TC);
    await db.transaction((tx) => resetPartitionState(tx, TC));
    await new KindHarness(createWorkerPartitionKind(options), db).send(TC, "catch-up");
    assert.equal(await tables(db, TC), live);
  });

  t("kind - journaled applies the tail without reading the journal and leaves the summary to the next catch-up", async (db) => {
    const tail = new JournalTail();
    // Statements that read the journal, seen through the actor's db.
    const journalReads: string[] = [];
    const recording: Db = {
      dialect: db.dialect,
      query: (sql, params) => {
        if (/\bFROM worker_event_journal\b/.test(sql)) journalReads.push(sql);
        return db.query(sql, params);
      },
      transaction: (fn) => db.transaction(fn),
      close: () => db.close(),
    };
    const h = new KindHarness(createWorkerPartitionKind({ ...options, tail }), recording);
    await h.send(TC, "catch-up"); // activated before the events exist
    const events = [transcodeJob(W1, 100), connected(W2, "10.0.0.2:1")].map((r) => parseWorkerEvent(r, TC));
    const appended = await db.transaction((tx) => journalWorkerEvents(tx, events));
    tail.add(TC, appended.inserted[0].seq, events);
    journalReads.length = 0;
    const reply = (await h.send(TC, "journaled")) as CatchUpReply;
    assert.is(reply.eventsApplied, 2);
    assert.equal(journalReads, [], "every event came from the tail");
    assert.equal(await ledger(db, TC), { [W1]: "75" });
    assert.equal((await tables(db, TC)).summary, [], "no summary written by journaled");
    // The catch-up reads the journal to its end and writes the summary, though nothing is new.
    await h.send(TC, "catch-up");
    assert.ok(journalReads.length > 0, "catch-up reads the journal past the tail");
    const live = (await h.send(TC, "summary")) as PartitionSummary;
    assert.equal((await tables(db, TC)).summary, [{ summary: JSON.parse(JSON.stringify(live)) }]);
    assert.is(live.aggregates.total_workers, 2);
  });

  t("kind - a summary left behind by journaled is written at the next activation", async (db) => {
    const tail = new JournalTail();
    const h = new KindHarness(createWorkerPartitionKind({ ...options, tail }), db);
    await h.send(TC, "catch-up");
    const events = [transcodeJob(W1, 100), connected(W2, "10.0.0.2:1")].map((r) => parseWorkerEvent(r, TC));
    const appended = await db.transaction((tx) => journalWorkerEvents(tx, events));
    tail.add(TC, appended.inserted[0].seq, events);
    await h.send(TC, "journaled");
    assert.equal((await tables(db, TC)).summary, []);
    // A restart (crash) before the catch-up: the loaded actor owes the summary and writes it.
    const restarted = new KindHarness(createWorkerPartitionKind(options), db);
    const live = (await restarted.send(TC, "summary")) as PartitionSummary;
    assert.equal((await tables(db, TC)).summary, [{ summary: JSON.parse(JSON.stringify(live)) }]);
    assert.is(live.aggregates.total_workers, 2);
  });

  t("store - a write set saved again leaves the tables as they were (stored jobs are skipped)", async (db) => {
    const state = initialPartitionState(TC, options);
    const events = [transcodeJob(W1, 100), transcodeJob(W2, 40), connected(W1, "10.0.0.1:1")].map((r) => parseWorkerEvent(r, TC));
    applyEvents(state, events);
    state.offset = 3;
    const first = takeWriteSet(state, null, true, 1);
    await db.transaction((tx) => saveMerged(tx, mergeWriteSets(TC, [first])!));
    const saved = await tables(db, TC);
    assert.is(saved.jobs.length, 2);
    // The same write set again, then with a newer one holding one more job: one statement set
    // meets stored jobs and must skip them (not fail the transaction, not duplicate them).
    await db.transaction((tx) => saveMerged(tx, mergeWriteSets(TC, [first])!));
    assert.equal(await tables(db, TC), saved);
    applyEvents(state, [parseWorkerEvent(transcodeJob(W2, 8), TC)]);
    state.offset = 4;
    const second = takeWriteSet(state, null, true, 2);
    await db.transaction((tx) => saveMerged(tx, mergeWriteSets(TC, [first, second])!));
    const after = await tables(db, TC);
    assert.is(after.jobs.length, 3);
    assert.equal(await ledger(db, TC), { [W1]: "75", [W2]: "36" });
  });

  t("kind - events applied from the journal tail give the tables a replay from the journal gives", async (db) => {
    const tail = new JournalTail();
    const h = new KindHarness(createWorkerPartitionKind({ ...options, tail }), db);
    const batches = [
      [connected(W1, "c1", { nodeType: "ai", dt: "2025-02-27T10:00:00Z" }), aiProcessed("a", 500, { dt: "2025-02-27T10:00:01Z" }), aiReceived(W1, "b", { dt: "2025-02-27T10:00:02Z" })],
      [aiReceived(W2, "a", { dt: "2025-02-27T10:00:03Z" }), aiProcessed("b", 70, { dt: "2025-02-27T10:00:04Z", responseTimeNs: 900_000_000 }), aiProcessed("z", 9, { dt: "2025-02-27T10:00:05Z" })],
      [disconnected(W1, "c1", { nodeType: "ai", dt: "2025-02-27T11:00:00Z" }), aiReceived(W3, "q", { dt: "2025-02-28T11:00:00Z" })],
    ];
    for (const raws of batches) {
      const events = raws.map((r) => parseWorkerEvent(r, AI));
      const appended = await db.transaction((tx) => journalWorkerEvents(tx, events));
      tail.add(AI, appended.inserted[0].seq, events);
      assert.is(tail.size(AI) > 0, true);
      await h.send(AI, "catch-up");
      assert.is(tail.size(AI), 0, "applied events leave the tail");
    }
    const live = await tables(db, AI);
    assert.equal(live.ledger, [{ eth_address: W1, earned_wei: "53" }, { eth_address: W2, earned_wei: "375" }]);
    await db.transaction((tx) => resetPartitionState(tx, AI));
    await new KindHarness(createWorkerPartitionKind({ ...options, readChunk: 2 }), db).send(AI, "catch-up");
    assert.equal(await tables(db, AI), live);
  });
}

test.run();
