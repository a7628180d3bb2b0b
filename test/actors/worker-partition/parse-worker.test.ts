/**
 * Preparing event files off the main thread (Stop 9): the event columns that carry events back,
 * the journal pieces packed into rows, the parse worker thread (node:worker_threads, on Node under
 * tsx and on Deno), and ingest through it giving the tables ingest in this thread gives.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { fileURLToPath } from "node:url";
import { readFile, readdir } from "node:fs/promises";
import pino from "pino";
import { W1, W2, aiProcessed, aiReceived, connected, disconnected, envelope, reset, transcodeJob } from "./events-fixture.ts";
import { parseEventFile } from "../../../actors/worker-partition/event-file.ts";
import type { WorkerEvent } from "../../../actors/worker-partition/events.ts";
import { decodeEventColumns, encodeEventColumns } from "../../../actors/worker-partition/event-columns.ts";
import { EVENTS_PER_ROW, WORKER_PARTITION_KIND, journalJsonBytes, journalJsonText, journalPieces, prepareJournalPieces, prepareWorkerEvents } from "../../../actors/worker-partition/journal.ts";
import { inThreadParser, prepareEventFile, preparedEvents, preparedFileTransfers, type PreparedEventFile } from "../../../actors/worker-partition/prepared-event-file.ts";
import { ParseWorkerThread } from "../../../actors/worker-partition/parse-worker-thread.ts";
import { importWorkerPartitionPath } from "../../../actors/worker-partition/import-files.ts";
import { createWorkerPartitionKind } from "../../../actors/worker-partition/kind.ts";
import { JournalTail } from "../../../actors/worker-partition/journal-tail.ts";
import { testEngines } from "../../support/databases.ts";
import { migrate } from "../../../db/migrate.ts";
import { DeadLetterStore, listDeadLetters } from "../../../db/dead-letter-store.ts";
import { ActorSystem } from "../../../supervisors/actor-system.ts";
import { systemClock } from "../../../supervisors/clock.ts";
import type { Db } from "../../../db/db.ts";
import { spawn } from "node:child_process";
import { RetryableError } from "../../../protocols/errors.ts";
import { currentRuntime, runtimeCommand } from "../../support/services.ts";
import { rejectionMessage } from "../../support/rejection.ts";

const SAMPLES = fileURLToPath(new URL("../../../samples/worker-partition/", import.meta.url));
const ZERO = "0x0000000000000000000000000000000000000000";

/** One file of every event type the journal holds, for `partition`. */
function everyType(region = "us-central"): { transcode: string; ai: string } {
  const t = { region };
  const transcode = [
    connected(W1, "10.0.0.1:8935", t),
    transcodeJob(W1, 2_488_320_000, t),
    transcodeJob(W1, 0, { ...t, responseTime: 0, duration: 0 }),
    { ...transcodeJob(W2, 5, t), Payload: { computeUnits: -0, ethAddress: W2, fees: 5, pricePerComputeUnit: 1, responseTime: 700 } },
    transcodeJob(ZERO, 100, t),
    disconnected(W1, "10.0.0.1:8935", t),
    reset(t),
    envelope("ticket-redeemed", { anything: 1 }, t),
  ];
  const a = { nodeType: "ai", region };
  const ai = [
    aiReceived(W1, "r1", a),
    aiProcessed("r1", 1_000_000, a),
    { ...aiProcessed("r2", 7, a), Payload: { ...aiProcessed("r2", 7, a).Payload as object, ethAddress: W2 } },
    envelope("gateway-reset", {}, a),
  ];
  // JSON.stringify writes −0 as 0: the producer's text may hold "-0", which JSON.parse reads as −0.
  const transcodeText = JSON.stringify(transcode).replace('"computeUnits":0,', '"computeUnits":-0,');
  if (!transcodeText.includes("-0,")) throw new Error("fixture: no -0 in the text");
  return { transcode: transcodeText, ai: JSON.stringify(ai) };
}

