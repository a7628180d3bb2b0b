/**
 * Exports of one partition to `S3_METRICS_BUCKET` after each committed batch, overwritten each time
 * (domain A2.8): `{region}/{node_type}/worker_summary.json` = `{export_timestamp, data: summary}` and
 * `{region}/{node_type}/worker_performance.json` = `{export_timestamp, node_type, region,
 * transcode_performance, ai_performance, ai_model_pipeline_rankings}`. Read from the committed
 * tables, so an export never shows uncommitted state. export_timestamp is `YYYYmmdd_HHMMSS` (UTC).
 */
import { PutObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import type { Queryable } from "../../db/db.ts";
import { requirePartition } from "../worker-partition/partitions.ts";
import { readPerformanceReport, readSummary } from "../worker-partition/store.ts";

export function exportTimestamp(ms: number): string {
  const iso = new Date(ms).toISOString(); // 2025-02-27T12:00:05.000Z
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}_${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}`;
}

export function metricsKeys(partitionId: string): { summary: string; performance: string } {
  const p = requirePartition(partitionId);
  return { summary: `${p.region}/${p.nodeType}/worker_summary.json`, performance: `${p.region}/${p.nodeType}/worker_performance.json` };
}

/** The export in progress per `bucket/partition` in this process: exports of one partition run one after another. */
const inProgress = new Map<string, Promise<void>>();

/**
 * Exports one partition. Exports of one partition in this process (the sensor's after a batch,
 * the host's after a payment run or a resolution) run one after another, each reading the tables
 * when its turn comes: two at once could read in one order and write in the other, leaving the
 * older figures in S3 until the next export.
 */
export function exportPartitionMetrics(db: Queryable, s3: S3Client, bucket: string, partitionId: string, nowMs: number): Promise<void> {
  const key = `${bucket}/${partitionId}`;
  const previous = inProgress.get(key) ?? Promise.resolve();
  const mine = previous.catch(() => {}).then(() => exportNow(db, s3, bucket, partitionId, nowMs));
  const tracked = mine.catch(() => {});
  inProgress.set(key, tracked);
  void tracked.then(() => {
    if (inProgress.get(key) === tracked) inProgress.delete(key);
  });
  return mine;
}

async function exportNow(db: Queryable, s3: S3Client, bucket: string, partitionId: string, nowMs: number): Promise<void> {
  const p = requirePartition(partitionId);
  const keys = metricsKeys(partitionId);
  const export_timestamp = exportTimestamp(nowMs);
  const summary = await readSummary(db, partitionId);
  const performance = await readPerformanceReport(db, partitionId);
  await s3.send(
    new PutObjectCommand({ Bucket: bucket, Key: keys.summary, ContentType: "application/json", Body: JSON.stringify({ export_timestamp, data: summary }, null, 2) }),
  );
  await s3.send(
    new PutObjectCommand({
      Bucket: bucket,
      Key: keys.performance,
      ContentType: "application/json",
      Body: JSON.stringify({ export_timestamp, node_type: p.nodeType, region: p.region, ...performance }, null, 2),
    }),
  );
}
