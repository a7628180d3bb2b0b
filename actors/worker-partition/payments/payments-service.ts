/**
 * Payments wired for a host: the payer key, the chain (ETH_RPC_ENDPOINT, or in embedded mode a
 * local anvil dev chain started here, said loudly), the payment schedule over the active
 * partitions, the admin trigger and the audit export. The host (cli `start`, admin routes,
 * `strata payments`) holds one of these.
 */
import type { Logger } from "pino";
import type { Db } from "../../../db/db.ts";
import type { Clock } from "../../../supervisors/clock.ts";
import { paymentSettingsFrom } from "./config.ts";
import type { PaymentsConfigValues } from "./config.ts";
import { startDevChain } from "./dev-chain.ts";
import type { DevChain } from "./dev-chain.ts";
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
  /** ETH_RPC_ENDPOINT (core section); undefined = embedded mode: a local anvil dev chain. */
  rpcUrl: string | undefined;
  /** Port of the dev chain in embedded mode. */
  devChainPort?: number;
  /** Keeps the dev chain's state across restarts (`<dataDir>/anvil-state.json`). */
  dataDir?: string;
  partitions: readonly string[];
  /** Where the audit is copied (S3); none = the table only. */
  auditStore?: AuditObjectStore;
  /** Start the payment schedule (default true). */
  schedule?: boolean;
}

export interface PaymentsService {
  readonly payerAddress: string;
  readonly rpcUrl: string;
  readonly devChain: boolean;
  /** The admin route's trigger: one run of the partition now (busy when one is running). */
  trigger(partitionId: string, trigger?: string): Promise<PaymentRunReport>;
  exportAudit(): Promise<number>;
  stop(): Promise<void>;
}

export async function startPaymentsService(opts: PaymentsServiceOptions): Promise<PaymentsService> {
  const { db, log, clock, values } = opts;
  let dev: DevChain | null = null;
  let settings = paymentSettingsFrom(values);
  let rpcUrl = opts.rpcUrl;
  let wallet;
  if (rpcUrl === undefined) {
    dev = await startDevChain({ log, port: opts.devChainPort ?? 8545, dataDir: opts.dataDir });
    rpcUrl = dev.url;
    settings = { ...settings, chainId: String(dev.chainId) };
    wallet = await loadPayerWallet(dev.payerKey);
    if (values.ethPrivateKey !== undefined) log.warn("ETH_PRIVATE_KEY is ignored on the dev chain: payments are signed with anvil's public dev key");
  } else {
    wallet = await loadPayerWallet(values.ethPrivateKey, values.ethKeystorePassword ?? "");
  }
  const rpc = createRpcClient(rpcUrl);
  const deps = { db, rpc, wallet, clock, log, settings, owner: opts.owner, leaseTtlMs: values.leaseTtlSeconds * 1000 };
  const audit = async (): Promise<number> => {
    if (!opts.auditStore) return 0;
    let n = 0;
    for (const p of opts.partitions) n += await exportAudit(db, opts.auditStore, p);
    return n;
  };
  const run = async (partitionId: string, trigger: string): Promise<PaymentRunReport> => {
    const report = await runPayments(deps, partitionId, { trigger });
    await audit().catch((err) => log.warn({ err: (err as Error).message }, "payment audit export to S3 failed; it is retried after the next run"));
    return report;
  };
  const scheduler = new PaymentScheduler({
    db, clock, log, owner: opts.owner, intervalMs: values.paymentSensorIntervalSeconds * 1000, partitions: opts.partitions,
    trigger: async (partitionId) => {
      if (await paymentWorkDue(db, partitionId, settings.thresholdWei)) await run(partitionId, "schedule");
    },
  });
  if (opts.schedule ?? true) scheduler.start();
  log.info({ payer: wallet.address, chainId: settings.chainId, devChain: dev !== null, partitions: opts.partitions.length }, "payments ready");
  return {
    payerAddress: wallet.address,
    rpcUrl,
    devChain: dev !== null,
    trigger: (partitionId, trigger = "admin") => run(partitionId, trigger),
    exportAudit: audit,
    async stop() {
      await scheduler.stop();
      await dev?.stop();
    },
  };
}