/** What the journal holds for these events, read back. */
const readBack = (events: readonly WorkerEvent[]) => JSON.parse(JSON.stringify(events)) as WorkerEvent[];

test("event columns - every event type rebuilds the values its journal JSON reads back", () => {
  const files = everyType();
  for (const [text, pid] of [[files.transcode, "transcode|us-central"], [files.ai, "ai|us-central"]] as const) {
    const { events, rejected } = parseEventFile(text, pid, "test");
    assert.equal(rejected, []);
    const columns = encodeEventColumns(events);
    assert.ok(columns, pid);
    const decoded = decodeEventColumns(structuredClone(columns!));
    assert.equal(decoded, readBack(events), pid);
    // Field order too (what a JSON text of them shows), and −0 read from a file comes back 0, as from the journal.
    assert.is(JSON.stringify(decoded), JSON.stringify(events), pid);
    if (pid.startsWith("transcode")) assert.ok(events.some((ev) => "computeUnits" in ev && Object.is(ev.computeUnits, -0)), "the file's −0 reached the parsed events");
    for (const ev of decoded) for (const v of Object.values(ev)) assert.ok(!Object.is(v, -0), `${ev.id} holds −0`);
  }
});

test("event columns - an event with a field the columns do not know, or of another partition, crosses as JSON", () => {
  const { events } = parseEventFile(everyType().transcode, "transcode|us-central", "test");
  // Counted on the first event of each type in the file (a file's events of one type share their shape).
  assert.is(encodeEventColumns([events[0], { ...events[1], extra: 1 } as unknown as WorkerEvent, events[2]]), null);
  const { pricePerComputeUnit: _dropped, ...missing } = events[1] as Extract<WorkerEvent, { nodeType: "transcode" }>;
  assert.is(encodeEventColumns([missing as unknown as WorkerEvent]), null);
  assert.is(encodeEventColumns([events[0], { ...events[1], partitionId: "transcode|us-west" } as WorkerEvent]), null);
  assert.is(encodeEventColumns([]), null);
});

/** Transcode events of one partition, `n` of them, from file `f`. */
function fileEvents(f: number, n: number): WorkerEvent[] {
  const records = Array.from({ length: n }, (_, i) => transcodeJob(W1, 1000 + i, { id: `${String(f).padStart(8, "0")}-0000-4000-8000-${String(i).padStart(12, "0")}` }));
  return parseEventFile(JSON.stringify(records), "transcode|us-central", "test").events;
}

test("journal pieces - files packed into rows of at most EVENTS_PER_ROW hold the batch's events in order", () => {
  const files = [fileEvents(1, 300), fileEvents(2, 800), fileEvents(3, 2500), fileEvents(4, 50), fileEvents(5, 150)];
  const pieces = files.flatMap((evs) => journalPieces(evs));
  assert.equal(pieces.map((p) => p.count), [300, 800, 1000, 1000, 500, 50, 150]);
  const events = files.flat();
  const prepared = prepareJournalPieces(events, pieces);
  assert.ok(prepared.rows);
  assert.equal(prepared.rows!.map((r) => r.end - r.start), [300, 800, 1000, 1000, 700]);
  let at = 0;
  for (const row of prepared.rows!) {
    assert.is(row.start, at);
    assert.ok(row.end - row.start <= EVENTS_PER_ROW);
    assert.equal(JSON.parse(journalJsonText(row.text)), readBack(events.slice(row.start, row.end)));
    at = row.end;
  }
  assert.is(at, events.length);
  assert.equal(prepared.buckets, new Array(events.length).fill(1));
  // One batch serialised at once gives the same events, in rows of EVENTS_PER_ROW.
  const whole = prepareWorkerEvents(events);
  assert.equal(whole.rows!.map((r) => r.end - r.start), [1000, 1000, 1000, 800]);
  assert.equal(whole.rows!.flatMap((r) => JSON.parse(journalJsonText(r.text)) as WorkerEvent[]), readBack(events));
  // Pieces as the parse worker sends them (UTF-8 bytes), or some of each: the same rows, as bytes.
  const asBytes = pieces.map((p, i) => (i % 2 === 0 ? { ...p, text: journalJsonBytes(p.text) } : p));
  const fromBytes = prepareJournalPieces(events, asBytes);
  assert.equal(fromBytes.rows!.map((r) => [r.start, r.end]), prepared.rows!.map((r) => [r.start, r.end]));
  for (let i = 0; i < fromBytes.rows!.length; i++) {
    const r = fromBytes.rows![i];
    // Rows 0-3 are pieces 0-3 as given; row 4 joins pieces 4 (bytes), 5 (text) and 6 (bytes).
    assert.is(r.text instanceof Uint8Array, [true, false, true, false, true][i], `row ${i}: bytes when a piece of it is bytes`);
    assert.is(journalJsonText(r.text), journalJsonText(prepared.rows![i].text), `row ${i}: the same JSON text`);
  }
  assert.throws(() => prepareJournalPieces(events.slice(1), pieces), /pieces hold 3800 events, 3799 given/);
});

