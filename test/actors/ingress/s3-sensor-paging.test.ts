/**
 * The S3 sensor's listing, page by page (a reviewer's finding): it used to collect every key of
 * the prefix and ask the cursor about all of them in one array — the array grows with every file
 * ever read (one a minute per partition), and reached PostgreSQL's 1 GB parameter limit near 10 M
 * keys. Now each listing page (≤ 1,000 keys) is checked on its own and the listing stops once a
 * batch of new keys is found. Real s3rver (it pages at 1,000 like S3) and real Postgres.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { CreateBucketCommand, PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import pino from "pino";
import { startS3rver } from "../../support/s3rver.ts";
import { createTestDatabase } from "../../support/databases.ts";
import { uniqueName } from "../../support/env.ts";
import { migrate } from "../../../db/migrate.ts";
import type { Db, Queryable } from "../../../db/db.ts";
import { DeadLetterStore } from "../../../db/dead-letter-store.ts";
import { claimPending, confirm } from "../../../db/cursor-store.ts";
import { SimulatedClock } from "../../../supervisors/clock.ts";
import { S3Sensor, cursorSource } from "../../../actors/ingress/s3-sensor.ts";
import { requirePartition } from "../../../actors/worker-partition/partitions.ts";

const TC = requirePartition("transcode|us-central");
const key = (i: number) => {
  const t = new Date(Date.UTC(2025, 1, 27, 0, 0, 0) + i * 60_000).toISOString().replace(/[-:]/g, "").replace(/\.\d{3}Z$/, "Z");
  return `${TC.s3Prefix}${TC.region}-${TC.nodeType}-${t}_${t}.json`;
};

/** Counts the listing requests and records the size of every key array the cursor is asked with. */
function spied(s3: S3Client, db: Db): { s3: S3Client; db: Db; lists: () => number; arrays: number[] } {
  let lists = 0;
  const arrays: number[] = [];
  const s3Spy = new Proxy(s3, {
    get(target, prop, receiver) {
      if (prop !== "send") return Reflect.get(target, prop, receiver);
      return (cmd: { constructor: { name: string } }) => {
        if (cmd.constructor.name === "ListObjectsV2Command") lists++;
        return target.send(cmd as never);
      };
    },
  }) as S3Client;
  const query: Queryable["query"] = (sql, params) => {
    for (const p of params ?? []) if (Array.isArray(p)) arrays.push(p.length);
    return db.query(sql, params);
  };
  return { s3: s3Spy, db: { ...db, query, dialect: db.dialect, transaction: db.transaction, close: db.close } as Db, lists: () => lists, arrays };
}

test("S3 sensor paging - 1,005 keys: the first batch lists one page; confirmed pages are passed page by page, never in one array", async () => {
  const server = await startS3rver();
  const database = await createTestDatabase();
  try {
    await migrate(database.db);
    const s3 = server.client();
    const bucket = uniqueName("paging").replace(/_/g, "-");
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const keys = Array.from({ length: 1005 }, (_, i) => key(i));
    for (let i = 0; i < keys.length; i += 25) await Promise.all(keys.slice(i, i + 25).map((k) => s3.send(new PutObjectCommand({ Bucket: bucket, Key: k, Body: "[]" }))));
    const spy = spied(s3, database.db);
    const sensor = new S3Sensor(
      { db: spy.db, s3: spy.s3, clock: new SimulatedClock(0), log: pino({ level: "silent" }), deadLetters: new DeadLetterStore(database.db), catchUp: async () => ({}) as never },
      { bucket, maxFilesPerBatch: 250, intervalMs: 300_000 },
    );

    // Nothing read yet: the first 250 keys in order, from the first page alone.
    assert.equal(await sensor.newKeys(TC), keys.slice(0, 250));
    assert.is(spy.lists(), 1, "one page holds a whole batch of new keys");

    // The first 1,000 keys confirmed: the new ones are on the second page, found page by page.
    const source = cursorSource(bucket, TC);
    await database.db.transaction(async (tx) => {
      await claimPending(tx, source, keys.slice(0, 1000), "b1");
      await confirm(tx, source, keys.slice(0, 1000));
    });
    spy.arrays.length = 0;
    assert.equal(await sensor.newKeys(TC), keys.slice(1000));
    assert.is(spy.lists(), 3);
    assert.ok(spy.arrays.length >= 2 && spy.arrays.every((n) => n <= 1000), `key arrays asked: ${spy.arrays.join(", ")}`);
  } finally {
    await database.drop();
    await server.stop();
  }
});

test.run();
