/**
 * One payment run of one worker partition: the driver that joins the machine (decides), the
 * executor (performs) and the stores (remember).
 *
 *   1. take the partition's run lease (compare-and-set; busy → nothing happens),
 *   1b. refuse (nothing touched) when the database holds payments of another chain or the RPC
 *      node reports another chain id than CHAIN_ID (a node that never answers: the run throws),
 *   2. reconcile every open WAL entry by hash (payment-recovery.ts),
 *   3. resume the unfinished run from its persisted snapshot — under the CURRENT settings
 *      (resumeUnderSettings: a payment not yet in the WAL is prepared again) — or start a new one,
 *   4. loop: intent of the snapshot → perform → send the result → persist the snapshot,
 *      renewing the lease; waits use the injected clock (durable timers are the runtime's),
 *   5. persist the final state, audit it, release the lease.
 *
 * Only deliberate triggers call this (the payment schedule, the admin route); never ingest.
 */
import { randomBytes } from "node:crypto";
import { createActor } from "xstate";
import type { Wallet } from "ethers";
import type { Logger } from "pino";
import type { Db } from "../../../db/db.ts";
import type { Clock } from "../../../supervisors/clock.ts";
import { changedSettings, intentOf, paymentMachine, phaseOf, resumeUnderSettings } from "./payment-machine.ts";
import type { PaymentEvent, PaymentResult, PaymentRunSnapshot, PaymentSettings } from "./payment-machine.ts";
import { askNodeChainId, chainMismatchReason } from "./chain-check.ts";
import { PaymentExecutor } from "./payment-executor.ts";
import { reconcileOpenPayments } from "./payment-recovery.ts";
import type { RecoveryOutcome } from "./payment-recovery.ts";
import type { RpcClient } from "./rpc-client.ts";
import { acquireLease, appendAudit, findRunningRun, foreignChainProblem, getWalEntry, releaseLease, renewLease, saveRun } from "./payment-store.ts";
import type { SkippedWorker } from "./unpaid.ts";

export interface PaymentRunDeps {
  db: Db;
  rpc: RpcClient;
  wallet: Wallet;
  clock: Clock;
  log: Logger;
  settings: PaymentSettings;
  /** This host's identity in the lease (e.g. `host-1:pid`). */
  owner: string;
  leaseTtlMs: number;
}

/** A simulated crash point for tests: stop driving (no release, no final save) when it returns true. */
export type HaltPoint = (p: { phase: string; when: "after-perform" | "after-persist"; event: PaymentEvent }) => boolean;

export interface PaymentRunOptions {
  trigger: string;
  runId?: string;
  haltAt?: HaltPoint;
}

export type PaymentRunReport =
  | { outcome: "busy"; partitionId: string }
  | {
      /** refused: the database's payments or the node are not on CHAIN_ID; nothing was touched (stopReason says why). */
      outcome: "done" | "stopped" | "halted" | "refused";
      partitionId: string;
      runId: string;
      resumed: boolean;
      recovery: RecoveryOutcome[];
      results: PaymentResult[];
      skipped: SkippedWorker[];
      stopReason: string | null;
    };

/** `pmt_YYYYmmdd_<6 hex>`, the seed's payment run id format. */
export function newRunId(nowMs: number): string {
  const d = new Date(nowMs).toISOString().slice(0, 10).replace(/-/g, "");
  return `pmt_${d}_${randomBytes(3).toString("hex")}`;
}

const sleep = (clock: Clock, ms: number): Promise<void> => new Promise((resolve) => clock.setTimeout(resolve, ms));

