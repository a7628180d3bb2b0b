/**
 * Counts outstanding work of an actor system: messages queued or being processed, effects
 * waiting for their commit, messages in transit to this host. `whenIdle()` resolves when the
 * count is zero (checked again one macrotask later, so work started by the last release counts).
 *
 * While someone awaits `whenIdle()`, one referenced timer keeps the process alive: the runtime's
 * own timers on the system clock (backoff, commit window) are unref'd (clock.ts), so a process
 * that only awaits idle (`strata import`) would otherwise exit with work still to do. It is
 * cleared when the waiters are released, and for good by `close()` (ActorSystem.stop()).
 */
import { setImmediate } from "node:timers";

/** Never fires in practice (~12 days); only its being referenced matters. */
const KEEP_ALIVE_INTERVAL_MS = 2 ** 30;
const noop = (): void => {};

export class IdleTracker {
  private outstanding = 0;
  private waiters: (() => void)[] = [];
  private checking = false;
  private awaitingCount = 0;
  /** The referenced timer held while a whenIdle() waits (null when none waits, or closed). */
  private keepAlive: ReturnType<typeof setInterval> | null = null;
  private closed = false;
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
    if (!this.closed) this.keepAlive ??= setInterval(noop, KEEP_ALIVE_INTERVAL_MS);
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
      this.releaseKeepAlive();
      for (const w of waiters) w();
    });
  }

  /**
   * The system stopped: whenIdle() calls still waiting (or made later) no longer keep the
   * process alive. They resolve only if the count reaches zero.
   */
  close(): void {
    this.closed = true;
    this.releaseKeepAlive();
  }

  private releaseKeepAlive(): void {
    if (this.keepAlive !== null) clearInterval(this.keepAlive);
    this.keepAlive = null;
  }
}