test("journal pieces - events of several partitions are cut at each change and the batch has no prepared rows", () => {
  const us = fileEvents(1, 3);
  const west = parseEventFile(JSON.stringify([transcodeJob(W2, 1, { region: "us-west" })]), "transcode|us-west", "test").events;
  const events = [...us.slice(0, 2), ...west, us[2]];
  const pieces = journalPieces(events);
  assert.equal(pieces.map((p) => [p.bucket, p.count]), [[1, 2], [2, 1], [1, 1]]);
  const prepared = prepareJournalPieces(events, pieces);
  assert.is(prepared.rows, null);
  assert.equal(prepared.buckets, [1, 1, 2, 1]);
});

/** A prepared file as the main thread uses it: its events (rebuilt or parsed), pieces (their JSON as text), dead letters. */
function used(file: PreparedEventFile) {
  const pieces = file.pieces.map((p) => ({ ...p, text: journalJsonText(p.text) }));
  return { events: readBack(preparedEvents(file)), pieces, rejected: file.rejected, refused: file.refused };
}

async function sampleFiles(): Promise<{ text: string; partitionId: string; source: string }[]> {
  const out: { text: string; partitionId: string; source: string }[] = [];
  for (const [region, nodeType] of [["us-central", "ai"], ["us-central", "transcode"], ["oceania", "transcode"]]) {
    const dir = `${SAMPLES}${region}/${nodeType}/`;
    for (const name of (await readdir(dir)).sort()) out.push({ text: await readFile(dir + name, "utf-8"), partitionId: `${nodeType}|${region}`, source: name });
  }
  const files = everyType();
  out.push({ text: files.transcode, partitionId: "transcode|us-central", source: "every-type-transcode" });
  out.push({ text: files.ai, partitionId: "ai|us-central", source: "every-type-ai" });
  // Bad records beside good ones (dead letters), a long integer, a file that is not JSON, one that is not an array.
  out.push({ text: `[${JSON.stringify(transcodeJob(W1, 5))}, {"ID": "x"}, ${JSON.stringify(transcodeJob(W1, 1)).replace('"fees":1', '"fees":123456789012345678901')}]`, partitionId: "transcode|us-central", source: "bad-records" });
  out.push({ text: "[{not json", partitionId: "transcode|us-central", source: "not-json" });
  out.push({ text: '{"a": 1}', partitionId: "transcode|us-central", source: "not-array" });
  return out;
}

