/**
 * Group commit for one lane of one kind: the dirty states of many actors are saved in ONE
 * transaction, and the effects of the messages that produced them (replies, tells, emits) are
 * released only after that transaction commits.
 *
 * Batching is adaptive, not timed: the first dirty actor schedules a flush at the end of the
 * current burst of work (one macrotask turn), so everything the actors compute in that burst
 * shares one transaction; while a transaction is in flight, new dirty states accumulate and go
 * in the next one as soon as it returns. Under load the batches grow by themselves up to
 * `maxBatch` actors per transaction; when quiet, a message waits for no timer, and tests need no
 * clock. (A kind that wants to wait opts into the window below.)
 *
 * Opt-in commit window (`windowMs` > 0): the first dirty actor of an empty batch opens a window
 * on the injected clock; the batch is flushed when the window elapses, when `maxBatch` actors are
 * dirty, when an entry is added with `urgent` (an ask waits), or when `flushNow()` is called
 * (whenIdle, stop). Repeated updates of one actor within a window fold into one entry, i.e. one
 * row write. With `windowMs` 0 (the default) the behaviour is the adaptive one above.
 *
 * One transaction at a time per committer, so one actor's states commit in order. The owner
 * (kind-supervisor.ts) decides what a commit or a failure means for its actors.
 */
import { setImmediate } from "node:timers";
import type { Clock, TimerHandle } from "./clock.ts";

export interface CommitEntry<C, S, E> {
  readonly cell: C;
  /** Latest state of the actor in this batch. */
  state: S;
  /** Effects of every message folded into this entry, in processing order. */
  readonly effects: E[];
}

export interface GroupCommitterOptions<C, S, E> {
  maxBatch: number;
  /** Runs the transaction (save of every entry). Throwing = the whole batch failed. */
  save(entries: readonly CommitEntry<C, S, E>[]): Promise<unknown>;
  /** `saved` is what save resolved to (the kind's after-commit work, e.g. coalesced tells). */
  committed(entries: readonly CommitEntry<C, S, E>[], ms: number, saved: unknown): void;
  failed(entries: readonly CommitEntry<C, S, E>[], err: unknown): void;
  /** Time source for the commit duration (a Clock's now). */
  now(): number;
  /** Commit window in ms (default 0: flush at the end of each burst). Needs `clock`. */
  windowMs?: number;
  /** Timers of the commit window. */
  clock?: Pick<Clock, "setTimeout" | "clearTimeout">;
}

export class GroupCommitter<C, S, E> {
  private batch = new Map<C, CommitEntry<C, S, E>>();
  private inFlight: readonly CommitEntry<C, S, E>[] = [];
  private flushing = false;
  private scheduled = false;
  private drainWaiters: (() => void)[] = [];
  private readonly windowMs: number;
  private windowTimer: TimerHandle | null = null;
  /** The accumulating batch must go now (window elapsed, an ask waits, or flushNow). */
  private due = false;

  constructor(private readonly opts: GroupCommitterOptions<C, S, E>) {
    this.windowMs = opts.clock && opts.windowMs && opts.windowMs > 0 ? opts.windowMs : 0;
  }

  /** Actors waiting for the next transaction. */
  get waiting(): number {
    return this.batch.size;
  }

  get busy(): boolean {
    return this.flushing || this.scheduled || this.batch.size > 0;
  }

  /**
   * Folds a new state (and the effects of the message that produced it) into the actor's entry
   * of the accumulating batch. Returns true when this created a new entry for the actor.
   */
  add(cell: C, state: S, effects: E | null, urgent = false): boolean {
    let entry = this.batch.get(cell);
    const created = entry === undefined;
    if (entry === undefined) {
      entry = { cell, state, effects: [] };
      this.batch.set(cell, entry);
    } else {
      entry.state = state;
    }
    if (effects !== null) entry.effects.push(effects);
    if (urgent) this.due = true;
    if (this.windowMs > 0 && this.windowTimer === null && !this.due) this.openWindow();
    this.schedule();
    return created;
  }

  /** Removes the actor's entry from the accumulating batch (not the one in flight). */
  take(cell: C): CommitEntry<C, S, E> | undefined {
    const entry = this.batch.get(cell);
    if (entry) this.batch.delete(cell);
    if (this.batch.size === 0) {
      this.due = false;
      this.closeWindow();
    }
    return entry;
  }

  /** Whether the actor has an entry in the transaction currently running. */
  inFlightFor(cell: C): boolean {
    return this.inFlight.some((e) => e.cell === cell);
  }

  /** Flushes the accumulating batch without waiting for the rest of its window. */
  flushNow(): void {
    if (this.batch.size === 0) return;
    this.due = true;
    this.schedule();
  }

  /** Resolves when nothing waits and no transaction runs (flushes a windowed batch at once). */
  drain(): Promise<void> {
    if (!this.busy) return Promise.resolve();
    this.flushNow();
    return new Promise((resolve) => this.drainWaiters.push(resolve));
  }

  private openWindow(): void {
    const clock = this.opts.clock!;
    this.windowTimer = clock.setTimeout(() => {
      this.windowTimer = null;
      if (this.batch.size === 0) return;
      this.due = true;
      this.schedule();
    }, this.windowMs);
  }

  private closeWindow(): void {
    if (this.windowTimer !== null) this.opts.clock!.clearTimeout(this.windowTimer);
    this.windowTimer = null;
  }

  private schedule(): void {
    if (this.flushing || this.scheduled) return;
    if (this.windowMs > 0 && !this.due && this.batch.size < this.opts.maxBatch) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      void this.flush();
    });
  }

  private async flush(): Promise<void> {
    if (this.flushing) return;
    if (this.batch.size === 0) {
      this.notifyDrained();
      return;
    }
    this.flushing = true;
    let entries: CommitEntry<C, S, E>[];
    if (this.batch.size <= this.opts.maxBatch) {
      // The common case: take the whole batch and start a fresh map (no delete churn).
      entries = [...this.batch.values()];
      this.batch = new Map();
      this.due = false;
      this.closeWindow();
    } else {
      entries = [];
      for (const [cell, entry] of this.batch) {
        entries.push(entry);
        this.batch.delete(cell);
        if (entries.length >= this.opts.maxBatch) break;
      }
    }
    this.inFlight = entries;
    const started = this.opts.now();
    let error: unknown = undefined;
    let ok = false;
    let saved: unknown = undefined;
    try {
      saved = await this.opts.save(entries);
      ok = true;
    } catch (err) {
      error = err;
    }
    this.inFlight = [];
    this.flushing = false;
    if (ok) this.opts.committed(entries, this.opts.now() - started, saved);
    else this.opts.failed(entries, error);
    entries.length = 0;
    if (this.batch.size > 0) {
      // States added during the transaction opened their own window (or are due already).
      if (this.windowMs > 0 && this.windowTimer === null && !this.due) this.openWindow();
      this.schedule();
    } else this.notifyDrained();
  }

  private notifyDrained(): void {
    if (this.busy) return;
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const w of waiters) w();
  }
}
