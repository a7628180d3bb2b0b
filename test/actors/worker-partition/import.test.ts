/** `strata import worker-partition`: the bundled samples through the real actor system, on both engines. */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { fileURLToPath } from "node:url";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { W1, transcodeJob } from "./events-fixture.ts";
import pino from "pino";
import { testEngines } from "../../support/databases.ts";
import type { Db, Queryable } from "../../../db/db.ts";
import { migrate } from "../../../db/migrate.ts";
import { DeadLetterStore, listDeadLetters } from "../../../db/dead-letter-store.ts";
import { ActorSystem } from "../../../supervisors/actor-system.ts";
import { systemClock } from "../../../supervisors/clock.ts";
import { createWorkerPartitionKind } from "../../../actors/worker-partition/kind.ts";
import { WORKER_PARTITION_KIND } from "../../../actors/worker-partition/journal.ts";
import { importWorkerPartitionPath, partitionOfFile } from "../../../actors/worker-partition/import-files.ts";

const SAMPLES = fileURLToPath(new URL("../../../samples/worker-partition/", import.meta.url));

test("import - a file's partition comes from its folders or its name", () => {
  assert.is(partitionOfFile("/x/us-central/ai/whatever.json")?.id, "ai|us-central");
  assert.is(partitionOfFile("/tmp/oceania-transcode-20250227T120000Z_20250227T120059Z.json")?.id, "transcode|oceania");
  assert.is(partitionOfFile("/x/us-west/ai/us-west-ai-20250227T120000Z_20250227T120059Z.json"), null);
});

