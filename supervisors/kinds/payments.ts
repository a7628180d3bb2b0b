/**
 * Payments of worker partitions on a host (actors/worker-partition/payments/): which chain and
 * which payer, then `startPaymentsService` (the schedule, the admin trigger, the audit to S3).
 *  - ETH_RPC_ENDPOINT set: that node, the payer key from ETH_PRIVATE_KEY (no key → payments off,
 *    said in the log; ingest is unaffected);
 *  - ETH_RPC_ENDPOINT unset, embedded database (no DATABASE_URL): the host's anvil DEV chain,
 *    chain id 31337, paid with anvil's PUBLIC dev key unless ETH_PRIVATE_KEY is given — logged
 *    loudly as a dev chain;
 *  - ETH_RPC_ENDPOINT unset with a DATABASE_URL: payments OFF, said loudly. The ledger of a real
 *    database must never be credited with transfers on a throw-away dev chain (one forgotten
 *    variable would mark real workers paid who were never paid on the real chain). To pay on a
 *    dev chain with a real database, run one and name it in ETH_RPC_ENDPOINT.
 * The audit goes to `S3_METRICS_BUCKET` under `payments/` (the old system's payments folder of
 * its IO manager storage). `/health` lists `eth-rpc` (eth_chainId, checked against the chain id);
 * `/ready` says not ready while payments are refused (node or database payments on another chain).
 */
import type { S3Client } from "@aws-sdk/client-s3";
import type { ReadinessCheck } from "../../admin/source.ts";
import { maskServiceUrl } from "../../config/redact.ts";
import { ethProbe } from "../dependency-health.ts";
import type { DependencyProbe } from "../dependency-health.ts";
import type { HostContext } from "../kind-module.ts";
import { paymentsConfig } from "../../actors/worker-partition/payments/config.ts";
import type { PaymentRunReport } from "../../actors/worker-partition/payments/payment-run.ts";
import { s3AuditStore } from "../../actors/worker-partition/payments/payment-audit-export.ts";
import { FAILED_PREFIX, REFUSED_PREFIX, startPaymentsService } from "../../actors/worker-partition/payments/payments-service.ts";

export interface RunningPayments {
  readonly summary: string;
  /** One run now, on a person's request (admin route). The lease keeps it to one run per partition. */
  trigger(partitionId: string): Promise<PaymentRunReport>;
  readonly probes: readonly DependencyProbe[];
  ready(): ReadinessCheck[];
  stop(): Promise<void>;
}

/**
 * `audit`: the S3 client and bucket the audit objects are copied to; `onRunEnded`: what the kind
 * does after each run that ended done or stopped (worker-partition.ts: refresh the partition's
 * summary and its metrics export), awaited before the run's report is returned.
 */
export async function startPayments(
  host: HostContext,
  partitions: readonly string[],
  audit: { s3: S3Client; bucket: string },
  hooks: { onRunEnded?: (report: PaymentRunReport) => Promise<void> } = {},
): Promise<RunningPayments | null> {
  const { config, db, clock } = host;
  const log = host.log.child({ kind: "worker-partition", part: "payments" });
  const values = config.section(paymentsConfig);
  let url: string;
  let chainId = values.chainId;
  let key = values.ethPrivateKey;
  let label: string;
  if (config.ethRpcEndpoint) {
    if (!key) {
      log.warn("payments: ETH_PRIVATE_KEY is not set, payments are OFF on this host (ingest runs)");
      return null;
    }
    url = config.ethRpcEndpoint;
    label = maskServiceUrl(url);
  } else if (config.databaseUrl) {
    log.warn(
      "payments: OFF on this host: ETH_RPC_ENDPOINT is not set and DATABASE_URL is — the embedded dev chain is used only with the embedded database, so a real ledger is never credited with dev-chain transfers (ingest runs)",
    );
    return null;
  } else {
    const anvil = await host.embedded.anvil();
    url = anvil.url;
    chainId = anvil.chainId;
    label = `embedded anvil DEV CHAIN ${url}`;
    if (!key) {
      key = anvil.devPayerKey;
      log.warn("payments: paying with anvil's PUBLIC dev key on the DEV CHAIN (no ETH_PRIVATE_KEY); nothing paid here is real");
    }
  }
  const service = await startPaymentsService({
    db, log, clock, owner: host.hostId, values, rpcUrl: url, chainId, payerKey: key, partitions,
    auditStore: s3AuditStore(audit.s3, audit.bucket), onRunEnded: hooks.onRunEnded,
  });
  const summary = `payments: schedule every ${values.paymentSensorIntervalSeconds} s on ${label} (chain ${chainId}, payer ${service.payerAddress}), audit to s3://${audit.bucket}/payments/`;
  return {
    summary,
    trigger: (partitionId) => service.trigger(partitionId, "admin"),
    probes: [ethProbe(url, label, chainId)],
    // Not ready while a partition's last run failed (threw: the node or the database did not
    // answer) or was refused (the database's payments or the node on another chain than
    // CHAIN_ID), nor while the start-up check's node mismatch stands: each until a run ends.
    // A run that ended, even stopped with a reason (gas above the cap), is progress.
    ready: () => {
      const runs = [...service.lastRuns()];
      const blocked = runs.filter(([, o]) => o.startsWith(FAILED_PREFIX) || o.startsWith(REFUSED_PREFIX));
      const atStart = service.startProblem();
      const detail = [
        ...(atStart !== null ? [`at start: ${atStart}`] : []),
        ...(runs.length === 0 ? ["scheduled, no run yet"] : runs.map(([p, o]) => `${p}: ${o}`)),
      ].join(", ");
      return [{ name: "ingress:payments-schedule", ready: blocked.length === 0 && atStart === null, lastProgressAt: null, backlog: blocked.length, detail }];
    },
    stop: () => service.stop(),
  };
}
