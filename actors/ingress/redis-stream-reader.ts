/**
 * Redis streams reader (ioredis): one consumer of a consumer group over several streams.
 *
 * - Group per `group`, created at the stream start (`0`, MKSTREAM) when missing.
 * - A batch is up to `batchSize` entries: the first read blocks up to `batchTimeoutMs`, then
 *   non-blocking reads top it up while entries are waiting.
 * - `handle(batch)` must commit the batch's journal before it resolves; only then are the
 *   entries acknowledged (XACK). A crash before the ack leaves them pending: they are read again
 *   by this consumer on restart (XREADGROUP from `0`) or claimed by another one (XAUTOCLAIM of
 *   entries idle longer than `claimIdleMs`), and the idempotent journal makes redelivery harmless.
 * - Several readers with the same group and distinct consumer names share the work.
 * - stop() removes this consumer from the group when it has nothing pending (a consumer holding
 *   unacknowledged entries stays, so they can still be read again or claimed).
 * - A batch whose handler fails is retried with exponential backoff (injected clock); after
 *   `maxRetries` failures it is split and each entry handled alone, and an entry that still fails
 *   with bad input (InputError, or a PostgreSQL data/integrity error: SQLSTATE 22xxx/23xxx) goes to
 *   `poison` (dead-letter) and is acknowledged. Any other failure (a dependency down) is retried
 *   forever, never dropped: the line stops rather than loses data.
 */
import { Redis } from "ioredis";
import type { Logger } from "pino";
import type { Clock } from "../../supervisors/clock.ts";
import { systemClock } from "../../supervisors/clock.ts";
import { errorMessage, isPoisonError } from "../../protocols/errors.ts";
import type { CircuitBreaker } from "../vault-term/circuit-breaker.ts";

export interface StreamEntry {
  stream: string;
  id: string;
  /** Field list as Redis returns it: [name, value, name, value, …]. */
  fields: string[];
}

export interface RedisStreamReaderOptions {
  redisUrl: string;
  streams: readonly string[];
  group: string;
  consumer: string;
  batchSize: number;
  batchTimeoutMs: number;
  /** Pending entries idle at least this long are claimed from other consumers (default 60 s). */
  claimIdleMs?: number;
  /** How often to look for stale pending entries (default claimIdleMs / 2, at least 1 s). */
  claimEveryMs?: number;
  maxRetries?: number;
  /** Backoff of a failing batch: min(maxDelayMs, baseDelayMs·2^attempt). */
  retry?: { baseDelayMs: number; maxDelayMs: number };
  /** Commits the batch (journal + state); entries are acknowledged after it resolves. */
  handle(batch: StreamEntry[]): Promise<void>;
  /** Keeps an entry that cannot be processed (dead letter); it is acknowledged afterwards. */
  poison?(entry: StreamEntry, error: unknown): Promise<void>;
  /** Circuit breakers: `source` guards Redis calls, `sink` guards the handler (the database). */
  breakers?: { source?: CircuitBreaker; sink?: CircuitBreaker };
  clock?: Clock;
  log?: Logger;
}

export interface ReaderStats {
  batches: number;
  entries: number;
  acked: number;
  claimed: number;
  retries: number;
  poisoned: number;
  lastBatchAt: number | null;
  lastError: string | null;
}

type XReadReply = [stream: string, entries: [id: string, fields: string[]][]][] | null;

/** A batch given up because the reader is stopping (never acknowledged). */
export class ReaderStopped extends Error {
  constructor() {
    super("redis reader stopping: batch left unacknowledged");
  }
}


export class RedisStreamReader {
  readonly stats: ReaderStats = { batches: 0, entries: 0, acked: 0, claimed: 0, retries: 0, poisoned: 0, lastBatchAt: null, lastError: null };
  private readonly opts: Required<Pick<RedisStreamReaderOptions, "claimIdleMs" | "claimEveryMs" | "maxRetries" | "retry">> & RedisStreamReaderOptions;
  private readonly clock: Clock;
  private readonly commands: Redis;
  private readonly blocking: Redis;
  private running = false;
  /** Set by stop(): retries and breaker waits end (the batch stays unacknowledged, read again later). */
  private stopping = false;
  /** Wakers of the backoff sleeps under way: stop() ends them at once. */
  private readonly sleepers = new Set<() => void>();
  private loop: Promise<void> | null = null;
  private ownPendingDone = false;
  private lastClaimAt = -Infinity;
  private claimCursor = new Map<string, string>();
  private groupsReady = false;

