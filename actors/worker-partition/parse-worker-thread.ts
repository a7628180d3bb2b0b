/**
 * A worker thread that prepares event files for ingest (prepared-event-file.ts: UTF-8 decoding, JSON.parse,
 * validation, serialising the journal pieces), so that the main thread keeps the S3 reads, the
 * statements and the actors: on a batch of new files that work is most of the main thread's
 * (docs/worker-partition.md, Stop 9). Node (under tsx) and Deno 2, through node:worker_threads.
 *
 * - Replies come in request order (the worker answers one request at a time); ingest awaits them
 *   in file order whatever the order of replies anyway.
 * - Until the worker has loaded (it posts `ready`), and after it died, files are prepared in this
 *   thread instead: a batch never waits on the worker's start, nor fails because of it. Its
 *   death fails the requests it held (RetryableError: the batch is retried); the next file
 *   starts a new worker — unless MAX_FAILED_STARTS workers in a row ended before loading: then
 *   every file is prepared in this thread.
 * - It keeps the process alive only while it holds requests (unref when idle): a host or a
 *   command that ends needs no close. `close()` ends it now.
 */
import { Worker } from "node:worker_threads";
import { RetryableError, errorFromHeaders, errorMessage } from "../../protocols/errors.ts";
import { inThreadParser, type EventFileParser, type FileBody, type PreparedEventFile } from "./prepared-event-file.ts";
import type { PrepareReply, PrepareRequest } from "./parse-worker-main.ts";

/**
 * What postMessage may transfer instead of copying: the bytes' ArrayBuffer when they are all of
 * it (an S3 body or a file read whole). A view on a shared buffer (Node's pool of small Buffers)
 * is copied: transferring would detach the other views on it.
 */
function handOver(body: FileBody): ArrayBuffer[] {
  if (typeof body === "string") return [];
  const buf = body.buffer;
  return buf instanceof ArrayBuffer && body.byteOffset === 0 && body.byteLength === buf.byteLength ? [buf] : [];
}

/** Whether a buffer was transferred away (a view on it can no longer be made). */
function isDetached(buf: ArrayBufferLike): boolean {
  try {
    new Uint8Array(buf);
    return false;
  } catch {
    return true;
  }
}

/** Workers in a row that may end before loading (a module that cannot load) before this thread prepares every file. */
const MAX_FAILED_STARTS = 3;

interface Waiting {
  resolve(file: PreparedEventFile): void;
  reject(err: unknown): void;
}

export class ParseWorkerThread implements EventFileParser {
  private worker: Worker | null = null;
  private ready = false;
  /** Settles when the current worker has loaded (resolves) or died first (rejects). */
  private loaded: Promise<void> = Promise.resolve();
  private nextId = 1;
  /** Workers in a row that ended before they had loaded; at MAX_FAILED_STARTS none is started again. */
  private failedStarts = 0;
  private readonly waiting = new Map<number, Waiting>();
  /** Files prepared on the worker / in this thread (stats and tests). */
  readonly counts = { worker: 0, inThread: 0 };

  /** `entry`: the worker's module (tests give one that cannot load). */
  constructor(private readonly entry: URL = new URL("./parse-worker.js", import.meta.url)) {}

  /** Starts the worker now (it loads while the caller goes on); later calls do nothing while it runs. */
  start(): void {
    if (this.worker || this.failedStarts >= MAX_FAILED_STARTS) return;
    let worker: Worker;
    try {
      worker = new Worker(this.entry);
    } catch (err) {
      // No worker thread here (a runtime without them, no resources): files are prepared in this
      // thread; the next file tries again, MAX_FAILED_STARTS times in all.
      this.failedStarts += 1;
      this.loaded = Promise.reject(new RetryableError(`parse worker: cannot start: ${errorMessage(err)}`, { code: "parse_worker_died" }));
      this.loaded.catch(() => {});
      return;
    }
    this.worker = worker;
    this.ready = false;
    let loadedNow = () => {};
    let failedFirst = (_err: unknown) => {};
    this.loaded = new Promise<void>((resolve, reject) => {
      loadedNow = resolve;
      failedFirst = reject;
    });
    this.loaded.catch(() => {}); // observed by whenReady, when someone waits
    worker.on("message", (reply: PrepareReply) => {
      if ("ready" in reply) {
        if (this.worker === worker) this.ready = true;
        this.failedStarts = 0;
        loadedNow();
        return;
      }
      const w = this.waiting.get(reply.id);
      if (!w) return;
      this.waiting.delete(reply.id);
      if (this.waiting.size === 0) worker.unref();
      if ("file" in reply) w.resolve(reply.file);
      else w.reject(errorFromHeaders(reply.error) ?? new RetryableError("parse worker: an error without a message"));
    });
    const died = (why: string) => {
      if (this.worker !== worker) return;
      if (!this.ready) this.failedStarts += 1;
      this.worker = null;
      this.ready = false;
      failedFirst(new RetryableError(`parse worker: ${why}`, { code: "parse_worker_died" }));
      const failed = [...this.waiting.values()];
      this.waiting.clear();
      for (const w of failed) w.reject(new RetryableError(`parse worker: ${why}`, { code: "parse_worker_died" }));
    };
    worker.on("error", (err) => died(errorMessage(err)));
    worker.on("exit", (code) => died(`exited with code ${code}`));
    // After the listeners: adding a 'message' listener refs the worker's port again.
    worker.unref();
  }

  prepare(body: FileBody, partitionId: string, source: string): Promise<PreparedEventFile> {
    if (typeof body !== "string" && body.byteLength === 0 && isDetached(body.buffer)) {
      // Its bytes went to the worker with an earlier prepare: Node would post nothing and no
      // answer would ever come; decoding the empty view would dead-letter the file as empty.
      return Promise.reject(new Error(`parse worker: the bytes of ${source} were already handed over by an earlier prepare (a body is prepared once)`));
    }
    this.start();
    const worker = this.worker;
    if (!worker || !this.ready) {
      this.counts.inThread += 1;
      return inThreadParser.prepare(body, partitionId, source);
    }
    this.counts.worker += 1;
    const id = this.nextId++;
    return new Promise<PreparedEventFile>((resolve, reject) => {
      if (this.waiting.size === 0) worker.ref();
      this.waiting.set(id, { resolve, reject });
      try {
        worker.postMessage({ id, body, partitionId, source } satisfies PrepareRequest, handOver(body));
      } catch (err) {
        // Not sent (a body that cannot be cloned or transferred, e.g. already handed over once):
        // this file fails, and nothing is left waiting for an answer that will not come.
        this.waiting.delete(id);
        if (this.waiting.size === 0) worker.unref();
        reject(err);
      }
    });
  }

  /** Resolves once the worker has loaded, rejects if it died first (tests; ingest never waits for it). */
  async whenReady(): Promise<void> {
    this.start();
    const worker = this.worker;
    if (!worker) return this.loaded; // it could not start: rejects
    if (this.ready) return;
    worker.ref(); // an idle worker does not keep the process alive; one waited for must
    try {
      await this.loaded;
    } finally {
      if (this.waiting.size === 0) worker.unref();
    }
  }

  /** Ends the worker; requests it still held fail (RetryableError). */
  async close(): Promise<void> {
    const worker = this.worker;
    if (!worker) return;
    await worker.terminate();
  }
}
