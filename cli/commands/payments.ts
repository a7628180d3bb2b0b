/**
 * `strata payments`: look at and act on worker-partition payments, straight on the database.
 *   strata payments [list] [--partition P]        WAL entries per partition, paid totals, what needs a person
 *   strata payments audit [--partition P]         the audit trail
 *   strata payments trigger <partition>           one payment run now, against ETH_RPC_ENDPOINT with
 *                                                 ETH_PRIVATE_KEY; refused when either is missing (this
 *                                                 command never starts a dev chain); exit 1 when
 *                                                 busy or refused (payments or node of another chain);
 *                                                 after a run that ended (done or stopped) the
 *                                                 partition's worker_summary is rewritten with the
 *                                                 paid amounts (its S3 export waits for the host's next one)
 *   strata payments resolve <paymentId> --as paid|unpaid --note "…" [--by NAME]
 *                                                 after the resolution the payment's partition's
 *                                                 worker_summary is rewritten the same way (paid
 *                                                 credits the ledger); a failure of that is a warning
 * `--json` prints one JSON document. Amounts are wei, decimal strings.
 */
import pino from "pino";
import { loadConfig } from "../../config/load-config.ts";
import type { StrataConfig } from "../../config/load-config.ts";
import type { Db } from "../../db/db.ts";
import { systemClock } from "../../supervisors/clock.ts";
import { paymentsConfig, paymentSettingsFrom } from "../../actors/worker-partition/payments/config.ts";
import { createRpcClient } from "../../actors/worker-partition/payments/rpc-client.ts";
import { loadPayerWallet } from "../../actors/worker-partition/payments/keys.ts";
import { runPayments } from "../../actors/worker-partition/payments/payment-run.ts";
import type { PaymentRunReport } from "../../actors/worker-partition/payments/payment-run.ts";
import { PaymentRequestError, partitionsFor, paymentsAudit, paymentsOverview, resolvePaymentChecked } from "../../admin/payments-routes.ts";
import type { PaymentTrigger } from "../../admin/payments-routes.ts";
import { toJson } from "../../admin/server.ts";
import { errorMessage } from "../../protocols/errors.ts";
import { configFlagOptions, configFlags, UsageError } from "./command.ts";
import type { Command, CliIo } from "./command.ts";
import { KIND_SECTIONS } from "./kind-sections.ts";
import { openConfiguredDb, openLocalRuntime } from "./local-runtime.ts";
import { WORKER_PARTITION_KIND } from "../../actors/worker-partition/journal.ts";

/**
 * A payment trigger against the configured RPC, or an Error saying why there is none: no
 * ETH_RPC_ENDPOINT (never a silent dev chain) or no ETH_PRIVATE_KEY.
 */
export async function configuredPaymentTrigger(config: StrataConfig, db: Db, owner: string): Promise<PaymentTrigger> {
  if (!config.ethRpcEndpoint) {
    throw new Error("no ETH_RPC_ENDPOINT configured: refusing to pay (this command never starts a dev chain; `strata start` runs payments on the embedded anvil)");
  }
  const values = config.section(paymentsConfig);
  if (!values.ethPrivateKey) throw new Error("no ETH_PRIVATE_KEY configured: there is no payer to sign with");
  const wallet = await loadPayerWallet(values.ethPrivateKey, values.ethKeystorePassword ?? "");
  const rpc = createRpcClient(config.ethRpcEndpoint);
  const log = pino({ level: "silent" });
  const settings = paymentSettingsFrom(values);
  return (partitionId) =>
    runPayments({ db, rpc, wallet, clock: systemClock, log, settings, owner, leaseTtlMs: values.leaseTtlSeconds * 1000 }, partitionId, { trigger: "cli" });
}

/**
 * After a run that ended, or a resolution: the partition actor, on a one-shot local runtime as
 * `strata import` uses, rewrites worker_summary with the paid amounts (`refresh-summary`), as a
 * host does after its own runs and the admin resolve route. A host does not hear of this command's
 * runs or resolutions; without this its summary kept the old paid and pending amounts until the
 * partition's next event file. Opened after the command's database is closed (an embedded PGlite
 * folder has one user at a time).
 */
async function refreshSummary(config: StrataConfig, partitionId: string): Promise<void> {
  const rt = await openLocalRuntime(config, { kinds: ["worker-partition"] });
  try {
    await rt.system.ask(WORKER_PARTITION_KIND, partitionId, "refresh-summary", {}, { timeoutMs: 10 * 60_000 });
  } finally {
    await rt.close();
  }
}

function formatRun(r: PaymentRunReport): string[] {
  if (r.outcome === "busy") return [`payments ${r.partitionId}: a run is already in progress for this partition; nothing done`];
  const lines = [`payments ${r.partitionId}: run ${r.runId} ${r.outcome}${r.resumed ? " (resumed)" : ""}${r.stopReason ? `: ${r.stopReason}` : ""}`];
  for (const x of r.recovery) lines.push(`  recovered ${JSON.stringify(x)}`);
  for (const x of r.results) lines.push(`  ${JSON.stringify(x)}`);
  for (const s of r.skipped) lines.push(`  skipped ${JSON.stringify(s)}`);
  return lines;
}

