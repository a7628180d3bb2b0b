/**
 * Counts outstanding work of an actor system: messages queued or being processed, effects
 * waiting for their commit, messages in transit to this host. `whenIdle()` resolves when the
 * count is zero (checked again one macrotask later, so work started by the last release counts).
 */
import { setImmediate } from "node:timers";

export class IdleTracker {
  private outstanding = 0;
  private waiters: (() => void)[] = [];
  private checking = false;
  private awaitingCount = 0;
  /** Run when someone starts awaiting idle (a kind with a commit window flushes at once then). */
  readonly onAwait = new Set<() => void>();

  /** How many `whenIdle()` calls are waiting now. */
  get awaiting(): number {
    return this.awaitingCount;
  }

  get count(): number {
    return this.outstanding;
  }

  inc(n = 1): void {
    this.outstanding += n;
  }

  dec(n = 1): void {
    this.outstanding -= n;
    if (this.outstanding < 0) this.outstanding = 0;
    if (this.outstanding === 0) this.check();
  }

  whenIdle(): Promise<void> {
    this.awaitingCount++;
    for (const hook of this.onAwait) hook();
    return new Promise<void>((resolve) => {
      this.waiters.push(() => {
        this.awaitingCount--;
        resolve();
      });
      this.check();
    });
  }

  private check(): void {
    if (this.checking || this.waiters.length === 0) return;
    this.checking = true;
    setImmediate(() => {
      this.checking = false;
      if (this.outstanding !== 0) return;
      const waiters = this.waiters;
      this.waiters = [];
      for (const w of waiters) w();
    });
  }
}