test("parse worker - a file prepared on the worker thread is the one prepared in this thread", async () => {
  const worker = new ParseWorkerThread();
  try {
    await worker.whenReady();
    const files = await sampleFiles();
    const onWorker = await Promise.all(files.map((f) => worker.prepare(f.text, f.partitionId, f.source)));
    assert.is(worker.counts.worker, files.length);
    assert.is(worker.counts.inThread, 0);
    for (let i = 0; i < files.length; i++) {
      const here = await inThreadParser.prepare(files[i].text, files[i].partitionId, files[i].source);
      assert.equal(used(onWorker[i]), used(here), files[i].source);
      assert.is(onWorker[i].events, undefined, "events cross as columns or JSON, never as the worker's objects");
    }
    const bad = onWorker[files.length - 3];
    assert.equal(bad.rejected.map((r) => [r.index, r.errorCode]), [[1, "validation"]]);
    assert.is((bad.rejected[0].payload as { ID: string }).ID, "x");
    assert.is(used(bad).events.length, 2);
    assert.is((used(bad).events[1] as { fees: string }).fees, "123456789012345678901");
    assert.ok(onWorker[files.length - 2].refused);
    assert.is(onWorker[files.length - 1].refused?.errorCode, "not_array");
    // The journal pieces come back as UTF-8 bytes (transferred with the reply), the JSON made here.
    for (let i = 0; i < files.length; i++) {
      const here = await inThreadParser.prepare(files[i].text, files[i].partitionId, files[i].source);
      for (const [k, piece] of onWorker[i].pieces.entries()) {
        assert.ok(piece.text instanceof Uint8Array, `${files[i].source} piece ${k} is bytes`);
        assert.is(journalJsonText(piece.text), here.pieces[k].text);
      }
      assert.is(preparedFileTransfers(onWorker[i]).length, onWorker[i].pieces.length, "each piece's buffer is its own: transferable");
    }
  } finally {
    await worker.close();
  }
});

test("parse worker - a file's bytes are handed to the worker and decoded there: the same file as its text; a view on a shared buffer is copied, not detached", async () => {
  const worker = new ParseWorkerThread();
  try {
    await worker.whenReady();
    const files = await sampleFiles();
    const encoder = new TextEncoder();
    for (const f of files) {
      const bytes = encoder.encode(f.text);
      const fromBytes = await worker.prepare(bytes, f.partitionId, f.source);
      assert.is(bytes.byteLength, 0, `${f.source}: the bytes were transferred, not copied`);
      assert.equal(used(fromBytes), used(await inThreadParser.prepare(f.text, f.partitionId, f.source)), f.source);
    }
    // A refused file's dead letter keeps its head and length, which the worker sends back.
    const refused = (await worker.prepare(encoder.encode("[{not json é"), "transcode|us-central", "not-json"))?.refused;
    assert.equal([refused?.head, refused?.length], ["[{not json é", 12]);
    // Two views on one buffer (Node's pool of small Buffers): the one sent must not detach the other.
    const shared = encoder.encode(files[0].text + files[1].text);
    const first = shared.subarray(0, encoder.encode(files[0].text).byteLength);
    const second = shared.subarray(first.byteLength);
    const fromView = await worker.prepare(first, files[0].partitionId, files[0].source);
    assert.is(second.byteLength, encoder.encode(files[1].text).byteLength, "the other view is intact");
    assert.is(new TextDecoder().decode(second), files[1].text);
    assert.equal(used(fromView), used(await inThreadParser.prepare(files[0].text, files[0].partitionId, files[0].source)));
    // A body prepared twice: its bytes are gone after the first; the second fails at once (Node
    // would post an empty message and wait forever; Deno refuses to clone a detached buffer).
    const once = encoder.encode("[]");
    await worker.prepare(once, "transcode|us-central", "once");
    const noAnswer = new Promise<never>((_, reject) => setTimeout(() => reject(new Error("no answer within 10 s")), 10_000).unref());
    assert.match(await rejectionMessage(Promise.race([worker.prepare(once, "transcode|us-central", "once"), noAnswer])), /already handed over/);
    assert.equal((await worker.prepare(new Uint8Array(0), "transcode|us-central", "empty")).refused?.errorCode, "not_json", "an empty file is bad input, not a handed-over body");
    // Invalid UTF-8 reads as U+FFFD, as the S3 client's transformToString reads it.
    const invalid = await worker.prepare(new Uint8Array([0x5b, 0xff, 0x5d]), "transcode|us-central", "invalid-utf8");
    assert.is(invalid.refused?.head, "[\ufffd]");
  } finally {
    await worker.close();
  }
});