  constructor(opts: RedisStreamReaderOptions) {
    const claimIdleMs = opts.claimIdleMs ?? 60_000;
    this.opts = {
      ...opts,
      claimIdleMs,
      claimEveryMs: opts.claimEveryMs ?? Math.max(1000, Math.floor(claimIdleMs / 2)),
      maxRetries: opts.maxRetries ?? 3,
      retry: opts.retry ?? { baseDelayMs: 200, maxDelayMs: 30_000 },
    };
    this.clock = opts.clock ?? systemClock;
    const redisOpts = { lazyConnect: true, maxRetriesPerRequest: null, enableAutoPipelining: false } as const;
    this.commands = new Redis(opts.redisUrl, redisOpts);
    this.blocking = new Redis(opts.redisUrl, redisOpts);
    this.commands.on("error", () => {});
    this.blocking.on("error", () => {});
  }

  /** Create the consumer groups (at the stream start) where missing. */
  async ensureGroups(): Promise<void> {
    if (this.groupsReady) return;
    for (const stream of this.opts.streams) {
      try {
        await this.commands.xgroup("CREATE", stream, this.opts.group, "0", "MKSTREAM");
      } catch (err) {
        if (!/BUSYGROUP/.test(errorMessage(err))) throw err;
      }
    }
    this.groupsReady = true;
  }

  /**
   * Read one batch: first this consumer's own pending entries (after a restart), then stale
   * entries of other consumers when a claim is due, then new entries.
   */
  async readBatch(opts: { block?: boolean } = {}): Promise<StreamEntry[]> {
    await this.ensureGroups();
    const { streams, group, consumer, batchSize } = this.opts;
    if (!this.ownPendingDone) {
      const own = this.toEntries((await this.commands.xreadgroup("GROUP", group, consumer, "COUNT", batchSize, "STREAMS", ...streams, ...streams.map(() => "0"))) as XReadReply);
      if (own.length > 0) return own;
      this.ownPendingDone = true;
    }
    if (this.clock.now() - this.lastClaimAt >= this.opts.claimEveryMs) {
      const claimed = await this.claimStale();
      if (claimed.length > 0) return claimed;
      this.lastClaimAt = this.clock.now();
    }
    const batch: StreamEntry[] = [];
    const first = opts.block === false
      ? await this.commands.xreadgroup("GROUP", group, consumer, "COUNT", batchSize, "STREAMS", ...streams, ...streams.map(() => ">"))
      : await this.blocking.xreadgroup("GROUP", group, consumer, "COUNT", batchSize, "BLOCK", this.opts.batchTimeoutMs, "STREAMS", ...streams, ...streams.map(() => ">"));
    batch.push(...this.toEntries(first as XReadReply));
    while (batch.length > 0 && batch.length < batchSize) {
      const more = this.toEntries((await this.commands.xreadgroup("GROUP", group, consumer, "COUNT", batchSize - batch.length, "STREAMS", ...streams, ...streams.map(() => ">"))) as XReadReply);
      if (more.length === 0) break;
      batch.push(...more);
    }
    return batch;
  }

  /** XAUTOCLAIM entries idle ≥ claimIdleMs from any consumer of the group. */
  async claimStale(): Promise<StreamEntry[]> {
    const out: StreamEntry[] = [];
    for (const stream of this.opts.streams) {
      if (out.length >= this.opts.batchSize) break;
      const start = this.claimCursor.get(stream) ?? "0-0";
      const reply = (await this.commands.xautoclaim(stream, this.opts.group, this.opts.consumer, this.opts.claimIdleMs, start, "COUNT", this.opts.batchSize - out.length)) as [string, [string, string[] | null][], string[]?];
      const [next, entries] = reply;
      this.claimCursor.set(stream, next === "0-0" ? "0-0" : next);
      for (const [id, fields] of entries) if (fields) out.push({ stream, id, fields });
    }
    this.stats.claimed += out.length;
    return out;
  }

