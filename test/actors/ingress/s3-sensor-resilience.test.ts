/**
 * The S3 sensor against one bad file, a hung S3, a file still being written and a file
 * overwritten (s3rver in its own process, real Postgres and PGlite, the real actor system): one
 * file never stops its partition (DESIGN rule 6), an outage never dead-letters a file, a request
 * never hangs, s3rver's half-written objects are not read, and an overwritten key is read again.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import net from "node:net";
import { Buffer } from "node:buffer";
import { Readable } from "node:stream";
import { constants as bufferConstants } from "node:buffer";
import { CreateBucketCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import pino from "pino";
import { startS3rver, type S3rverHandle } from "../../support/s3rver.ts";
import { testEngines, type TestEngine } from "../../support/databases.ts";
import { uniqueName } from "../../support/env.ts";
import { migrate } from "../../../db/migrate.ts";
import type { Db } from "../../../db/db.ts";
import { DeadLetterStore, listDeadLetters } from "../../../db/dead-letter-store.ts";
import { ActorSystem } from "../../../supervisors/actor-system.ts";
import { SimulatedClock, systemClock } from "../../../supervisors/clock.ts";
import { ALONE_AFTER_FAILED_BATCHES, S3Sensor } from "../../../actors/ingress/s3-sensor.ts";
import { isDependencyUnavailable } from "../../../protocols/errors.ts";
import { createS3Client } from "../../../actors/ingress/s3-client.ts";
import { createWorkerPartitionKind } from "../../../actors/worker-partition/kind.ts";
import { WORKER_PARTITION_KIND } from "../../../actors/worker-partition/journal.ts";
import { requirePartition } from "../../../actors/worker-partition/partitions.ts";
import { inThreadParser, prepareEventFile, type EventFileParser } from "../../../actors/worker-partition/prepared-event-file.ts";
import { RetryableError } from "../../../protocols/errors.ts";
import { W1, W2, transcodeJob } from "../worker-partition/events-fixture.ts";

const TC = requirePartition("transcode|us-central");

let server: S3rverHandle;

const bucketName = (p: string) => uniqueName(p).replace(/_/g, "-");
const fileKey = (start: string) => `${TC.s3Prefix}${TC.region}-${TC.nodeType}-${start}_${start.replace(/00Z$/, "59Z")}.json`;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function put(s3: S3Client, bucket: string, key: string, body: unknown): Promise<void> {
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: typeof body === "string" ? body : JSON.stringify(body, null, 2) }));
}

async function ledger(db: Db): Promise<Record<string, string>> {
  const res = await db.query<{ eth_address: string; earned_wei: string }>("SELECT eth_address, earned_wei::text FROM worker_fee_ledger WHERE partition_id = $1 ORDER BY 1", [TC.id]);
  return Object.fromEntries(res.rows.map((r) => [r.eth_address, r.earned_wei]));
}

async function cursor(db: Db): Promise<[string, string, number][]> {
  const res = await db.query<{ key: string; state: string; attempts: number }>("SELECT key, state, attempts FROM strata_source_cursor ORDER BY key");
  return res.rows.map((r) => [r.key, r.state, Number(r.attempts)]);
}

/** A client whose `send` goes through `intercept` first (which may throw, or return undefined to pass the command on). */
function intercepted(s3: S3Client, intercept: (cmd: { constructor: { name: string }; input: { Key?: string } }) => void | Promise<void>): S3Client {
  return new Proxy(s3, {
    get(target, prop) {
      if (prop !== "send") return (target as any)[prop];
      return async (cmd: any) => {
        await intercept(cmd);
        return target.send(cmd);
      };
    },
  }) as S3Client;
}

const isGet = (cmd: { constructor: { name: string } }) => cmd.constructor.name === "GetObjectCommand";

interface SensorOpts {
  client?: S3Client;
  parser?: EventFileParser;
  failCatchUp?: () => unknown;
  maxFileBytes?: number;
  settleMs?: number;
}

interface Env {
  s3: S3Client;
  db: Db;
  bucket: string;
  sensor(o?: SensorOpts): S3Sensor;
}

