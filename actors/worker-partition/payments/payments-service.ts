/**
 * Payments wired for a host: the payer wallet on a chain the caller chose (ETH_RPC_ENDPOINT, or
 * the host's embedded anvil dev chain — supervisors/kinds/payments.ts decides and says which),
 * the payment schedule over the active partitions, the admin trigger, and the audit copied to S3.
 *  - At start, every partition with an open WAL entry gets a run at once (it reconciles first),
 *    not at the next schedule tick hours later; if a dead host's lease still holds it, the run is
 *    retried when that lease expires (payment-run-retry.ts).
 *  - A schedule tick whose run finds the partition busy is retried the same way, never dropped.
 *  - At start the node's chain id is compared with CHAIN_ID once (`startProblem()`); every run
 *    compares it again before it touches the chain (payment-run.ts).
 *  - The audit goes to S3 after every run, once at start, and every
 *    PAYMENT_AUDIT_EXPORT_INTERVAL_SECONDS, so a resolution made outside any run (admin route,
 *    `strata payments resolve`) reaches S3 within one interval.
 *  - After every run that ended (done or stopped: either may have credited workers), before the
 *    run's promise settles, `onRunEnded` is called: the host refreshes the partition's
 *    worker_summary and its S3 export (seed A2.8), which would otherwise keep the old paid and
 *    pending amounts until a new event file arrives. Payments never talk to the actor system.
 */
import type { Logger } from "pino";
import type { Db } from "../../../db/db.ts";
import type { Clock, TimerHandle } from "../../../supervisors/clock.ts";
import { paymentSettingsFrom } from "./config.ts";
import type { PaymentsConfigValues } from "./config.ts";
import { loadPayerWallet } from "./keys.ts";
import { exportAudit } from "./payment-audit-export.ts";
import type { AuditObjectStore } from "./payment-audit-export.ts";
import { runPayments } from "./payment-run.ts";
import type { PaymentRunReport } from "./payment-run.ts";
import { PaymentRunRetry } from "./payment-run-retry.ts";
import { errorMessage } from "../../../protocols/errors.ts";
import { PaymentScheduler, paymentWorkDue } from "./payment-schedule.ts";
import { OPEN_STATUSES, listWalEntries } from "./payment-store.ts";
import { chainMismatchReason } from "./chain-check.ts";
import { createRpcClient } from "./rpc-client.ts";

export interface PaymentsServiceOptions {
  db: Db;
  log: Logger;
  clock: Clock;
  /** This host's identity for leases and schedule claims. */
  owner: string;
  values: PaymentsConfigValues;
  /** The node payments are sent to, and the chain id it must answer with. */
  rpcUrl: string;
  chainId: number;
  /** ETH_PRIVATE_KEY's value (raw key or keystore path); ETH_KEYSTORE_PASSWORD comes from `values`. */
  payerKey: string;
  partitions: readonly string[];
  /** Where the audit is copied (S3); none = the table only. */
  auditStore?: AuditObjectStore;
  /** Automatic runs: the payment schedule and the recovery runs at start (default true). */
  schedule?: boolean;
  /** Longest wait before a busy or failed run is tried again (default 60 s; a dead host's lease is waited out). */
  retryMaxWaitMs?: number;
  /**
   * Called after each run that ended done or stopped (not busy, refused or thrown), awaited before
   * the run's promise settles; a failure is logged and never fails the run. The host refreshes
   * the partition's summary and metrics export here (paid amounts changed).
   */
  onRunEnded?: (report: PaymentRunReport) => Promise<void>;
}

export type PaymentTriggerSource = "schedule" | "admin" | "startup";