  /**
   * Entries waiting for this group: not yet delivered (XINFO GROUPS `lag`, Redis ≥ 7) plus
   * delivered but not acknowledged (pending). For readiness: work waiting and no progress = stuck.
   */
  async backlog(): Promise<number> {
    await this.ensureGroups();
    let total = 0;
    for (const stream of this.opts.streams) {
      const groups = (await this.commands.xinfo("GROUPS", stream).catch(() => [])) as unknown[][];
      for (const g of groups) {
        const info = new Map<string, unknown>();
        for (let i = 0; i + 1 < g.length; i += 2) info.set(String(g[i]), g[i + 1]);
        if (info.get("name") !== this.opts.group) continue;
        total += Number(info.get("pending") ?? 0) + Number(info.get("lag") ?? 0);
      }
    }
    return total;
  }

  /** Read, handle and acknowledge one batch. Returns the number of entries processed. */
  async processOnce(opts: { block?: boolean } = {}): Promise<number> {
    const batch = await this.readBatch(opts);
    if (batch.length === 0) return 0;
    await this.handleWithRetry(batch);
    await this.ack(batch);
    this.stats.batches += 1;
    this.stats.entries += batch.length;
    this.stats.lastBatchAt = this.clock.now();
    return batch.length;
  }

  /** Process until nothing is waiting (no blocking); for imports and tests. */
  async drain(): Promise<number> {
    let total = 0;
    for (;;) {
      const n = await this.processOnce({ block: false });
      if (n === 0 && this.ownPendingDone) return total;
      total += n;
    }
  }

  /** Wait while a breaker is open (a dependency known to be down is not called). */
  private async waitFor(breaker: CircuitBreaker | undefined): Promise<void> {
    while (breaker && !breaker.allows()) {
      this.throwIfStopping();
      await this.sleep(Math.max(breaker.retryInMs(), this.opts.retry.baseDelayMs));
    }
  }

  private throwIfStopping(): void {
    if (this.stopping) throw new ReaderStopped();
  }

  private async handleWithRetry(batch: StreamEntry[]): Promise<void> {
    const sink = this.opts.breakers?.sink;
    for (let attempt = 0; ; attempt++) {
      // Stopping while the sink is down: give up the batch unacknowledged (it is read again by
      // this consumer at its next start, or claimed by another) instead of holding stop() up.
      this.throwIfStopping();
      await this.waitFor(sink);
      try {
        await this.opts.handle(batch);
        sink?.success();
        this.stats.lastError = null;
        return;
      } catch (err) {
        this.stats.lastError = errorMessage(err);
        const poison = isPoisonError(err);
        // Bad input means the database answered: only other failures count against it.
        if (poison) sink?.success();
        else sink?.failure(err);
        if ((poison || attempt >= this.opts.maxRetries) && batch.length > 1) {
          for (const entry of batch) await this.handleWithRetry([entry]);
          return;
        }
        if (poison) {
          await this.poison(batch[0], err);
          return;
        }
        this.stats.retries += 1;
        this.opts.log?.warn({ err, entries: batch.length, attempt }, `redis batch failed, retrying: ${errorMessage(err)}`);
        await this.sleep(Math.min(this.opts.retry.maxDelayMs, this.opts.retry.baseDelayMs * 2 ** Math.min(attempt, 20)));
      }
    }
  }

  private async poison(entry: StreamEntry, err: unknown): Promise<void> {
    this.stats.poisoned += 1;
    this.opts.log?.error({ err, stream: entry.stream, id: entry.id }, `redis entry ${entry.stream}/${entry.id} dead-lettered: ${errorMessage(err)}`);
    if (this.opts.poison) await this.opts.poison(entry, err);
  }

  private async ack(batch: StreamEntry[]): Promise<void> {
    const byStream = new Map<string, string[]>();
    for (const e of batch) {
      let ids = byStream.get(e.stream);
      if (!ids) byStream.set(e.stream, (ids = []));
      ids.push(e.id);
    }
    for (const [stream, ids] of byStream) this.stats.acked += Number(await this.commands.xack(stream, this.opts.group, ...ids));
  }

  private sleep(ms: number): Promise<void> {
    if (this.stopping) return Promise.resolve();
    return new Promise((resolve) => {
      const wake = () => {
        this.sleepers.delete(wake);
        this.clock.clearTimeout(timer);
        resolve();
      };
      const timer = this.clock.setTimeout(wake, ms);
      this.sleepers.add(wake);
    });
  }

