/**
 * Payments of worker partitions on a host (actors/worker-partition/payments/): the payment
 * schedule (a durable timer, each tick once across hosts) triggering `runPayments` per partition.
 *  - ETH_RPC_ENDPOINT set: that node, the payer key from ETH_PRIVATE_KEY (no key → payments off,
 *    said in the log; ingest is unaffected);
 *  - ETH_RPC_ENDPOINT unset (embedded): the host's anvil DEV chain, chain id 31337, paid with
 *    anvil's PUBLIC dev key unless ETH_PRIVATE_KEY is given — logged loudly as a dev chain.
 * `/health` lists `eth-rpc` (eth_chainId, checked against the configured chain id).
 */
import type { ReadinessCheck } from "../../admin/source.ts";
import { maskUrlPassword } from "../../config/fields.ts";
import { ethProbe } from "../dependency-health.ts";
import type { DependencyProbe } from "../dependency-health.ts";
import type { HostContext } from "../kind-module.ts";
import { paymentsConfig, paymentSettingsFrom } from "../../actors/worker-partition/payments/config.ts";
import { createRpcClient } from "../../actors/worker-partition/payments/rpc-client.ts";
import { loadPayerWallet } from "../../actors/worker-partition/payments/keys.ts";
import { runPayments } from "../../actors/worker-partition/payments/payment-run.ts";
import type { PaymentRunReport } from "../../actors/worker-partition/payments/payment-run.ts";
import { PaymentScheduler } from "../../actors/worker-partition/payments/payment-schedule.ts";

export interface RunningPayments {
  readonly summary: string;
  /** One run now, on a person's request (admin route). The lease keeps it to one run per partition. */
  trigger(partitionId: string): Promise<PaymentRunReport>;
  readonly probes: readonly DependencyProbe[];
  ready(): ReadinessCheck[];
  stop(): Promise<void>;
}

export async function startPayments(host: HostContext, partitions: readonly string[]): Promise<RunningPayments | null> {
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
    label = maskUrlPassword(url);
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
  const wallet = await loadPayerWallet(key, values.ethKeystorePassword ?? "");
  const rpc = createRpcClient(url);
  const settings = { ...paymentSettingsFrom(values), chainId: String(chainId) };
  const owner = host.hostId;
  const lastRun = new Map<string, string>();
  const run = async (partitionId: string, trigger: "schedule" | "admin"): Promise<PaymentRunReport> => {
    const report = await runPayments({ db, rpc, wallet, clock, log, settings, owner, leaseTtlMs: values.leaseTtlSeconds * 1000 }, partitionId, { trigger });
    lastRun.set(partitionId, report.outcome);
    log.info({ partition: partitionId, outcome: report.outcome, trigger }, `payments: ${trigger} run finished`);
    return report;
  };
  const scheduler = new PaymentScheduler({
    db,
    clock,
    log,
    owner,
    intervalMs: values.paymentSensorIntervalSeconds * 1000,
    partitions,
    trigger: (partitionId) => run(partitionId, "schedule"),
  });
  scheduler.start();
  const summary = `payments: schedule every ${values.paymentSensorIntervalSeconds} s on ${label} (chain ${chainId}, payer ${wallet.address})`;
  return {
    summary,
    trigger: (partitionId) => run(partitionId, "admin"),
    probes: [ethProbe(url, label, chainId)],
    ready: () => [{ name: "ingress:payments-schedule", ready: true, lastProgressAt: null, backlog: 0, detail: lastRun.size === 0 ? "scheduled, no run yet" : [...lastRun].map(([p, o]) => `${p}: ${o}`).join(", ") }],
    stop: () => scheduler.stop(),
  };
}
