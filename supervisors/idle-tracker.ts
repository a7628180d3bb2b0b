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
    return new Promise((resolve) => {
      this.waiters.push(resolve);
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
