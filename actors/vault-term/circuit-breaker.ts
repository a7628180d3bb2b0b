/**
 * A circuit breaker per external dependency (Redis, PostgreSQL), on an injected clock.
 *
 * closed    — calls go through; `threshold` consecutive failures open it.
 * open      — calls are refused (`allows()` false) for `timeoutMs`, so a dependency that is down is
 *             not hammered; `retryInMs()` says how long to wait.
 * half-open — after the timeout one trial call goes through: success closes, failure re-opens.
 * Gauge value (`circuit_breaker_state`): 0 closed, 1 open, 2 half-open.
 */
import type { Clock } from "../../supervisors/clock.ts";

export const BREAKER_STATES = { closed: 0, open: 1, "half-open": 2 } as const;
export type BreakerState = keyof typeof BREAKER_STATES;

export class CircuitBreaker {
  private failures = 0;
  private openedAt: number | null = null;
  private trial = false;
  lastError: string | null = null;

  constructor(
    readonly name: string,
    private readonly opts: { threshold: number; timeoutMs: number; clock: Clock; onChange?: (state: BreakerState) => void },
  ) {}

  get state(): BreakerState {
    if (this.openedAt === null) return "closed";
    return this.opts.clock.now() - this.openedAt >= this.opts.timeoutMs ? "half-open" : "open";
  }

  /** May a call go through now? (In half-open, only one trial at a time.) */
  allows(): boolean {
    const s = this.state;
    if (s === "closed") return true;
    if (s === "open" || this.trial) return false;
    this.trial = true;
    return true;
  }

  /** Milliseconds until a call may go through (0 when it may now). */
  retryInMs(): number {
    if (this.openedAt === null) return 0;
    return Math.max(0, this.opts.timeoutMs - (this.opts.clock.now() - this.openedAt));
  }

  success(): void {
    const before = this.state;
    this.failures = 0;
    this.openedAt = null;
    this.trial = false;
    this.lastError = null;
    if (before !== "closed") this.opts.onChange?.("closed");
  }

  failure(err?: unknown): void {
    this.lastError = err instanceof Error ? err.message : err === undefined ? null : String(err);
    this.trial = false;
    this.failures += 1;
    if (this.openedAt !== null || this.failures >= this.opts.threshold) {
      this.openedAt = this.opts.clock.now();
      this.opts.onChange?.("open");
    }
  }
}
