/**
 * The S3 sensor of the worker-partition kind (domain A2.2, decisions 9, seed 003 #2).
 *
 * Every S3_SENSOR_INTERVAL_SECONDS, for each active partition (partitions.ts, defined once):
 *   1. keys still pending from a batch that failed are retried first (never skipped);
 *   2. otherwise the prefix `{region}/{node_type}/` is listed (all pages) and every file named
 *      `{region}-{node_type}-…_….json` that the durable cursor (db/cursor-store.ts) does not know
 *      is new — whatever its name sorts like, so a file flushed late with an earlier timestamp
 *      is still read — and so is a confirmed key listed with another ETag than the one read (the
 *      object was overwritten: the journal's dedupe by event ID keeps the events already counted
 *      once); at most MAX_FILES_PER_BATCH, oldest name first;
 *   3. the keys are claimed `pending`, the files fetched (a few GETs ahead, in key order) and
 *      ingested (journal + dead letters in transactions of whole files, then the partition
 *      actor catches up and commits: ingest.ts);
 *   4. only then are the keys `confirmed` (with the ETag each GET returned); the files are copied to S3_ARCHIVE_BUCKET under
 *      S3_ARCHIVE_PREFIX (failures logged, never blocking) and the partition's metrics exported.
 * Any failure before 4 leaves the keys pending: the next poll retries the same files, and the
 * journal's dedupe by event ID makes the retry count every event once.
 *
 * One file never stops its partition for good (DESIGN rule 6):
 *   - a key that can never be read — gone (NoSuchKey) or larger than the cap (maxFileBytes,
 *     default MAX_EVENT_FILE_BYTES: the JS string limit) — is one dead letter naming the key and
 *     the reason, and is confirmed with the rest of its batch;
 *   - any other failure leaves the batch pending — a denied (AccessDenied) or archived
 *     (InvalidObjectState: Glacier) object too: an operator may fix a policy or restore the
 *     object, and confirming at once would drop the file's fees for good if, say, a policy
 *     change denied every file. Once a pending key was claimed
 *     ALONE_AFTER_FAILED_BATCHES times (the `attempts` of the cursor), the poll retries its pending
 *     keys one at a time: the good files commit, and a key whose own read or preparation failed
 *     when it was alone ALONE_AFTER_FAILED_BATCHES times (attempts ≥ 2 × that) is dead-lettered
 *     `s3_unreadable` with the last error, and confirmed. A dependency outage (S3 or the database
 *     unreachable, an S3 timeout or 5xx: isDependencyUnavailable) never counts: the claim's attempt is given back, the
 *     keys are retried as they are, and no file is dead-lettered for it.
 * A key whose LastModified is younger than settleMs by the listing's own clock (its Date header)
 * waits for the next poll: the embedded s3rver lists an object while it is still being written.
 */
import { CopyObjectCommand, GetObjectCommand, ListObjectsV2Command, type S3Client } from "@aws-sdk/client-s3";
import type { Logger } from "pino";
import type { Clock, TimerHandle } from "../../supervisors/clock.ts";
import { constants as bufferConstants } from "node:buffer";
import { claimPending, confirm, knownVersions, listPending, recordVersions, unclaim, type PendingCursor } from "../../db/cursor-store.ts";
import { RetryableError, errorMessage, isDependencyUnavailable, isPoisonError } from "../../protocols/errors.ts";
import { PARTITIONS, type Partition } from "../worker-partition/partitions.ts";
import { ingestEventFiles, type EventFile, type IngestDeps, type IngestReport } from "../worker-partition/ingest.ts";
import { inThreadParser, type EventFileParser } from "../worker-partition/prepared-event-file.ts";
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
  /** Larger objects are dead-lettered `file_too_large` without being read (default MAX_EVENT_FILE_BYTES). */
  maxFileBytes?: number;
  /**
   * Listed keys whose LastModified is younger than this (by the listing response's Date header)
   * wait for the next poll (default 0: none waits; S3_SETTLE_MS for the embedded s3rver).
   */
  settleMs?: number;
}

const DEFAULT_FETCH_CONCURRENCY = 8;

/**
 * Claims of a pending key (failed batches) after which its partition's pending keys are retried
 * one at a time; a key is dead-lettered once it failed that many times alone as well.
 */
export const ALONE_AFTER_FAILED_BATCHES = 3;

/**
 * The largest event file read: every UTF-8 file up to this many bytes decodes to a JS string
 * (a string has at most as many UTF-16 units as the UTF-8 bytes it comes from).
 */
