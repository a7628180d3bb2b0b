/**
 * The S3 sensor of the worker-partition kind (domain A2.2, decisions 9, seed 003 #2).
 *
 * Every S3_SENSOR_INTERVAL_SECONDS, for each active partition (partitions.ts, defined once):
 *   1. keys still pending from a batch that failed are retried first (never skipped);
 *   2. otherwise the prefix `{region}/{node_type}/` is listed (all pages) and every file named
 *      `{region}-{node_type}-…_….json` that the durable cursor (db/cursor-store.ts) does not know
 *      is new — whatever its name sorts like, so a file flushed late with an earlier timestamp
 *      is still read; at most MAX_FILES_PER_BATCH, oldest name first;
 *   3. the keys are claimed `pending`, the files fetched (a few GETs ahead, in key order) and
 *      ingested (journal + dead letters in transactions of whole files, then the partition
 *      actor catches up and commits: ingest.ts);
 *   4. only then are the keys `confirmed`; the files are copied to S3_ARCHIVE_BUCKET under
 *      S3_ARCHIVE_PREFIX (failures logged, never blocking) and the partition's metrics exported.
 * Any failure before 4 leaves the keys pending: the next poll retries the same files, and the
 * journal's dedupe by event ID makes the retry count every event once.
 */
import { CopyObjectCommand, GetObjectCommand, ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import type { Logger } from "pino";
import type { Clock, TimerHandle } from "../../supervisors/clock.ts";
import { claimPending, confirm, isKnown, listPending } from "../../db/cursor-store.ts";
import { RetryableError, errorMessage } from "../../protocols/errors.ts";
import { PARTITIONS, type Partition } from "../worker-partition/partitions.ts";
import { ingestEventFiles, type EventFile, type IngestDeps, type IngestReport } from "../worker-partition/ingest.ts";
import { exportPartitionMetrics } from "./s3-metrics-export.ts";

export interface S3SensorOptions {
  bucket: string;
  metricsBucket?: string;
  archiveBucket?: string;
  archivePrefix?: string;
  maxFilesPerBatch: number;
  intervalMs: number;
  /** GETs in flight while a batch is ingested (default 8); files are still ingested in key order. */
  fetchConcurrency?: number;
}

const DEFAULT_FETCH_CONCURRENCY = 8;

/**
 * The fetched items in input order, with at most `concurrency` fetches running ahead of the
 * consumer. A failed fetch throws when the consumer reaches it; fetches left running when the
 * consumer stops are awaited by nobody (their failures are ignored).
 */
export async function* fetchAhead<T>(keys: readonly string[], concurrency: number, fetch: (key: string) => Promise<T>): AsyncGenerator<T> {
  const window: Promise<T>[] = [];
  let next = 0;
  const start = () => {
    const p = fetch(keys[next++]);
    p.catch(() => {});
    window.push(p);
  };
  while (next < keys.length && window.length < Math.max(1, concurrency)) start();
  while (window.length > 0) {
    const item = await window.shift()!;
    if (next < keys.length) start();
    yield item;
  }
}

export interface S3SensorDeps extends IngestDeps {
  s3: S3Client;
  clock: Clock;
  log?: Logger;
  /** Partitions to watch (default: every active one). */
  watch?: readonly Partition[];
}

export interface BatchReport extends IngestReport {
  keys: string[];
  retried: boolean;
}

/** The durable cursor source of one partition's prefix. */
export function cursorSource(bucket: string, p: Partition): string {
  return `s3:${bucket}/${p.s3Prefix}`;
}

/** Whether a listed key is an event file of this partition (the producer's naming). */
export function isEventFileKey(p: Partition, key: string): boolean {
  if (!key.startsWith(p.s3Prefix)) return false;
  const name = key.slice(p.s3Prefix.length);
  return !name.includes("/") && name.startsWith(p.fileNamePrefix) && name.includes("_") && name.endsWith(".json");
}

/** An object's bytes (decoded where the file is prepared: on the parse worker thread when there is one). */
async function bodyBytes(s3: S3Client, bucket: string, key: string): Promise<Uint8Array> {
  const res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  if (!res.Body) throw new RetryableError(`s3:${bucket}/${key}: empty response body`);
  return res.Body.transformToByteArray();
}

export class S3Sensor {
  private timer: TimerHandle | null = null;
  private running: Promise<unknown> | null = null;
  private stopped = false;
  private batchSeq = 0;
  /** Consecutive failed polls per partition (visible in stats). */
  readonly failures = new Map<string, number>();
  readonly lastBatch = new Map<string, BatchReport>();
  /** When the last poll of every watched partition finished (clock ms), failed or not; null = none yet. */
  lastPollAt: number | null = null;

  constructor(
    private readonly deps: S3SensorDeps,
    private readonly opts: S3SensorOptions,
  ) {}

  private get watched(): readonly Partition[] {
    return this.deps.watch ?? PARTITIONS;
  }

  /** New event-file keys of a partition, oldest name first, at most maxFilesPerBatch. */
  async newKeys(p: Partition): Promise<string[]> {
    const listed: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.deps.s3.send(new ListObjectsV2Command({ Bucket: this.opts.bucket, Prefix: p.s3Prefix, ContinuationToken: token }));
      for (const o of page.Contents ?? []) if (o.Key && isEventFileKey(p, o.Key)) listed.push(o.Key);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    const known = await isKnown(this.deps.db, cursorSource(this.opts.bucket, p), listed);
    return listed.filter((k) => !known.has(k)).sort().slice(0, this.opts.maxFilesPerBatch);
  }

  /** One batch for one partition: pending keys first, else new ones. Null when there is nothing to do. */
  async pollPartition(p: Partition): Promise<BatchReport | null> {
    const source = cursorSource(this.opts.bucket, p);
    const pending = (await listPending(this.deps.db, source, { limit: this.opts.maxFilesPerBatch })).map((c) => c.key);
    const retried = pending.length > 0;
    const candidates = retried ? pending : await this.newKeys(p);
    if (candidates.length === 0) return null;
    const batchId = `${p.id}:${this.deps.clock.now()}:${++this.batchSeq}`;
    const keys = await this.deps.db.transaction((tx) => claimPending(tx, source, candidates, batchId));
    if (keys.length === 0) return null;
    const fetchFile = async (key: string): Promise<EventFile> => {
      const source = `s3:${this.opts.bucket}/${key}`;
      try {
        return { source, body: await bodyBytes(this.deps.s3, this.opts.bucket, key) };
      } catch (err) {
        // A key that no longer exists can never be read: dead-letter it rather than retry forever.
        // Any other failure fails the batch (its keys stay pending and are retried).
        if ((err as { name?: string }).name !== "NoSuchKey") throw err;
        return { source, body: "", unreadable: { error: `${source}: the object no longer exists (listed, then not found)`, errorCode: "s3_no_such_key" } };
      }
    };
    const report = await ingestEventFiles(this.deps, p.id, fetchAhead(keys, this.opts.fetchConcurrency ?? DEFAULT_FETCH_CONCURRENCY, fetchFile));
    await this.deps.db.transaction((tx) => confirm(tx, source, keys));
    await this.archive(keys);
    if (this.opts.metricsBucket) {
      try {
        await exportPartitionMetrics(this.deps.db, this.deps.s3, this.opts.metricsBucket, p.id, this.deps.clock.now());
      } catch (err) {
        this.deps.log?.warn({ partition: p.id, err: errorMessage(err) }, "metrics export failed; the next batch exports again");
      }
    }
    const out = { ...report, keys, retried };
    this.lastBatch.set(p.id, out);
    return out;
  }

  private async archive(keys: readonly string[]): Promise<void> {
    if (!this.opts.archiveBucket) return;
    const prefix = this.opts.archivePrefix ?? "archive/";
    for (const key of keys) {
      try {
        await this.deps.s3.send(
          new CopyObjectCommand({ Bucket: this.opts.archiveBucket, Key: `${prefix}${key}`, CopySource: `${this.opts.bucket}/${key.split("/").map(encodeURIComponent).join("/")}` }),
        );
      } catch (err) {
        this.deps.log?.warn({ key, err: errorMessage(err) }, "archive copy failed (non-blocking)");
      }
    }
  }

  /** One poll of every watched partition (one batch each). A failing partition does not stop the others. */
  async pollOnce(): Promise<{ batches: BatchReport[]; errors: { partition: string; error: string }[] }> {
    const batches: BatchReport[] = [];
    const errors: { partition: string; error: string }[] = [];
    for (const p of this.watched) {
      try {
        const b = await this.pollPartition(p);
        if (b) batches.push(b);
        this.failures.set(p.id, 0);
      } catch (err) {
        this.failures.set(p.id, (this.failures.get(p.id) ?? 0) + 1);
        errors.push({ partition: p.id, error: errorMessage(err) });
        this.deps.log?.error({ partition: p.id, err: errorMessage(err) }, "S3 batch failed; its files stay pending and are retried");
      }
    }
    this.lastPollAt = this.deps.clock.now();
    return { batches, errors };
  }

  /** Polls until every partition has no new file (import / catch-up after downtime). */
  async drain(): Promise<BatchReport[]> {
    const all: BatchReport[] = [];
    for (;;) {
      const { batches, errors } = await this.pollOnce();
      if (errors.length > 0) throw new RetryableError(`S3 sensor: ${errors.map((e) => `${e.partition}: ${e.error}`).join("; ")}`);
      if (batches.length === 0) return all;
      all.push(...batches);
    }
  }

  /** Polls now and then every intervalMs on the injected clock. */
  start(): void {
    this.stopped = false;
    const tick = () => {
      this.timer = null;
      if (this.stopped) return;
      this.running = this.pollOnce().finally(() => {
        this.running = null;
        if (!this.stopped) this.timer = this.deps.clock.setTimeout(tick, this.opts.intervalMs);
      });
    };
    tick();
  }

  /** Resolves when the poll in progress (if any) has finished. */
  async idle(): Promise<void> {
    await this.running?.catch(() => {});
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) this.deps.clock.clearTimeout(this.timer);
    this.timer = null;
    await this.running?.catch(() => {});
  }
}
