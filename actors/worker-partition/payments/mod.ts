/**
 * Payments of worker partitions (issue 5): the public surface.
 * - runPayments: one payment run (lease → recovery → machine → WAL → chain → ledger), deliberate triggers only.
 * - PaymentScheduler: the payment schedule (durable timer; each tick once across hosts).
 * - PaymentRunRetry: a run that found its partition busy is retried when the lease is free.
 * - store functions for the admin route and `strata payments`: list, audit, resolve.
 */
export { paymentsConfig, paymentSettingsFrom } from "./config.ts";
export type { PaymentsConfigValues } from "./config.ts";
export { paymentMachine, intentOf, phaseOf, decideFees, resumeUnderSettings } from "./payment-machine.ts";
export type { PaymentSettings, PaymentEvent, PaymentIntent, PaymentResult, PaymentRunSnapshot } from "./payment-machine.ts";
export { runPayments, newRunId } from "./payment-run.ts";
export type { PaymentRunDeps, PaymentRunOptions, PaymentRunReport } from "./payment-run.ts";
export { reconcileOpenPayments } from "./payment-recovery.ts";
export { PaymentRunRetry } from "./payment-run-retry.ts";
export type { RecoveryOutcome } from "./payment-recovery.ts";
export { PaymentScheduler, claimTick, nextDueAfter, paymentWorkDue } from "./payment-schedule.ts";
export { exportAudit, s3AuditStore, auditObjectKey } from "./payment-audit-export.ts";
export { startPaymentsService } from "./payments-service.ts";
export type { PaymentsService, PaymentsServiceOptions } from "./payments-service.ts";
export { createRpcClient } from "./rpc-client.ts";
export type { RpcClient } from "./rpc-client.ts";
export { loadPayerWallet, KeyConfigError } from "./keys.ts";
export { listWalEntries, getWalEntry, listAudit, resolvePayment, paidTotals, loadBalances } from "./payment-store.ts";
export type { WalEntry, WalStatus } from "./payment-store.ts";
export { planPayments, unpaidWei } from "./unpaid.ts";
