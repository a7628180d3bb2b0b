/**
 * Payment runs that must happen even when their partition is busy (issue 5 review).
 *
 * `runPayments` answers `busy` when another run holds the partition's lease: a live run on
 * another host, or the lease of a host that died mid-run, held until it expires
 * (PAYMENT_LEASE_TTL_SECONDS). Work that must not be lost — open WAL entries found when the
 * service starts, a schedule tick whose run found the lease held — is retried here instead of
 * being dropped: when the holder's lease expires (read from `payment_run_lease`), and at least
 * every `maxWaitMs` (a live run releases its lease when it ends), until a run takes place or the
 * work is no longer due (another host's run did it). A run that throws (database or node down)
 * is retried after `maxWaitMs`. One pending retry per partition; every wait is on the injected
 * clock (no real sleeps in tests).
 */
import type { Logger } from "pino";
import type { Queryable } from "../../../db/db.ts";
import type { Clock, TimerHandle } from "../../../supervisors/clock.ts";
import type { PaymentRunReport } from "./payment-run.ts";
import { leaseExpiresAt } from "./payment-store.ts";
import { errorMessage } from "../../../protocols/errors.ts";

export interface PaymentRunRetryDeps {
  db: Queryable;
  clock: Clock;
  log: Logger;
  /** Longest wait between two attempts (a live holder may release its lease early). */
  maxWaitMs: number;
  /** One payment run of the partition (runPayments through the service). */
  run(partitionId: string, trigger: string): Promise<PaymentRunReport>;
  /** Whether the partition still has work when a retry comes due (paymentWorkDue). */
  stillDue(partitionId: string): Promise<boolean>;
}

/** How long to wait for a lease that expires at `expiresAtMs` (null: none): until then, within [1, maxWaitMs]. */
export function leaseWaitMs(expiresAtMs: number | null, nowMs: number, maxWaitMs: number): number {
  const untilFree = expiresAtMs === null ? 0 : expiresAtMs - nowMs;
  return Math.min(maxWaitMs, Math.max(1, untilFree));
}

export class PaymentRunRetry {
  private readonly waiting = new Map<string, TimerHandle>();
  private readonly inFlight = new Set<Promise<void>>();
  private stopped = false;

  constructor(private readonly deps: PaymentRunRetryDeps) {}

  /** Run the partition now; when busy (or failing), again later until a run takes place. */
  runNow(partitionId: string, trigger: string): Promise<void> {
    return this.track(this.attempt(partitionId, trigger, false));
  }

  /** The partition's run just returned busy: retry it once its lease is free (no-op when one is already waiting). */
  retryWhenFree(partitionId: string, trigger: string): void {
    void this.track(this.waitForLease(partitionId, trigger));
  }

  /** Partitions with a retry waiting. */
  pending(): string[] {
    return [...this.waiting.keys()];
  }

  /** Resolves when no attempt is in progress (waiting retries do not count). */
  async whenIdle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }

  /** Cancel the waiting retries and wait for the attempts in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.waiting.values()) this.deps.clock.clearTimeout(t);
    this.waiting.clear();
    await this.whenIdle();
  }

  private track(p: Promise<void>): Promise<void> {
    this.inFlight.add(p);
    void p.finally(() => this.inFlight.delete(p));
    return p;
  }

  private async attempt(partitionId: string, trigger: string, checkDue: boolean): Promise<void> {
    const { log } = this.deps;
    if (this.stopped) return;
    try {
      if (checkDue && !(await this.deps.stillDue(partitionId))) {
        log.info({ partition: partitionId, trigger }, "payments: nothing due any more for the retried run (another run did it)");
        return;
      }
      const report = await this.deps.run(partitionId, trigger);
      if (report.outcome === "busy") await this.waitForLease(partitionId, trigger);
    } catch (err) {
      log.error({ partition: partitionId, trigger, err: errorMessage(err) }, `payments: ${trigger} run failed; retried in ${this.deps.maxWaitMs} ms`);
      this.after(partitionId, trigger, this.deps.maxWaitMs);
    }
  }

  private async waitForLease(partitionId: string, trigger: string): Promise<void> {
    if (this.stopped || this.waiting.has(partitionId)) return;
    const { db, clock, log, maxWaitMs } = this.deps;
    let expires: number | null = null;
    let waitMs = maxWaitMs;
    try {
      expires = await leaseExpiresAt(db, partitionId);
      waitMs = leaseWaitMs(expires, clock.now(), maxWaitMs);
    } catch {
      // The database did not answer: try again after the longest wait.
    }
    log.warn({ partition: partitionId, trigger, leaseExpiresAtMs: expires, retryInMs: waitMs }, `payments: ${trigger} run found the partition busy (another run holds its lease); retried when the lease is free`);
    this.after(partitionId, trigger, waitMs);
  }

  private after(partitionId: string, trigger: string, delayMs: number): void {
    if (this.stopped || this.waiting.has(partitionId)) return;
    this.waiting.set(partitionId, this.deps.clock.setTimeout(() => {
      this.waiting.delete(partitionId);
      void this.track(this.attempt(partitionId, trigger, true));
    }, delayMs));
  }
}
