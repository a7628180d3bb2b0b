/**
 * Exports of one partition run one after another (actors/ingress/s3-metrics-export.ts): the
 * sensor's export after a batch and the host's after a payment run could overlap — the first
 * reading the summary before the payment's refresh, the second after it — and the first one's
 * write landing last left the older figures in S3 until the next export. Real s3rver, real Postgres.
 */
import { test } from "uvu";
import * as assert from "uvu/assert";
import { CreateBucketCommand, GetObjectCommand } from "@aws-sdk/client-s3";
import { startS3rver } from "../../support/s3rver.ts";
import { createTestDatabase } from "../../support/databases.ts";
import { uniqueName } from "../../support/env.ts";
import { migrate } from "../../../db/migrate.ts";
import type { Queryable } from "../../../db/db.ts";
import { exportPartitionMetrics, metricsKeys } from "../../../actors/ingress/s3-metrics-export.ts";

const P = "transcode|us-west";

test("metrics export - two exports of one partition at once: the one started last reads last and writes last", async () => {
  const server = await startS3rver();
  const database = await createTestDatabase();
  try {
    await migrate(database.db);
    const s3 = server.client();
    const bucket = uniqueName("export").replace(/_/g, "-");
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    const summary = (pending: string) => JSON.stringify({ partition: P, workers: [], aggregates: { pending_fees: pending } });
    await database.db.query("INSERT INTO worker_summary (partition_id, summary) VALUES ($1, $2::jsonb)", [P, summary("100")]);

    // The first export reads the old summary, then stalls before writing (a slow S3 PUT).
    let release!: () => void;
    const stalled = new Promise<void>((r) => (release = r));
    let firstRead = false;
    const slowDb: Queryable = {
      query: async (sql: string, params?: unknown[]) => {
        const res = await database.db.query(sql, params);
        if (!firstRead && /worker_summary/.test(sql)) {
          firstRead = true;
          await stalled;
        }
        return res;
      },
    } as Queryable;
    const first = exportPartitionMetrics(slowDb, s3, bucket, P, Date.UTC(2025, 1, 27, 12, 0, 0));
    await new Promise((r) => setTimeout(r, 100));
    // Meanwhile the payment's refresh commits and a second export starts.
    await database.db.query("UPDATE worker_summary SET summary = $2::jsonb WHERE partition_id = $1", [P, summary("0")]);
    const second = exportPartitionMetrics(database.db, s3, bucket, P, Date.UTC(2025, 1, 27, 12, 0, 1));
    await new Promise((r) => setTimeout(r, 300));
    release();
    await Promise.all([first, second]);

    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: metricsKeys(P).summary }));
    const body = JSON.parse(await got.Body!.transformToString()) as { export_timestamp: string; data: { aggregates: { pending_fees: string } } };
    assert.is(body.data.aggregates.pending_fees, "0", "the newest summary is what stays in S3");
    assert.is(body.export_timestamp, "20250227_120001");
  } finally {
    await database.drop();
    await server.stop();
  }
});

test.run();
