/**
 * A host killed (SIGKILL) mid-batch and restarted ends with exactly the fees of a run without the
 * kill: real processes, real s3rver, real Postgres.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { CreateBucketCommand, PutObjectCommand } from "@aws-sdk/client-s3";
import { startS3rver } from "../../support/s3rver.ts";
import { createTestDatabase } from "../../support/databases.ts";
import { uniqueName } from "../../support/env.ts";
import { migrate } from "../../../db/migrate.ts";
import { W1, W2, W3, transcodeJob, connected } from "../worker-partition/events-fixture.ts";

const ROOT = fileURLToPath(new URL("../../../", import.meta.url));
const CHILD = fileURLToPath(new URL("../worker-partition/ingest-host-process.ts", import.meta.url));

/** Runs the host process; with killAt = n, SIGKILLs it when it pauses after batch n's journal commit. */
function runHost(args: object, killAt?: number): Promise<{ code: number | null; signal: string | null; out: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn("node", ["--import", "tsx", CHILD, JSON.stringify({ ...args, pauseAt: killAt })], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout!.on("data", (d) => {
      out += String(d);
      if (killAt !== undefined && out.includes("PAUSED\n")) child.kill("SIGKILL");
    });
    child.stderr!.on("data", (d) => (err += String(d)));
    child.once("error", reject);
    // The run to be killed must end by our SIGKILL; any other run must exit 0 (a crash by a signal of its own fails the test).
    child.once("exit", (code, signal) => {
      const expected = killAt === undefined ? code === 0 : signal === "SIGKILL";
      if (expected) resolve({ code, signal, out });
      else reject(new Error(`host ended with code ${code}, signal ${signal} (expected ${killAt === undefined ? "exit 0" : "SIGKILL"}): ${err.slice(-2000)}`));
    });
  });
}

test("crash - a host killed with SIGKILL mid-batch and restarted ends with exactly the fees of an uninterrupted run", async () => {
  const s3rver = await startS3rver();
  const database = await createTestDatabase();
  try {
    await migrate(database.db);
    const s3 = s3rver.client();
    const bucket = uniqueName("crash").replace(/_/g, "-");
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const workers = [W1, W2, W3];
    const expected = new Map<string, bigint>();
    for (let f = 0; f < 12; f++) {
      const events: Record<string, unknown>[] = [connected(workers[f % 3], `10.0.0.${f}:1`)];
      for (let i = 0; i < 40; i++) {
        const worker = workers[(f + i) % 3];
        const fee = 1_000_003n * BigInt(f + 1) + BigInt(i);
        events.push(transcodeJob(worker, fee.toString(), { dt: `2025-02-27T12:${String(f).padStart(2, "0")}:${String(i).padStart(2, "0")}Z` }));
        expected.set(worker, (expected.get(worker) ?? 0n) + fee - (fee * 2500n) / 10000n);
      }
      const start = `20250227T12${String(f).padStart(2, "0")}00Z`;
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `us-central/transcode/us-central-transcode-${start}_${start}.json`, Body: JSON.stringify(events) }));
    }
    const args = { databaseUrl: database.url, endpoint: s3rver.endpoint, bucket, maxFilesPerBatch: 2 };
    const killed = await runHost(args, 3);
    assert.is(killed.signal, "SIGKILL");
    const pendingAfterKill = await database.db.query<{ n: string }>("SELECT count(*)::text AS n FROM strata_source_cursor WHERE state = 'pending'");
    assert.ok(Number(pendingAfterKill.rows[0].n) > 0, "the kill left a batch pending");
    const restarted = await runHost(args);
    assert.match(restarted.out, /DONE \d+/);
    const ledger = await database.db.query<{ eth_address: string; earned_wei: string }>("SELECT eth_address, earned_wei::text FROM worker_fee_ledger ORDER BY 1");
    assert.equal(
      Object.fromEntries(ledger.rows.map((r) => [r.eth_address, r.earned_wei])),
      Object.fromEntries([...expected].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([k, v]) => [k, v.toString()])),
    );
    const jobs = await database.db.query<{ n: string }>("SELECT count(*)::text AS n FROM worker_processed_jobs");
    assert.is(jobs.rows[0].n, String(12 * 40));
    const cursor = await database.db.query<{ state: string; n: string }>("SELECT state, count(*)::text AS n FROM strata_source_cursor GROUP BY state");
    assert.equal(cursor.rows, [{ state: "confirmed", n: "12" }]);
  } finally {
    await database.drop();
    await s3rver.stop();
  }
});

test.run();