function withEnv(engine: TestEngine, name: string, fn: (env: Env) => Promise<void>): void {
  test(`${name} (${engine.name})`, async () => {
    const s3 = server.client();
    const buckets = { events: bucketName("events"), metrics: bucketName("metrics") };
    for (const b of Object.values(buckets)) await s3.send(new CreateBucketCommand({ Bucket: b }));
    const database = await engine.create();
    const db = database.db;
    const log = pino({ level: "silent" });
    const deadLetters = new DeadLetterStore(db, { log });
    const system = new ActorSystem({ db, clock: systemClock, log, deadLetters });
    try {
      await migrate(db);
      system.register(createWorkerPartitionKind({ commissionBps: 2500, correlationTtlMs: 86_400_000 }));
      await system.start();
      await fn({
        s3,
        db,
        bucket: buckets.events,
        sensor: (o = {}) =>
          new S3Sensor(
            {
              db,
              s3: o.client ?? s3,
              // The sensor's clock is far from S3's: the settle time must not depend on it.
              clock: new SimulatedClock(Date.parse("2025-03-01T10:20:30Z")),
              log,
              deadLetters,
              watch: [TC],
              parser: o.parser,
              catchUp: async (pid) => {
                const err = o.failCatchUp?.();
                if (err) throw err;
                return system.ask(WORKER_PARTITION_KIND, pid, "catch-up", {}, { timeoutMs: 60_000 });
              },
            },
            { bucket: buckets.events, metricsBucket: buckets.metrics, maxFilesPerBatch: 250, intervalMs: 300_000, maxFileBytes: o.maxFileBytes, settleMs: o.settleMs },
          ),
      });
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

for (const engine of testEngines) {
  withEnv(engine, "rule 6 - a file denied (AccessDenied) or archived (InvalidObjectState) stays pending (a policy may be fixed), then is retried alone; the others commit", async ({ s3, db, bucket, sensor }) => {
    const denied = fileKey("20250227T090000Z");
    const glacier = fileKey("20250227T100000Z");
    const good = fileKey("20250227T140000Z");
    for (const k of [denied, glacier]) await put(s3, bucket, k, [transcodeJob(W1, 4)]);
    await put(s3, bucket, good, [transcodeJob(W2, 400)]);
    let deny = true;
    const client = intercepted(s3, (cmd) => {
      if (!isGet(cmd) || !deny) return;
      if (cmd.input.Key === denied) throw Object.assign(new Error("Access Denied"), { name: "AccessDenied", $metadata: { httpStatusCode: 403 } });
      if (cmd.input.Key === glacier) throw Object.assign(new Error("The operation is not valid for the object's storage class"), { name: "InvalidObjectState", $metadata: { httpStatusCode: 403 } });
    });
    const s = sensor({ client });
    const first = await s.pollOnce();
    assert.equal(first.batches, [], "the batch stays pending: nothing is confirmed or dead-lettered at once");
    assert.match(first.errors[0].error, /Access Denied|storage class/);
    assert.equal(await listDeadLetters(db, { kind: WORKER_PARTITION_KIND }), []);
    for (let i = 2; i <= ALONE_AFTER_FAILED_BATCHES; i++) await s.pollOnce();
    const alone = await s.pollOnce();
    assert.equal(alone.batches.map((b) => [b.keys, b.failed?.map((f) => f.key).sort()]), [[[good], [denied, glacier].sort()]]);
    assert.equal(await ledger(db), { [W2]: "300" });
    // The policy is fixed and the object restored: both are read, nothing was lost.
    deny = false;
    const fixed = await s.pollOnce();
    assert.equal(fixed.errors, []);
    assert.equal(await ledger(db), { [W1]: "6", [W2]: "300" });
    assert.equal(await listDeadLetters(db, { kind: WORKER_PARTITION_KIND }), []);
    assert.ok((await cursor(db)).every(([, state]) => state === "confirmed"));
  });

  withEnv(engine, "rule 6 - a file larger than the cap is dead-lettered file_too_large without being read; the batch commits", async ({ s3, db, bucket, sensor }) => {
    const big = fileKey("20250227T090000Z");
    const good = fileKey("20250227T140000Z");
    await put(s3, bucket, big, Array.from({ length: 20 }, () => transcodeJob(W1, 4)));
    await put(s3, bucket, good, "[]");
    const r = await sensor({ maxFileBytes: 1000 }).pollOnce();
    assert.equal(r.errors, []);
    assert.equal(r.batches.map((b) => [b.keys.length, b.deadLetters]), [[2, 1]]);
    const letters = await listDeadLetters(db, { kind: WORKER_PARTITION_KIND });
    assert.equal(letters.map((l) => [l.source, l.errorCode]), [[`s3:${bucket}/${big}`, "file_too_large"]]);
    assert.match(letters[0].error, /more than the 1000/);
    assert.equal(await ledger(db), {});
    assert.ok((await cursor(db)).every(([, state]) => state === "confirmed"));
  });

  withEnv(engine, "rule 6 - a file that fails every time: its batch is retried, then its keys one at a time; the others commit, it is dead-lettered s3_unreadable", async ({ s3, db, bucket, sensor }) => {
    const bad = fileKey("20250227T090000Z");
    const good1 = fileKey("20250227T100000Z");
    const good2 = fileKey("20250227T110000Z");
    await put(s3, bucket, bad, [transcodeJob(W1, 4)]);
    await put(s3, bucket, good1, [transcodeJob(W2, 400)]);
    await put(s3, bucket, good2, [transcodeJob(W2, 40)]);
    // A parse worker that dies on this one file, every time (a RetryableError, as parse-worker-thread.ts rejects).
    const parser: EventFileParser = {
      prepare: (body, pid, source) =>
        source.endsWith(bad) ? Promise.reject(new RetryableError("parse worker: exited with code 134", { code: "parse_worker_died" })) : inThreadParser.prepare(body, pid, source),
    };
    const s = sensor({ parser });
    for (let i = 1; i <= ALONE_AFTER_FAILED_BATCHES; i++) {
      const r = await s.pollOnce();
      assert.equal(r.batches, [], `poll ${i}: the batch fails whole`);
      assert.match(r.errors[0].error, /exited with code 134/);
    }
    assert.equal(await ledger(db), {});
    // Alone: the good files commit, the bad one stays pending.
    const alone = await s.pollOnce();
    assert.equal(alone.batches.map((b) => [b.keys, b.newEvents, b.failed?.map((f) => f.key)]), [[[good1, good2], 2, [bad]]]);
    assert.is(alone.errors.length, 1, "the file still failing is reported");
    assert.equal(await ledger(db), { [W2]: "330" });
    assert.equal(await cursor(db), [
      [bad, "pending", ALONE_AFTER_FAILED_BATCHES + 1],
      [good1, "confirmed", ALONE_AFTER_FAILED_BATCHES + 1],
      [good2, "confirmed", ALONE_AFTER_FAILED_BATCHES + 1],
    ]);
    for (let i = 2; i < ALONE_AFTER_FAILED_BATCHES; i++) {
      const r = await s.pollOnce();
      assert.equal(r.batches.map((b) => [b.keys, b.failed?.map((f) => f.key)]), [[[], [bad]]]);
    }
    assert.equal(await listDeadLetters(db, { kind: WORKER_PARTITION_KIND }), [], "not dead-lettered before it failed alone N times");
    const last = await s.pollOnce();
    assert.equal(last.errors, []);
    assert.equal(last.batches.map((b) => [b.keys, b.deadLetters, b.failed]), [[[bad], 1, []]]);
    const letters = await listDeadLetters(db, { kind: WORKER_PARTITION_KIND });
    assert.equal(letters.map((l) => [l.source, l.errorCode]), [[`s3:${bucket}/${bad}`, "s3_unreadable"]]);
    assert.match(letters[0].error, /last error: parse worker: exited with code 134/);
    assert.equal((await cursor(db)).map(([k, state]) => [k, state]), [bad, good1, good2].map((k) => [k, "confirmed"]));
    // The partition goes on.
    const next = fileKey("20250227T120000Z");
    await put(s3, bucket, next, [transcodeJob(W2, 4000)]);
    const after = await s.pollOnce();
    assert.equal(after.batches.map((b) => [b.keys, b.retried]), [[[next], false]]);
    assert.equal(await ledger(db), { [W2]: "3330" });
  });

  withEnv(engine, "rule 6 - an S3 or database outage never dead-letters a file, however long it lasts", async ({ s3, db, bucket, sensor }) => {
    const k = fileKey("20250227T090000Z");
    await put(s3, bucket, k, [transcodeJob(W1, 400)]);
    let s3Down = true;
    const client = intercepted(s3, (cmd) => {
      if (s3Down && isGet(cmd)) throw Object.assign(new Error("connect ECONNREFUSED 127.0.0.1:9"), { code: "ECONNREFUSED" });
    });
    let dbDown = false;
    const s = sensor({ client, failCatchUp: () => (dbDown ? Object.assign(new Error("terminating connection due to administrator command"), { code: "57P01" }) : null) });
    for (let i = 0; i < 3 * ALONE_AFTER_FAILED_BATCHES; i++) {
      const r = await s.pollOnce();
      assert.is(r.errors.length, 1);
    }
    s3Down = false;
    dbDown = true;
    for (let i = 0; i < 3 * ALONE_AFTER_FAILED_BATCHES; i++) {
      const r = await s.pollOnce();
      assert.is(r.errors.length, 1);
    }
    assert.equal(await cursor(db), [[k, "pending", 0]], "an outage's claims are given back");
    assert.equal(await listDeadLetters(db, { kind: WORKER_PARTITION_KIND }), []);
    dbDown = false;
    const r = await s.pollOnce();
    // Its event was journaled while the actor's database was down (the catch-up failed): counted once.
    assert.equal(r.batches.map((b) => [b.keys, b.newEvents + b.duplicates, b.deadLetters]), [[[k], 1, 0]]);
    assert.equal(await ledger(db), { [W1]: "300" });
  });

  withEnv(engine, "rule 6 - a partition actor that keeps failing dead-letters no file (its failure is not the file's)", async ({ s3, db, bucket, sensor }) => {
    const k = fileKey("20250227T090000Z");
    await put(s3, bucket, k, [transcodeJob(W1, 400)]);
    let failing = true;
    const s = sensor({ failCatchUp: () => (failing ? new Error("partition actor unavailable") : null) });
    for (let i = 0; i < 3 * ALONE_AFTER_FAILED_BATCHES; i++) assert.is((await s.pollOnce()).errors.length, 1);
    assert.equal(await listDeadLetters(db, { kind: WORKER_PARTITION_KIND }), []);
    failing = false;
    const r = await s.pollOnce();
    assert.equal(r.errors, []);
    assert.equal(r.batches.map((b) => [b.keys, b.deadLetters]), [[[k], 0]]);
    assert.equal(await ledger(db), { [W1]: "300" });
  });
}

for (const engine of testEngines) {
  withEnv(engine, "overwrite - a confirmed key listed with another ETag is read again; its events already counted stay once", async ({ s3, db, bucket, sensor }) => {
    const k = fileKey("20250227T120000Z");
    const first = transcodeJob(W1, 100);
    await put(s3, bucket, k, [first]);
    const s = sensor();
    assert.equal((await s.pollOnce()).batches.map((b) => [b.keys, b.newEvents]), [[[k], 1]]);
    assert.equal(await s.pollOnce(), { batches: [], errors: [] }, "unchanged: not read again");
    // The producer flushes the same key again with one more job.
    await put(s3, bucket, k, [first, transcodeJob(W1, 1000)]);
    const again = await s.pollOnce();
    assert.equal(again.batches.map((b) => [b.keys, b.retried, b.newEvents, b.duplicates, b.deadLetters]), [[[k], false, 1, 1, 0]]);
    assert.equal(await ledger(db), { [W1]: "825" });
    assert.equal(await s.pollOnce(), { batches: [], errors: [] });
    const listedEtag = (await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: TC.s3Prefix }))).Contents?.[0].ETag;
    const row = await db.query<{ state: string; etag: string | null }>("SELECT state, etag FROM strata_source_cursor WHERE key = $1", [k]);
    assert.equal(row.rows, [{ state: "confirmed", etag: listedEtag }]);
  });

  withEnv(engine, "overwrite - a key confirmed before versions were kept is not read again, but its next overwrite is", async ({ s3, db, bucket, sensor }) => {
    const k = fileKey("20250227T120000Z");
    const first = transcodeJob(W1, 100);
    await put(s3, bucket, k, [first]);
    const s = sensor();
    await s.pollOnce();
    await db.query("UPDATE strata_source_cursor SET etag = NULL");
    assert.equal(await s.pollOnce(), { batches: [], errors: [] }, "no version recorded: assumed unchanged");
    const row = await db.query<{ etag: string | null }>("SELECT etag FROM strata_source_cursor WHERE key = $1", [k]);
    assert.ok(row.rows[0].etag, "the listed version is recorded");
    await put(s3, bucket, k, [first, transcodeJob(W1, 1000)]);
    assert.equal((await s.pollOnce()).batches.map((b) => [b.keys, b.newEvents, b.duplicates]), [[[k], 1, 1]]);
    assert.equal(await ledger(db), { [W1]: "825" });
  });
}

test("rule 6 - a file beyond the JS string limit is refused whole (file_too_large), not a failure of the batch", () => {
  const body = new Uint8Array(bufferConstants.MAX_STRING_LENGTH + 1).fill(0x20);
  const prepared = prepareEventFile(body, TC.id, "s3:b/big.json", true);
  assert.equal(prepared.pieces, []);
  assert.is(prepared.refused?.errorCode, "file_too_large");
  assert.is(prepared.refused?.length, body.byteLength);
});

test("S3 client - a server that accepts and never answers fails the request within the timeouts", async () => {
  const sockets = new Set<net.Socket>();
  const silent = net.createServer((sock) => {
    sockets.add(sock);
    sock.on("data", () => {});
    sock.on("error", () => {});
  });
  await new Promise<void>((r) => silent.listen(0, "127.0.0.1", () => r()));
  const port = (silent.address() as net.AddressInfo).port;
  const client = createS3Client(
    { endpoint: `http://127.0.0.1:${port}`, region: "us-east-1", bucket: "b", metricsBucket: "m", archivePrefix: "archive/", accessKeyId: "a", secretAccessKey: "b" },
    { connectionTimeoutMs: 500, socketTimeoutMs: 500 },
  );
  try {
    const t0 = Date.now();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const outcome = await Promise.race([
      client.send(new ListObjectsV2Command({ Bucket: "b", Prefix: TC.s3Prefix })).then(
        () => "answered",
        (err: unknown) => err,
      ),
      new Promise((r) => (timer = setTimeout(() => r("still waiting"), 20_000))),
    ]);
    clearTimeout(timer);
    assert.instance(outcome, Error, `the request failed (got ${String(outcome)})`);
    assert.is((outcome as Error).name, "TimeoutError");
    assert.ok(isDependencyUnavailable(outcome), "a timeout is an outage: it never dead-letters a file");
    assert.ok(Date.now() - t0 < 15_000, `failed within the timeouts and the SDK's retries (${Date.now() - t0} ms)`);
    // The GET too (the sensor's other request).
    const get = await client.send(new GetObjectCommand({ Bucket: "b", Key: "k" })).then(
      () => null,
      (err: unknown) => err as Error,
    );
    assert.is(get?.name, "TimeoutError");
  } finally {
    client.destroy();
    for (const sock of sockets) sock.destroy();
    await new Promise<void>((r) => silent.close(() => r()));
  }
});

/** A PUT that sends half of the file, waits 3 s, then the rest: s3rver lists the key meanwhile. */
function slowPut(s3: S3Client, bucket: string, key: string, body: Buffer): Promise<unknown> {
  const half = body.length >> 1;
  let sent = 0;
  const slow = new Readable({
    read() {
      if (sent === 0) {
        sent = half;
        this.push(body.subarray(0, half));
      } else if (sent === half) {
        sent = body.length;
        setTimeout(() => {
          this.push(body.subarray(half));
          this.push(null);
        }, 3000);
      }
    },
  });
  return s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: slow, ContentLength: body.length }));
}