test("parse worker - files sent before it has loaded are prepared in this thread; a worker that ended is replaced", async () => {
  const worker = new ParseWorkerThread();
  try {
    const text = JSON.stringify([transcodeJob(W1, 5)]);
    worker.start();
    const early = await worker.prepare(text, "transcode|us-central", "early");
    assert.is(worker.counts.inThread, 1);
    assert.ok(early.events, "prepared here: the event objects come along");
    await worker.whenReady();
    const late = await worker.prepare(text, "transcode|us-central", "late");
    assert.is(worker.counts.worker, 1);
    assert.equal(used(late), used(early));
    await worker.close();
    // Ended: the next file starts a new worker and is prepared here meanwhile.
    const after = await worker.prepare(text, "transcode|us-central", "after");
    assert.equal(used(after), used(early));
    await worker.whenReady();
    assert.equal(used(await worker.prepare(text, "transcode|us-central", "again")), used(early));
    assert.is(worker.counts.worker, 2);
  } finally {
    await worker.close();
  }
});

const IDLE_PROCESS = fileURLToPath(new URL("./parse-worker-idle-process.ts", import.meta.url));
const ROOT = fileURLToPath(new URL("../../../", import.meta.url));

/** Runs parse-worker-idle-process.ts on this runtime; resolves with its exit and output, or fails when it has not ended in time. */
function runIdleProcess(mode: "loading" | "loaded"): Promise<{ code: number | null; out: string }> {
  const [cmd, ...args] = runtimeCommand(currentRuntime(), IDLE_PROCESS);
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, [...args, mode], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout!.on("data", (d) => (out += String(d)));
    child.stderr!.on("data", (d) => (out += String(d)));
    // A bound, not a wait: the process ends in a second or two; one still running after this is the defect.
    const bound = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`the process did not end by itself (${mode}): ${out.slice(-1000)}`));
    }, 60_000);
    child.once("exit", (code) => {
      clearTimeout(bound);
      resolve({ code, out });
    });
  });
}

test("regression: an idle parse worker kept its process alive - a process ends by itself, the worker loading or loaded", async () => {
  const loading = await runIdleProcess("loading");
  assert.is(loading.code, 0, loading.out);
  assert.match(loading.out, /PREPARED 1 in this thread: 1/);
  const loaded = await runIdleProcess("loaded");
  assert.is(loaded.code, 0, loaded.out);
  assert.match(loaded.out, /PREPARED 1 on the worker: 1/);
});

test("parse worker - files it held when it ended fail retryably (the batch is retried), none is lost silently", async () => {
  const worker = new ParseWorkerThread();
  await worker.whenReady();
  const text = JSON.stringify(Array.from({ length: 2000 }, (_, i) => transcodeJob(W1, i + 1)));
  const sent = Array.from({ length: 20 }, (_, i) => worker.prepare(text, "transcode|us-central", `held-${i}`));
  await worker.close();
  const settled = await Promise.allSettled(sent);
  const failed = settled.filter((r) => r.status === "rejected");
  assert.ok(failed.length > 0, "terminated with files queued: some fail");
  for (const r of failed) {
    const err = (r as PromiseRejectedResult).reason as RetryableError;
    assert.ok(err instanceof RetryableError, String(err));
    assert.is(err.code, "parse_worker_died");
  }
  for (const r of settled) if (r.status === "fulfilled") assert.is(preparedEvents(r.value).length, 2000);
});