export interface PaymentsService {
  readonly payerAddress: string;
  readonly rpcUrl: string;
  readonly chainId: number;
  /** One run of the partition now (busy when one is running anywhere: the lease). */
  trigger(partitionId: string, trigger?: PaymentTriggerSource): Promise<PaymentRunReport>;
  /** Copy every partition's audit rows not yet in S3; returns how many were stored. */
  exportAudit(): Promise<number>;
  /**
   * The outcome of the last run per partition on this host (`failed: <reason>` when it threw,
   * `refused: <reason>` when it was refused: the database's payments or the node on another chain).
   */
  lastRuns(): ReadonlyMap<string, string>;
  /**
   * Why payments cannot proceed on this host, found by the start-up check (the node reports
   * another chain id than CHAIN_ID); null when none. Cleared by the first run that gets past the
   * run's own chain checks (one that ends done or stopped).
   */
  startProblem(): string | null;
  stop(): Promise<void>;
}

/** How `lastRuns()` marks a run that threw (an RPC or database failure) rather than ending. */
export const FAILED_PREFIX = "failed: ";
/** How `lastRuns()` marks a refused run (payments or node of another chain): `refused: <reason>`. */
export const REFUSED_PREFIX = "refused: ";

export async function startPaymentsService(opts: PaymentsServiceOptions): Promise<PaymentsService> {
  const { db, log, clock, values } = opts;
  const wallet = await loadPayerWallet(opts.payerKey, values.ethKeystorePassword ?? "");
  const settings = { ...paymentSettingsFrom(values), chainId: String(opts.chainId) };
  const rpc = createRpcClient(opts.rpcUrl);
  const deps = { db, rpc, wallet, clock, log, settings, owner: opts.owner, leaseTtlMs: values.leaseTtlSeconds * 1000 };
  const lastRun = new Map<string, string>();
  const automatic = opts.schedule ?? true;
  let stopped = false;
  let startProblem: string | null = null;

  // One export at a time: after a run, on the timer and at start they would only repeat each other's puts.
  let exportQueue: Promise<unknown> = Promise.resolve();
  const exportSome = async (partitions: readonly string[]): Promise<number> => {
    if (!opts.auditStore) return 0;
    let n = 0;
    for (const p of partitions) n += await exportAudit(db, opts.auditStore, p);
    return n;
  };
  /** Export the given partitions' unexported audit (default: all), after any export in progress. */
  const audit = (partitions: readonly string[] = opts.partitions): Promise<number> => {
    const exportThese = () => exportSome(partitions);
    const next = exportQueue.then(exportThese, exportThese);
    exportQueue = next.catch(() => undefined);
    return next;
  };
  const auditLater = (when: string, partitions?: readonly string[]) =>
    audit(partitions).catch((err) => log.warn({ err: errorMessage(err) }, `payment audit export to S3 failed ${when}; it is retried on the export timer`));

  const run = async (partitionId: string, trigger: PaymentTriggerSource): Promise<PaymentRunReport> => {
    try {
      const report = await runPayments(deps, partitionId, { trigger });
      // A busy answer is no run: the last run's outcome (a refusal, a failure) stands.
      if (report.outcome === "refused") lastRun.set(partitionId, `${REFUSED_PREFIX}${report.stopReason}`);
      else if (report.outcome !== "busy") lastRun.set(partitionId, report.outcome);
      // Past the run's chain checks: the node is on CHAIN_ID now.
      if (report.outcome === "done" || report.outcome === "stopped") startProblem = null;
      log.info({ partition: partitionId, outcome: report.outcome, trigger }, `payments: ${trigger} run finished`);
      if (opts.onRunEnded && (report.outcome === "done" || report.outcome === "stopped")) {
        try {
          await opts.onRunEnded(report);
        } catch (err) {
          log.warn({ partition: partitionId, err: errorMessage(err) }, "payments: refreshing the summary after the run failed; the next run or event file refreshes it");
        }
      }
      return report;
    } catch (err) {
      lastRun.set(partitionId, `${FAILED_PREFIX}${errorMessage(err)}`);
      throw err;
    } finally {
      // Only this partition's rows are new; the timer copies anything else left behind.
      await auditLater("after a run", [partitionId]);
    }
  };
  const workDue = (partitionId: string) => paymentWorkDue(db, partitionId, settings.thresholdWei);
  const retries = new PaymentRunRetry({
    db, clock, log, maxWaitMs: opts.retryMaxWaitMs ?? 60_000,
    run: (partitionId, trigger) => run(partitionId, trigger as PaymentTriggerSource),
    stillDue: workDue,
  });
  const scheduler = new PaymentScheduler({
    db, clock, log, owner: opts.owner, intervalMs: values.paymentSensorIntervalSeconds * 1000, partitions: opts.partitions,
    // The sensor's rule (seed A2.6): a run only when a worker is at or above the threshold, or an
    // open payment is left to reconcile; an idle partition does not fill the audit with empty runs.
    // A run that finds the partition busy is not lost: it is retried once the lease is free.
    trigger: async (partitionId) => {
      if (!(await workDue(partitionId))) return;
      const report = await run(partitionId, "schedule");
      if (report.outcome === "busy") retries.retryWhenFree(partitionId, "schedule");
    },
  });

  // Issue 5: "on start, every open WAL entry is reconciled by its hash" — now, not at the next tick.
  const recoverAtStart = async (): Promise<void> => {
    for (const partitionId of opts.partitions) {
      if (stopped) return;
      let open: number;
      try {
        open = (await listWalEntries(db, partitionId, OPEN_STATUSES)).length;
      } catch (err) {
        log.error({ partition: partitionId, err: errorMessage(err) }, "payments: could not look for open payments at start; the run is retried");
        retries.retryWhenFree(partitionId, "startup");
        continue;
      }
      if (open === 0) continue;
      log.warn({ partition: partitionId, open }, "payments: open payments found at start; reconciling them now");
      await retries.runNow(partitionId, "startup");
    }
  };

  let exportTimer: TimerHandle | null = null;
  let exportTick: Promise<unknown> = Promise.resolve();
  const armExport = (): void => {
    if (stopped || !opts.auditStore) return;
    exportTimer = clock.setTimeout(() => {
      exportTick = auditLater("on its timer").then(armExport);
    }, values.auditExportIntervalSeconds * 1000);
  };

  // Once at start, without holding the start up (a node that does not answer is every run's
  // concern): a node of another chain is said loudly and keeps payments not ready. Every run checks again.
  const checkChainAtStart = async (): Promise<void> => {
    try {
      const problem = chainMismatchReason(await rpc.chainId(), settings.chainId);
      if (problem === null || stopped) return;
      startProblem = problem;
      log.error({ chainId: settings.chainId }, `payments: the RPC node is on another chain; every payment run is refused until it is fixed: ${problem}`);
    } catch (err) {
      log.warn({ err: errorMessage(err) }, "payments: the RPC node did not answer eth_chainId at start; each payment run asks it again");
    }
  };
  const chainChecked = checkChainAtStart();
  const catchUp = auditLater("at start");
  armExport();
  if (automatic) scheduler.start();
  const recovering = automatic ? recoverAtStart() : Promise.resolve();
  log.info({ payer: wallet.address, chainId: settings.chainId, partitions: opts.partitions.length, audit: opts.auditStore ? "s3" : "table only" }, "payments ready");
  return {
    payerAddress: wallet.address,
    rpcUrl: opts.rpcUrl,
    chainId: opts.chainId,
    trigger: (partitionId, trigger = "admin") => run(partitionId, trigger),
    exportAudit: () => audit(),
    lastRuns: () => lastRun,
    startProblem: () => startProblem,
    async stop() {
      stopped = true;
      if (exportTimer) clock.clearTimeout(exportTimer);
      exportTimer = null;
      await scheduler.stop();
      await chainChecked;
      await recovering;
      await retries.stop();
      await catchUp;
      await exportTick;
    },
  };
}