export async function runPayments(deps: PaymentRunDeps, partitionId: string, opts: PaymentRunOptions): Promise<PaymentRunReport> {
  const { db, clock, log } = deps;
  const freshRunId = opts.runId ?? newRunId(clock.now());
  const lease = await acquireLease(db, partitionId, deps.owner, freshRunId, clock.now(), deps.leaseTtlMs);
  if (!lease) {
    log.info({ partition: partitionId, trigger: opts.trigger }, "payment run already in progress for this partition; trigger ignored");
    return { outcome: "busy", partitionId };
  }
  let halted = false;
  try {
    // Before anything touches the chain (recovery included: an open entry would be judged by
    // another chain's receipts and nonces), every payment of the database must be on CHAIN_ID,
    // and so must the node: both are refusals (nothing touched, `run_refused` in the audit).
    // A node that never answers (after the RPC retry delays) makes the run throw: not checked, not run.
    const refusal =
      (await foreignChainProblem(db, deps.settings.chainId)) ??
      chainMismatchReason(await askNodeChainId(deps.rpc, clock, deps.settings.rpcRetryDelaysMs), deps.settings.chainId);
    if (refusal !== null) {
      const runId = freshRunId;
      await appendAudit(db, { partitionId, runId, event: "run_refused", detail: { reason: refusal, trigger: opts.trigger } });
      log.error({ partition: partitionId, runId, reason: refusal }, `payment run refused: ${refusal}`);
      return { outcome: "refused", partitionId, runId, resumed: false, recovery: [], results: [], skipped: [], stopReason: refusal };
    }
    const recovery = await reconcileOpenPayments(deps, partitionId);
    const unfinished = await findRunningRun(db, partitionId);
    const runId = unfinished?.runId ?? freshRunId;
    const trigger = unfinished?.trigger ?? opts.trigger;
    let restored: PaymentRunSnapshot | null = null;
    if (unfinished) {
      // Resume under the settings in force now, not the ones saved with the snapshot.
      const saved = unfinished.snapshot as PaymentRunSnapshot;
      const current = saved.context.current;
      const currentInWal = current !== null && (await getWalEntry(db, current.paymentId)) !== null;
      restored = resumeUnderSettings(saved, deps.settings, currentInWal);
      const changed = changedSettings(saved.context.settings, deps.settings);
      log.warn(
        { partition: partitionId, runId, phase: unfinished.phase, resumeAt: phaseOf(restored), changedSettings: changed },
        changed.length > 0 ? `resuming an unfinished payment run under the current settings (changed: ${changed.join(", ")})` : "resuming an unfinished payment run from its persisted snapshot",
      );
    }
    const actor = restored
      ? createActor(paymentMachine, { snapshot: restored, input: { runId, partitionId, settings: deps.settings } })
      : createActor(paymentMachine, { input: { runId, partitionId, settings: deps.settings } });
    actor.start();
    const persist = async (): Promise<void> => {
      const snap = actor.getSnapshot();
      const status = snap.status === "done" ? (phaseOf(snap) === "done" ? "done" : "stopped") : "running";
      await saveRun(db, { runId, partitionId, trigger, status, phase: phaseOf(snap), snapshot: actor.getPersistedSnapshot(), stopReason: snap.context.stopReason });
    };
    if (!unfinished) {
      actor.send({ type: "TRIGGER" });
      await persist();
      await appendAudit(db, { partitionId, runId, event: "run_started", detail: { trigger, owner: deps.owner, leaseVersion: lease.version } });
    }
    const executor = new PaymentExecutor(deps, runId, partitionId, lease);
    for (;;) {
      const snap = actor.getSnapshot();
      const intent = intentOf(snap);
      if (intent.type === "finish") break;
      if (intent.type === "awaitTrigger") {
        actor.send({ type: "TRIGGER" });
        await persist();
        continue;
      }
      let event: PaymentEvent;
      if (intent.type === "wait") {
        await sleep(clock, intent.delayMs);
        event = { type: "RETRY" };
      } else {
        event = await executor.perform(intent);
      }
      if (opts.haltAt?.({ phase: phaseOf(snap), when: "after-perform", event })) {
        halted = true;
        break;
      }
      actor.send(event);
      await persist();
      if (!(await renewLease(db, lease, clock.now(), deps.leaseTtlMs))) log.warn({ partition: partitionId, runId }, "payment run lease could not be renewed; the next WAL write will be refused");
      if (opts.haltAt?.({ phase: phaseOf(actor.getSnapshot()), when: "after-persist", event })) {
        halted = true;
        break;
      }
    }
    const final = actor.getSnapshot();
    actor.stop();
    const ctx = final.context;
    const base = { partitionId, runId, resumed: unfinished !== null, recovery, results: ctx.results, skipped: ctx.skipped, stopReason: ctx.stopReason };
    if (halted) return { outcome: "halted", ...base };
    const outcome = phaseOf(final) === "done" ? "done" : "stopped";
    await appendAudit(db, {
      partitionId, runId, event: `run_${outcome}`,
      detail: { reason: ctx.stopReason, results: ctx.results, skipped: ctx.skipped, thresholdWei: deps.settings.thresholdWei },
    });
    for (const m of ctx.skipped.filter((k) => k.reason === "ledger_mismatch")) {
      log.error({ partition: partitionId, runId, worker: m.ethAddress, detail: m.detail }, "fee ledger below what was paid: nothing paid to this worker; check the fee state");
    }
    if (outcome === "stopped") log.error({ partition: partitionId, runId, reason: ctx.stopReason }, `payment run stopped: ${ctx.stopReason}`);
    else log.info({ partition: partitionId, runId, payments: ctx.results.length }, "payment run done");
    return { outcome, ...base };
  } finally {
    if (!halted) await releaseLease(db, lease);
  }
}