export const MAX_EVENT_FILE_BYTES: number = bufferConstants.MAX_STRING_LENGTH;

/**
 * How long a listed key must have been left unchanged before it is read, for the embedded
 * s3rver: it lists an object while the PUT is still writing it (its LastModified is the file's
 * last write). Measured against the listing's own Date header, so the host's clock plays no part.
 */
export const S3_SETTLE_MS = 10_000;

/**
 * S3 errors that say an object cannot be read, now or on a retry: the dead letter's code.
 * (AccessDenied and InvalidObjectState are not here: they take the repeated-failure path.)
 */
const UNREADABLE_OBJECT: Record<string, { code: string; reason: string }> = {
  NoSuchKey: { code: "s3_no_such_key", reason: "the object no longer exists (listed, then not found)" },
};

/** A failure of one file's own read or preparation (not of the batch's journal or actor). */
export class FileFailure extends Error {
  constructor(
    readonly key: string,
    readonly cause: unknown,
  ) {
    super(errorMessage(cause), { cause });
    this.name = "FileFailure";
  }
}

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

/** A listed key and its version (the S3 ETag; null when the store gives none). */
interface KeyVersion {
  key: string;
  etag: string | null;
}

export interface BatchReport extends IngestReport {
  /** The keys confirmed. */
  keys: string[];
  retried: boolean;
  /** Set when the pending keys were retried one at a time: the ones that failed again (still pending). */
  failed?: { key: string; error: string }[];
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

/** The file of a key, or why it can never be read (then it is dead-lettered). */
async function fetchEventFile(s3: S3Client, bucket: string, key: string, maxFileBytes: number, read: Map<string, string>): Promise<EventFile> {
  const source = `s3:${bucket}/${key}`;
  let res;
  try {
    res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    // The version read is the one the cursor records: a later overwrite has another ETag.
    if (res.ETag) read.set(key, res.ETag);
  } catch (err) {
    const unreadable = UNREADABLE_OBJECT[(err as { name?: string }).name ?? ""];
    // Any other failure fails the batch (its keys stay pending and are retried).
    if (!unreadable) throw new FileFailure(key, err);
    return { source, body: "", unreadable: { error: `${source}: ${unreadable.reason}`, errorCode: unreadable.code } };
  }
  if (!res.Body) throw new FileFailure(key, new RetryableError(`${source}: empty response body`));
  if (res.ContentLength !== undefined && res.ContentLength > maxFileBytes) {
    await res.Body.transformToWebStream().cancel().catch(() => {});
    return { source, body: "", unreadable: { error: `${source}: the object is ${res.ContentLength} bytes, more than the ${maxFileBytes} an event file may have`, errorCode: "file_too_large" } };
  }
  try {
    // Bytes: decoded where the file is prepared (on the parse worker thread when there is one).
    return { source, body: await res.Body.transformToByteArray() };
  } catch (err) {
    throw new FileFailure(key, err);
  }
}

/** The parser, its failures tagged with the file's key (ingest's sources are `s3:<bucket>/<key>`). */
function taggedParser(parser: EventFileParser, bucket: string): EventFileParser {
  const prefix = `s3:${bucket}/`;
  return {
    prepare: (body, partitionId, source) =>
      parser.prepare(body, partitionId, source).catch((err: unknown) => {
        throw new FileFailure(source.startsWith(prefix) ? source.slice(prefix.length) : source, err);
      }),
  };
}

/** S3 answers that say the store itself is failing or slow, not the object (the SDK retried them already). */
/** Whether a failure of a batch of the one key `key` is that file's own (its read, its preparation, its data). */
function isOwnFailure(err: unknown, key: string): boolean {
  if (isDependencyUnavailable(err)) return false;
  return (err instanceof FileFailure && err.key === key) || isPoisonError(err);
}

/** The `Date` header of the response of a command (the S3 server's clock), in ms; undefined when absent. */
function captureServerDate<C extends { middlewareStack: { add: (...args: any[]) => void } }>(cmd: C): { command: C; date(): number | undefined } {
  let date: number | undefined;
  cmd.middlewareStack.add(
    (next: (args: unknown) => Promise<{ response: unknown }>) => async (args: unknown) => {
      const out = await next(args);
      const header = (out.response as { headers?: Record<string, string | undefined> } | undefined)?.headers?.date;
      const ms = header ? Date.parse(header) : NaN;
      if (Number.isFinite(ms)) date = ms;
      return out;
    },
    { step: "deserialize", name: "strataServerDate" },
  );
  return { command: cmd, date: () => date };
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

  /**
   * New event-file keys of a partition, oldest name first, at most maxFilesPerBatch: keys the
   * cursor does not know, and confirmed keys listed with another ETag than the one read (the
   * object was overwritten). A key whose LastModified is younger than settleMs (measured against
   * the listing response's Date header, i.e. the store's own clock; the sensor's clock when the
   * store sends none) is left for a later poll.
   */
  async newKeys(p: Partition): Promise<string[]> {
    return (await this.newVersions(p)).map((v) => v.key);
  }

  private async newVersions(p: Partition): Promise<KeyVersion[]> {
    const settleMs = this.opts.settleMs ?? 0;
    const source = cursorSource(this.opts.bucket, p);
    const out: KeyVersion[] = [];
    let token: string | undefined;
    // Page by page (≤ 1,000 keys each): the cursor is asked about one page at a time, so neither
    // memory nor the query's key array grows with the prefix (one array of every key ever listed
    // reached PostgreSQL's 1 GB parameter limit near 10 M keys); listing stops once a batch of new
    // keys is found (S3 lists in key order, which is the batch's order).
    do {
      const { command, date } = captureServerDate(new ListObjectsV2Command({ Bucket: this.opts.bucket, Prefix: p.s3Prefix, ContinuationToken: token }));
      const page = await this.deps.s3.send(command);
      const now = date() ?? this.deps.clock.now();
      const listed: KeyVersion[] = [];
      for (const o of page.Contents ?? []) {
        if (!o.Key || !isEventFileKey(p, o.Key)) continue;
        if (settleMs > 0 && o.LastModified && now - o.LastModified.getTime() < settleMs) continue;
        listed.push({ key: o.Key, etag: o.ETag ?? null });
      }
      const known = await knownVersions(this.deps.db, source, listed.map((l) => l.key));
      const unversioned = new Map<string, string>();
      for (const l of listed) {
        const k = known.get(l.key);
        if (!k) out.push(l);
        else if (k.state === "pending" || l.etag === null) continue;
        else if (k.etag === null) unversioned.set(l.key, l.etag);
        else if (k.etag !== l.etag) out.push(l);
      }
      // Keys confirmed before versions were kept: assumed unchanged, their version noted from now on.
      if (unversioned.size > 0) await recordVersions(this.deps.db, source, unversioned);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token && out.length < this.opts.maxFilesPerBatch);
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0)).slice(0, this.opts.maxFilesPerBatch);
  }

  /**
   * One poll of one partition: its pending keys first (as one batch, or one at a time once a
   * pending key was claimed ALONE_AFTER_FAILED_BATCHES times), else new ones. Null when there is nothing to do.
   */
  async pollPartition(p: Partition): Promise<BatchReport | null> {
    const source = cursorSource(this.opts.bucket, p);
    const pending = await listPending(this.deps.db, source, { limit: this.opts.maxFilesPerBatch });
    if (pending.some((c) => c.attempts >= ALONE_AFTER_FAILED_BATCHES)) return this.retryAlone(p, pending);
    const retried = pending.length > 0;
    const candidates = retried ? pending : await this.newVersions(p);
    const report = await this.runBatch(p, candidates, retried);
    if (report) await this.exportMetrics(p);
    return report;
  }

  /**
   * Claims the keys under a new batch id (with the versions listed), ingests them and confirms
   * them (with the versions read). A failure leaves them pending; when it is an outage, their
   * claim's attempt is given back (best effort).
   */
  private async runBatch(p: Partition, candidates: readonly KeyVersion[], retried: boolean, unreadable?: Map<string, { error: string; errorCode: string }>): Promise<BatchReport | null> {
    if (candidates.length === 0) return null;
    const source = cursorSource(this.opts.bucket, p);
    const batchId = `${p.id}:${this.deps.clock.now()}:${++this.batchSeq}`;
    const listed = new Map(candidates.map((c) => [c.key, c.etag]));
    const keys = await this.deps.db.transaction((tx) => claimPending(tx, source, [...listed.keys()], batchId, listed));
    if (keys.length === 0) return null;
    const maxFileBytes = this.opts.maxFileBytes ?? MAX_EVENT_FILE_BYTES;
    const read = new Map<string, string>();
    const fetchFile = async (key: string): Promise<EventFile> => {
      const gone = unreadable?.get(key);
      if (gone) return { source: `s3:${this.opts.bucket}/${key}`, body: "", unreadable: gone };
      return fetchEventFile(this.deps.s3, this.opts.bucket, key, maxFileBytes, read);
    };
    const deps: IngestDeps = { ...this.deps, parser: taggedParser(this.deps.parser ?? inThreadParser, this.opts.bucket) };
    let report: IngestReport;
    try {
      report = await ingestEventFiles(deps, p.id, fetchAhead(keys, this.opts.fetchConcurrency ?? DEFAULT_FETCH_CONCURRENCY, fetchFile));
      await this.deps.db.transaction((tx) => confirm(tx, source, keys, read));
    } catch (err) {
      if (isDependencyUnavailable(err)) {
        // An outage is no file's fault: it must not bring a key nearer to being dead-lettered.
        await unclaim(this.deps.db, source, batchId).catch(() => {});
      }
      throw err;
    }
    await this.archive(keys);
    const out = { ...report, keys, retried };
    this.lastBatch.set(p.id, out);
    return out;
  }

  /**
   * The pending keys retried one at a time, each its own batch: the good files commit; a key
   * whose own failure comes when it has been claimed 2 × ALONE_AFTER_FAILED_BATCHES times (so at
   * least ALONE_AFTER_FAILED_BATCHES alone: a batch claims a key only below that) is dead-lettered
   * `s3_unreadable` and confirmed. An outage stops the round (the keys stay as they are).
   */
  private async retryAlone(p: Partition, pending: readonly PendingCursor[]): Promise<BatchReport | null> {
    const total: BatchReport = { partition: p.id, files: 0, events: 0, newEvents: 0, duplicates: 0, deadLetters: 0, keys: [], retried: true, failed: [] };
    const add = (r: BatchReport | null) => {
      if (!r) return;
      total.files += r.files;
      total.events += r.events;
      total.newEvents += r.newEvents;
      total.duplicates += r.duplicates;
      total.deadLetters += r.deadLetters;
      total.keys.push(...r.keys);
    };
    for (const { key, attempts, etag } of pending) {
      if (this.stopped) break;
      try {
        add(await this.runBatch(p, [{ key, etag }], true));
      } catch (err) {
        if (isDependencyUnavailable(err)) throw err;
        const cause = err instanceof FileFailure ? err.cause : err;
        if (isOwnFailure(err, key) && attempts + 1 >= 2 * ALONE_AFTER_FAILED_BATCHES) {
          const s3Source = `s3:${this.opts.bucket}/${key}`;
          const error = `${s3Source}: could not be read or prepared in ${attempts + 1} attempts, ${ALONE_AFTER_FAILED_BATCHES} or more of them alone; last error: ${errorMessage(cause)}`;
          this.deps.log?.error({ partition: p.id, key, err: errorMessage(cause) }, "S3 file failed alone repeatedly: dead-lettered (s3_unreadable) and confirmed");
          add(await this.runBatch(p, [{ key, etag }], true, new Map([[key, { error, errorCode: "s3_unreadable" }]])));
        } else {
          total.failed!.push({ key, error: errorMessage(cause) });
          this.deps.log?.warn({ partition: p.id, key, attempts: attempts + 1, err: errorMessage(cause) }, "S3 file failed alone; it stays pending and is retried");
        }
      }
    }
    if (total.keys.length === 0 && total.failed!.length === 0) return null;
    if (total.keys.length > 0) await this.exportMetrics(p);
    this.lastBatch.set(p.id, total);
    return total;
  }

  private async exportMetrics(p: Partition): Promise<void> {
    if (!this.opts.metricsBucket) return;
    try {
      await exportPartitionMetrics(this.deps.db, this.deps.s3, this.opts.metricsBucket, p.id, this.deps.clock.now());
    } catch (err) {
      this.deps.log?.warn({ partition: p.id, err: errorMessage(err) }, "metrics export failed; the next batch exports again");
    }
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
        if (b?.failed?.length) {
          this.failures.set(p.id, (this.failures.get(p.id) ?? 0) + 1);
          const error = `${b.failed.length} file(s) failed alone and stay pending: ${b.failed.map((f) => `${f.key}: ${f.error}`).join("; ")}`;
          errors.push({ partition: p.id, error });
          this.deps.log?.error({ partition: p.id, err: error }, "S3 files failed alone; they stay pending and are retried");
        } else {
          this.failures.set(p.id, 0);
        }
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
