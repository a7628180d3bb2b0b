/**
 * The payment schedule: every PAYMENT_SENSOR_INTERVAL_SECONDS each active partition with a worker
 * at or above the threshold gets a payment run (deliberate trigger; ingest never pays).
 * A durable timer, not an XState `after`: the due time lives in `payment_schedule`, a host
 * claims a tick by compare-and-set (each tick runs once across hosts), and ticks missed while
 * no host was running run ONCE on catch-up (missed-tick policy "run once"). A tick whose run
 * finds the partition busy is retried by the trigger once the lease is free, never dropped.
 */
import type { Logger } from "pino";
import type { Db, Queryable } from "../../../db/db.ts";
import type { Clock, TimerHandle } from "../../../supervisors/clock.ts";
import { listWalEntries, loadBalances, OPEN_STATUSES } from "./payment-store.ts";
import { planPayments } from "./unpaid.ts";

/** Whether a run has work: a worker at or above the threshold, or an open payment to reconcile. */
export async function paymentWorkDue(q: Queryable, partitionId: string, thresholdWei: string): Promise<boolean> {
  if ((await listWalEntries(q, partitionId, OPEN_STATUSES)).length > 0) return true;
  return planPayments("check", await loadBalances(q, partitionId), thresholdWei).planned.length > 0;
}

/** The due time after `dueMs` that is later than `nowMs` (missed ticks collapse into one). */
export function nextDueAfter(dueMs: number, intervalMs: number, nowMs: number): number {
  if (nowMs < dueMs) return dueMs;
  const missed = Math.floor((nowMs - dueMs) / intervalMs) + 1;
  return dueMs + missed * intervalMs;
}

/** Claim the partition's tick if it is due; returns true for exactly one claimer per tick. */
export async function claimTick(q: Queryable, partitionId: string, owner: string, nowMs: number, intervalMs: number): Promise<boolean> {
  // First tick of a new partition is due one interval after the schedule first sees it.
  await q.query(`INSERT INTO payment_schedule (partition_id, next_due_at_ms) VALUES ($1, $2) ON CONFLICT (partition_id) DO NOTHING`, [partitionId, nowMs + intervalMs]);
  const cur = await q.query<{ due: string }>(`SELECT next_due_at_ms::text AS due FROM payment_schedule WHERE partition_id = $1`, [partitionId]);
  const due = Number(cur.rows[0].due);
  if (nowMs < due) return false;
  const res = await q.query(
    `UPDATE payment_schedule SET next_due_at_ms = $3, last_claimed_by = $4, last_claimed_at_ms = $5 WHERE partition_id = $1 AND next_due_at_ms = $2`,
    [partitionId, due, nextDueAfter(due, intervalMs, nowMs), owner, nowMs],
  );
  return res.rowCount === 1;
}

export async function nextDueAt(q: Queryable, partitionId: string): Promise<number | null> {
  const res = await q.query<{ due: string }>(`SELECT next_due_at_ms::text AS due FROM payment_schedule WHERE partition_id = $1`, [partitionId]);
  return res.rowCount === 0 ? null : Number(res.rows[0].due);
}

export interface PaymentSchedulerDeps {
  db: Db;
  clock: Clock;
  log: Logger;
  owner: string;
  intervalMs: number;
  /** How often a host looks for due ticks (default: a tenth of the interval, at most a minute). */
  pollMs?: number;
  partitions: readonly string[];
  /**
   * Start a payment run (runPayments); called once per claimed tick. The tick is spent once
   * claimed, whatever the run answers, so a run that finds the partition busy (another run, or a
   * dead host's lease) must not be dropped by the trigger: the service retries it once the lease
   * is free (payment-run-retry.ts) rather than waiting a whole interval for the next tick.
   */
  trigger(partitionId: string): Promise<unknown>;
}

export class PaymentScheduler {
  private timer: TimerHandle | null = null;
  private running: Promise<void> = Promise.resolve();
  private stopped = true;

  constructor(private readonly deps: PaymentSchedulerDeps) {}

  start(): void {
    this.stopped = false;
    this.arm(0);
  }

  /** Stop polling; resolves when a tick in progress has finished. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) this.deps.clock.clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }

  /** Resolves when the tick in progress (if any) has finished. */
  whenIdle(): Promise<void> {
    return this.running;
  }

  /**
   * Claim and run every due partition (one at a time); returns the partitions triggered.
   * Claiming advances the partition's due time before the run: a busy or failed run does not make
   * the tick fire again (other hosts would pile up on it); the trigger owns retrying a busy run.
   */
  async tick(): Promise<string[]> {
    const { db, clock, owner, intervalMs, log } = this.deps;
    const triggered: string[] = [];
    for (const partition of this.deps.partitions) {
      try {
        if (!(await claimTick(db, partition, owner, clock.now(), intervalMs))) continue;
        triggered.push(partition);
        await this.deps.trigger(partition);
      } catch (err) {
        log.error({ partition, err: (err as Error).message }, "scheduled payment run failed; the next tick tries again");
      }
    }
    return triggered;
  }

  private arm(delayMs: number): void {
    if (this.stopped) return;
    this.timer = this.deps.clock.setTimeout(() => {
      this.running = this.tick().then(
        () => this.arm(this.deps.pollMs ?? Math.min(60_000, Math.max(1, Math.floor(this.deps.intervalMs / 10)))),
        () => this.arm(this.deps.pollMs ?? 60_000),
      );
    }, delayMs);
  }
}
