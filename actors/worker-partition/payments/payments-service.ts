/**
 * Payments wired for a host: the payer wallet on a chain the caller chose (ETH_RPC_ENDPOINT, or
 * the host's embedded anvil dev chain — supervisors/kinds/payments.ts decides and says which),
 * the payment schedule over the active partitions, the admin trigger, and the audit copied to S3
 * after every run (and once at start, to catch up on what an earlier host left unexported).
 */
import type { Logger } from "pino";
import type { Db } from "../../../db/db.ts";
import type { Clock } from "../../../supervisors/clock.ts";
import { paymentSettingsFrom } from "./config.ts";
import type { PaymentsConfigValues } from "./config.ts";
import { loadPayerWallet } from "./keys.ts";
import { exportAudit } from "./payment-audit-export.ts";
import type { AuditObjectStore } from "./payment-audit-export.ts";
import { runPayments } from "./payment-run.ts";
import type { PaymentRunReport } from "./payment-run.ts";
import { PaymentScheduler, paymentWorkDue } from "./payment-schedule.ts";
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
  /** Start the payment schedule (default true). */
  schedule?: boolean;
}

export type PaymentTriggerSource = "schedule" | "admin";

export interface PaymentsService {
  readonly payerAddress: string;
  readonly rpcUrl: string;
  readonly chainId: number;
  /** One run of the partition now (busy when one is running anywhere: the lease). */
  trigger(partitionId: string, trigger?: PaymentTriggerSource): Promise<PaymentRunReport>;
  /** Copy every partition's audit rows not yet in S3; returns how many were stored. */
  exportAudit(): Promise<number>;
  /** The outcome of the last run per partition on this host. */
  lastRuns(): ReadonlyMap<string, string>;
  stop(): Promise<void>;
}

export async function startPaymentsService(opts: PaymentsServiceOptions): Promise<PaymentsService> {
  const { db, log, clock, values } = opts;
  const wallet = await loadPayerWallet(opts.payerKey, values.ethKeystorePassword ?? "");
  const settings = { ...paymentSettingsFrom(values), chainId: String(opts.chainId) };
  const rpc = createRpcClient(opts.rpcUrl);
  const deps = { db, rpc, wallet, clock, log, settings, owner: opts.owner, leaseTtlMs: values.leaseTtlSeconds * 1000 };
  const lastRun = new Map<string, string>();

  const audit = async (): Promise<number> => {
    if (!opts.auditStore) return 0;
    let n = 0;
    for (const p of opts.partitions) n += await exportAudit(db, opts.auditStore, p);
    return n;
  };
  const auditLater = (when: string) =>
    audit().catch((err) => log.warn({ err: (err as Error).message }, `payment audit export to S3 failed ${when}; it is retried after the next run`));

  const run = async (partitionId: string, trigger: PaymentTriggerSource): Promise<PaymentRunReport> => {
    try {
      const report = await runPayments(deps, partitionId, { trigger });
      lastRun.set(partitionId, report.outcome);
      log.info({ partition: partitionId, outcome: report.outcome, trigger }, `payments: ${trigger} run finished`);
      return report;
    } finally {
      await auditLater("after a run");
    }
  };
  const scheduler = new PaymentScheduler({
    db, clock, log, owner: opts.owner, intervalMs: values.paymentSensorIntervalSeconds * 1000, partitions: opts.partitions,
    // The sensor's rule (seed A2.6): a run only when a worker is at or above the threshold, or an
    // open payment is left to reconcile; an idle partition does not fill the audit with empty runs.
    trigger: async (partitionId) => {
      if (await paymentWorkDue(db, partitionId, settings.thresholdWei)) await run(partitionId, "schedule");
    },
  });
  const catchUp = auditLater("at start");
  if (opts.schedule ?? true) scheduler.start();
  log.info({ payer: wallet.address, chainId: settings.chainId, partitions: opts.partitions.length, audit: opts.auditStore ? "s3" : "table only" }, "payments ready");
  return {
    payerAddress: wallet.address,
    rpcUrl: opts.rpcUrl,
    chainId: opts.chainId,
    trigger: (partitionId, trigger = "admin") => run(partitionId, trigger),
    exportAudit: audit,
    lastRuns: () => lastRun,
    async stop() {
      await scheduler.stop();
      await catchUp;
    },
  };
}