for (const engine of testEngines) {
  test(`import - the bundled samples give the expected earnings; a second import changes nothing [${engine.name}]`, async () => {
    const expected = JSON.parse(await readFile(SAMPLES + "expected.json", "utf-8")) as Record<string, { events: number; earnings: Record<string, string> }>;
    const { db, drop } = await engine.create();
    const log = pino({ level: "silent" });
    const deadLetters = new DeadLetterStore(db, { log });
    const system = new ActorSystem({ db, clock: systemClock, log, deadLetters });
    try {
      await migrate(db);
      system.register(createWorkerPartitionKind({ commissionBps: 2500, correlationTtlMs: 86_400_000 }));
      await system.start();
      const deps = { db, deadLetters, catchUp: (pid: string) => system.ask(WORKER_PARTITION_KIND, pid, "catch-up", {}, { timeoutMs: 60_000 }) };
      const first = await importWorkerPartitionPath(deps, SAMPLES, { maxFilesPerBatch: 2 });
      assert.is(first.files, 15);
      assert.equal(first.ignoredFiles.map((f) => f.slice(SAMPLES.length)), ["expected.json"]);
      assert.equal(first.rejectedFiles, []);
      const totalEvents = Object.values(expected).reduce((n, p) => n + p.events, 0);
      assert.is(first.totals.newEvents, totalEvents);
      assert.is(first.totals.deadLetters, 0);
      for (const [pid, exp] of Object.entries(expected)) {
        const rows = await db.query<{ eth_address: string; earned_wei: string }>("SELECT eth_address, earned_wei::text FROM worker_fee_ledger WHERE partition_id = $1 ORDER BY 1", [pid]);
        assert.equal(Object.fromEntries(rows.rows.map((r) => [r.eth_address, r.earned_wei])), exp.earnings, pid);
      }
      const ai = await db.query<{ summary: { aggregates: { unattributed_jobs: number; pending_ai_correlations: number; total_workers: number; active_workers: number } } }>(
        "SELECT summary FROM worker_summary WHERE partition_id = 'ai|us-central'",
      );
      assert.equal(
        [ai.rows[0].summary.aggregates.unattributed_jobs, ai.rows[0].summary.aggregates.pending_ai_correlations, ai.rows[0].summary.aggregates.total_workers, ai.rows[0].summary.aggregates.active_workers],
        [0, 0, 4, 3],
      );
      const again = await importWorkerPartitionPath(deps, SAMPLES);
      assert.is(again.totals.newEvents, 0);
      assert.is(again.totals.duplicates, totalEvents);
      assert.is((await listDeadLetters(db, { kind: WORKER_PARTITION_KIND })).length, 0);
    } finally {
      await system.stop();
      await drop();
    }
  });

  test(`import - a batch delivered again keeps one dead letter per bad record [${engine.name}]`, async () => {
    const { db, drop } = await engine.create();
    const log = pino({ level: "silent" });
    const deadLetters = new DeadLetterStore(db, { log });
    const system = new ActorSystem({ db, clock: systemClock, log, deadLetters });
    const dir = await mkdtemp(path.join(os.tmpdir(), "strata-wp-import-"));
    try {
      await migrate(db);
      system.register(createWorkerPartitionKind({ commissionBps: 2500, correlationTtlMs: 86_400_000 }));
      await system.start();
      await mkdir(path.join(dir, "us-central", "transcode"), { recursive: true });
      await writeFile(path.join(dir, "us-central", "transcode", "us-central-transcode-20250227T120000Z_20250227T120059Z.json"), JSON.stringify([transcodeJob(W1, 100), transcodeJob(W1, -5)]));
      const deps = { db, deadLetters, catchUp: (pid: string) => system.ask(WORKER_PARTITION_KIND, pid, "catch-up", {}, { timeoutMs: 60_000 }) };
      const first = await importWorkerPartitionPath(deps, dir);
      assert.is(first.totals.newEvents, 1, JSON.stringify(first));
      const again = await importWorkerPartitionPath(deps, dir);
      assert.is(again.totals.newEvents, 0);
      const letters = await listDeadLetters(db, { kind: WORKER_PARTITION_KIND });
      assert.is(letters.length, 1, "the retried batch's bad record is not recorded twice");
      assert.match(letters[0].error, /fees: must not be negative/);
    } finally {
      await system.stop();
      await rm(dir, { recursive: true, force: true });
      await drop();
    }
  });

  test(`import - a batch holding files delivered before beside new ones journals the new events once, in one transaction run again [${engine.name}]`, async () => {
    const { db, drop } = await engine.create();
    const log = pino({ level: "silent" });
    const deadLetters = new DeadLetterStore(db, { log });
    const system = new ActorSystem({ db, clock: systemClock, log, deadLetters });
    const dir = await mkdtemp(path.join(os.tmpdir(), "strata-wp-import-"));
    const statements: string[] = [];
    // The database as ingest sees it, with the statements of its transactions written down.
    const watched: Db = {
      dialect: db.dialect,
      query: (sql, params) => db.query(sql, params),
      transaction: (fn) => db.transaction((tx) => fn({ query: (sql, params) => (statements.push(sql), tx.query(sql, params)) } as Queryable)),
      close: () => db.close(),
    };
    try {
      await migrate(db);
      system.register(createWorkerPartitionKind({ commissionBps: 2500, correlationTtlMs: 86_400_000 }));
      await system.start();
      const folder = path.join(dir, "us-central", "transcode");
      await mkdir(folder, { recursive: true });
      const name = (minute: number) => path.join(folder, `us-central-transcode-20250227T12${minute}00Z_20250227T12${minute}59Z.json`);
      await writeFile(name(10), JSON.stringify([transcodeJob(W1, 100, { id: "a1" }), transcodeJob(W1, 200, { id: "a2" })]));
      const deps = { db: watched, deadLetters, catchUp: (pid: string) => system.ask(WORKER_PARTITION_KIND, pid, "catch-up", {}, { timeoutMs: 60_000 }) };
      const first = await importWorkerPartitionPath(deps, dir);
      assert.is(first.totals.newEvents, 2, JSON.stringify(first));
      assert.not.ok(statements.some((sql) => sql.includes("SAVEPOINT")), "new files: the append runs without a savepoint");
      // The same file again, a new file before it and one after (one batch, one journal transaction).
      await writeFile(name(11), JSON.stringify([transcodeJob(W1, 1000, { id: "b1" }), transcodeJob(W1, 2000, { id: "a1" })]));
      await writeFile(name(12), JSON.stringify([transcodeJob(W1, 10_000, { id: "c1" })]));
      statements.length = 0;
      const again = await importWorkerPartitionPath(deps, dir);
      assert.equal([again.totals.newEvents, again.totals.duplicates], [2, 3], JSON.stringify(again));
      assert.is(statements.filter((sql) => sql.includes("INSERT INTO worker_event_ids")).length, 2, "the optimistic insert met a journaled ID; the transaction ran again, probing first");
      const ids = await db.query<{ event_id: string; seq: string }>("SELECT event_id, seq::text AS seq FROM worker_event_ids ORDER BY seq");
      assert.equal(ids.rows.map((r) => [r.event_id, r.seq]), [["a1", "1"], ["a2", "2"], ["b1", "3"], ["c1", "4"]]);
      const fees = await db.query<{ total_fees: string }>("SELECT total_fees::text FROM worker_fees WHERE partition_id = 'transcode|us-central'");
      assert.equal(fees.rows.map((r) => r.total_fees), ["11300"], "each event's fee once");
    } finally {
      await system.stop();
      await rm(dir, { recursive: true, force: true });
      await drop();
    }
  });
}

test.run();