withEnv(testEngines[0], "embedded s3rver - a key still being written is left for a later poll, then read whole", async ({ s3, db, bucket, sensor }) => {
  const k = fileKey("20250227T150000Z");
  const body = Buffer.from(JSON.stringify(Array.from({ length: 200 }, () => transcodeJob(W1, 10_000)), null, 2));
  const putting = slowPut(s3, bucket, k, body);
  await sleep(1000);
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: TC.s3Prefix }));
  assert.equal((listed.Contents ?? []).map((o) => o.Key), [k], "s3rver lists the half-written key");
  // Date and LastModified have whole seconds: 1 s after the first write reads as 1–2 s old.
  const s = sensor({ settleMs: 3000 });
  const during = await s.pollOnce();
  assert.equal(during, { batches: [], errors: [] }, "nothing read while it is written");
  await putting;
  assert.equal(await cursor(db), []);
  await sleep(4500);
  const after = await s.pollOnce();
  assert.equal(after.batches.map((b) => [b.keys, b.newEvents, b.deadLetters]), [[[k], 200, 0]]);
  assert.equal(await listDeadLetters(db, { kind: WORKER_PARTITION_KIND }), []);
  assert.equal(await ledger(db), { [W1]: "1500000" });
});

withEnv(testEngines[0], "embedded s3rver - without a settle time, a key read half-written is read again once complete (its ETag changed)", async ({ s3, db, bucket, sensor }) => {
  const k = fileKey("20250227T150000Z");
  const body = Buffer.from(JSON.stringify(Array.from({ length: 200 }, () => transcodeJob(W1, 10_000)), null, 2));
  const putting = slowPut(s3, bucket, k, body);
  await sleep(1000);
  const s = sensor();
  const during = await s.pollOnce();
  assert.equal(during.batches.map((b) => [b.keys, b.deadLetters]), [[[k], 1]], "the half file is refused (not JSON)");
  await putting;
  const after = await s.pollOnce();
  assert.equal(after.batches.map((b) => [b.keys, b.newEvents, b.deadLetters]), [[[k], 200, 0]]);
  assert.equal(await ledger(db), { [W1]: "1500000" });
});

test.run();