async function list(db: Db, partition: string | undefined, io: CliIo, json: boolean): Promise<void> {
  const view = await paymentsOverview(db, partition);
  if (json) return io.out(toJson({ partitions: view }));
  for (const p of view) {
    io.out(`${p.partition}: ${p.entries.length} payment(s)${p.needsResolution.length ? `, NEEDS A PERSON: ${p.needsResolution.join(", ")}` : ""}`);
    for (const e of p.entries) io.out(`  ${e.paymentId}  ${e.status.padEnd(15)}  ${e.ethAddress}  ${e.amountWei} wei  nonce ${e.nonce}  tx ${e.txHash}${e.note ? `  (${e.note})` : ""}`);
    for (const [a, wei] of Object.entries(p.paidTotals)) io.out(`  paid total ${a}  ${wei} wei`);
  }
}

async function audit(db: Db, partition: string | undefined, io: CliIo, json: boolean): Promise<void> {
  const view = await paymentsAudit(db, partition);
  if (json) return io.out(toJson({ partitions: view }));
  for (const p of view) {
    io.out(`${p.partition}: ${p.audit.length} audit record(s)`);
    for (const a of p.audit) io.out(`  ${a.event.padEnd(14)} ${a.paymentId ?? "-"}  ${a.fromStatus ?? "-"} → ${a.toStatus ?? "-"}  ${JSON.stringify(a.detail)}`);
  }
}

export const paymentsCommand: Command = {
  name: "payments",
  summary: "list payments and their audit, trigger a run against ETH_RPC_ENDPOINT, resolve an ambiguous payment",
  usage: "strata payments [list|audit|trigger <partition>|resolve <paymentId> --as paid|unpaid --note TEXT] [--partition P] [--json]",
  options: {
    ...configFlagOptions,
    partition: { type: "string" },
    as: { type: "string" },
    note: { type: "string" },
    by: { type: "string" },
    json: { type: "boolean" },
  },
  allowPositionals: true,
  async run(args, io) {
    const [action = "list", target, ...extra] = args.positionals;
    if (extra.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(extra[0])}`);
    const json = args.values.json === true;
    const partition = typeof args.values.partition === "string" ? args.values.partition : undefined;
    if (!["list", "audit", "trigger", "resolve"].includes(action)) throw new UsageError(`unknown action ${JSON.stringify(action)} (list, audit, trigger, resolve)`);
    if ((action === "list" || action === "audit") && target !== undefined) throw new UsageError(`unexpected argument ${JSON.stringify(target)} (use --partition)`);
    if (action === "trigger" && target === undefined) throw new UsageError("trigger needs a partition, e.g. strata payments trigger 'ai|us-central'");
    if (action === "resolve" && target === undefined) throw new UsageError("resolve needs a payment id");
    if (action === "resolve" && args.values.as !== "paid" && args.values.as !== "unpaid") throw new UsageError("resolve needs --as paid or --as unpaid");
    if (action === "resolve" && (typeof args.values.note !== "string" || args.values.note.trim() === "")) throw new UsageError("resolve needs --note with the reason");
    try {
      if (partition !== undefined) partitionsFor(partition);
      if (action === "trigger") partitionsFor(target);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }

    const config = loadConfig(io.env, { flags: configFlags(args.values), sections: KIND_SECTIONS });
    const { db } = await openConfiguredDb(config, 2, { existing: true });
    let report: PaymentRunReport | null = null;
    let resolvedIn: string | null = null;
    try {
      if (action === "list") await list(db, partition, io, json);
      else if (action === "audit") await audit(db, partition, io, json);
      else if (action === "trigger") {
        const trigger = await configuredPaymentTrigger(config, db, `cli-${Date.now()}`);
        report = await trigger(target!);
        if (json) io.out(toJson(report));
        else for (const l of formatRun(report)) io.out(l);
      } else {
        const by = typeof args.values.by === "string" && args.values.by.trim() !== "" ? `cli:${args.values.by.trim()}` : "cli";
        try {
          const entry = await resolvePaymentChecked(db, target!, args.values.as, args.values.note, by);
          resolvedIn = entry.partitionId;
          if (json) io.out(toJson(entry));
          else io.out(`payment ${entry.paymentId} resolved: ${entry.status} (${entry.note})`);
        } catch (err) {
          if (err instanceof PaymentRequestError) throw new Error(err.message);
          throw err;
        }
      }
    } finally {
      await db.close();
    }
    // The paid amounts changed (a resolution, a run that ended): the summary is rewritten.
    const ended = report !== null && (report.outcome === "done" || report.outcome === "stopped");
    const changedIn = resolvedIn ?? (ended ? report!.partitionId : null);
    if (changedIn !== null) {
      try {
        await refreshSummary(config, changedIn);
      } catch (err) {
        const what = resolvedIn !== null ? "the payment is resolved" : "the run ended";
        io.err(`strata payments: ${what} but worker_summary was not refreshed (the next payment run or event file refreshes it): ${errorMessage(err)}`);
      }
    }
    if (report === null) return 0;
    // Refused (the database's payments or the node on another chain than CHAIN_ID): nothing
    // was done; stopped (gas above the cap, balance too low, the node failing): some workers
    // owed were not paid. A script must take neither for success.
    if (report.outcome === "refused") throw new Error(`payment run refused: ${report.stopReason}`);
    if (report.outcome === "stopped") throw new Error(`payment run stopped: ${report.stopReason}`);
    return report.outcome === "done" ? 0 : 1;
  },
};