  private toEntries(reply: XReadReply): StreamEntry[] {
    const out: StreamEntry[] = [];
    for (const [stream, entries] of reply ?? []) for (const [id, fields] of entries) if (fields) out.push({ stream, id, fields });
    return out;
  }

  /** Run until stop(): batches as they come. Errors of Redis itself are retried with backoff. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = (async () => {
      let failures = 0;
      const source = this.opts.breakers?.source;
      while (this.running) {
        try {
          await this.waitFor(source);
          await this.processOnce();
          source?.success();
          failures = 0;
        } catch (err) {
          if (!this.running) break;
          source?.failure(err);
          failures += 1;
          this.stats.lastError = errorMessage(err);
          this.opts.log?.warn({ err }, `redis reader: ${errorMessage(err)}`);
          await this.sleep(Math.min(this.opts.retry.maxDelayMs, this.opts.retry.baseDelayMs * 2 ** Math.min(failures, 20)));
        }
      }
    })();
  }

  /**
   * Stop reading; a handle call under way finishes first, but a batch waiting to be retried (its
   * sink down, its breaker open) is given up unacknowledged. Then this consumer leaves the group
   * where it has nothing pending (removeOwnConsumer), and both connections close.
   */
  async stop(): Promise<void> {
    this.running = false;
    this.stopping = true;
    for (const wake of [...this.sleepers]) wake();
    this.blocking.disconnect();
    await this.loop?.catch(() => {});
    this.loop = null;
    await this.removeOwnConsumer();
    await this.commands.quit().catch(() => this.commands.disconnect());
  }

  /**
   * On stop, once nothing reads any more: this consumer leaves the group of each stream if it has
   * no pending entry (one script, so no entry can become pending in between); with entries pending
   * it stays, since XGROUP DELCONSUMER would drop them unacknowledged where no other consumer could
   * claim them — they are read again at its next start or claimed after claimIdleMs. Default
   * consumer names carry the pid, so without this every restart would leave one more behind.
   * Skipped when this reader never reached Redis or the connection is down (best effort: bounded,
   * never fails stop()).
   */
  private async removeOwnConsumer(): Promise<void> {
    if (!this.groupsReady || this.commands.status !== "ready") return;
    const { group, consumer } = this.opts;
    for (const stream of this.opts.streams) {
      let timer: ReturnType<Clock["setTimeout"]> | undefined;
      try {
        const removed = this.commands.eval(DELETE_CONSUMER_IF_IDLE, 1, stream, group, consumer) as Promise<number>;
        const late = new Promise<"timeout">((resolve) => (timer = this.clock.setTimeout(() => resolve("timeout"), CONSUMER_CLEANUP_TIMEOUT_MS)));
        const outcome = await Promise.race([removed, late]);
        if (outcome === "timeout") {
          removed.catch(() => {});
          this.opts.log?.warn({ stream, group, consumer }, `redis reader: consumer ${consumer} of ${stream}/${group} left in place: Redis did not answer within ${CONSUMER_CLEANUP_TIMEOUT_MS} ms`);
          // Drop the connection rather than queue QUIT behind the unanswered script.
          this.commands.disconnect();
          return;
        }
        if (Number(outcome) < 0) this.opts.log?.info({ stream, group, consumer }, `redis reader: consumer ${consumer} kept in ${stream}/${group}: it has entries pending (read again at its next start or claimed by another consumer)`);
        else this.opts.log?.info({ stream, group, consumer }, `redis reader: consumer ${consumer} removed from ${stream}/${group} (nothing pending)`);
      } catch (err) {
        this.opts.log?.warn({ err, stream, group, consumer }, `redis reader: consumer ${consumer} of ${stream}/${group} not removed: ${errorMessage(err)}`);
      } finally {
        if (timer) this.clock.clearTimeout(timer);
      }
    }
  }
}

/** How long stop() waits for Redis to answer the consumer cleanup of one stream. */
const CONSUMER_CLEANUP_TIMEOUT_MS = 5_000;

/**
 * KEYS[1] stream, ARGV[1] group, ARGV[2] consumer: XGROUP DELCONSUMER only when the consumer has
 * no pending entry (returns what DELCONSUMER returns, 0), else -1 and the consumer stays.
 */
const DELETE_CONSUMER_IF_IDLE = `
if #redis.call('XPENDING', KEYS[1], ARGV[1], '-', '+', 1, ARGV[2]) > 0 then return -1 end
return redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], ARGV[2])
`;