test("parse worker - a worker that cannot load: every file is prepared in this thread, and starting stops after a few tries", async () => {
  const worker = new ParseWorkerThread(new URL("./parse-worker-broken-entry.js", import.meta.url));
  const text = JSON.stringify([transcodeJob(W1, 5)]);
  const expected = used(await inThreadParser.prepare(text, "transcode|us-central", "x"));
  for (let attempt = 1; attempt <= 3; attempt++) {
    await worker.whenReady().then(
      () => assert.unreachable("it cannot load"),
      (err: RetryableError) => assert.is(err.code, "parse_worker_died"),
    );
    assert.equal(used(await worker.prepare(text, "transcode|us-central", "x")), expected);
  }
  await worker.whenReady().then(
    () => assert.unreachable("no worker after three failed starts"),
    (err: RetryableError) => assert.match(err.message, /this worker cannot load/),
  );
  assert.equal(used(await worker.prepare(text, "transcode|us-central", "x")), expected);
  assert.equal(worker.counts, { worker: 0, inThread: 4 });
});

test("prepared file - a file refused whole is one refusal, not a thrown error", () => {
  const r = prepareEventFile("[1,", "transcode|us-central", "x", true);
  assert.equal(r.pieces, []);
  assert.ok(r.refused && r.refused.error.length > 0);
  assert.equal([r.refused.head, r.refused.length], ["[1,", 3]);
  const long = prepareEventFile("x".repeat(5000), "transcode|us-central", "x", true);
  assert.equal([long.refused?.head, long.refused?.length], ["x".repeat(2000), 5000]);
});

async function tablesOf(db: Db) {
  const q = async (sql: string) => (await db.query(sql)).rows;
  return {
    journal: await q("SELECT partition, first_seq, last_seq, events FROM worker_event_journal ORDER BY 1, 2"),
    ids: await q("SELECT event_id, partition, seq FROM worker_event_ids ORDER BY 1"),
    fees: await q("SELECT partition_id, eth_address, total_fees::text, worker_earnings::text, job_count FROM worker_fees ORDER BY 1, 2"),
    connections: await q("SELECT partition_id, eth_address, connections, is_active, last_seen FROM worker_connections ORDER BY 1, 2"),
    correlation: await q("SELECT partition_id, request_id, side, body FROM worker_ai_correlation ORDER BY 1, 2, 3"),
    jobs: await q("SELECT * FROM worker_processed_jobs ORDER BY partition_id, event_id"),
    performance: await q("SELECT partition_id, category, model_pipeline, eth_address, rank, percentile, metrics FROM worker_performance ORDER BY 1, 2, 3, 5"),
    summary: await q("SELECT partition_id, summary FROM worker_summary ORDER BY 1"),
    state: await q("SELECT partition_id, journal_offset, events_applied, watermark, unattributed_jobs, unattributed_fees::text FROM worker_partition_state ORDER BY 1"),
    deadLetters: (await listDeadLetters(db, { kind: WORKER_PARTITION_KIND })).map((d) => [d.source, d.errorCode]).sort(),
  };
}

for (const engine of testEngines) {
  test(`parse worker - ingest through the worker thread gives the tables ingest in this thread gives [${engine.name}]`, async () => {
    const results = [];
    for (const useWorker of [false, true]) {
      const { db, drop } = await engine.create();
      const log = pino({ level: "silent" });
      const deadLetters = new DeadLetterStore(db, { log });
      const system = new ActorSystem({ db, clock: systemClock, log, deadLetters });
      const parser = useWorker ? new ParseWorkerThread() : undefined;
      try {
        await migrate(db);
        const tail = new JournalTail();
        system.register(createWorkerPartitionKind({ commissionBps: 2500, correlationTtlMs: 86_400_000, tail }));
        await system.start();
        if (parser) await parser.whenReady();
        const deps = { db, deadLetters, tail, parser, catchUp: (pid: string) => system.ask(WORKER_PARTITION_KIND, pid, "catch-up", {}, { timeoutMs: 60_000 }) };
        const report = await importWorkerPartitionPath(deps, SAMPLES, { maxFilesPerBatch: 2 });
        assert.is(report.totals.deadLetters, 0);
        if (parser) assert.is(parser.counts.worker, 15);
        results.push(await tablesOf(db));
      } finally {
        await system.stop();
        await parser?.close();
        await drop();
      }
    }
    assert.ok(results[0].ids.length > 0);
    assert.equal(results[1], results[0]);
  });
}

test.run();
